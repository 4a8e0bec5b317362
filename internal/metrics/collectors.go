package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/parleyhq/parley/sfu"
	"github.com/parleyhq/parley/signaling"
	"github.com/parleyhq/parley/turn"
)

// roomCollector exports room and participant gauges from the hub's
// snapshot at scrape time. Room names never become labels: they may be
// private, and their number is unbounded. Per-room detail is in the admin
// API (docs/admin.md).
type roomCollector struct {
	rooms func() []signaling.RoomInfo
}

var (
	roomsDesc = prometheus.NewDesc("parley_rooms",
		"Rooms open now, by media path.", []string{"mode"}, nil)
	participantsDesc = prometheus.NewDesc("parley_participants",
		"Participants in a room now, by the room's media path.", []string{"mode"}, nil)
	failingRoomsDesc = prometheus.NewDesc("parley_e2ee_rooms_with_decrypt_failures",
		"Open rooms whose clients have reported at least one E2EE decryption failure.", nil, nil)
)

func (c *roomCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- roomsDesc
	ch <- participantsDesc
	ch <- failingRoomsDesc
}

func (c *roomCollector) Collect(ch chan<- prometheus.Metric) {
	rooms := map[signaling.Mode]int{signaling.ModeMesh: 0, signaling.ModeSFU: 0}
	people := map[signaling.Mode]int{signaling.ModeMesh: 0, signaling.ModeSFU: 0}
	failing := 0
	for _, r := range c.rooms() {
		rooms[r.Mode]++
		people[r.Mode] += len(r.Peers)
		if r.DecryptFailures > 0 {
			failing++
		}
	}
	for mode, n := range rooms {
		ch <- prometheus.MustNewConstMetric(roomsDesc, prometheus.GaugeValue, float64(n), mode.String())
		ch <- prometheus.MustNewConstMetric(participantsDesc, prometheus.GaugeValue, float64(people[mode]), mode.String())
	}
	ch <- prometheus.MustNewConstMetric(failingRoomsDesc, prometheus.GaugeValue, float64(failing))
}

// sfuCollector exports sfu.Server.Stats at scrape time.
type sfuCollector struct {
	stats func() sfu.Stats
}

var (
	sfuSessionsDesc = prometheus.NewDesc("parley_sfu_sessions", "Participants attached to the SFU now.", nil, nil)
	sfuTracksDesc   = prometheus.NewDesc("parley_sfu_tracks", "Published tracks the SFU reads now.", nil, nil)
	sfuSubsDesc     = prometheus.NewDesc("parley_sfu_subscriptions", "Forwarded tracks bound to a subscriber now.", nil, nil)
	sfuPacketsDesc  = prometheus.NewDesc("parley_sfu_forwarded_packets_total", "RTP packets the SFU wrote to subscribers.", nil, nil)
	sfuBytesDesc    = prometheus.NewDesc("parley_sfu_forwarded_bytes_total", "RTP payload bytes the SFU wrote to subscribers.", nil, nil)
	sfuDroppedDesc  = prometheus.NewDesc("parley_sfu_dropped_packets_total", "RTP packets not forwarded because a subscriber's queue was full.", nil, nil)
	sfuNACKsDesc    = prometheus.NewDesc("parley_sfu_nacks_served_total", "Packets retransmitted from the SFU's cache on a subscriber's NACK.", nil, nil)
	sfuNACKsRefDesc = prometheus.NewDesc("parley_sfu_nacks_refused_total", "NACKed packets the SFU did not retransmit: the subscriber was congested, the packet too old, or already resent enough.", nil, nil)
	sfuPLIsDesc     = prometheus.NewDesc("parley_sfu_plis_sent_total", "Key-frame requests (PLI) the SFU sent to publishers.", nil, nil)
	sfuPausedDesc   = prometheus.NewDesc("parley_sfu_paused_tracks", "Forwarded video tracks the SFU sends nothing of now, by reason: view (the subscriber cannot see them), bandwidth (its downlink cannot carry even their lowest layer).", []string{"reason"}, nil)
	sfuProbesDesc   = prometheus.NewDesc("parley_sfu_probe_packets_total", "Padding packets the SFU sent to probe subscribers' downlinks.", nil, nil)
	sfuDownDesc     = prometheus.NewDesc("parley_sfu_downlink_estimate_bits", "Downlink estimates (bits/s) of the subscribers the SFU adapts to now, from their transport-cc feedback (one observation per subscriber, no identities).", nil, nil)
	sfuSwitchesDesc = prometheus.NewDesc("parley_sfu_layer_switches_total", "Simulcast layer switches (a subscriber moved to another layer at a key frame).", nil, nil)
	sfuDataDesc     = prometheus.NewDesc("parley_sfu_data_messages_total", "Data-channel messages the SFU delivered.", nil, nil)
	sfuDataDropDesc = prometheus.NewDesc("parley_sfu_data_dropped_total", "Data-channel messages the SFU could not deliver.", nil, nil)
	sfuSRTPDesc     = prometheus.NewDesc("parley_sfu_dtls_handshakes_total", "SFU DTLS handshakes by SRTP profile (other should stay 0).", []string{"profile"}, nil)
)

