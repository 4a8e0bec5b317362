package cluster

import "github.com/prometheus/client_golang/prometheus"

// Prometheus descriptions of the cluster gauges (docs/cluster.md).
var (
	descNodes = prometheus.NewDesc("parley_cluster_nodes",
		"Nodes of the cluster this node hears from (itself included).", nil, nil)
	descRooms = prometheus.NewDesc("parley_cluster_rooms",
		"Rooms each live node holds, from its last load report.", []string{"node"}, nil)
	descParticipants = prometheus.NewDesc("parley_cluster_participants",
		"Participants in the rooms each live node holds.", []string{"node"}, nil)
	descBad = prometheus.NewDesc("parley_cluster_bad_messages_total",
		"Malformed messages on Parley's NATS subjects, dropped.", nil, nil)
	descReady = prometheus.NewDesc("parley_cluster_directory_ready",
		"1 when the room directory (JetStream key-value bucket) answers.", nil, nil)
)

// Collector exports the cluster gauges, read at scrape time.
func (n *Node) Collector() prometheus.Collector { return collector{n} }

type collector struct{ n *Node }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descNodes, descRooms, descParticipants, descBad, descReady} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	alive := 0
	for _, ni := range c.n.Nodes() {
		if !ni.Alive {
			continue
		}
		alive++
		ch <- prometheus.MustNewConstMetric(descRooms, prometheus.GaugeValue, float64(ni.Rooms), ni.Node)
		ch <- prometheus.MustNewConstMetric(descParticipants, prometheus.GaugeValue, float64(ni.Participants), ni.Node)
	}
	ready := 0.0
	if c.n.DirectoryReady() {
		ready = 1
	}
	ch <- prometheus.MustNewConstMetric(descNodes, prometheus.GaugeValue, float64(alive))
	ch <- prometheus.MustNewConstMetric(descBad, prometheus.CounterValue, float64(c.n.BadMessages()))
	ch <- prometheus.MustNewConstMetric(descReady, prometheus.GaugeValue, ready)
}
