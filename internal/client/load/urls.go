package load

import (
	"fmt"
	"strings"
)

// --url may list several nodes of one cluster, comma-separated
// (docs/cluster.md): participants then spread over all of them, and the
// first is the one asked for the admin API and metrics (a cluster's admin
// API shows every node's rooms).

// splitURLs is the list --url gives, never empty for a non-empty flag.
func splitURLs(raw string) []string {
	var out []string
	for _, u := range strings.Split(raw, ",") {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, u)
		}
	}
	if len(out) == 0 {
		return []string{raw}
	}
	return out
}

// firstURL is the first URL of --url.
func firstURL(raw string) string { return splitURLs(raw)[0] }

// wsFor is the signaling endpoint participant p enters through: the j-th
// participant of room i uses node (i+j) mod n, so every room is entered
// through every node, as people behind a load balancer would.
func (r *runner) wsFor(p *participant) string {
	var eps []string
	for _, u := range splitURLs(r.opts.URL) {
		if ws, err := wsURL(u); err == nil {
			eps = append(eps, ws)
		}
	}
	if len(eps) == 0 {
		return r.ws
	}
	return eps[(p.room+p.index)%len(eps)]
}

// checkURLs refuses a --url list with any entry that is not a server URL.
func (o *Options) checkURLs() error {
	for _, u := range splitURLs(o.URL) {
		if _, err := wsURL(u); err != nil {
			return fmt.Errorf("%w: --url: %v", errUsage, err)
		}
	}
	return nil
}
