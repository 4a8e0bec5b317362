package signaling

import (
	"strings"
	"testing"
)

func TestPolicyAndModeText(t *testing.T) {
	for _, p := range []Policy{PolicyAuto, PolicyMeshOnly, PolicySFUOnly} {
		var got Policy
		if err := got.UnmarshalText([]byte(p.String())); err != nil || got != p {
			t.Errorf("policy %v round-trips to %v, %v", p, got, err)
		}
	}
	for _, m := range []Mode{ModeMesh, ModeSFU} {
		b, _ := m.MarshalText()
		var got Mode
		if err := got.UnmarshalText(b); err != nil || got != m {
			t.Errorf("mode %v round-trips to %v, %v", m, got, err)
		}
	}
	if _, err := ParsePolicy("sometimes"); err == nil {
		t.Error("ParsePolicy accepted nonsense")
	}
	if Policy(9).String() != "Policy(9)" || Mode(9).String() != "Mode(9)" {
		t.Error("out-of-range enums must still print")
	}
}

func TestValidRoomName(t *testing.T) {
	for s, want := range map[string]bool{
		"a": true, "brave-otter_42": true, strings.Repeat("x", 64): true,
		"": false, strings.Repeat("x", 65): false, "a b": false, "a/b": false,
		"é": false, "a.b": false, "a\n": false,
	} {
		if ValidRoomName(s) != want {
			t.Errorf("ValidRoomName(%q) = %v", s, !want)
		}
	}
}

func TestCleanName(t *testing.T) {
	if got, err := cleanName("  Zoë 🎉 "); err != nil || got != "Zoë 🎉" {
		t.Fatalf("cleanName = %q, %v", got, err)
	}
	if _, err := cleanName(strings.Repeat("🎉", MaxNameRunes)); err != nil {
		t.Fatalf("64 emoji refused: %v", err)
	}
	// Names made only of characters that draw nothing render as a blank
	// tile: refused. One visible character among them is enough.
	for _, blank := range []string{"\u3164", "\u2800\u2800", "\u200b", "\ufeff", "\u200e\u200f", "\u115f\u1160\uffa0",
		"\u2800\u00a0\u3164", "\u0301", "\u2060\u180e", "\U000e0041", "\ufe0f"} {
		if _, err := cleanName(blank); err == nil || err.Code != CodeBadName || !strings.Contains(err.Message, "visible") {
			t.Errorf("cleanName(%+q) = %v, want bad-name about a visible character", blank, err)
		}
	}
	for _, ok := range []string{"\u3164A", "\u200fعلي", "·", "李", "7", "é\u200b", "\u2800🙂"} {
		if _, err := cleanName(ok); err != nil {
			t.Errorf("cleanName(%+q) refused: %v", ok, err)
		}
	}
}

// FuzzDecode: no input may panic the decoder, and whatever it accepts is
// well-formed.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"type":"join","v":1,"room":"r","name":"n"}`,
		`{"type":"signal","to":"abc","data":{"sdp":"x"}}`,
		`{"type":"key","data":"k"}`, `{"type":"leave"}`,
		`{"type":"join","v":1e400}`, `{"type":"\u0000"}`, `[]`, `{`, `null`,
		`{"type":"stats","decryptFailures":3}`, `{"type":"moderate","action":"kick","to":"abc"}`,
		`{"Type":"signal","TO":"abc","data":1}`, `{"type":"leave","type":"join"}`,
		`{"type":"leave"}{"type":"leave"}`, `{"type":"leave","extra":true}`,
		`{"type":"join","v":1,"room":"r","name":"\u3164"}`, `{"type":"join","v":1,"room":"r","name":"\u200b\u2800"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		req, perr := decode(frame)
		if perr != nil {
			if perr.Code == "" || perr.Message == "" {
				t.Fatalf("refusal without code or message: %+v", perr)
			}
			return
		}
		if !onlyDocumentedKeys(frame) {
			t.Fatalf("accepted a frame with undocumented keys: %q", frame)
		}
		switch req.typ {
		case TypeJoin:
			if !ValidRoomName(req.room) || !hasVisible(req.name) {
				t.Fatalf("accepted bad join %+v", req)
			}
		case TypeSignal:
			if req.to == "" || len(req.data) == 0 {
				t.Fatalf("accepted bad signal %+v", req)
			}
		case TypeKey:
			if len(req.data) == 0 {
				t.Fatalf("accepted key without data")
			}
		case TypeLeave, TypeStats:
		case TypeModerate:
			if req.to == "" || (req.action != ActionMute && req.action != ActionKick) {
				t.Fatalf("accepted bad moderate %+v", req)
			}
		default:
			t.Fatalf("accepted unknown type %q", req.typ)
		}
	})
}

func BenchmarkDecodeSignal(b *testing.B) {
	frame := []byte(`{"type":"signal","to":"k3j9x2m4q7","data":{"candidate":{"candidate":"candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host","sdpMid":"0","sdpMLineIndex":0}}}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decode(frame); err != nil {
			b.Fatal(err)
		}
	}
}
