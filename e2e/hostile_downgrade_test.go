package e2e

// A hostile server that tries to turn end-to-end encryption off
// (docs/e2ee.md "Unencrypted rooms" and "Threat model").

import (
	"slices"
	"testing"

	"github.com/parleyhq/parley/internal/testsupport/browsertest"
	"github.com/parleyhq/parley/internal/testsupport/hostile"
	"github.com/parleyhq/parley/internal/testsupport/testserver"
)

// jsKeepsEncrypting: the page encrypts, shows no unencrypted note, and the
// banner says the call stays encrypted.
const jsKeepsEncrypting = `parley.e2ee()?.enabled === true && document.getElementById('e2ee-off').hidden
  && !document.getElementById('banner').hidden
  && document.querySelector('#banner .banner-text').textContent.includes('This call stays encrypted')`

// TestBrowserHostileDowngrade: a server that says "unencrypted" in the
// welcome of a page opened with the invite link gets nothing from it but
// the join (the page says why it did not join); a server that says it in
// the middle of an encrypted call, by an `e2ee` message and in the welcome
// of a resume, leaves both pages encrypting and decrypting each other,
// with a warning.
func TestBrowserHostileDowngrade(t *testing.T) {
	ts := testserver.Start(t, nil)
	p := hostile.Start(t, ts.URL)
	b := e2eeBrowser(t)
	secret := roomSecret()

	t.Run("welcome", func(t *testing.T) {
		p.ToClient(hostile.FlipE2EE)
		defer p.ToClient(nil)
		pg := b.NewPage(t, hostileURL(p, browserRoom("downgrade"), "V", secret))
		waitOrDump(t, pg, "the invite link refuses", `document.body.dataset.ended === 'refuse-invite'
		  && document.getElementById('left-text').textContent.includes('sent nothing')`, e2eeTimeout)
		sent := sentBy(p, "V")
		if len(sent) == 0 || slices.ContainsFunc(sent, func(typ string) bool { return typ != "join" && typ != "leave" }) {
			t.Fatalf("the page sent %v; want its join (and leave) only", sent)
		}
	})

	t.Run("mid-call", func(t *testing.T) {
		names := []string{"A", "B"}
		pages := openHostile(t, b, p, browserRoom("downgrade-call"), secret, names...)
		ids := map[string]string{}
		for _, n := range names {
			ids[n] = pageID(t, pages[n])
		}
		for _, n := range names {
			expectDecrypted(t, pages[n], n, map[string]string{"other": ids[others(names, n)[0]]})
		}

		// From now on every welcome lies, and both hear the room went
		// unencrypted.
		p.ToClient(hostile.FlipE2EE)
		defer p.ToClient(nil)
		for _, n := range names {
			for _, c := range connsOf(p, n) {
				_ = c.ToClient(hostile.E2EEOff())
			}
		}
		for _, n := range names {
			waitOrDump(t, pages[n], n+" keeps encrypting", jsKeepsEncrypting, e2eeTimeout)
		}
		// A's signaling drops; its resume's welcome says unencrypted too.
		browsertest.MustEval[bool](pages["A"], `(parley.dropSignaling(), true)`)
		waitOrDump(t, pages["A"], "A resumed", `parley.resumes === 1 && parley.state === 'in-call'`, e2eeTimeout)
		for _, n := range names {
			before := browsertest.MustEval[map[string]float64](pages[n], jsE2EEDecrypted)
			waitOrDump(t, pages[n], n+" still encrypting", jsKeepsEncrypting, e2eeTimeout)
			waitDecryptRises(t, pages[n], n, before, ids[others(names, n)[0]])
			waitLocks(t, pages[n], n+"'s lock", "verified", others(names, n)...)
		}
	})
}
