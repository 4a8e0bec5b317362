package e2e

// Helpers of the hostile-server tests (hostile_*_test.go): pages opened
// through internal/testsupport/hostile's proxy instead of the real server.

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/testsupport/browsertest"
	"github.com/parleyhq/parley/internal/testsupport/hostile"
)

// hostileURL is the room page through the proxy, joining as name, with a
// fragment (the room secret, or "").
func hostileURL(p *hostile.Proxy, room, name, fragment string) string {
	return fmt.Sprintf("%s/r/%s?quality=low&name=%s%s", p.URL, room, name, fragment)
}

// openHostile opens one page per name through the proxy and waits until
// each is in the call.
func openHostile(t *testing.T, b *browsertest.Browser, p *hostile.Proxy, room, fragment string, names ...string) map[string]*browsertest.Page {
	t.Helper()
	pages := map[string]*browsertest.Page{}
	for _, n := range names {
		pages[n] = b.NewPage(t, hostileURL(p, room, n, fragment))
	}
	for _, n := range names {
		waitOrDump(t, pages[n], n+" in call", `parley.state === 'in-call' && !!parley.id`, e2eeTimeout)
	}
	return pages
}

// openGroup opens the pages of names one at a time, each once the one
// before is an MLS member (so the first makes the group and the others
// send KeyPackages, in order; a busy machine also loads tabs one at a
// time faster), and waits until every page sees a group of all of them.
func openGroup(t *testing.T, b *browsertest.Browser, p *hostile.Proxy, room, fragment string, names ...string) map[string]*browsertest.Page {
	t.Helper()
	pages := map[string]*browsertest.Page{}
	for _, n := range names {
		pages[n] = openHostile(t, b, p, room, fragment, n)[n]
		waitOrDump(t, pages[n], n+" a member", `parley.e2ee()?.member === true`, e2eeTimeout)
	}
	for _, n := range names {
		waitOrDump(t, pages[n], fmt.Sprintf("%s in the group of %d", n, len(names)), fmt.Sprintf(`parley.e2ee()?.members?.length === %d`, len(names)), e2eeTimeout)
	}
	return pages
}

// connsOf returns the proxy's connections whose welcome named name.
func connsOf(p *hostile.Proxy, name string) []*hostile.Conn {
	var out []*hostile.Conn
	for _, c := range p.Conns() {
		if c.Name() == name {
			out = append(out, c)
		}
	}
	return out
}

// sentBy lists the types of the messages participant name sent the server
// on every connection it had.
func sentBy(p *hostile.Proxy, name string) []string {
	conns := map[int]bool{}
	for _, c := range connsOf(p, name) {
		conns[c.N] = true
	}
	var out []string
	for _, r := range p.Records(func(r hostile.Record) bool { return r.Dir == hostile.ToServer && conns[r.Conn] }) {
		out = append(out, r.Type)
	}
	return out
}

// waitDecryptRises waits until p decrypted more frames from every id than
// in before (jsE2EEDecrypted).
func waitDecryptRises(t *testing.T, p *browsertest.Page, label string, before map[string]float64, ids ...string) {
	t.Helper()
	deadline := time.Now().Add(e2eeTimeout)
	var got map[string]float64
	for time.Now().Before(deadline) {
		got = browsertest.MustEval[map[string]float64](p, jsE2EEDecrypted)
		ok := got["encrypted"] > before["encrypted"]
		for _, id := range ids {
			ok = ok && got[id] > before[id]
		}
		if ok {
			return
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("%s: decryption stopped: before %v, now %v\ne2ee %s", label, before, got, e2eeDump(p))
}

// jsonUnmarshal decodes a JSON string a page returned.
func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
