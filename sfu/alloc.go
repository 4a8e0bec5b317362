package sfu

import (
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
)

// Bandwidth allocation per subscriber: what its `view` asks for (view.go),
// cut down to what its downlink carries (bwe.go). Every 500 ms, on the
// room's loop:
//
//  1. every visible tile gets its lowest rung — the lowest layer at its
//     lowest temporal layer (temporal.go: a quarter of its frame rate
//     with L1T3; the whole layer for a track without temporal layers) —
//     in priority order (the `priority` of the view: active speaker and
//     screen share first), while the estimate lasts; a tile whose lowest
//     rung does not fit is paused for bandwidth, and the client is told
//     (`paused`);
//  2. then the lowest layer's frame rate goes up to half, one temporal
//     layer at a time for every tile (in priority order) before the next:
//     a grid that moves everywhere before a sharp speaker;
//  3. then, again in priority order, each tile is raised layer by layer up
//     to what its view asks for, at no lower frame rate than it has,
//     while the estimate lasts: a sharp speaker (or screen share) before
//     a grid at full frame rate;
//  4. then the lowest layer's top temporal layer, for every tile left on
//     it, in priority order.
//
// The rungs of a track are thus (layer, temporal layer) pairs in
// increasing cost, and a limit is such a pair (downTrack.limit, tlimit).
//
// Audio is never paused, and what the subscriber receives of it is taken
// off the estimate first. Hysteresis: a tile goes up (or resumes) only when
// the step fits with allocUpMargin to spare and allocHold after the last
// step up, so a layer does not flap between two estimates; it goes down at
// once when it no longer fits.

const (
	// noLimit is a downTrack's limit when bandwidth does not constrain it.
	noLimit = maxLayers

	// allocShare is the part of the estimate the allocator spends: gcc's
	// target is the rate at which queues start to build, and RTCP,
	// retransmissions and key frames (several times a delta frame) ride on
	// top of the media rate.
	allocShareNum, allocShareDen = 9, 10

	// allocUpMargin: a step up (or a resume) must fit 1.25× its cost. The
	// measured rate of a layer swings by more than 10 % between key
	// frames and motion; without a margin a tile at the edge would step
	// up and down every tick.
	allocUpMarginNum, allocUpMarginDen = 5, 4

	// allocHold is the least time between two steps up for one
	// subscriber: each costs a key frame, and gcc needs a few feedback
	// rounds to show whether the new rate fits.
	allocHold = 2 * layerTimeout

	// pauseAfter is how long a tile's lowest layer must keep not fitting
	// before it is paused: a dip of the estimate (a burst of cross
	// traffic, a scheduling hiccup gcc takes for a queue) must not blank
	// a tile; layers above the lowest go at once.
	pauseAfter = 2 * time.Second

	// defaultBitsPerPixel estimates a layer that sends nothing yet (so has
	// no measured rate): bits per second per pixel of its size, which
	// gives a browser's usual simulcast rates (≈1.4 Mbit/s at 720p,
	// ≈350 kbit/s at 360p, ≈90 kbit/s at 180p).
	defaultBitsPerPixelNum, defaultBitsPerPixelDen = 3, 2
)

// allocItem is one visible video tile in an allocation.
type allocItem struct {
	d        *downTrack
	want     int // the layer the view asks for
	priority int
	order    uint64 // publication order: ties keep a stable order
	prev     int32  // the limit before this allocation
	prevT    int32  // the temporal limit before (noTemporalLimit: all)
	limit    int    // the result: highest layer allowed, -1 paused
	tlimit   int    // the result: highest temporal layer of limit allowed
}

