package sfu

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestParseView(t *testing.T) {
	ok := `[{"track":"v1","width":640,"height":360,"visible":true,"priority":50},{"track":"v2","width":0,"height":0,"visible":false}]`
	items, err := parseView(json.RawMessage(ok))
	if err != nil || len(items) != 2 || items[0].Width != 640 || items[1].Visible {
		t.Fatalf("parseView(%s) = %+v, %v", ok, items, err)
	}
	for _, bad := range []string{
		`{}`, `"x"`, `[{"track":""}]`, `[{"track":"v","width":-1}]`, `[{"track":"v","height":16385}]`,
		`[{"track":"v","priority":101}]`, `[{"track":"v","width":"big"}]`,
	} {
		if _, err := parseView(json.RawMessage(bad)); !errors.Is(err, ErrBadSignal) {
			t.Errorf("parseView(%s) = %v, want ErrBadSignal", bad, err)
		}
	}
	many := make([]viewItem, maxViewItems+1)
	for i := range many {
		many[i].Track = "t"
	}
	b, _ := json.Marshal(many)
	if _, err := parseView(b); !errors.Is(err, ErrBadSignal) {
		t.Errorf("%d items accepted", len(many))
	}
}

func TestLayerFor(t *testing.T) {
	u := &upTrack{nLayers: 3}
	// Before any key frame: estimated from a 720p top layer.
	for _, c := range []struct{ w, h, want int }{
		{320, 180, 0}, {400, 225, 0}, {401, 225, 1}, {640, 360, 1}, {800, 450, 1}, {1280, 720, 2}, {3840, 2160, 2}, {1, 1, 0},
	} {
		if got := u.layerFor(c.w, c.h, 0); got != c.want {
			t.Errorf("layerFor(%d×%d) = %d, want %d (estimated sizes)", c.w, c.h, got, c.want)
		}
	}
	// Real sizes from key frames: a 320×180 camera's layers.
	for i, sz := range [][2]int{{80, 45}, {160, 90}, {320, 180}} {
		l := newUpLayer(i, "", nil, true)
		l.size.Store(uint32(sz[0])<<16 | uint32(sz[1]))
		u.layers[i].Store(l)
	}
	for _, c := range []struct{ w, h, want int }{{80, 45, 0}, {100, 56, 0}, {160, 90, 1}, {512, 288, 2}} {
		if got := u.layerFor(c.w, c.h, 0); got != c.want {
			t.Errorf("layerFor(%d×%d) = %d, want %d (real sizes)", c.w, c.h, got, c.want)
		}
	}
	// One layer known: the others are estimated from it.
	u2 := &upTrack{nLayers: 3}
	l := newUpLayer(1, "", nil, true)
	l.size.Store(uint32(480)<<16 | 270)
	u2.layers[1].Store(l)
	if w, h := u2.layerDims(2, 0); w != 960 || h != 540 {
		t.Errorf("layerDims(2) = %d×%d, want 960×540 from layer 1", w, h)
	}
}

func TestLiveLayer(t *testing.T) {
	u := &upTrack{nLayers: 3}
	now := int64(10e9)
	for i, at := range []int64{now - 1e8, 0, now - 5e9} { // q flowing, h never, f stopped
		l := newUpLayer(i, "", nil, true)
		l.lastAt.Store(at)
		u.layers[i].Store(l)
	}
	for want, got := range map[int]int{0: 0, 1: 0, 2: 0} {
		if l := u.liveLayer(want, now); l != got {
			t.Errorf("liveLayer(%d) = %d, want %d", want, l, got)
		}
	}
	u.layers[0].Load().lastAt.Store(0)
	if l := u.liveLayer(1, now); l != 1 {
		t.Errorf("nothing flowing: liveLayer(1) = %d, want 1 (wait for it)", l)
	}
}

// TestPaddingIsNotFlowing: a layer that receives only padding-only packets
// (a browser probing bandwidth on an encoding it stopped) is not chosen;
// one media packet makes it flow.
func TestPaddingIsNotFlowing(t *testing.T) {
	u := &upTrack{nLayers: 3}
	now := int64(10e9)
	for i := range 3 {
		u.layers[i].Store(newUpLayer(i, "", nil, true))
	}
	u.layer(0).noteArrival(&packet{payload: []byte{0x10, 0x00}, arrival: now})
	u.layer(2).noteArrival(&packet{payload: nil, arrival: now}) // padding only
	if l := u.liveLayer(2, now); l != 0 {
		t.Errorf("f padding only: liveLayer(2) = %d, want 0 (q carries media)", l)
	}
	u.layer(2).noteArrival(&packet{payload: []byte{0x10, 0x00}, arrival: now})
	if l := u.liveLayer(2, now); l != 2 {
		t.Errorf("f with media: liveLayer(2) = %d, want 2", l)
	}
}

