package signaling

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// tokenAuth grants the permissions named by a join's token: "admin",
// "viewer", or anything else for a plain token.
type tokenAuth struct{}

func (tokenAuth) Authorize(_ context.Context, req JoinAuth) (Grant, *ProtocolError) {
	switch req.Token {
	case "admin":
		return Grant{Permissions: &Permissions{Publish: true, Admin: true}}, nil
	case "viewer":
		return Grant{Permissions: &Permissions{Publish: false}}, nil
	}
	return Grant{}, nil
}

func TestPeersCarryViewerAndModerator(t *testing.T) {
	h, url := testHub(t, Options{Authorizer: tokenAuth{}})
	m, _ := joinWith(t, url, "r", "Mod", map[string]any{"token": "admin"})
	v, vw := joinWith(t, url, "r", "Vi", map[string]any{"token": "viewer"})
	if len(vw.Peers) != 1 || !vw.Peers[0].Moderator || vw.Peers[0].Viewer {
		t.Errorf("viewer's welcome peers %+v, want the moderator marked", vw.Peers)
	}
	if p := m.expect(TypePeerJoined).Peer; !p.Viewer || p.Moderator {
		t.Errorf("peer-joined %+v, want a viewer", p)
	}
	_, bw := join(t, url, "r", "Plain")
	for _, p := range bw.Peers {
		if p.ID == vw.ID && !p.Viewer {
			t.Errorf("welcome peer %+v: the viewer is not marked", p)
		}
	}
	for _, c := range []*client{m, v} {
		if p := c.expect(TypePeerJoined).Peer; p.Viewer || p.Moderator {
			t.Errorf("plain participant announced as %+v", p)
		}
	}
	// The admin view shows the same.
	ri, err := h.Room("r")
	if err != nil {
		t.Fatal(err)
	}
	var roles []string
	for _, p := range ri.Peers {
		roles = append(roles, fmt.Sprintf("%s:%v/%v", p.Name, p.Moderator, p.Viewer))
	}
	if got := strings.Join(roles, " "); got != "Mod:true/false Vi:false/true Plain:false/false" {
		t.Errorf("admin view (name:moderator/viewer): %s", got)
	}
}

func TestModerate(t *testing.T) {
	_, url := testHub(t, Options{Authorizer: tokenAuth{}})
	m, mw := joinWith(t, url, "r", "Mod", map[string]any{"token": "admin"})
	b, bw := join(t, url, "r", "Bo")
	m.expect(TypePeerJoined)
	_, ow := join(t, url, "elsewhere", "Ot")

	// Not a moderator: refused, and nobody is disturbed.
	b.send(map[string]any{"type": "moderate", "action": "kick", "to": mw.ID})
	b.expectError(CodeForbidden)

	// Bad requests name what is wrong.
	m.send(map[string]any{"type": "moderate", "action": "ban", "to": bw.ID})
	m.expectError(CodeBadField)
	m.send(map[string]any{"type": "moderate", "action": "mute"})
	m.expectError(CodeMissingField)
	m.send(map[string]any{"type": "moderate", "action": "mute", "to": ow.ID}) // another room
	m.expectError(CodeUnknownPeer)
	m.send(map[string]any{"type": "moderate", "action": "mute", "to": mw.ID}) // oneself
	m.expectError(CodeUnknownPeer)

	// Mute: the target is asked, by name.
	m.send(map[string]any{"type": "moderate", "action": "mute", "to": bw.ID})
	if got := b.expect(TypeMuted); got.By.ID != mw.ID || got.By.Name != "Mod" || !got.By.Moderator {
		t.Errorf("muted by %+v, want Mod", got.By)
	}

	// Kick: the target is told who, then closed; the room sees it leave.
	m.send(map[string]any{"type": "moderate", "action": "kick", "to": bw.ID})
	if e := b.expectError(CodeKicked); e.Message != "Mod removed you from the room" {
		t.Errorf("kick message %q", e.Message)
	}
	if code := b.expectClose(); code != websocket.ClosePolicyViolation {
		t.Errorf("close code %d, want %d", code, websocket.ClosePolicyViolation)
	}
	if left := m.expect(TypePeerLeft); left.Peer.ID != bw.ID || left.Reason != "kicked" {
		t.Errorf("peer-left %+v reason %q", left.Peer, left.Reason)
	}
}

func TestModerateBeforeJoin(t *testing.T) {
	_, url := testHub(t, Options{})
	c := dial(t, url)
	c.send(map[string]any{"type": "moderate", "action": "mute", "to": "x"})
	c.expectError(CodeNotJoined)
}

func TestViewerIsReceiveOnlyAtTheSFU(t *testing.T) {
	f := &fakeSFU{}
	_, url := testHub(t, Options{Authorizer: tokenAuth{}, SFU: f})
	v, vw := joinWith(t, url, "r", "Vi", map[string]any{"token": "viewer"})
	p, pw := join(t, url, "r", "Pl")
	for _, c := range []*client{v, p} {
		c.send(map[string]any{"type": "signal", "to": SFUPeerID, "data": map[string]any{"description": "x"}})
	}
	waitFor(t, func() bool { return f.session(vw.ID) != nil && f.session(pw.ID) != nil })
	if !f.session(vw.ID).opts.ReceiveOnly || f.session(pw.ID).opts.ReceiveOnly {
		t.Errorf("SFU options: viewer %+v, plain %+v", f.session(vw.ID).opts, f.session(pw.ID).opts)
	}
}

// TestRemovedMeanwhile: a participant removed (by a moderator, an
// administrator, a closed room) between handle's joined check and the
// hub's lock gets not-joined, not a nil room.
func TestRemovedMeanwhile(t *testing.T) {
	h := NewHub(Options{})
	c := &conn{hub: h, id: "gone", perms: &Permissions{Admin: true}}
	if perr := h.relay(c, request{typ: TypeSignal, to: "x", data: []byte(`{}`)}); perr == nil || perr.Code != CodeNotJoined {
		t.Errorf("relay: %v, want not-joined", perr)
	}
	if perr := h.relay(c, request{typ: TypeKey, data: []byte(`{}`)}); perr == nil || perr.Code != CodeNotJoined {
		t.Errorf("relay to all: %v, want not-joined", perr)
	}
	if perr := h.moderate(c, request{typ: TypeModerate, action: ActionKick, to: "x"}); perr == nil || perr.Code != CodeNotJoined {
		t.Errorf("moderate: %v, want not-joined", perr)
	}
}
