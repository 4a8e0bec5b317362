package admin

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/parleyhq/parley/sfu"
	"github.com/parleyhq/parley/signaling"
)

// sfuRoomsHub is a Hub with one SFU room and one mesh room; only the
// snapshot methods are used.
type sfuRoomsHub struct{ Hub }

func (sfuRoomsHub) Rooms() []signaling.RoomInfo {
	return []signaling.RoomInfo{{Name: "big", Mode: signaling.ModeSFU}, {Name: "small", Mode: signaling.ModeMesh}}
}
func (h sfuRoomsHub) Room(name string) (signaling.RoomInfo, error) { return h.Rooms()[0], nil }
func (sfuRoomsHub) DefaultPolicy() signaling.Policy                { return signaling.PolicyAuto }

type fakeSFU struct{}

func (fakeSFU) Receiving(room string) map[string]sfu.Receiving {
	if room != "big" {
		return nil
	}
	return map[string]sfu.Receiving{"ada": {Estimate: 1_200_000, Video: []sfu.ReceivedVideo{
		{Peer: "grace", Track: "v1", Layer: 1, RID: "h", Layers: 3},
		{Peer: "linus", Track: "v2", Layer: -1, Layers: 3, Paused: "bandwidth"},
	}}}
}

// TestAdminReceiving: SFU rooms' snapshots say what each participant
// receives; mesh rooms' do not.
func TestAdminReceiving(t *testing.T) {
	api, err := New(sfuRoomsHub{}, "s3cret", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(api.WithSFU(fakeSFU{}))
	defer ts.Close()
	for _, path := range []string{"/api/admin/rooms", "/api/admin/rooms/big"} {
		req, _ := http.NewRequest("GET", ts.URL+path, nil)
		req.Header.Set("Authorization", "Bearer s3cret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body := string(b)
		for _, want := range []string{`"receiving":{"ada":{"estimate":1200000`, `"rid":"h"`, `"paused":"bandwidth"`, `"name":"big"`} {
			if !strings.Contains(body, want) {
				t.Errorf("%s: %s lacks %s", path, body, want)
			}
		}
		if strings.Count(body, `"receiving"`) != 1 {
			t.Errorf("%s: want `receiving` on the SFU room only: %s", path, body)
		}
	}
}
