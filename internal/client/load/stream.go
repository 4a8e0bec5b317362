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
//
// A simulcast publisher numbers each layer's packets on its own, and the
// SFU forwards one layer at a time, switching as the subscriber's view or
// link changes: each layer gets its own record (seqSpace), and when the
// forwarded layer changes, the packets of the new one that went by while
// another was forwarded are not loss (seqSpace.resume).
//
// The SFU also withholds packets on purpose: audio beyond the loudest
// speakers of a large room (sfu/audio.go), video paused for the
// subscriber's bandwidth. It closes such a gap in the RTP sequence
// numbers it sends (a new segment, sfu/forward.go), while a packet lost on
// the way leaves one. So a jump in the tool's own numbering across
// consecutive RTP sequence numbers of one SSRC is withheld, not lost.
type stream struct {
	mu sync.Mutex // guards the fields below

	received, dups uint64 // packets with a stamp; those already seen
	unstamped      uint64 // packets without a stamp (not from this tool)
	spaces         map[string]*seqSpace
	marks          map[uint32]rtpMark // by SSRC: the latest packet on it
	withheld       uint64             // packet numbers the server skipped on purpose (see above)
	layer          string             // the layer of the latest new packet
	first, last    time.Time          // arrival of the first and the latest new packet

	// RFC 3550 §6.4.1 interarrival jitter over the send stamps, in ns.
	jitter     float64
	transit    int64
	hasTransit bool

	maxGap   time.Duration // longest time between two new packets
	maxGapAt time.Time     // when it ended
	latency  hist          // receive time − send time
}

// rtpMark is the latest packet seen on one SSRC: its RTP sequence number,
// and the layer and packet number its stamp carried.
type rtpMark struct {
	seq   uint16
	layer string
	stamp uint32
}

// seqSpace records which packet numbers of one layer arrived.
type seqSpace struct {
	base, top uint32 // lowest and highest packet number seen
	seen      []uint64
	skipped   uint64 // packet numbers passed over while another layer was forwarded
	resumed   bool   // the next packet may jump: its layer was just switched to
}

// add records packet number seq; false for a duplicate or one outside the
// record.
func (q *seqSpace) add(seq uint32) bool {
	if q.seen == nil {
		q.base, q.top = seq, seq
		q.seen = make([]uint64, 1024)
	}
	if seq < q.base || seq-q.base >= maxSeqSpan {
		// Before the first packet this subscriber saw (a late
		// duplicate from the old path of a switch), or beyond the
		// record: count it as a duplicate rather than misread loss.
		return false
	}
	i := seq - q.base
	for int(i/64) >= len(q.seen) {
		q.seen = append(q.seen, make([]uint64, len(q.seen))...)
	}
	if q.seen[i/64]&(1<<(i%64)) != 0 {
		return false
	}
	q.seen[i/64] |= 1 << (i % 64)
	if q.resumed && seq > q.top+1 {
		q.skipped += uint64(seq - q.top - 1)
	}
	q.resumed = false
	q.top = max(q.top, seq)
	return true
}

// expected is highest − lowest packet number + 1, less what was skipped.
func (q *seqSpace) expected() uint64 {
	if q.seen == nil {
		return 0
	}
	return uint64(q.top-q.base) + 1 - q.skipped
}

// onPacket records one packet that arrived at now with the RTP SSRC and
// sequence number it carried.
func (s *stream) onPacket(payload []byte, ssrc uint32, seq uint16, now time.Time) {
	st, ok := pionpeer.ParseStamp(payload)
	s.onStamp(st, ok, ssrc, seq, now)
}

// onStamp records one packet whose stamp is st (ok false: none).
func (s *stream) onStamp(st pionpeer.Stamp, ok bool, ssrc uint32, seq uint16, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !ok {
		s.unstamped++
		return
	}
	s.received++
	if s.spaces == nil {
		s.spaces = map[string]*seqSpace{}
		s.first = now
	}
	q := s.spaces[st.Layer]
	if q == nil {
		q = &seqSpace{}
		s.spaces[st.Layer] = q
	}
	if st.Layer != s.layer {
		q.resumed = true
	}
	s.noteWithheld(q, st, ssrc, seq)
	if !q.add(st.Seq) {
		s.dups++
		return
	}
	s.layer = st.Layer

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

// noteWithheld counts the packet numbers between q's newest and st as
// withheld when st follows the previous packet of its SSRC, of the same
// layer, without a gap in RTP sequence numbers. Called with s.mu held.
func (s *stream) noteWithheld(q *seqSpace, st pionpeer.Stamp, ssrc uint32, seq uint16) {
	if s.marks == nil {
		s.marks = map[uint32]rtpMark{}
	}
	m, seen := s.marks[ssrc]
	s.marks[ssrc] = rtpMark{seq: seq, layer: st.Layer, stamp: st.Seq}
	if !seen || q.seen == nil || q.resumed || m.layer != st.Layer || m.stamp != q.top ||
		seq != m.seq+1 || st.Seq <= q.top+1 || st.Seq-q.top >= maxSeqSpan {
		return
	}
	n := uint64(st.Seq - q.top - 1)
	q.skipped += n
	s.withheld += n
}

// streamStats is a stream's summary.
type streamStats struct {
	Received  uint64        `json:"received"`  // stamped packets, duplicates included
	Unique    uint64        `json:"unique"`    // distinct packet numbers
	Dups      uint64        `json:"dups"`      // received − unique
	Unstamped uint64        `json:"unstamped"` // packets without a stamp
	Expected  uint64        `json:"expected"`  // per layer: highest − lowest packet number + 1, less what went by on another layer or was withheld
	Lost      uint64        `json:"lost"`      // expected − unique
	Withheld  uint64        `json:"withheld"`  // packet numbers the server skipped on purpose (loudest speakers, bandwidth pauses)
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
		Withheld:  s.withheld,
		Jitter:    time.Duration(s.jitter),
		MaxGap:    s.maxGap,
		First:     s.first,
		Last:      s.last,
		latency:   s.latency,
		maxGapAt:  s.maxGapAt,
	}
	out.Unique = out.Received - out.Dups
	for _, q := range s.spaces {
		out.Expected += q.expected()
	}
	// A straggler of a layer from before a switch lands in the skipped
	// span: it arrived, so it was expected.
	out.Expected = max(out.Expected, out.Unique)
	out.Lost = out.Expected - out.Unique
	return out
}
