package browsertest

// Firefox for end-to-end tests, driven over WebDriver BiDi (bidi.go):
//
//	ff := browsertest.NewFirefox(t)
//	p := ff.NewPage(t, ts.URL+"/r/x?name=F") // a FirefoxPage: a Tab like a Chromium Page
//	n := browsertest.MustEval[int](p, `document.querySelectorAll(".tile").length`)
//
// The browser runs headless from a fresh profile (firefoxprefs.go: fake
// media, no prompts, loopback ICE without mDNS, every outside service off),
// in its own process group, which is killed at the end of the test; the
// profile is removed then. Firefox is a hard requirement like Chromium:
// when it is missing, NewFirefox fails the test with the command that
// installs it; it never skips.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// EnvFirefox names the environment variable that overrides the Firefox binary.
const EnvFirefox = "PARLEY_FIREFOX"

// DefaultFirefox is Debian's firefox-esr package's binary.
const DefaultFirefox = "/usr/bin/firefox-esr"

// firefoxStartTimeout bounds Firefox's start until BiDi listens: a cold
// start with a fresh profile on a busy 2-core machine takes 3–10 s.
const firefoxStartTimeout = 90 * time.Second

// firefoxQuitTimeout is how long Firefox gets to quit by itself at the end
// of a test before its process group is killed.
const firefoxQuitTimeout = 5 * time.Second

// bidiListening is the line Firefox prints on stderr once BiDi listens.
var bidiListening = regexp.MustCompile(`WebDriver BiDi listening on (ws://\S+)`)

// ErrFirefoxStart is returned when Firefox does not start or BiDi does not answer.
var ErrFirefoxStart = errors.New("browsertest: Firefox did not start")

// Firefox is one running Firefox with one BiDi session. Its pages (one
// window each, so none is a throttled background tab) may be used from
// several goroutines, one goroutine per page.
type Firefox struct {
	cmd     *exec.Cmd
	profile string
	conn    *bidiConn

	mu    sync.Mutex              // guards pages, and conn's end in stop
	pages map[string]*FirefoxPage // by browsing context id, for console events
}

// FirefoxBinary returns the Firefox binary the harness uses: $PARLEY_FIREFOX,
// or Debian's /usr/bin/firefox-esr, or a `firefox` on PATH.
func FirefoxBinary() string {
	if p := os.Getenv(EnvFirefox); p != "" {
		return p
	}
	if _, err := os.Stat(DefaultFirefox); err == nil {
		return DefaultFirefox
	}
	if p, err := exec.LookPath("firefox"); err == nil {
		return p
	}
	return DefaultFirefox
}

// NewFirefox starts one headless Firefox for t and stops it (its whole
// process group) in t.Cleanup. It fails t (never skips) when Firefox is
// missing or does not start.
func NewFirefox(t testing.TB) *Firefox {
	t.Helper()
	bin := FirefoxBinary()
	if _, err := exec.LookPath(bin); err != nil {
		t.Fatalf("browsertest: Firefox not found at %s (%v); install it with `apt-get install -y firefox-esr` "+
			"(Debian; as root) or point %s at a Firefox binary", bin, err, EnvFirefox)
	}
	f, err := startFirefox(bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.stop)
	return f
}

// startFirefox runs bin with a fresh profile, waits for BiDi and opens a session.
func startFirefox(bin string) (*Firefox, error) {
	profile, err := os.MkdirTemp("", "parley-firefox-")
	if err != nil {
		return nil, fmt.Errorf("%w: profile: %v", ErrFirefoxStart, err)
	}
	if err := os.WriteFile(filepath.Join(profile, "user.js"), []byte(userJS(firefoxPrefs)), 0o644); err != nil {
		os.RemoveAll(profile)
		return nil, fmt.Errorf("%w: profile: %v", ErrFirefoxStart, err)
	}
	cmd := exec.Command(bin, "-headless", "-no-remote", "--remote-debugging-port", "0", "--profile", profile, "about:blank")
	cmd.Env = append(os.Environ(),
		"MOZ_CRASHREPORTER_DISABLE=1",
		"MOZ_DISABLE_AUTO_SAFE_MODE=1",
		"HOME="+profile, // nothing of the real home's Firefox is read or written
	)
	setProcessGroup(cmd)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		os.RemoveAll(profile)
		return nil, fmt.Errorf("%w: %v", ErrFirefoxStart, err)
	}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(profile)
		return nil, fmt.Errorf("%w: %s: %v", ErrFirefoxStart, bin, err)
	}
	f := &Firefox{cmd: cmd, profile: profile, pages: map[string]*FirefoxPage{}}
	url, early, err := waitBiDiURL(stderr)
	if err != nil {
		f.stop()
		return nil, fmt.Errorf("%w: %v; its output:\n%s", ErrFirefoxStart, err, early)
	}
	ctx, cancel := context.WithTimeout(context.Background(), firefoxStartTimeout)
	defer cancel()
	if err := f.connect(ctx, url); err != nil {
		f.stop()
		return nil, fmt.Errorf("%w: %v", ErrFirefoxStart, err)
	}
	return f, nil
}

