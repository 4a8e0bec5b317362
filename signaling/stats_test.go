package signaling

import "testing"

func TestDecodeStats(t *testing.T) {
	req, perr := decode([]byte(`{"type":"stats","decryptFailures":2,"decryptedFrames":90,"switchMs":120}`))
	if perr != nil || req.stats != (ClientStats{DecryptFailures: 2, DecryptedFrames: 90, SwitchMillis: 120}) {
		t.Fatalf("got %+v %v", req.stats, perr)
	}
	req, perr = decode([]byte(`{"type":"stats","decryptFailuresBeforeKey":29,"decryptedFrames":90}`))
	if perr != nil || req.stats != (ClientStats{DecryptFailuresBeforeKey: 29, DecryptedFrames: 90}) {
		t.Fatalf("frames before the key: got %+v %v", req.stats, perr)
	}
	if _, perr := decode([]byte(`{"type":"stats"}`)); perr != nil {
		t.Fatalf("an empty report is valid: %v", perr)
	}
	for _, bad := range []string{
		`{"type":"stats","decryptFailures":-1}`,
		`{"type":"stats","decryptFailures":1.5}`,
		`{"type":"stats","decryptFailures":"3"}`,
		`{"type":"stats","switchMs":1e12}`,
		`{"type":"stats","decryptFailuresBeforeKey":-3}`,
	} {
		if _, perr := decode([]byte(bad)); perr == nil || perr.Code != CodeBadField {
			t.Errorf("%s: %v, want bad-field", bad, perr)
		}
	}
}

func TestDecodeJoinCredentials(t *testing.T) {
	req, perr := decode([]byte(`{"type":"join","v":1,"room":"r","name":"A","password":"pw","token":"t.k.n"}`))
	if perr != nil || req.password != "pw" || req.token != "t.k.n" {
		t.Fatalf("got %+v %v", req, perr)
	}
	if _, perr := decode([]byte(`{"type":"join","v":1,"room":"r","name":"A","password":7}`)); perr == nil || perr.Code != CodeBadField {
		t.Fatalf("numeric password: %v", perr)
	}
}
