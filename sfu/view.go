package sfu

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/pion/webrtc/v4"
)

// Layer selection per subscriber and per track. Every client reports, per
// remote video track, how large it draws it (device pixels) and whether it
// is visible at all (docs/sfu.md `view`); the SFU forwards the smallest
// simulcast layer that fills the tile, and no video at all for a tile
// nobody can see (audio is never paused). The choice is made when a `view`
// arrives and again every layerInterval, as layers start and stop.
//
// Dynacast: the same loop tells each publisher which of its layers some
// subscriber wants (`layers`), so that the browser stops encoding the
// others (RTCRtpSender.setParameters, `active: false`).

const (
	// maxViewItems bounds one `view` payload: one entry per remote video
	// tile. 256 is far above any grid a screen can show; the SFU keeps
	// only the latest list, so memory per session stays bounded.
	maxViewItems = 256

	// maxViewPixels bounds the reported width and height: 16384 device
	// pixels is beyond any display (an 8K screen is 7680 wide).
	maxViewPixels = 16384

	// maxViewPriority bounds the priority a client may give a tile.
	maxViewPriority = 100

	// fillSlack: a layer fills a tile when it is at least 1/fillSlack of
	// the tile's size in both directions. Scaling a picture up by up to
	// 25 % is barely visible, and the next layer costs about 3× the
	// bitrate.
	fillSlackNum, fillSlackDen = 5, 4

	// defaultTopWidth and defaultTopHeight stand for the top layer's size
	// until a key frame tells the real one: a 720p camera.
	defaultTopWidth, defaultTopHeight = 1280, 720

	// dynacastHold is how long a layer nobody wants keeps being encoded
	// before the publisher is told to stop it: a tile that shrinks and
	// grows again (a window resized, a grid re-laid out) must not make
	// the encoder stop and restart, which costs a key frame each time.
	dynacastHold = 3 * speakerInterval

	// dynacastRepeat is how long a layer reported wanted may send nothing
	// before the report is sent again. A report is a signaling message the
	// publisher's browser acts on with setParameters; one that is lost on
	// the way (a reconnect, a sender replaced in between) or that the
	// browser failed to apply would otherwise leave the layer off for as
	// long as the wanted set stays the same, and every subscriber asking
	// for it on a lower one. Five seconds is well past a key frame's
	// delay when an encoder restarts; a repeat the browser already
	// follows changes nothing there (its encodings already match).
	dynacastRepeat = 5 * time.Second
)

// viewItem is one entry of a `view` payload: how a subscriber shows one
// forwarded video track.
type viewItem struct {
	Track    string `json:"track"`    // the forwarded track id, as in `tracks`
	Width    int    `json:"width"`    // rendered width in device pixels
	Height   int    `json:"height"`   // rendered height in device pixels
	Visible  bool   `json:"visible"`  // false: paused (scrolled away, hidden tab, another page)
	Priority int    `json:"priority"` // higher first (speaker, screen share); kept for bandwidth allocation
}

// parseView decodes and checks a `view` payload.
func parseView(raw json.RawMessage) ([]viewItem, error) {
	var items []viewItem
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf("%w: view: %v", ErrBadSignal, err)
	}
	if len(items) > maxViewItems {
		return nil, fmt.Errorf("%w: view lists %d tracks, at most %d", ErrBadSignal, len(items), maxViewItems)
	}
	for _, it := range items {
		switch {
		case it.Track == "" || len(it.Track) > maxStreamIDLen*2+1 || !utf8.ValidString(it.Track):
			return nil, fmt.Errorf("%w: view: bad track id", ErrBadSignal)
		case it.Width < 0 || it.Height < 0 || it.Width > maxViewPixels || it.Height > maxViewPixels:
			return nil, fmt.Errorf("%w: view: size %d×%d out of range", ErrBadSignal, it.Width, it.Height)
		case it.Priority < 0 || it.Priority > maxViewPriority:
			return nil, fmt.Errorf("%w: view: priority %d out of range 0–%d", ErrBadSignal, it.Priority, maxViewPriority)
		}
	}
	return items, nil
}

// setView replaces the participant's view requests with items (the full
// list) and applies them to the tracks it receives at once.
func (ss *Session) setView(items []viewItem) {
	m := make(map[string]viewItem, len(items))
	for _, it := range items {
		m[it.Track] = it
	}
	ss.vmu.Lock()
	ss.views, ss.viewing = m, true
	ss.vmu.Unlock()

	ss.negMu.Lock()
	downs := make([]*downTrack, 0, len(ss.downs))
	for _, d := range ss.downs {
		downs = append(downs, d)
	}
	ss.negMu.Unlock()
	now := ss.srv.now()
	for _, d := range downs {
		d.choose(now)
	}
}