// allocate sets the bandwidth limit of every video track this subscriber
// receives and tells the client which are paused for bandwidth. Room loop
// only.
func (ss *Session) allocate(now int64) {
	downs := ss.downTracks()
	est, ok := ss.dl.estimate()
	if !ok {
		for _, d := range downs {
			d.limit.Store(noLimit)
			d.tlimit.Store(noTemporalLimit)
			d.probe.Store(0)
		}
		ss.dl.last.Store(0)
		ss.sendPaused(nil)
		return
	}
	ss.dl.last.Store(int64(est))
	if est < ss.dl.prev/probeDropDen*probeDropNum {
		ss.dl.fell(now)
	}
	ss.dl.prev = est
	budget := est / allocShareDen * allocShareNum
	media := 0 // what the allocation sends: audio, then each tile's layer
	var items []allocItem
	for _, d := range downs {
		u := d.up
		if u.kind != webrtc.RTPCodecTypeVideo {
			if !u.muted.Load() {
				budget -= u.layerRate(0)
				media += u.layerRate(0)
			}
			continue
		}
		want := d.sub.wantedLayer(u, now)
		if want < 0 {
			d.limit.Store(noLimit) // hidden: the view pauses it, not bandwidth
			d.tlimit.Store(noTemporalLimit)
			d.probe.Store(0)
			continue
		}
		items = append(items, allocItem{d: d, want: want, priority: ss.viewPriority(u), order: u.order, prev: d.limit.Load(), prevT: d.tlimit.Load()})
	}
	slices.SortStableFunc(items, func(a, b allocItem) int {
		if a.priority != b.priority {
			return b.priority - a.priority
		}
		return int(a.order) - int(b.order)
	})
	lossFree := ss.dl.lossFree() // gcc's stats: once per allocation
	canResume := lossFree && now-ss.dl.droppedAt >= int64(probeBackoff)
	budget, up := allocLowest(items, budget, canResume)
	budget = delayPauses(items, budget, now, !lossFree)
	budget = keepFrameRate(items, budget, !lossFree)
	if anyPaused(items) {
		budget = 0 // every visible tile gets its lowest layer before anyone gets more
	}
	if allocRaise(items, budget, now-ss.dl.changedAt >= int64(allocHold)) || up {
		ss.dl.changedAt = now
	}
	var paused []string
	for i := range items {
		it := &items[i]
		if it.limit >= 0 && it.tlimit >= it.d.up.topTemporal(it.limit) {
			it.tlimit = noTemporalLimit // all of them, however many come
		}
		it.d.limit.Store(int32(it.limit))
		it.d.tlimit.Store(int32(it.tlimit))
		if it.limit < 0 {
			paused = append(paused, it.d.up.trackID)
		} else {
			media += it.d.up.layerRateT(it.limit, it.tlimit)
		}
	}
	ss.probe(items, est, media, lossFree, now)
	ss.sendPaused(paused)
}

// tickBandwidth measures every layer's rate and re-allocates every
// subscriber's downlink. Room loop, before tickLayers (which applies the
// limits).
func (r *room) tickBandwidth() {
	r.mu.Lock()
	tracks := slices.Clone(r.tracks)
	sessions := r.others(nil)
	r.mu.Unlock()
	now := r.srv.now()
	for _, u := range tracks {
		for i := range maxLayers {
			if l := u.layer(i); l != nil {
				l.updateRate(now)
			}
		}
	}
	for _, ss := range sessions {
		ss.allocate(now)
	}
}

// allocLowest gives each tile, by priority, its lowest layer while the
// budget lasts, and pauses the rest. It returns what is left and whether a
// paused tile resumed.
//
// At most one paused tile resumes per allocation, and none unless
// canResume (gcc sees no loss, and the estimate did not just fall): each
// resume starts with a key frame, several times a delta frame, and a
// dozen tiles resuming at once on a narrow link overflowed its queue, so
// the loss paused them again (BenchmarkConstrainedRoom: 24 tiles behind
// 2 Mbit/s).
//
// keepFirst: the highest-priority tile (the speaker, a screen share) keeps
// its lowest layer even when that does not fit. With every video paused
// only audio would flow, gcc could never see the link recover (probe
// padding rides on a forwarded video), and the subscriber would see
// nobody at all.
func allocLowest(items []allocItem, budget int, canResume bool) (int, bool) {
	resumed := false
	for i := range items {
		it := &items[i]
		it.tlimit = 0
		cost := it.d.up.layerRateT(0, 0)
		need := cost
		if it.prev < 0 {
			need = cost / allocUpMarginDen * allocUpMarginNum
		}
		if i > 0 && (need > budget || it.prev < 0 && (!canResume || resumed)) {
			it.limit = -1
			continue
		}
		it.limit = 0 // the first tile always: see keepFirst
		budget -= cost
		resumed = resumed || it.prev < 0
	}
	return budget, resumed
}

// delayPauses keeps the lowest layer of a tile that stopped fitting less
// than pauseAfter ago, or while the link loses nothing (its cost comes off
// the budget, so nothing is raised meanwhile). It returns the budget left.
// Room loop only.
//
// losing: gcc sees loss (lossFree). Pausing a tile is the one step a
// viewer cannot miss, so it waits for the link to drop packets: gcc's
// delay-based estimate also falls when only the subscriber's machine is
// slow to read (a starved CPU queues packets, loopback included), and
// there a lowest layer more costs nothing a pause would save. Layers above
// the lowest still go on the estimate alone.
func delayPauses(items []allocItem, budget int, now int64, losing bool) int {
	for i := range items {
		it := &items[i]
		switch {
		case it.limit >= 0:
			it.d.overAt = 0
		case it.prev < 0:
			// paused already
		case !losing || it.d.overAt == 0 || now-it.d.overAt < int64(pauseAfter):
			if it.d.overAt == 0 {
				it.d.overAt = now
			}
			it.limit, it.tlimit = 0, 0
			budget -= it.d.up.layerRateT(0, 0)
		}
	}
	return budget
}

