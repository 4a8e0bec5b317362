package load

import "math"

// The browser grid, re-expressed: computeLayout of web/js/layout.js in its
// grid arrangement (the default 'stage' mode without a pin or a screen
// share, which is what a room of cameras shows), so that a synthetic
// viewer asks the SFU for the tile sizes a browser of the same size would.
// layout_test.go runs the JavaScript on the same inputs and compares.
// Stage and speaker arrangements are not needed here: load-tool
// participants share no screens and pin nothing.

// The constants of web/js/layout.js that the grid uses.
const (
	tileAspect = 16.0 / 9 // ASPECT
	minTileW   = 144      // MIN_TILE_W
	tileGap    = 8        // computeLayout's default gap
	pipShare   = 0.2      // PIP_SHARE
	pipMinW    = 112      // PIP_MIN_W
	pipMaxW    = 240      // PIP_MAX_W
	pipMargin  = 8        // PIP_MARGIN
)

// tileKind is a layout tile's kind, as layout.js names them.
type tileKind string

const (
	kindCamera tileKind = "camera"
	kindSelf   tileKind = "self"
)

type layoutTile struct {
	id   string
	kind tileKind
}

// placed is one tile's rectangle in CSS pixels from the box's top left.
type placed struct {
	id         string
	x, y, w, h float64
	role       string // grid or pip
}

type gridResult struct {
	placed []placed
	hidden []string
}

// bestLayout is layout.js bestLayout: the column count and tile width that
// make n 16:9 tiles largest in w×h, or MIN_TILE_W across as many columns
// as fit when they would be narrower.
func bestLayout(n int, w, h float64) (cols int, width float64) {
	cols = 1
	for c := 1; c <= n; c++ {
		rows := math.Ceil(float64(n) / float64(c))
		byWidth := (w - tileGap*float64(c-1)) / float64(c)
		byHeight := ((h - tileGap*(rows-1)) / rows) * tileAspect
		if wd := math.Max(0, math.Min(byWidth, byHeight)); wd > width+0.5 {
			cols, width = c, wd
		}
	}
	if width >= minTileW {
		return cols, width
	}
	cols = max(1, min(n, int(math.Floor((w+tileGap)/(minTileW+tileGap)))))
	return cols, math.Max(math.Min(w, minTileW), (w-tileGap*float64(cols-1))/float64(cols))
}

// capacity is how many tiles of at least MIN_TILE_W fit in w×h.
func capacity(w, h float64) int {
	cols := max(1, int(math.Floor((w+tileGap)/(minTileW+tileGap))))
	rows := max(1, int(math.Floor((h+tileGap)/(minTileW/tileAspect+tileGap))))
	return cols * rows
}

// cells places tiles in a centred grid in the box (x, y, w, h).
func cells(list []layoutTile, x, y, w, h float64, role string) []placed {
	n := len(list)
	if n == 0 {
		return nil
	}
	cols, _ := bestLayout(n, w, h)
	rows := int(math.Ceil(float64(n) / float64(cols)))
	tw := math.Min((w-tileGap*float64(cols-1))/float64(cols), ((h-tileGap*float64(rows-1))/float64(rows))*tileAspect)
	th := tw / tileAspect
	top := y + (h-(float64(rows)*th+float64(rows-1)*tileGap))/2
	out := make([]placed, n)
	for i, t := range list {
		r := i / cols
		inRow := cols
		if r == rows-1 {
			inRow = n - r*cols // a last, partly filled row is centred
		}
		left := x + (w-(float64(inRow)*tw+float64(inRow-1)*tileGap))/2
		out[i] = placed{id: t.id, x: left + float64(i%cols)*(tw+tileGap), y: top + float64(r)*(th+tileGap), w: tw, h: th, role: role}
	}
	return out
}

// gridLayout is layout.js gridLayout on page 0 with the picture in
// picture in its default corner (bottom right): tiles in join order, our
// own camera a small corner picture when only one other person is there,
// and tiles beyond one page's capacity hidden.
func gridLayout(tiles []layoutTile, w, h float64) gridResult {
	if len(tiles) == 0 || w <= 0 || h <= 0 {
		return gridResult{hidden: ids(tiles)}
	}
	var pip *layoutTile
	rest := tiles
	if len(tiles) == 2 {
		for i, t := range tiles {
			if t.kind == kindSelf {
				pip = &tiles[i]
				rest = []layoutTile{tiles[1-i]}
			}
		}
	}
	per := max(1, capacity(w, h))
	shown, hidden := rest, []layoutTile(nil)
	if len(rest) > per {
		shown, hidden = rest[:per], rest[per:]
	}
	if pip == nil {
		return gridResult{placed: cells(shown, 0, 0, w, h, "grid"), hidden: ids(hidden)}
	}
	pw := math.Min(math.Min(math.Max(pipMinW, w*pipShare), pipMaxW), w/2)
	ph := pw / tileAspect
	p := placed{id: pip.id, x: w - pw - pipMargin, y: h - ph - pipMargin, w: pw, h: ph, role: "pip"}
	bx, by, bw, bh := 0.0, 0.0, w, h
	if w/h > tileAspect {
		bw = w - (p.w + tileGap) // the picture is on the right: the column beside it goes
	} else {
		bh = h - (p.h + tileGap) // and at the bottom: the row above it stays
	}
	out := cells(shown, bx, by, bw, bh, "grid")
	return gridResult{placed: append(out, p), hidden: ids(hidden)}
}

func ids(tiles []layoutTile) []string {
	out := make([]string, len(tiles))
	for i, t := range tiles {
		out[i] = t.id
	}
	return out
}
