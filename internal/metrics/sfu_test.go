package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/parleyhq/parley/sfu"
)

// TestSFUBandwidthMetrics: paused tracks by reason and the downlink
// estimates as a histogram without identities.
func TestSFUBandwidthMetrics(t *testing.T) {
	m := New(Sources{Version: "t", SFU: func() sfu.Stats {
		return sfu.Stats{PausedTracks: 2, PausedBandwidth: 1, ProbePackets: 7, Downlinks: []int64{300_000, 1_500_000, 20_000_000}}
	}})
	want := `
# HELP parley_sfu_downlink_estimate_bits Downlink estimates (bits/s) of the subscribers the SFU adapts to now, from their transport-cc feedback (one observation per subscriber, no identities).
# TYPE parley_sfu_downlink_estimate_bits histogram
parley_sfu_downlink_estimate_bits_bucket{le="250000"} 0
parley_sfu_downlink_estimate_bits_bucket{le="500000"} 1
parley_sfu_downlink_estimate_bits_bucket{le="1e+06"} 1
parley_sfu_downlink_estimate_bits_bucket{le="2e+06"} 2
parley_sfu_downlink_estimate_bits_bucket{le="4e+06"} 2
parley_sfu_downlink_estimate_bits_bucket{le="8e+06"} 2
parley_sfu_downlink_estimate_bits_bucket{le="1.6e+07"} 2
parley_sfu_downlink_estimate_bits_bucket{le="+Inf"} 3
parley_sfu_downlink_estimate_bits_sum 2.18e+07
parley_sfu_downlink_estimate_bits_count 3
# HELP parley_sfu_paused_tracks Forwarded video tracks the SFU sends nothing of now, by reason: view (the subscriber cannot see them), bandwidth (its downlink cannot carry even their lowest layer).
# TYPE parley_sfu_paused_tracks gauge
parley_sfu_paused_tracks{reason="bandwidth"} 1
parley_sfu_paused_tracks{reason="view"} 2
# HELP parley_sfu_probe_packets_total Padding packets the SFU sent to probe subscribers' downlinks.
# TYPE parley_sfu_probe_packets_total counter
parley_sfu_probe_packets_total 7
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "parley_sfu_downlink_estimate_bits", "parley_sfu_paused_tracks", "parley_sfu_probe_packets_total"); err != nil {
		t.Error(err)
	}
}