// keepFrameRate keeps, while the link loses nothing, the frame rate each
// tile had of its lowest layer (all of it for a tile that had a higher
// layer): its cost comes off the budget, so nothing is raised meanwhile.
// It returns the budget left. As for pauses (delayPauses), gcc's
// delay-based estimate also falls when only the subscriber's machine is
// slow to read, and a quarter of the frame rate on every tile is a loss a
// viewer sees; layers above the lowest still go on the estimate alone. A
// tile new to the allocation (prev noLimit) starts at its lowest rung.
func keepFrameRate(items []allocItem, budget int, losing bool) int {
	if losing {
		return budget
	}
	for i := range items {
		it := &items[i]
		if it.limit != 0 || it.prev < 0 || it.prev == noLimit {
			continue
		}
		keep := int(it.prevT)
		if it.prev > 0 {
			keep = noTemporalLimit
		}
		keep = min(keep, it.d.up.topTemporal(0))
		if keep > it.tlimit {
			budget -= it.d.up.layerRateT(0, keep) - it.d.up.layerRateT(0, it.tlimit)
			it.tlimit = keep
		}
	}
	return budget
}

// anyPaused says whether some tile of the allocation is paused.
func anyPaused(items []allocItem) bool {
	return slices.ContainsFunc(items, func(it allocItem) bool { return it.limit < 0 })
}

// allocRaise raises each tile up to what its view asks for while the
// budget lasts, in three passes: first the lowest layer's frame rate up to
// half (every temporal layer but the top one, one at a time for every
// tile, by priority, before the next); then each tile, by priority, layer
// by layer, each at the highest temporal layer that fits and no lower
// than the one it has (a sharper but choppier picture is no step up);
// then the rest of the lowest layer's frame rate. So behind a narrow link
// every tile moves at half its frame rate before the speaker (the first by
// priority) is made sharp, and the speaker is made sharp before the grid
// gets its full frame rate. A tile keeps a rung it already had as long as
// it fits; a step above that needs allocUpMargin and canRaise. It reports
// whether any tile went above its previous limit.
func allocRaise(items []allocItem, budget int, canRaise bool) bool {
	raised := raiseFrameRate(items, 1, maxTemporal-2, &budget, canRaise)
	for i := range items {
		it := &items[i]
		if it.limit < 0 {
			continue
		}
		for l := it.limit + 1; l <= it.want; l++ {
			top := it.d.up.topTemporal(l)
			done := false
			for t := top; t >= min(it.tlimit, top) && !done; t-- {
				ok, up := it.step(l, t, &budget, canRaise)
				done = ok
				raised = raised || up
			}
			if !done || it.tlimit < top {
				break
			}
		}
	}
	return raiseFrameRate(items, maxTemporal-1, maxTemporal-1, &budget, canRaise) || raised
}

// raiseFrameRate raises the tiles on their lowest layer through temporal
// layers from to to (inclusive), one at a time for every tile, by
// priority, before the next. It reports whether any tile went above its
// previous limit.
func raiseFrameRate(items []allocItem, from, to int, budget *int, canRaise bool) bool {
	raised := false
	for t := from; t <= to; t++ {
		for i := range items {
			it := &items[i]
			if it.limit != 0 || it.tlimit != t-1 || t > it.d.up.topTemporal(0) {
				continue // paused, raised above the lowest layer, or short of the rung below
			}
			_, up := it.step(0, t, budget, canRaise)
			raised = raised || up
		}
	}
	return raised
}

// step moves the tile to rung (l, t) if the budget allows: the cost is the
// difference from its current rung, with allocUpMargin (and only when
// canRaise) for a rung above the one it had before this allocation. It
// reports whether it moved and whether that was such a step up.
func (it *allocItem) step(l, t int, budget *int, canRaise bool) (ok, up bool) {
	u := it.d.up
	cost := u.layerRateT(l, t) - u.layerRateT(it.limit, it.tlimit)
	need := cost
	up = int32(l) > it.prev || int32(l) == it.prev && int32(t) > it.prevT
	if up {
		if !canRaise {
			return false, false
		}
		need = cost / allocUpMarginDen * allocUpMarginNum
	}
	if need > *budget {
		return false, false
	}
	*budget -= cost
	it.limit, it.tlimit = l, t
	return true, up
}

// downTracks is a snapshot of the tracks forwarded to this participant.
func (ss *Session) downTracks() []*downTrack {
	ss.negMu.Lock()
	defer ss.negMu.Unlock()
	downs := make([]*downTrack, 0, len(ss.downs))
	for _, d := range ss.downs {
		if d.bind.Load() != nil {
			downs = append(downs, d)
		}
	}
	return downs
}