func (c *sfuCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{sfuSessionsDesc, sfuTracksDesc, sfuSubsDesc, sfuPacketsDesc, sfuBytesDesc, sfuDroppedDesc, sfuNACKsDesc, sfuNACKsRefDesc, sfuPLIsDesc, sfuDataDesc, sfuDataDropDesc, sfuSRTPDesc, sfuPausedDesc, sfuSwitchesDesc, sfuProbesDesc, sfuDownDesc} {
		ch <- d
	}
}

func (c *sfuCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	g := func(d *prometheus.Desc, v int64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v))
	}
	n := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	g(sfuSessionsDesc, s.Sessions)
	g(sfuTracksDesc, s.Tracks)
	g(sfuSubsDesc, s.Subscriptions)
	n(sfuPacketsDesc, s.ForwardedPackets)
	n(sfuBytesDesc, s.ForwardedBytes)
	n(sfuDroppedDesc, s.DroppedPackets)
	n(sfuNACKsDesc, s.NACKsServed)
	n(sfuNACKsRefDesc, s.NACKsRefused)
	n(sfuPLIsDesc, s.PLIsSent)
	n(sfuDataDesc, s.DataMessages)
	n(sfuDataDropDesc, s.DataDropped)
	n(sfuSRTPDesc, s.SRTPGCM, "aes_gcm")
	n(sfuSRTPDesc, s.SRTPOther, "other")
	ch <- prometheus.MustNewConstMetric(sfuPausedDesc, prometheus.GaugeValue, float64(s.PausedTracks), "view")
	ch <- prometheus.MustNewConstMetric(sfuPausedDesc, prometheus.GaugeValue, float64(s.PausedBandwidth), "bandwidth")
	n(sfuSwitchesDesc, s.LayerSwitches)
	n(sfuProbesDesc, s.ProbePackets)
	ch <- downlinkHistogram(s.Downlinks)
}

// downlinkBuckets are the histogram's upper bounds, bits/s: from a phone
// on a poor cell (250 kbit/s) to more than a 25-tile grid needs.
var downlinkBuckets = []float64{250e3, 500e3, 1e6, 2e6, 4e6, 8e6, 16e6}

// downlinkHistogram turns the current estimates into a histogram: a
// snapshot (it is rebuilt at every scrape), not a count since start.
func downlinkHistogram(estimates []int64) prometheus.Metric {
	counts := make(map[float64]uint64, len(downlinkBuckets))
	for _, b := range downlinkBuckets {
		counts[b] = 0 // an empty bucket is still exported
	}
	sum := 0.0
	for _, e := range estimates {
		sum += float64(e)
		for _, b := range downlinkBuckets {
			if float64(e) <= b {
				counts[b]++
			}
		}
	}
	return prometheus.MustNewConstHistogram(sfuDownDesc, uint64(len(estimates)), sum, counts)
}

// turnCollector exports turn.Server.Stats at scrape time.
type turnCollector struct {
	stats func() turn.Stats
}

var (
	turnAllocsDesc      = prometheus.NewDesc("parley_turn_allocations", "Live TURN allocations.", nil, nil)
	turnAllocsTotalDesc = prometheus.NewDesc("parley_turn_allocations_total", "TURN allocations created.", nil, nil)
	turnRefusedDesc     = prometheus.NewDesc("parley_turn_allocation_refusals_total", "Refused TURN Allocate requests, by reason.", []string{"reason"}, nil)
	turnPermDesc        = prometheus.NewDesc("parley_turn_permission_refusals_total", "Refused TURN peer addresses, by relay-policy reason.", []string{"reason"}, nil)
	turnPacketsDesc     = prometheus.NewDesc("parley_turn_relayed_packets_total", "Datagrams relayed, by direction (to_peer, from_peer).", []string{"direction"}, nil)
	turnBytesDesc       = prometheus.NewDesc("parley_turn_relayed_bytes_total", "Payload bytes relayed, by direction (to_peer, from_peer).", []string{"direction"}, nil)
	turnSelfDropsDesc   = prometheus.NewDesc("parley_turn_self_port_drops_total", "Datagrams refused toward the server's own non-media ports.", nil, nil)
)

func (c *turnCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{turnAllocsDesc, turnAllocsTotalDesc, turnRefusedDesc, turnPermDesc, turnPacketsDesc, turnBytesDesc, turnSelfDropsDesc} {
		ch <- d
	}
}

func (c *turnCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	n := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	ch <- prometheus.MustNewConstMetric(turnAllocsDesc, prometheus.GaugeValue, float64(s.Allocations))
	n(turnAllocsTotalDesc, s.AllocationsTotal)
	for reason, v := range s.AllocationsRefused {
		n(turnRefusedDesc, v, reason)
	}
	for reason, v := range s.PermissionsRefused {
		n(turnPermDesc, v, reason)
	}
	n(turnPacketsDesc, s.PacketsToPeers, "to_peer")
	n(turnPacketsDesc, s.PacketsFromPeers, "from_peer")
	n(turnBytesDesc, s.BytesToPeers, "to_peer")
	n(turnBytesDesc, s.BytesFromPeers, "from_peer")
	n(turnSelfDropsDesc, s.SelfPortDrops)
}
