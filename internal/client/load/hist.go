package load

import (
	"math/bits"
	"time"
)

// histSub is the number of sub-buckets per power of two: a value is known
// to within 1/16 (≈ 6 %), plenty for latency percentiles, in 448 buckets.
const histSub = 16

// histMax is the largest value a histogram records, in microseconds
// (≈ 18 minutes); larger ones are clamped.
const histMax = 1<<30 - 1

const histBuckets = histSub + (31-5+1)*histSub

// hist is a log-linear histogram of durations in microseconds, like HDR
// histograms with a fixed precision. Not safe for concurrent use: each
// stream has its own, under the stream's lock, and they are merged at the
// end.
type hist struct {
	counts [histBuckets]uint32
	n      uint64
	max    int64 // µs
}

func histIndex(us int64) int {
	if us < histSub {
		return int(us)
	}
	shift := bits.Len64(uint64(us)) - 5
	m := us >> shift // 16..31
	return histSub + shift*histSub + int(m-histSub)
}

// histLow is the smallest value of bucket i and its width.
func histLow(i int) (low, width int64) {
	if i < histSub {
		return int64(i), 1
	}
	shift := (i - histSub) / histSub
	m := int64(histSub + (i-histSub)%histSub)
	return m << shift, 1 << shift
}

func (h *hist) add(d time.Duration) {
	us := max(0, min(int64(d/time.Microsecond), histMax))
	h.counts[histIndex(us)]++
	h.n++
	h.max = max(h.max, us)
}

func (h *hist) merge(o *hist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile returns the value below which a fraction q of the samples lie
// (the middle of its bucket), or 0 without samples.
func (h *hist) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n-1)) + 1
	var seen uint64
	for i, c := range h.counts {
		seen += uint64(c)
		if seen >= rank {
			low, w := histLow(i)
			return time.Duration(min(low+w/2, h.max)) * time.Microsecond
		}
	}
	return time.Duration(h.max) * time.Microsecond
}