// wantedLayer is the layer of u this participant asks for, whatever is
// being sent: -1 when it cannot see the tile. A participant that never
// sent `view` (an older client, the load tool) gets the top layer; one
// that did gets the lowest layer for a track it has not reported yet
// (a newcomer's tile, before the next report), the cheapest start.
func (ss *Session) wantedLayer(u *upTrack, now int64) int {
	if u.kind != webrtc.RTPCodecTypeVideo {
		return 0
	}
	ss.vmu.Lock()
	v, ok := ss.views[u.trackID]
	viewing := ss.viewing
	ss.vmu.Unlock()
	switch {
	case !ok && viewing:
		return 0
	case !ok:
		return u.nLayers - 1
	case !v.Visible || v.Width == 0 || v.Height == 0:
		return -1
	}
	return u.layerFor(v.Width, v.Height, now)
}

// initialLayer is the target of a new downTrack.
func (ss *Session) initialLayer(u *upTrack) int {
	return ss.wantedLayer(u, ss.srv.now())
}

// layerFor is the smallest layer that fills a tile of w×h device pixels,
// else the largest. Sizes decide, not positions, so a client that lists
// its encodings in another order still gets the right one once key frames
// told the sizes: the recorded ones for "fills", and for "the largest"
// (a tile no layer fills) the sizes at now, where a stopped layer is
// sized from the live ones (layerDims) — the recorded size of a stopped
// top layer can be stale and small, and it must not keep the layer off
// for good. Using those estimates for "fills" too made a two-person call
// flap between its layers every few seconds once in four runs
// (BenchmarkDynacastPublisherCPU).
func (u *upTrack) layerFor(w, h int, now int64) int {
	best, bestArea := -1, 0
	largest, largestArea := u.nLayers-1, -1
	for i := 0; i < u.nLayers; i++ {
		lw, lh := u.recordedDims(i)
		area := lw * lh
		fills := lw*fillSlackNum >= w*fillSlackDen && lh*fillSlackNum >= h*fillSlackDen
		if fills && (best < 0 || area < bestArea) {
			best, bestArea = i, area
		}
		if nw, nh := u.layerDims(i, now); nw*nh > largestArea {
			largest, largestArea = i, nw*nh
		}
	}
	if best < 0 {
		return largest
	}
	return best
}

// layerDims is layer i's size for choosing a layer at now. A layer that
// sends media reports its own size in its key frames. One that sends
// nothing now (dynacast stopped it, or its encoder did) is estimated from
// the nearest layer that does (each layer twice the one below, as
// Parley's client lists them): its own last key frame may be from a start
// when the browser's encoder sent it tiny ("bandwidth" limited), and that
// stale size, smaller than the layer below, made it never the largest,
// so never wanted, so never started again (the top layer stayed off for
// good under a loaded machine's CI run). A layer that has just started
// again (layerRamp) is the larger of the two: its first frames are that
// small start again. With nothing live, the recorded sizes decide
// (recordedDims).
func (u *upTrack) layerDims(i int, now int64) (w, h int) {
	if l := u.layer(i); l != nil && l.live(now) {
		w, h = l.dims() // 0, 0 before its first key frame
		if w > 0 && !l.ramping(now) {
			return w, h
		}
	}
	switch ew, eh, ok := u.liveEstimate(i, now); {
	case ok && ew*eh > w*h:
		return ew, eh
	case w > 0:
		return w, h
	}
	return u.recordedDims(i)
}

// liveEstimate sizes layer i from the nearest other layer that sends media
// now and has told its size; ok is false when none does.
func (u *upTrack) liveEstimate(i int, now int64) (w, h int, ok bool) {
	best := -1
	for j := 0; j < u.nLayers; j++ {
		l := u.layer(j)
		if j == i || l == nil || !l.live(now) {
			continue
		}
		if lw, _ := l.dims(); lw > 0 && (best < 0 || abs(j-i) < abs(best-i)) {
			best = j
		}
	}
	if best < 0 {
		return 0, 0, false
	}
	w, h = u.layer(best).dims()
	w, h = scaleDims(w, h, i-best)
	return w, h, true
}

