package load

import (
	"sync"
	"time"

	"github.com/parleyhq/parley/internal/client/pionpeer"
)

// maxSeqSpan bounds a stream's record of which packet numbers arrived:
// 2^24 packets is over a day of 1.5 Mbit/s video, and 2 MiB of bitmap.
const maxSeqSpan = 1 << 24

// stream measures what one subscriber receives of one publisher's track,
// from the Stamp inside each payload (pionpeer.Stamp: a per-track packet
// number and the send time, on this machine's clock).
//
// It is fed by the subscriber's track readers through onPacket. During a
// mesh ⇄ SFU switch the same packets arrive over both paths on two
// goroutines, so the fields are guarded by mu, and duplicates (a packet
// number already seen) count once.
type stream struct {
	mu sync.Mutex // guards the fields below

	received, dups uint64 // packets with a stamp; those already seen
	unstamped      uint64 // packets without a stamp (not from this tool)
	base, top      uint32 // lowest and highest packet number seen
	seen           []uint64
	first, last    time.Time // arrival of the first and the latest new packet

	// RFC 3550 §6.4.1 interarrival jitter over the send stamps, in ns.
	jitter     float64
	transit    int64
	hasTransit bool

	maxGap   time.Duration // longest time between two new packets
	maxGapAt time.Time     // when it ended
	latency  hist          // receive time − send time
}

// onPacket records one packet that arrived at now.
func (s *stream) onPacket(payload []byte, now time.Time) {
	st, ok := pionpeer.ParseStamp(payload)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !ok {
		s.unstamped++
		return
	}
	s.received++
	if s.seen == nil {
		s.base, s.top = st.Seq, st.Seq
		s.seen = make([]uint64, 1024)
		s.first = now
	}
	if st.Seq < s.base || st.Seq-s.base >= maxSeqSpan {
		// Before the first packet this subscriber saw (a late
		// duplicate from the old path of a switch), or beyond the
		// record: count it as a duplicate rather than misread loss.
		s.dups++
		return
	}
	i := st.Seq - s.base
	for int(i/64) >= len(s.seen) {
		s.seen = append(s.seen, make([]uint64, len(s.seen))...)
	}
	if s.seen[i/64]&(1<<(i%64)) != 0 {
		s.dups++
		return
	}
	s.seen[i/64] |= 1 << (i % 64)
	s.top = max(s.top, st.Seq)

	if !s.last.IsZero() {
		if gap := now.Sub(s.last); gap > s.maxGap {
			s.maxGap, s.maxGapAt = gap, now
		}
	}
	s.last = now

	lat := now.Sub(st.Sent)
	s.latency.add(lat)
	// RFC 3550 §6.4.1: D = (Rj − Ri) − (Sj − Si) = transit_j − transit_i;
	// J += (|D| − J) / 16.
	transit := int64(lat)
	if s.hasTransit {
		d := float64(transit - s.transit)
		if d < 0 {
			d = -d
		}
		s.jitter += (d - s.jitter) / 16
	}
	s.transit, s.hasTransit = transit, true
}

// streamStats is a stream's summary.
type streamStats struct {
	Received  uint64        `json:"received"`  // stamped packets, duplicates included
	Unique    uint64        `json:"unique"`    // distinct packet numbers
	Dups      uint64        `json:"dups"`      // received − unique
	Unstamped uint64        `json:"unstamped"` // packets without a stamp
	Expected  uint64        `json:"expected"`  // highest − lowest packet number + 1
	Lost      uint64        `json:"lost"`      // expected − unique
	Jitter    time.Duration `json:"jitterNs"`
	MaxGap    time.Duration `json:"maxGapNs"`
	First     time.Time     `json:"first"`
	Last      time.Time     `json:"last"`
	latency   hist
	maxGapAt  time.Time
}

func (s *stream) stats() streamStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := streamStats{
		Received:  s.received,
		Dups:      s.dups,
		Unstamped: s.unstamped,
		Jitter:    time.Duration(s.jitter),
		MaxGap:    s.maxGap,
		First:     s.first,
		Last:      s.last,
		latency:   s.latency,
		maxGapAt:  s.maxGapAt,
	}
	out.Unique = out.Received - out.Dups
	if s.seen != nil {
		out.Expected = uint64(s.top-s.base) + 1
		out.Lost = out.Expected - out.Unique
	}
	return out
}
