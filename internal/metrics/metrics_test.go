package metrics

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/parleyhq/parley/signaling"
)

func TestHandlerToken(t *testing.T) {
	m := New(Sources{Version: "t"})
	h := m.Handler("s3cret")
	for _, tc := range []struct {
		auth string
		want int
	}{
		{"", http.StatusUnauthorized},
		{"Bearer wrong", http.StatusUnauthorized},
		{"s3cret", http.StatusUnauthorized},
		{"Bearer s3cret", http.StatusOK},
	} {
		r := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		if tc.auth != "" {
			r.Header.Set("Authorization", tc.auth)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tc.want {
			t.Errorf("Authorization %q: %d, want %d", tc.auth, w.Code, tc.want)
		}
		if w.Code == http.StatusOK && !strings.Contains(w.Body.String(), `parley_build_info{version="t"} 1`) {
			t.Errorf("page lacks build info:\n%s", w.Body.String())
		}
	}
}

func TestObserverCounts(t *testing.T) {
	m := New(Sources{Rooms: func() []signaling.RoomInfo {
		return []signaling.RoomInfo{
			{Mode: signaling.ModeMesh, Peers: make([]signaling.PeerInfo, 2)},
			{Mode: signaling.ModeSFU, Peers: make([]signaling.PeerInfo, 9), DecryptFailures: 1},
		}
	}})
	m.JoinRefused(signaling.CodeBadPassword)
	m.ModeSwitched(signaling.ModeMesh, signaling.ModeSFU)
	m.ClientStats(signaling.ClientStats{DecryptFailures: 2, SwitchMillis: 250})
	m.ClientStats(signaling.ClientStats{DecryptedFrames: 10, DecryptFailuresBeforeKey: 29})
	if v := testutil.ToFloat64(m.refusals.WithLabelValues("bad-password")); v != 1 {
		t.Errorf("refusals = %v", v)
	}
	if v := testutil.ToFloat64(m.switches.WithLabelValues("mesh", "sfu")); v != 1 {
		t.Errorf("switches = %v", v)
	}
	if v := testutil.ToFloat64(m.decryptFailures); v != 2 {
		t.Errorf("decrypt failures = %v", v)
	}
	// The frames before a key are counted apart, not as failures.
	if v := testutil.ToFloat64(m.decryptBeforeKey); v != 29 {
		t.Errorf("failures before key = %v", v)
	}
	want := `
# HELP parley_participants Participants in a room now, by the room's media path.
# TYPE parley_participants gauge
parley_participants{mode="mesh"} 2
parley_participants{mode="sfu"} 9
# HELP parley_e2ee_rooms_with_decrypt_failures Open rooms whose clients have reported at least one E2EE decryption failure.
# TYPE parley_e2ee_rooms_with_decrypt_failures gauge
parley_e2ee_rooms_with_decrypt_failures 1
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "parley_participants", "parley_e2ee_rooms_with_decrypt_failures"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(m.switchDuration); n != 1 {
		t.Errorf("switch histogram series = %d", n)
	}
}
