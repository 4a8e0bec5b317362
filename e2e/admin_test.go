package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/client/pionpeer"
	"github.com/parleyhq/parley/internal/client/sigclient"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/testsupport/testserver"
	"github.com/parleyhq/parley/sfu"
)

// The admin API as docs/admin.md writes it, decoded into this file's own
// types rather than the server's, so that the test holds the server to the
// document.

type adminParticipant struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Path string `json:"path"`
	SFU  string `json:"sfu"`
}

type adminRoom struct {
	Name         string             `json:"name"`
	Mode         string             `json:"mode"`
	Policy       string             `json:"policy"`
	PolicySet    bool               `json:"policySet"`
	Switches     int                `json:"switches"`
	Participants []adminParticipant `json:"participants"`
	E2EE         bool               `json:"e2ee"`
	E2EESet      bool               `json:"e2eeSet"`
	// Receiving: in an SFU room, what each participant receives, by id.
	Receiving map[string]sfu.Receiving `json:"receiving"`
}

type adminRooms struct {
	Policy string      `json:"policy"`
	Rooms  []adminRoom `json:"rooms"`
}

type adminError struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// adminClient calls the admin API of a test server.
type adminClient struct {
	t     testing.TB
	base  string // http://127.0.0.1:PORT
	token string
	http  *http.Client
}

