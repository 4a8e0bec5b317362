package server

import (
	"fmt"
	"io"
	"strings"
)

// clusterOK is nil when this node is alone, or when its room directory
// answers: a node that cannot place rooms must not get participants.
func (rd *readiness) clusterOK() error {
	if rd.cluster == nil || rd.cluster.Ready() {
		return nil
	}
	return fmt.Errorf("cluster room directory not reachable yet (node %s hears %d nodes)", rd.cluster.Name(), rd.cluster.Members())
}

// clusterStatus writes the membership after "ready": this node's name and
// the live nodes it hears from.
func (rd *readiness) clusterStatus(w io.Writer) {
	if rd.cluster == nil {
		return
	}
	var live []string
	for _, ni := range rd.cluster.Nodes() {
		if ni.Alive {
			live = append(live, ni.Node)
		}
	}
	fmt.Fprintf(w, "cluster node %s: %d nodes (%s)\n", rd.cluster.Name(), len(live), strings.Join(live, ", "))
}
