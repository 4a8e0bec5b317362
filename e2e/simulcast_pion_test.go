package e2e

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"

	"github.com/parleyhq/parley/internal/client/pionpeer"
	"github.com/parleyhq/parley/internal/config"
)

// keyWidths records the picture width of every key frame a participant
// receives from one publisher (the VP8 key-frame header, RFC 6386 §9.1,
// after the payload descriptor: 4 bytes, 6 with pionpeer's temporal
// layers).
type keyWidths struct {
	mu     sync.Mutex
	from   string
	widths []int
	at     []time.Time
}

func (k *keyWidths) onPacket(from string, kind pionpeer.Kind, pkt *rtp.Packet, at time.Time) {
	if kind != pionpeer.KindVideo || from != k.from {
		return
	}
	var d codecs.VP8Packet
	if _, err := d.Unmarshal(pkt.Payload); err != nil || d.S == 0 || d.PID != 0 {
		return
	}
	p := d.Payload
	if len(p) < 10 || p[0]&0x01 != 0 {
		return
	}
	k.mu.Lock()
	k.widths = append(k.widths, int(p[6])|int(p[7]&0x3f)<<8)
	k.at = append(k.at, at)
	k.mu.Unlock()
}

// since returns the widths of the key frames received after t.
func (k *keyWidths) since(t time.Time) []int {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []int
	for i, at := range k.at {
		if at.After(t) {
			out = append(out, k.widths[i])
		}
	}
	return out
}

// TestSFUSimulcastPion: a pion publisher sends three layers (pionpeer's
// Simulcast); a subscriber that declares a 320×180 tile gets key frames of
// the 320-wide layer, a 1280×720 tile the 1280-wide one, a hidden tile no
// video while audio goes on; and the publisher is told to stop the layers
// nobody wants (dynacast).
func TestSFUSimulcastPion(t *testing.T) {
	c := startSFUCall(t, 90*time.Second, func(cfg *config.Config) { cfg.Policy = "sfu-only" })
	pub := c.join("Pub", func(p *pionpeer.Config) { p.Simulcast = true; p.VideoBitrate = 300_000 })
	keys := &keyWidths{from: pub.ID()}
	sub := c.join("Sub", func(p *pionpeer.Config) { p.NoVideo, p.NoAudio = true, true; p.OnPacket = keys.onPacket })
	meshPoll(t, 20*time.Second, func() string {
		if n := sub.ReceivedVia(pub.ID(), pionpeer.KindVideo, pionpeer.PathSFU); n < 20 {
			return fmt.Sprintf("subscriber got %d video packets over the SFU", n)
		}
		return ""
	})
	var track string
	for id, who := range sub.ForwardedVideo() {
		if who == pub.ID() {
			track = id
		}
	}
	if track == "" {
		t.Fatalf("no forwarded video track from the publisher: %v", sub.ForwardedVideo())
	}
	view := func(w, h int, visible bool) time.Time {
		t.Helper()
		if err := sub.SetView([]pionpeer.ViewItem{{Track: track, Width: w, Height: h, Visible: visible}}); err != nil {
			t.Fatal(err)
		}
		return time.Now()
	}
	expectWidth := func(at time.Time, want int) {
		t.Helper()
		meshPoll(t, 10*time.Second, func() string {
			got := keys.since(at)
			if len(got) == 0 || got[len(got)-1] != want {
				return fmt.Sprintf("key frames since the view: widths %v, want the last %d", got, want)
			}
			return ""
		})
	}
	expectWidth(view(320, 180, true), 320)
	meshPoll(t, 10*time.Second, func() string {
		if got := pub.ActiveLayers(); !slices.Equal(got, []string{"q"}) {
			return fmt.Sprintf("publisher encodes %v, want only q", got)
		}
		return ""
	})
	expectWidth(view(1280, 720, true), 1280)
	expectWidth(view(640, 360, true), 640)

	view(640, 360, false)
	time.Sleep(500 * time.Millisecond)
	v0 := sub.ReceivedVia(pub.ID(), pionpeer.KindVideo, pionpeer.PathSFU)
	a0 := sub.ReceivedVia(pub.ID(), pionpeer.KindAudio, pionpeer.PathSFU)
	time.Sleep(1500 * time.Millisecond)
	if v := sub.ReceivedVia(pub.ID(), pionpeer.KindVideo, pionpeer.PathSFU); v != v0 {
		t.Errorf("a hidden tile received %d video packets", v-v0)
	}
	if a := sub.ReceivedVia(pub.ID(), pionpeer.KindAudio, pionpeer.PathSFU); a <= a0 {
		t.Errorf("audio stopped with the video (%d → %d)", a0, a)
	}
	meshPoll(t, 10*time.Second, func() string {
		if got := pub.ActiveLayers(); len(got) != 0 {
			return fmt.Sprintf("nobody sees the video, the publisher still encodes %v", got)
		}
		return ""
	})
	expectWidth(view(320, 180, true), 320)
	checkIntact(t, c.peers)
}
