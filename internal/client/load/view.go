package load

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/parleyhq/parley/internal/client/pionpeer"
)

// What a synthetic subscriber shows, and so what it asks the SFU for
// (docs/sfu.md `view`) and what it needs: --view.

const (
	// neededBitsPerPixel and neededFrameRate define "needed": a tile of
	// P device pixels shows everything its size allows at P × 0.1 bit per
	// pixel × 30 frames per second (docs/load.md's yardstick; VP8 at 0.1
	// bit/pixel is a sharp picture at camera motion).
	neededBitsPerPixel = 0.1
	neededFrameRate    = 30

	// thumbW and thumbH are a thumbnail's CSS size: layout.js's narrowest
	// strip tile (STRIP_MIN_W, 16:9), the smallest a face is shown.
	thumbW, thumbH = 160, 90

	// maxViewDPR bounds the device pixel ratio a --view may give: 4 is
	// beyond any phone's.
	maxViewDPR = 4
	// maxViewCSS bounds a --view's box: 8K in CSS pixels.
	maxViewCSS = 7680
)

// viewMode is how a subscriber lays out its remote videos.
type viewMode int

const (
	viewNone       viewMode = iota // no layout and no view reports: the SFU forwards its default
	viewHidden                     // every remote video off screen (paused by the SFU)
	viewThumbnails                 // every remote video as a thumbnail, all visible
	viewGrid                       // the browser grid in a box of W×H CSS pixels
)

// viewSpec is a parsed --view.
type viewSpec struct {
	mode viewMode
	w, h int     // CSS pixels, viewGrid
	dpr  float64 // device pixels per CSS pixel (1 unless given)
}

// parseView reads "none", "hidden", "thumbnails", "1280x720" or
// "1280x720@2" (a device pixel ratio).
func parseView(s string) (viewSpec, error) {
	v := viewSpec{dpr: 1}
	s = strings.TrimSpace(s)
	switch s {
	case "", "none":
		return v, nil
	case "hidden":
		v.mode = viewHidden
		return v, nil
	case "thumbnails":
		v.mode = viewThumbnails
		return v, nil
	}
	size, dpr, hasDPR := strings.Cut(s, "@")
	ws, hs, ok := strings.Cut(size, "x")
	w, err1 := strconv.Atoi(ws)
	h, err2 := strconv.Atoi(hs)
	if !ok || err1 != nil || err2 != nil || w < minTileW || h < 1 || w > maxViewCSS || h > maxViewCSS {
		return v, fmt.Errorf("%q: want none, hidden, thumbnails or WIDTHxHEIGHT[@DPR] (width %d–%d)", s, minTileW, maxViewCSS)
	}
	if hasDPR {
		d, err := strconv.ParseFloat(dpr, 64)
		if err != nil || d < 0.5 || d > maxViewDPR {
			return v, fmt.Errorf("%q: device pixel ratio %q outside 0.5–%d", s, dpr, maxViewDPR)
		}
		v.dpr = d
	}
	v.mode, v.w, v.h = viewGrid, w, h
	return v, nil
}

func (v viewSpec) String() string {
	switch v.mode {
	case viewHidden:
		return "hidden"
	case viewThumbnails:
		return "thumbnails"
	case viewGrid:
		if v.dpr != 1 {
			return fmt.Sprintf("%dx%d@%g", v.w, v.h, v.dpr)
		}
		return fmt.Sprintf("%dx%d", v.w, v.h)
	}
	return "none"
}

// tileView is what a subscriber shows of one forwarded video track.
type tileView struct {
	track, from string
	item        pionpeer.ViewItem
}

// layout places the forwarded video tracks, given in the order their
// publishers joined, as v shows them. The grid also holds the
// subscriber's own tile, as the browser's does (a person without a camera
// still has one), which is why 24 remotes make a grid of 25.
func (v viewSpec) layout(tracks []tileView) []tileView {
	out := make([]tileView, len(tracks))
	copy(out, tracks)
	switch v.mode {
	case viewNone, viewHidden:
		for i := range out {
			out[i].item = pionpeer.ViewItem{Track: out[i].track}
		}
	case viewThumbnails:
		for i := range out {
			out[i].item = pionpeer.ViewItem{Track: out[i].track, Width: v.px(thumbW), Height: v.px(thumbH), Visible: true}
		}
	case viewGrid:
		tiles := make([]layoutTile, 0, len(tracks)+1)
		tiles = append(tiles, layoutTile{id: "self", kind: kindSelf})
		for _, t := range tracks {
			tiles = append(tiles, layoutTile{id: t.track, kind: kindCamera})
		}
		rects := map[string]placed{}
		for _, p := range gridLayout(tiles, float64(v.w), float64(v.h)).placed {
			rects[p.id] = p
		}
		for i := range out {
			it := pionpeer.ViewItem{Track: out[i].track}
			if r, ok := rects[out[i].track]; ok {
				it.Width, it.Height, it.Visible = v.px(r.w), v.px(r.h), true
			}
			out[i].item = it
		}
	}
	return out
}

// px is a CSS length in device pixels, as the browser reports a tile's
// size (ResizeObserver's device-pixel box).
func (v viewSpec) px(css float64) int { return int(math.Round(css * v.dpr)) }

// needed is the video bitrate the visible tiles can show: Σ device pixels
// × neededBitsPerPixel × neededFrameRate, in bit/s.
func needed(tiles []tileView) float64 {
	var bits float64
	for _, t := range tiles {
		if t.item.Visible {
			bits += float64(t.item.Width*t.item.Height) * neededBitsPerPixel * neededFrameRate
		}
	}
	return bits
}
