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

const testPage = `<!doctype html><title>t</title>
<button id="b">go</button>
<script>
  window.clicks = 0;
  document.getElementById('b').addEventListener('click', () => { window.clicks++; });
  console.error('an error the harness forwards to t.Log');
</script>`

// TestHarness exercises every helper against a local page.
func TestHarness(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, testPage)
	}))
	defer srv.Close()

	b := New(t)
	p := b.NewPage(t, srv.URL, WithInitScript(`window.injected = 'before the page'`))

	if got := MustEval[string](p, `window.injected`); got != "before the page" {
		t.Errorf("init script: window.injected = %q", got)
	}
	if got := MustEval[int](p, `(async () => { await new Promise((r) => setTimeout(r, 10)); return 6 * 7 })()`); got != 42 {
		t.Errorf("awaited eval = %d, want 42", got)
	}
	if _, err := Eval[int](p, `no.such.thing`); err == nil || !strings.Contains(err.Error(), "eval") {
		t.Errorf("eval of a throwing expression: err = %v", err)
	}
	if err := p.Click("#b"); err != nil {
		t.Fatal(err)
	}
	if d, err := p.WaitFor(`window.clicks === 1`, 5*time.Second); err != nil || d > 5*time.Second {
		t.Errorf("WaitFor after click: %v, %v", d, err)
	}
	if _, err := p.WaitFor(`false`, 200*time.Millisecond); err == nil || !strings.Contains(err.Error(), "still false") {
		t.Errorf("WaitFor(false) = %v, want a timeout error", err)
	}
	if gesture := MustEval[bool](p, `navigator.userActivation.hasBeenActive`); !gesture {
		t.Error("Click did not count as a user gesture")
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

	// A second tab of the same browser, then closing the first.
	q := b.NewPage(t, srv.URL)
	if err := p.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if got := MustEval[int](q, `window.clicks`); got != 0 {
		t.Errorf("second tab shares state: clicks = %d", got)
	}
}

// TestMediaFlags checks the fake devices the browser is started with.
func TestMediaFlags(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<!doctype html><button id="s">share</button>`)
	}))
	defer srv.Close()
	p := New(t).NewPage(t, srv.URL)
	kinds := MustEval[[]string](p, `navigator.mediaDevices.getUserMedia({audio: true, video: true})
	  .then((s) => s.getTracks().map((t) => t.kind).sort())`)
	if strings.Join(kinds, ",") != "audio,video" {
		t.Errorf("getUserMedia gave %v, want audio and video", kinds)
	}
	// getDisplayMedia needs a user gesture; the fake UI picks the screen.
	MustEval[bool](p, `(document.querySelector('#s').onclick = () => {
	  window.shared = navigator.mediaDevices.getDisplayMedia({video: true})
	    .then((s) => s.getVideoTracks()[0].getSettings().displaySurface, (e) => 'error: ' + e.name);
	}, true)`)
	if err := p.Click("#s"); err != nil {
		t.Fatal(err)
	}
	if got := MustEval[string](p, `window.shared`); got != "monitor" {
		t.Errorf("getDisplayMedia: %q, want a monitor capture", got)
	}
}
