package load

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/client/pionpeer"
)

// viewEvery is how often the participants' layouts are brought up to date
// with the tracks the SFU forwards: a quarter of a second, the time a
// browser takes to lay out a newcomer's tile and report it.
const viewEvery = 250 * time.Millisecond

// viewLoop keeps every participant's view in step with the video the SFU
// forwards it, until stop is closed.
func (r *runner) viewLoop(stop <-chan struct{}) {
	t := time.NewTicker(viewEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			for _, p := range r.active() {
				r.updateView(p)
			}
		}
	}
}

// updateView lays out p's forwarded videos again when they changed, in the
// order their publishers joined (as a browser adds tiles), and sends the
// result to the SFU unless the run sends no view reports. A report that
// cannot be sent yet (no SFU connection) is tried again next time.
func (r *runner) updateView(p *participant) {
	if p.view.mode == viewNone {
		return
	}
	order := map[string]int{}      // publisher id → position in the room's joining order
	for _, q := range r.active() { // only those whose join ended: peer is theirs until then
		if q.room == p.room {
			order[q.peer.ID()] = q.index
		}
	}
	var tracks []tileView
	for track, from := range p.peer.ForwardedVideo() {
		tracks = append(tracks, tileView{track: track, from: from})
	}
	slices.SortFunc(tracks, func(a, b tileView) int {
		ia, oka := order[a.from]
		ib, okb := order[b.from]
		if !oka {
			ia = len(r.parts)
		}
		if !okb {
			ib = len(r.parts)
		}
		return cmp.Or(cmp.Compare(ia, ib), cmp.Compare(a.track, b.track))
	})
	keys := make([]string, len(tracks))
	for i, t := range tracks {
		keys[i] = t.track
	}
	key := strings.Join(keys, ",")
	p.mu.Lock()
	same := key == p.viewKey && p.tiles != nil
	p.mu.Unlock()
	if same {
		return
	}
	tiles := p.view.layout(tracks)
	if !p.noViewReports {
		items := make([]pionpeer.ViewItem, len(tiles))
		for i, t := range tiles {
			items[i] = t.item
		}
		if err := p.peer.SetView(items); err != nil {
			return
		}
	}
	p.mu.Lock()
	p.tiles, p.viewKey = tiles, key
	p.mu.Unlock()
}
