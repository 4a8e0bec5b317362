package browsertest

import (
	"fmt"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFirefoxHarness exercises every helper of a FirefoxPage against a
// local page, through the Tab interface the Chromium Page shares, and
// checks the profile's media prefs.
func TestFirefoxHarness(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, testPage)
	}))
	defer srv.Close()

	ff := NewFirefox(t)
	var p Tab = ff.Open(t, srv.URL, WithInitScript(`window.injected = 'before the page'`))
	if p.Kind() != KindFirefox {
		t.Errorf("Kind = %q", p.Kind())
	}
	if got := MustEval[string](p, `window.injected`); got != "before the page" {
		t.Errorf("init script: window.injected = %q", got)
	}
	if got := MustEval[int](p, `(async () => { await new Promise((r) => setTimeout(r, 10)); return 6 * 7 })()`); got != 42 {
		t.Errorf("awaited eval = %d, want 42", got)
	}
	if got := MustEval[map[string][]int](p, `({a: [1, 2]})`); len(got["a"]) != 2 {
		t.Errorf("object eval = %v", got)
	}
	if _, err := Eval[int](p, `no.such.thing`); err == nil || !strings.Contains(err.Error(), "eval") {
		t.Errorf("eval of a throwing expression: err = %v", err)
	}
	if err := p.Click("#b"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.WaitFor(`window.clicks === 1`, 5*time.Second); err != nil {
		t.Errorf("WaitFor after click: %v", err)
	}
	if _, err := p.WaitFor(`false`, 200*time.Millisecond); err == nil || !strings.Contains(err.Error(), "still false") {
		t.Errorf("WaitFor(false) = %v, want a timeout error", err)
	}
	if gesture := MustEval[bool](p, `navigator.userActivation.hasBeenActive`); !gesture {
		t.Error("Click did not count as a user gesture")
	}
	if vis := MustEval[string](p, `document.visibilityState`); vis != "visible" {
		t.Errorf("visibilityState = %q, want visible (a hidden page is throttled)", vis)
	}

	shot := filepath.Join(t.TempDir(), "p.png")
	if err := p.Screenshot(shot); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Errorf("screenshot is not a PNG: %v", err)
	}

	// Fake media without a prompt.
	kinds := MustEval[[]string](p, `navigator.mediaDevices.getUserMedia({audio: true, video: true})
	  .then((s) => s.getTracks().map((t) => t.kind).sort())`)
	if strings.Join(kinds, ",") != "audio,video" {
		t.Errorf("getUserMedia gave %v, want audio and video", kinds)
	}

	q := ff.Open(t, srv.URL)
	if err := p.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if got := MustEval[int](q, `window.clicks`); got != 0 {
		t.Errorf("second window shares state: clicks = %d", got)
	}
}