// recordedDims is layer i's size from its last key frame, else estimated
// from another layer's, else from a 720p top layer.
func (u *upTrack) recordedDims(i int) (w, h int) {
	if l := u.layer(i); l != nil {
		if w, h = l.dims(); w > 0 {
			return w, h
		}
	}
	for j := 0; j < u.nLayers; j++ {
		if l := u.layer(j); l != nil {
			if w, h = l.dims(); w > 0 {
				return scaleDims(w, h, i-j)
			}
		}
	}
	return scaleDims(defaultTopWidth, defaultTopHeight, i-(u.nLayers-1))
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// scaleDims doubles (steps > 0) or halves (steps < 0) a size.
func scaleDims(w, h, steps int) (int, int) {
	for ; steps > 0; steps-- {
		w, h = w*2, h*2
	}
	for ; steps < 0; steps++ {
		w, h = w/2, h/2
	}
	return w, h
}

// liveLayer is the layer to forward for a wanted layer: the wanted one if
// it is being sent, else the nearest below that is, else the nearest
// above, else the wanted one (nothing flows yet: wait for it).
func (u *upTrack) liveLayer(want int, now int64) int {
	live := func(i int) bool { l := u.layer(i); return l != nil && l.live(now) }
	if live(want) {
		return want
	}
	for i := want - 1; i >= 0; i-- {
		if live(i) {
			return i
		}
	}
	for i := want + 1; i < u.nLayers; i++ {
		if live(i) {
			return i
		}
	}
	return want
}

// choose sets the layer this subscriber receives from what it asks for and
// what flows. It returns the wanted layer (for dynacast). Safe from any
// goroutine: the writer picks up the new target at the next packet.
func (d *downTrack) choose(now int64) int {
	want := d.sub.wantedLayer(d.up, now)
	bandwidth := false
	if lim := int(d.limit.Load()); want > lim { // alloc.go: the downlink carries no more
		want, bandwidth = lim, lim < 0
	}
	t := want
	if want >= 0 {
		t = d.up.liveLayer(want, now)
	}
	// The temporal limit goes with the layer the allocation chose; a lower
	// one (the chosen layer does not flow) costs less at its full rate.
	tt := int32(noTemporalLimit)
	if lim := d.limit.Load(); t >= 0 && int32(t) >= lim {
		tt = d.tlimit.Load()
	}
	d.ttarget.Store(tt)
	if old := d.setTarget(int32(t), bandwidth); old != int32(t) {
		d.sub.log.Debug("layer target", "track", d.up.trackID, "from", old, "to", t, "want", want)
		if t >= 0 {
			d.up.requestKeyframe(t)
		}
	}
	return want
}

// setTarget changes the layer to forward and keeps the paused gauges
// (bound video tracks with no layer, by reason) true. It returns the
// previous target.
func (d *downTrack) setTarget(t int32, bandwidth bool) int32 {
	u := d.up
	u.mu.Lock()
	defer u.mu.Unlock()
	if d.attached {
		u.srv.ctr.pausedGauge(d.target.Load(), d.pausedBW).Add(-1)
		u.srv.ctr.pausedGauge(t, bandwidth).Add(1)
	}
	d.pausedBW = t < 0 && bandwidth
	return d.target.Swap(t)
}

// tickLayers re-chooses every subscriber's layers (layers start and stop)
// and tells publishers which layers are wanted. Runs on the room's loop,
// which owns the dynacast state.
func (r *room) tickLayers() {
	r.mu.Lock()
	tracks := slices.Clone(r.tracks)
	r.mu.Unlock()
	now := r.srv.now()
	for _, u := range tracks {
		if u.kind != webrtc.RTPCodecTypeVideo {
			continue
		}
		var wanted uint32
		for _, d := range *u.downs.Load() {
			if w := d.choose(now); w >= 0 {
				wanted |= 1 << w
			}
		}
		u.dynacastTick(wanted, now)
	}
}

// dynacastTick tells the publisher which of u's layers to encode when that
// changed: a layer is wanted from the moment a subscriber wants it until
// dynacastHold after the last one stopped. Room loop only.
func (u *upTrack) dynacastTick(wanted uint32, now int64) {
	if u.nLayers < 2 || u.srv.cfg.NoDynacast {
		return // nothing to choose between, or every layer is wanted
	}
	for i := 0; i < u.nLayers; i++ {
		if wanted&(1<<i) != 0 {
			u.wantedAt[i] = now
		}
	}
	var active uint32
	for i := 0; i < u.nLayers; i++ {
		if u.wantedAt[i] != 0 && now-u.wantedAt[i] <= int64(dynacastHold) {
			active |= 1 << i
		}
	}
	if u.reported && active == u.dynacast {
		if !u.unheeded(active, now) {
			return
		}
		u.owner.log.Debug("dynacast: a wanted layer sends nothing, reporting again", "track", u.trackID)
	}
	u.reported, u.dynacast, u.reportedAt = true, active, now
	msg := layersMsg{Layers: layersInfo{Track: u.remote.ID(), Active: []string{}}}
	for i, t := range u.receiver.Tracks() {
		if i < u.nLayers && active&(1<<i) != 0 {
			msg.Layers.Active = append(msg.Layers.Active, t.RID())
		}
	}
	u.owner.log.Debug("dynacast", "track", u.trackID, "active", msg.Layers.Active)
	u.owner.send(mustJSON(msg))
}

// unheeded says a report of active layers went out dynacastRepeat ago or
// more and the publisher does not follow it: a layer reported wanted
// sends nothing, or one reported unwanted still sends media (its encoder
// costs the publisher for nothing): the report is due again. Room loop
// only.
func (u *upTrack) unheeded(active uint32, now int64) bool {
	if now-u.reportedAt < int64(dynacastRepeat) {
		return false
	}
	for i := 0; i < u.nLayers; i++ {
		l := u.layer(i)
		live := l != nil && l.live(now)
		if wanted := active&(1<<i) != 0; wanted != live {
			return true
		}
	}
	return false
}