func newAdminClient(t testing.TB, ts *testserver.Server, token string) *adminClient {
	// No proxy, whatever the environment says: requests go to the test
	// server on 127.0.0.1 only.
	tr := &http.Transport{Proxy: nil}
	t.Cleanup(tr.CloseIdleConnections)
	return &adminClient{t: t, base: ts.URL, token: token, http: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
}

// do sends a request (body is JSON-encoded unless nil) and decodes a JSON
// answer into out (when non-nil and the answer has a body). It returns
// the status code.
func (a *adminClient) do(method, path string, body, out any) int {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			a.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := a.http.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			a.t.Fatalf("%s %s: HTTP %d, undecodable body %q: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

// expect calls do and fails unless the status is want.
func (a *adminClient) expect(want int, method, path string, body, out any) {
	a.t.Helper()
	if got := a.do(method, path, body, out); got != want {
		a.t.Fatalf("%s %s: HTTP %d, want %d", method, path, got, want)
	}
}

func (a *adminClient) room(name string) adminRoom {
	a.t.Helper()
	var r adminRoom
	a.expect(http.StatusOK, http.MethodGet, "/api/admin/rooms/"+name, nil, &r)
	return r
}

// participantIDs lists a room's participant ids, sorted.
func participantIDs(r adminRoom) []string {
	var ids []string
	for _, p := range r.Participants {
		ids = append(ids, p.ID)
	}
	slices.Sort(ids)
	return ids
}

// nextOfType returns c's next event of type typ, skipping relayed signals
// (pion participants negotiate among themselves), or fails after 5 s.
func nextOfType(t *testing.T, c *sigclient.Client, typ string) sigclient.Event {
	t.Helper()
	for {
		ev := protoNext(t, c)
		if ev.Type == typ {
			return ev
		}
		if ev.Type != sigclient.TypeSignal {
			t.Fatalf("%s got %s while waiting for %s", c.Welcome().Name, ev.Raw, typ)
		}
	}
}

// TestAdminAPI holds the admin API of docs/admin.md to its word against a
// live server: the bearer token, the room listing with participants and
// their SFU state, live policy changes as participants see them (mode
// messages, welcome, refusals), the global policy, and kicking.
func TestAdminAPI(t *testing.T) {
	c := startSFUCall(t, 90*time.Second, func(cfg *config.Config) { cfg.MeshMax = 4 })
	ctx := c.ctx

	t.Run("unauthorized", func(t *testing.T) {
		for _, tok := range []string{"", "not-the-token", strings.ToUpper(testserver.AdminToken)} {
			anon := newAdminClient(t, c.ts, tok)
			for _, r := range []struct{ method, path string }{
				{http.MethodGet, "/api/admin/rooms"},
				{http.MethodGet, "/api/admin/rooms/x"},
				{http.MethodPut, "/api/admin/policy"},
				{http.MethodDelete, "/api/admin/participants/x"},
				{http.MethodGet, "/api/admin/nowhere"},
			} {
				var e adminError
				body := any(nil)
				if r.method == http.MethodPut {
					body = map[string]string{"policy": "sfu-only"}
				}
				if got := anon.do(r.method, r.path, body, &e); got != http.StatusUnauthorized || e.Error != "unauthorized" {
					t.Errorf("token %q: %s %s: HTTP %d %+v, want 401 unauthorized", tok, r.method, r.path, got, e)
				}
			}
		}
		// The refused PUT changed nothing.
		var rooms adminRooms
		newAdminClient(t, c.ts, testserver.AdminToken).expect(http.StatusOK, http.MethodGet, "/api/admin/rooms", nil, &rooms)
		if rooms.Policy != "auto" {
			t.Errorf("global policy %q after refused changes, want auto", rooms.Policy)
		}
	})
	api := newAdminClient(t, c.ts, testserver.AdminToken)

	// A and B are pion participants in a mesh; C is a raw protocol
	// client, so that the messages the server sends can be read exactly.
	a := c.join("A", nil)
	// B connects to the SFU while the room is a mesh (the pre-flight),
	// so the admin has a connection state to show.
	b := c.join("B", func(p *pionpeer.Config) { p.SFUPreflight = true })
	cc, err := sigclient.Dial(ctx, c.ts.WSURL, c.room, "C")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	meshPoll(t, 30*time.Second, func() string { return missingVia([]*pionpeer.Peer{a, b}, pionpeer.PathMesh, nil) })

	t.Run("list", func(t *testing.T) {
		var rooms adminRooms
		api.expect(http.StatusOK, http.MethodGet, "/api/admin/rooms", nil, &rooms)
		if rooms.Policy != "auto" || len(rooms.Rooms) != 1 {
			t.Fatalf("GET /rooms = %+v, want policy auto and one room", rooms)
		}
		r := rooms.Rooms[0]
		want := []string{a.ID(), b.ID(), cc.ID()}
		slices.Sort(want)
		if r.Name != c.room || r.Mode != "mesh" || r.Policy != "auto" || r.PolicySet || !slices.Equal(participantIDs(r), want) {
			t.Errorf("room = %+v, want %s in mesh, policy auto not set, participants %v", r, c.room, want)
		}
		names := map[string]string{a.ID(): "A", b.ID(): "B", cc.ID(): "C"}
		for _, p := range r.Participants {
			if p.Name != names[p.ID] || p.Path != "mesh" {
				t.Errorf("participant %+v, want name %q, path mesh", p, names[p.ID])
			}
		}
		// Only B opened an SFU connection; the admin sees it come up.
		meshPoll(t, 20*time.Second, func() string {
			for _, p := range api.room(c.room).Participants {
				want := "none"
				if p.ID == b.ID() {
					want = "connected"
				}
				if p.SFU != want {
					return fmt.Sprintf("%s's sfu state is %q, want %q", p.Name, p.SFU, want)
				}
			}
			return ""
		})
		if s := b.SFU(); !s.Open || s.Publishing {
			t.Errorf("B's pre-flight SFU connection: %+v, want open and not publishing", s)
		}
		if got := api.room(c.room); !slices.Equal(participantIDs(got), want) {
			t.Errorf("GET /rooms/%s = %+v", c.room, got)
		}
		var e adminError
		if got := api.do(http.MethodGet, "/api/admin/rooms/no-such-room", nil, &e); got != http.StatusNotFound || e.Error != "no-room" {
			t.Errorf("GET unknown room: HTTP %d %+v, want 404 no-room", got, e)
		}
	})

	t.Run("room to mesh-only", func(t *testing.T) {
		var r adminRoom
		api.expect(http.StatusOK, http.MethodPut, "/api/admin/rooms/"+c.room+"/policy", map[string]string{"policy": "mesh-only"}, &r)
		if r.Policy != "mesh-only" || !r.PolicySet || r.Mode != "mesh" {
			t.Errorf("PUT policy answered %+v, want mesh-only, set, mesh", r)
		}
		// Everyone inside hears of it: `mode` with the new policy.
		if ev := nextOfType(t, cc, sigclient.TypeMode); ev.Mode != "mesh" || ev.Policy != "mesh-only" {
			t.Errorf("C got %s, want mode mesh, policy mesh-only", ev.Raw)
		}
		meshPoll(t, 5*time.Second, func() string {
			for _, p := range []*pionpeer.Peer{a, b} {
				if p.Policy() != "mesh-only" || p.Mode() != "mesh" {
					return fmt.Sprintf("%s: mode %q policy %q", p.Welcome().Name, p.Mode(), p.Policy())
				}
			}
			return ""
		})
		// A newcomer's welcome says so; it fills the room (mesh_max 4).
		d, err := sigclient.Dial(ctx, c.ts.WSURL, c.room, "D")
		if err != nil {
			t.Fatalf("4th join: %v", err)
		}
		defer d.Close()
		if w := d.Welcome(); w.Mode != "mesh" || w.Policy != "mesh-only" {
			t.Errorf("D's welcome: mode %q policy %q, want mesh, mesh-only", w.Mode, w.Policy)
		}
		if ev := nextOfType(t, cc, sigclient.TypePeerJoined); ev.Peer.ID != d.ID() {
			t.Errorf("C got %s, want peer-joined D", ev.Raw)
		}
		// The next is refused, with the documented text.
		e, err := sigclient.Connect(ctx, c.ts.WSURL)
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		_, err = e.Join(ctx, c.room, "E")
		var perr *sigclient.ProtocolError
		const want = "this room is limited to 4 participants (mesh-only mode)"
		if !errors.As(err, &perr) || perr.Code != "room-full" || perr.Message != want {
			t.Errorf("5th join: %v, want room-full %q", err, want)
		}
		// Bad requests change nothing.
		var ae adminError
		if got := api.do(http.MethodPut, "/api/admin/rooms/"+c.room+"/policy", map[string]string{"policy": "sometimes"}, &ae); got != http.StatusBadRequest || ae.Error != "bad-policy" {
			t.Errorf("PUT bogus policy: HTTP %d %+v, want 400 bad-policy", got, ae)
		}
		if got := api.do(http.MethodPut, "/api/admin/rooms/no-such-room/policy", map[string]string{"policy": "auto"}, &ae); got != http.StatusNotFound || ae.Error != "no-room" {
			t.Errorf("PUT policy of an unknown room: HTTP %d %+v, want 404 no-room", got, ae)
		}
		if r := api.room(c.room); r.Policy != "mesh-only" {
			t.Errorf("after bad requests the room's policy is %q", r.Policy)
		}
	})

	t.Run("global sfu-only", func(t *testing.T) {
		var rooms adminRooms
		api.expect(http.StatusOK, http.MethodPut, "/api/admin/policy", map[string]string{"policy": "sfu-only"}, &rooms)
		if rooms.Policy != "sfu-only" {
			t.Errorf("PUT /policy answered policy %q, want sfu-only", rooms.Policy)
		}
		// A room whose policy an admin set keeps it.
		for _, r := range rooms.Rooms {
			if r.Name == c.room && (r.Policy != "mesh-only" || r.Mode != "mesh") {
				t.Errorf("room with a set policy became %+v", r)
			}
		}
		// A new room starts in SFU mode.
		other := c.room + "-other"
		f := c.joinRoom(other, "F", nil)
		if w := f.Welcome(); w.Mode != "sfu" || w.Policy != "sfu-only" {
			t.Fatalf("F's welcome in a new room: mode %q policy %q, want sfu, sfu-only", w.Mode, w.Policy)
		}
		// The admin sees F's SFU connection come up.
		meshPoll(t, 30*time.Second, func() string {
			r := api.room(other)
			if r.Mode != "sfu" || r.Policy != "sfu-only" || r.PolicySet || len(r.Participants) != 1 {
				return fmt.Sprintf("room %+v", r)
			}
			if p := r.Participants[0]; p.ID != f.ID() || p.Path != "sfu" || p.SFU != "connected" {
				return fmt.Sprintf("participant %+v, want F on sfu, connected", p)
			}
			return ""
		})
		if s := f.SFU(); !s.Open || !s.Publishing {
			t.Errorf("F's SFU connection: %+v", s)
		}
	})

	t.Run("kick", func(t *testing.T) {
		api.expect(http.StatusNoContent, http.MethodDelete, "/api/admin/participants/"+b.ID(), nil, nil)
		// The others see B leave, kicked (C first sees D, who left when
		// the previous subtest ended).
		for {
			ev := nextOfType(t, cc, sigclient.TypePeerLeft)
			if ev.Peer.ID != b.ID() {
				continue
			}
			if ev.Reason != "kicked" {
				t.Errorf("C got %s, want peer-left B, reason kicked", ev.Raw)
			}
			break
		}
		meshPoll(t, 5*time.Second, func() string {
			for _, d := range a.Departures() {
				if d.Peer.ID == b.ID() {
					if d.Reason != "kicked" {
						return fmt.Sprintf("A saw B leave with reason %q", d.Reason)
					}
					return ""
				}
			}
			return "A has not seen B leave"
		})
		// B is told, then disconnected with 1008.
		select {
		case <-b.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("B still connected 5 s after the kick")
		}
		if code := b.Signaling().CloseCode(); code != 1008 {
			t.Errorf("B's connection closed with %d (%v), want 1008", code, b.Err())
		}
		if r := b.Refusals(); len(r) != 1 || r[0].Code != "kicked" {
			t.Errorf("B's errors: %+v, want one kicked", r)
		}
		if got := participantIDs(api.room(c.room)); slices.Contains(got, b.ID()) {
			t.Errorf("B still listed after the kick: %v", got)
		}
		var e adminError
		if got := api.do(http.MethodDelete, "/api/admin/participants/"+b.ID(), nil, &e); got != http.StatusNotFound || e.Error != "no-participant" {
			t.Errorf("kicking B again: HTTP %d %+v, want 404 no-participant", got, e)
		}
	})
}