func TestVP8KeyframeSize(t *testing.T) {
	key := []byte{0x90, 0x80, 0x80, 0x01, 0x00, 0x00, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01}
	if w, h, ok := vp8KeyframeSize(key); !ok || w != 640 || h != 360 {
		t.Errorf("vp8KeyframeSize = %d×%d %v, want 640×360", w, h, ok)
	}
	delta := append([]byte(nil), key...)
	delta[4] = 0x01
	if _, _, ok := vp8KeyframeSize(delta); ok {
		t.Error("a delta frame has a size")
	}
	if _, _, ok := vp8KeyframeSize(key[:9]); ok {
		t.Error("a truncated key frame has a size")
	}
}

// TestLayerForBySize: the sizes key frames declare decide, whatever the
// order the client listed its encodings in.
func TestLayerForBySize(t *testing.T) {
	u := &upTrack{nLayers: 3}
	for i, sz := range [][2]int{{1280, 720}, {320, 180}, {640, 360}} { // f, q, h
		l := newUpLayer(i, "", nil, true)
		l.size.Store(uint32(sz[0])<<16 | uint32(sz[1]))
		u.layers[i].Store(l)
	}
	for _, c := range []struct{ w, h, want int }{{320, 180, 1}, {640, 360, 2}, {1280, 720, 0}, {4000, 3000, 0}} {
		if got := u.layerFor(c.w, c.h, 0); got != c.want {
			t.Errorf("layerFor(%d×%d) = %d, want %d", c.w, c.h, got, c.want)
		}
	}
}

// TestDynacastRepeatsUnheeded: a report whose wanted layer still sends
// nothing dynacastRepeat later is due again (a lost or failed
// setParameters must not keep the layer off), and so is one whose unwanted
// layer still sends; one the publisher follows, or one too recent, is not.
func TestDynacastRepeatsUnheeded(t *testing.T) {
	u := &upTrack{nLayers: 2}
	now := int64(100e9)
	for i := range 2 {
		u.layers[i].Store(newUpLayer(i, "", nil, true))
	}
	u.layer(0).lastAt.Store(now) // h flows, f does not
	both := uint32(0b11)
	u.reportedAt = now - int64(dynacastRepeat) + 1
	if u.unheeded(both, now) {
		t.Error("repeated before dynacastRepeat passed")
	}
	u.reportedAt = now - int64(dynacastRepeat)
	if !u.unheeded(both, now) {
		t.Error("f wanted and silent for dynacastRepeat: not repeated")
	}
	if u.unheeded(0b01, now) {
		t.Error("repeated a report whose only wanted layer flows")
	}
	u.layer(1).lastAt.Store(now)
	if u.unheeded(both, now) {
		t.Error("repeated a report the publisher follows")
	}
	if !u.unheeded(0b01, now) {
		t.Error("f reported unwanted and still sending for dynacastRepeat: not repeated")
	}
	u.layers[1].Store(nil)
	if !u.unheeded(both, now) {
		t.Error("f wanted and never seen: not repeated")
	}
}

// TestStoppedLayerSizeEstimated: a layer that sends nothing now is sized
// from the live layer below it, not from its own last key frame, which may
// be from a start when the browser sent it tiny: otherwise it is never the
// largest, never wanted, and never started again. Live, its real size
// decides.
func TestStoppedLayerSizeEstimated(t *testing.T) {
	u := &upTrack{nLayers: 2}
	now := int64(100e9)
	for i, sz := range [][2]int{{320, 180}, {160, 90}} { // h, and f's first key frame
		l := newUpLayer(i, "", nil, true)
		l.size.Store(uint32(sz[0])<<16 | uint32(sz[1]))
		u.layers[i].Store(l)
	}
	u.layer(0).lastAt.Store(now) // h flows, f was stopped
	if w, h := u.layerDims(1, now); w != 640 || h != 360 {
		t.Errorf("stopped f: layerDims = %d×%d, want 640×360 from h", w, h)
	}
	if got := u.layerFor(1280, 720, now); got != 1 {
		t.Errorf("stopped f, a 1280×720 tile: layerFor = %d, want 1 (ask for f again)", got)
	}
	// f starts again, its first key frames still tiny: for layerRamp it
	// is sized as while stopped, so the tile keeps asking for it (judged
	// by those frames it was dropped again at once, a flap every ≈2.5 s).
	u.layer(1).lastAt.Store(0)
	u.layer(1).noteArrival(&packet{arrival: now, payload: []byte{1}})
	if got := u.layerFor(1280, 720, now); got != 1 {
		t.Errorf("f started again at 160×90, a 1280×720 tile: layerFor = %d, want 1 (it is ramping up)", got)
	}
	later := now + int64(layerRamp)
	u.layer(0).lastAt.Store(later)
	u.layer(1).lastAt.Store(later - int64(layerTimeout)/2) // it kept flowing
	u.layer(1).noteArrival(&packet{arrival: later, payload: []byte{1}})
	if got := u.layerFor(1280, 720, later); got != 0 {
		t.Errorf("f still 160×90 after layerRamp, a 1280×720 tile: layerFor = %d, want 0 (h is larger)", got)
	}
}