// viewPriority is the priority the participant's view gives u's tile (0
// when it does not list it).
func (ss *Session) viewPriority(u *upTrack) int {
	ss.vmu.Lock()
	defer ss.vmu.Unlock()
	return ss.views[u.trackID].Priority
}

// pausedMsg tells a subscriber which of its forwarded video tracks the SFU
// pauses for bandwidth: the full list, replacing the previous one.
type pausedMsg struct {
	Paused []pausedItem `json:"paused"`
}

type pausedItem struct {
	Track  string `json:"track"`
	Reason string `json:"reason"` // "bandwidth"
}

// sendPaused sends `paused` when the list changed (the first time only
// once something is paused). Room loop only.
func (ss *Session) sendPaused(tracks []string) {
	slices.Sort(tracks)
	key := strings.Join(tracks, "\x00")
	if key == ss.dl.pausedSent && (ss.dl.sentPaused || len(tracks) == 0) {
		return
	}
	ss.dl.pausedSent, ss.dl.sentPaused = key, true
	msg := pausedMsg{Paused: make([]pausedItem, 0, len(tracks))}
	for _, t := range tracks {
		msg.Paused = append(msg.Paused, pausedItem{Track: t, Reason: "bandwidth"})
	}
	ss.log.Debug("paused for bandwidth", "tracks", tracks)
	ss.send(mustJSON(msg))
}

// layerRate is layer i's bit rate as measured on the way in; for a layer
// that sends nothing now (dynacast stopped it: nobody received it), the
// rate it had when it last sent; for one never seen, an estimate from its
// size. Without the memory a stopped layer would cost what its size
// suggests (a quarter of what a publisher may really send), every tile
// would be raised to it at once, and dropped back a tick later.
func (u *upTrack) layerRate(i int) int {
	if l := u.layer(i); l != nil {
		if r := l.rate.Load(); r > 0 {
			return int(r)
		}
		if r := l.known.Load(); r > 0 {
			return int(r)
		}
	}
	if u.kind != webrtc.RTPCodecTypeVideo {
		return 0
	}
	w, h := u.recordedDims(i)
	return w * h / defaultBitsPerPixelDen * defaultBitsPerPixelNum
}

// layerRateT is what layer i costs forwarded up to temporal layer t (TID
// ≤ t): measured, else the last measured while it sent, else the layer's
// rate shared out evenly among its temporal layers. All of the layer for
// t at or above its top temporal layer (one, for a track without them).
func (u *upTrack) layerRateT(i, t int) int {
	full := u.layerRate(i)
	l := u.layer(i)
	if l == nil {
		return full
	}
	n := l.temporalLayers()
	if t >= n-1 {
		return full
	}
	if r := l.trate[t].Load(); r > 0 && l.rate.Load() > 0 {
		return min(int(r), full)
	}
	if r := l.tknown[t].Load(); r > 0 {
		return min(int(r), full)
	}
	return full * (t + 1) / n
}

// topTemporal is layer i's highest temporal layer (0 for one without
// temporal layers, or not seen yet).
func (u *upTrack) topTemporal(i int) int {
	if l := u.layer(i); l != nil {
		return l.temporalLayers() - 1
	}
	return 0
}

// meter measures a layer's bit rate: the reader adds each packet's size,
// the room's loop turns the count into a rate once per tick.
type meter struct {
	bytes atomic.Uint64 // reader: every packet's size

	// Room loop only.
	lastBytes uint64
	lastAt    int64
}

// rateSmoothing: the new measurement's weight in the rate (1/2), so one
// key frame does not double a layer's cost for a tick.
const rateSmoothingDen = 2

// update folds the bytes since the last call into l.rate. Room loop only.
func (l *upLayer) updateRate(now int64) {
	m := &l.meter
	b := m.bytes.Load()
	live := l.live(now)
	if m.lastAt != 0 && now > m.lastAt {
		smooth(&l.rate, &l.known, int64(b-m.lastBytes), now-m.lastAt, live)
		var cum uint64
		for t := range maxTemporal {
			tb := l.tbytes[t].Load()
			cum += tb - l.tlast[t]
			smooth(&l.trate[t], &l.tknown[t], int64(cum), now-m.lastAt, live)
		}
	}
	for t := range maxTemporal {
		l.tlast[t] = l.tbytes[t].Load()
	}
	m.lastBytes, m.lastAt = b, now
}

// smooth folds bytes counted over elapsed ns into rate (bits/s), and
// remembers a rate measured while the layer sent in known.
func smooth(rate, known *atomic.Int64, bytes, elapsed int64, live bool) {
	r := bytes * 8 * 1e9 / elapsed
	if !live {
		r = 0
	}
	old := rate.Load()
	if old > 0 && r > 0 {
		r = old + (r-old)/rateSmoothingDen
	}
	rate.Store(r)
	if r > 0 {
		known.Store(r)
	}
}