// waitBiDiURL reads Firefox's stderr until it names the BiDi URL, then
// keeps draining it (so Firefox never blocks on a full pipe). It returns
// the URL, or what Firefox printed before it failed.
func waitBiDiURL(stderr io.Reader) (string, string, error) {
	found := make(chan string, 1)
	var early strings.Builder
	var mu sync.Mutex // guards early
	go func() {
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			if sent {
				continue
			}
			mu.Lock()
			if early.Len() < 16<<10 {
				early.WriteString(line + "\n")
			}
			mu.Unlock()
			if m := bidiListening.FindStringSubmatch(line); m != nil {
				found <- m[1]
				sent = true
			}
		}
		if !sent {
			close(found)
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	select {
	case url, ok := <-found:
		if ok {
			// Firefox serves its BiDi sessions at /session.
			return strings.TrimSuffix(url, "/") + "/session", "", nil
		}
		mu.Lock()
		defer mu.Unlock()
		return "", early.String(), errors.New("it exited before BiDi listened")
	case <-time.After(firefoxStartTimeout):
		mu.Lock()
		defer mu.Unlock()
		return "", early.String(), fmt.Errorf("BiDi did not listen within %v", firefoxStartTimeout)
	}
}

// connect opens the BiDi session and subscribes to console messages.
func (f *Firefox) connect(ctx context.Context, url string) error {
	conn, err := dialBiDi(ctx, url, f.onEvent)
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.conn = conn
	f.mu.Unlock()
	if _, err := conn.call(ctx, "session.new", map[string]any{
		"capabilities": map[string]any{"alwaysMatch": map[string]any{"acceptInsecureCerts": true}},
	}); err != nil {
		return err
	}
	_, err = conn.call(ctx, "session.subscribe", map[string]any{"events": []string{"log.entryAdded"}})
	return err
}

// logEntry is a log.entryAdded event's params (the parts used here).
type logEntry struct {
	Type   string `json:"type"`  // "console" | "javascript"
	Level  string `json:"level"` // "debug" | "info" | "warn" | "error"
	Text   string `json:"text"`
	Source struct {
		Context string `json:"context"`
	} `json:"source"`
}

// onEvent forwards console messages to their page (from the reader goroutine).
func (f *Firefox) onEvent(ev bidiEvent) {
	if ev.Method != "log.entryAdded" {
		return
	}
	var e logEntry
	if err := json.Unmarshal(ev.Params, &e); err != nil {
		return
	}
	f.mu.Lock()
	p := f.pages[e.Source.Context]
	f.mu.Unlock()
	if p != nil {
		p.console(e)
	}
}

// Open is NewPage behind the Opener interface.
func (f *Firefox) Open(t testing.TB, url string, opts ...PageOption) Tab {
	return f.NewPage(t, url, opts...)
}

// stop ends the session, lets Firefox quit, kills its process group if it
// does not, and removes the profile. Safe to call more than once.
func (f *Firefox) stop() {
	f.mu.Lock()
	conn := f.conn
	f.conn = nil
	f.mu.Unlock()
	if conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), firefoxQuitTimeout)
		_, _ = conn.call(ctx, "browser.close", nil)
		cancel()
		conn.close()
	}
	if f.cmd != nil {
		exited := make(chan struct{})
		go func() {
			_ = f.cmd.Wait()
			close(exited)
		}()
		select {
		case <-exited:
		case <-time.After(firefoxQuitTimeout):
		}
		// Content processes may outlive the parent: end the whole group
		// (after the parent is reaped, so none of it is left a zombie).
		_ = f.cmd.Process.Kill()
		<-exited
		killProcessGroup(f.cmd)
		f.cmd = nil
	}
	if f.profile != "" {
		_ = os.RemoveAll(f.profile)
		f.profile = ""
	}
}
