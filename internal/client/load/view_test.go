package load

import (
	"math"
	"testing"
)

func TestParseView(t *testing.T) {
	for in, want := range map[string]viewSpec{
		"":           {mode: viewNone, dpr: 1},
		"none":       {mode: viewNone, dpr: 1},
		"hidden":     {mode: viewHidden, dpr: 1},
		"thumbnails": {mode: viewThumbnails, dpr: 1},
		"1280x720":   {mode: viewGrid, w: 1280, h: 720, dpr: 1},
		"390x844@3":  {mode: viewGrid, w: 390, h: 844, dpr: 3},
	} {
		got, err := parseView(in)
		if err != nil || got != want {
			t.Errorf("parseView(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"big", "1280", "1280x", "100x100", "1280x720@9", "1280x720@x", "99999x720", "-5x3"} {
		if _, err := parseView(bad); err == nil {
			t.Errorf("parseView(%q) accepted", bad)
		}
	}
}

// TestViewLayoutAndNeeded: 24 remotes in a 1280×720 grid are 25 tiles
// of 5 × 5, all visible, each about 245×138 CSS px; "needed" is their
// device pixels × 0.1 bit × 30 fps.
func TestViewLayoutAndNeeded(t *testing.T) {
	var tracks []tileView
	for i := range 24 {
		tracks = append(tracks, tileView{track: string(rune('a' + i)), from: string(rune('A' + i))})
	}
	v, _ := parseView("1280x720")
	tiles := v.layout(tracks)
	var px float64
	for _, tl := range tiles {
		if !tl.item.Visible || tl.item.Track != tl.track {
			t.Fatalf("tile %+v", tl)
		}
		px += float64(tl.item.Width * tl.item.Height)
	}
	cols, w := bestLayout(25, 1280, 720)
	if cols != 5 || math.Abs(w-244.6) > 0.1 {
		t.Errorf("bestLayout(25, 1280, 720) = %d cols of %.1f, want 5 of 244.6", cols, w)
	}
	if got := needed(tiles); math.Abs(got-px*3) > 1 || got < 2.4e6 || got > 2.6e6 {
		t.Errorf("needed = %.0f bit/s for %.0f px", got, px)
	}

	v2, _ := parseView("1280x720@2")
	if got := needed(v2.layout(tracks)); math.Abs(got/needed(tiles)-4) > 0.05 {
		t.Errorf("at DPR 2, needed is %.2f× that at 1", got/needed(tiles))
	}
	hidden, _ := parseView("hidden")
	for _, tl := range hidden.layout(tracks) {
		if tl.item.Visible {
			t.Errorf("hidden view shows %+v", tl)
		}
	}
	if needed(hidden.layout(tracks)) != 0 {
		t.Error("a hidden view needs video")
	}
	thumbs, _ := parseView("thumbnails")
	for _, tl := range thumbs.layout(tracks) {
		if !tl.item.Visible || tl.item.Width != thumbW || tl.item.Height != thumbH {
			t.Errorf("thumbnail %+v", tl.item)
		}
	}

	// A grid page holds 64 tiles of 144 px in 1280×720: the rest are
	// reported off screen.
	var many []tileView
	for i := range 70 {
		many = append(many, tileView{track: string(rune(0x100 + i))})
	}
	vis := 0
	for _, tl := range v.layout(many) {
		if tl.item.Visible {
			vis++
		}
	}
	if vis != 63 { // 64 per page, our own tile is one of them
		t.Errorf("%d of 70 remote tiles visible, want 63", vis)
	}
}
