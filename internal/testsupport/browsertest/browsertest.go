// Package browsertest drives headless browsers for end-to-end tests of the
// web client: Chromium through chromedp (this file) and Firefox over
// WebDriver BiDi (firefox.go). Both give Tabs (tab.go), so a test written
// over Tab, Eval and MustEval runs in either.
//
//	b := browsertest.New(t)                 // one browser per test (or per package)
//	p := b.NewPage(t, ts.URL+"/r/x?name=A") // a new tab; returns after the load event
//	n, err := browsertest.Eval[int](p, `document.querySelectorAll(".tile").length`)
//	err = p.WaitFor(`window.parley.state === "in-call"`, 10*time.Second)
//
// The browser runs with fake camera and microphone, no network other than
// loopback (every other host name resolves to nothing) and a throw-away
// profile. Chromium is a hard requirement: when it is missing, New fails the
// test with the command that installs it; it never skips.
package browsertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// EnvChromium names the environment variable that overrides the browser binary.
const EnvChromium = "PARLEY_CHROMIUM"

// DefaultChromium is Debian's chromium package's launcher.
const DefaultChromium = "/usr/bin/chromium"

// debianChromium is the binary Debian's launcher script runs. The script adds
// flags of its own (extensions, GPU rasterization, …); the harness runs the
// binary directly so the browser gets exactly the flags below.
const debianChromium = "/usr/lib/chromium/chromium"

// startTimeout bounds the browser's start; a cold start on a busy 2-core
// machine takes 1–3 s.
const startTimeout = 60 * time.Second

// baseFlags are the flags every test browser runs with. Each was needed on
// the reference machine (docs/architecture.md §6); nothing else is added.
var baseFlags = []struct {
	name  string
	value any
}{
	{"headless", "new"},
	{"no-sandbox", true}, // tests run as root in containers
	{"disable-gpu", true},
	{"disable-quic", true},
	{"no-first-run", true},
	{"disable-background-networking", true},
	{"disable-component-update", true},
	{"disable-sync", true},
	{"use-fake-device-for-media-stream", true}, // moving test pattern + beep
	{"use-fake-ui-for-media-stream", true},     // grant camera/mic without a prompt
	{"allow-loopback-in-peer-connection", true},
	{"disable-features", "WebRtcHideLocalIpsWithMdns"}, // real host candidates, not .local names
	{"autoplay-policy", "no-user-gesture-required"},
	// Chromium calls home despite the flags above; resolve nothing but loopback.
	{"host-resolver-rules", "MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1"},
}

// Option configures New.
type Option func(*options)

type options struct {
	flags         map[string]any
	width, height int
	netns         string // WithNetNS; "" runs the browser in the test's namespace
}

// WithFlag adds (or overrides) one command-line flag, e.g.
// WithFlag("use-file-for-fake-video-capture", "/tmp/red.y4m"). A bool true
// gives "--name", a string "--name=value".
func WithFlag(name string, value any) Option {
	return func(o *options) { o.flags[name] = value }
}

// WithWindowSize sets the window (and so the default viewport) size; the
// default is 800×600, small enough to keep video rendering cheap.
func WithWindowSize(width, height int) Option {
	return func(o *options) { o.width, o.height = width, height }
}

// Browser is one running Chromium. Its tabs (Pages) may be used from
// several goroutines, one goroutine per Page.
type Browser struct {
	ctx context.Context // the browser's own (first) target; never navigated
}

// Binary returns the Chromium binary the harness uses: $PARLEY_CHROMIUM, or
// /usr/bin/chromium (for Debian's package, the binary that script launches).
func Binary() string {
	if p := os.Getenv(EnvChromium); p != "" {
		return p
	}
	if isScript(DefaultChromium) {
		if _, err := os.Stat(debianChromium); err == nil {
			return debianChromium
		}
	}
	return DefaultChromium
}

// isScript reports whether path is a "#!" script.
func isScript(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 2)
	n, _ := f.Read(head)
	return n == 2 && string(head) == "#!"
}

// New starts one headless Chromium for t and stops it in t.Cleanup. It fails
// t (never skips) when the browser is missing or does not start.
func New(t testing.TB, opts ...Option) *Browser {
	t.Helper()
	bin := Binary()
	if _, err := exec.LookPath(bin); err != nil {
		t.Fatalf("browsertest: Chromium not found at %s (%v); install it with `apt-get install -y chromium` "+
			"(Debian; as root) or point %s at a Chromium binary", bin, err, EnvChromium)
	}
	o := options{flags: map[string]any{}, width: 800, height: 600}
	for _, opt := range opts {
		opt(&o)
	}
	aopts := []chromedp.ExecAllocatorOption{chromedp.ExecPath(bin)}
	for _, f := range baseFlags {
		if _, overridden := o.flags[f.name]; !overridden {
			aopts = append(aopts, chromedp.Flag(f.name, f.value))
		}
	}
	for name, value := range o.flags {
		aopts = append(aopts, chromedp.Flag(name, value))
	}
	aopts = append(aopts, chromedp.WindowSize(o.width, o.height))
	if o.netns != "" {
		aopts = append(aopts, inNetNS(o.netns))
	}
	// chromedp adds a fresh temporary --user-data-dir (removed at the end)
	// and --remote-debugging-pipe.

	actx, acancel := chromedp.NewExecAllocator(context.Background(), aopts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		acancel()
	})
	// The first Do starts the browser and binds its lifetime to ctx, so it
	// cannot take a timeout itself (see chromedp.NewContext: "The lifetime
	// of the browser"); wait for it here instead.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("browsertest: starting %s: %v", bin, err)
		}
	case <-time.After(startTimeout):
		t.Fatalf("browsertest: %s did not start within %v", bin, startTimeout)
	}
	return &Browser{ctx: ctx}
}

// PageOption configures NewPage.
type PageOption func(*pageOptions)

type pageOptions struct {
	initScripts []string
	consoleAll  bool
	navTimeout  time.Duration
}

// WithInitScript runs js in the page before any of its own scripts, on
// every document the tab loads (Page.addScriptToEvaluateOnNewDocument): the
// place to stub browser APIs, e.g. make getUserMedia fail.
func WithInitScript(js string) PageOption {
	return func(o *pageOptions) { o.initScripts = append(o.initScripts, js) }
}

// WithConsoleAll forwards every console message to t.Log, not only errors,
// warnings and exceptions.
func WithConsoleAll() PageOption {
	return func(o *pageOptions) { o.consoleAll = true }
}

// Page is one tab. Use it from one goroutine at a time.
type Page struct {
	t      testing.TB
	ctx    context.Context
	cancel context.CancelFunc
	name   string // for log lines: the URL's path

	mu     sync.Mutex
	closed bool // guards t.Log after the page or test ended
}

// NewPage opens a new tab at url and returns once its load event has fired.
// The page's console errors, warnings and uncaught exceptions go to t.Log
// (prefixed with the URL's path); the tab is closed in t.Cleanup.
func (b *Browser) NewPage(t testing.TB, url string, opts ...PageOption) *Page {
	t.Helper()
	o := pageOptions{navTimeout: 30 * time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	ctx, cancel := chromedp.NewContext(b.ctx)
	p := &Page{t: t, ctx: ctx, cancel: cancel, name: shortName(url)}
	t.Cleanup(func() { _ = p.Close() })

	// Attach to the new (blank) tab first, so the subscriptions and init
	// scripts below are in place before the real document loads.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("browsertest: opening a tab: %v", err)
	}
	messages := chromedp.Console(ctx)
	go p.forwardConsole(messages, o.consoleAll)
	for _, js := range o.initScripts {
		if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument,
			page.AddScriptToEvaluateOnNewDocumentParams{Source: js}); err != nil {
			t.Fatalf("browsertest: adding an init script: %v", err)
		}
	}
	nctx, ncancel := context.WithTimeout(ctx, o.navTimeout)
	defer ncancel()
	if err := chromedp.Do(nctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("browsertest: loading %s: %v", url, err)
	}
	return p
}

func (p *Page) forwardConsole(messages iter.Seq2[chromedp.ConsoleMessage, error], all bool) {
	for m, err := range messages {
		if err != nil {
			return
		}
		switch m.Type {
		case chromedp.ConsoleError, chromedp.ConsoleWarning, chromedp.ConsoleException:
		default:
			if !all {
				continue
			}
		}
		p.logf("[%s] console %s", p.name, m)
	}
}

func (p *Page) logf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.t.Logf(format, args...)
	}
}

// Context returns the tab's chromedp context, for actions this package does
// not wrap: chromedp.Run(p.Context(), chromedp.Title()).
func (p *Page) Context() context.Context { return p.ctx }

// Eval evaluates js in p (a Chromium Page or a FirefoxPage) and decodes
// its JSON result into T. A promise is awaited, so js may be an async IIFE:
// `(async () => { … })()`. In Firefox js must be an expression.
func Eval[T any](p Tab, js string) (T, error) {
	var zero T
	cp, ok := p.(*Page)
	if !ok {
		raw, err := p.evalJSON(js)
		if err != nil {
			return zero, err
		}
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			return zero, fmt.Errorf("[%s] eval %s: decode %s: %w", p.Name(), abbrev(js), abbrev(string(raw)), err)
		}
		return v, nil
	}
	v, err := chromedp.Run(cp.ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		return zero, fmt.Errorf("[%s] eval %s: %w", cp.name, abbrev(js), err)
	}
	return v, nil
}

// MustEval is Eval that fails the page's test on error.
func MustEval[T any](p Tab, js string) T {
	p.TB().Helper()
	v, err := Eval[T](p, js)
	if err != nil {
		p.TB().Fatal(err)
	}
	return v
}

// evalJSON is Eval's untyped form (Tab): the result as JSON.
func (p *Page) evalJSON(js string) (json.RawMessage, error) {
	return Eval[json.RawMessage](p, js)
}

// TB returns the test the page belongs to (Tab).
func (p *Page) TB() testing.TB { return p.t }

// Name returns the page's name in log lines: its URL's path (Tab).
func (p *Page) Name() string { return p.name }

// Kind returns "chromium" (Tab).
func (p *Page) Kind() string { return KindChromium }

// Open is NewPage behind the Opener interface.
func (b *Browser) Open(t testing.TB, url string, opts ...PageOption) Tab {
	return b.NewPage(t, url, opts...)
}

// pollInterval is how often WaitFor re-evaluates its condition.
const pollInterval = 50 * time.Millisecond

// WaitFor polls the JavaScript expression cond (awaited if it is a promise)
// until it is truthy, and returns how long that took. After timeout it returns
// an error naming the condition and the last evaluation error, if any.
func (p *Page) WaitFor(cond string, timeout time.Duration) (time.Duration, error) {
	js := "(async () => !!(" + cond + "))()"
	return waitFor(p.name, cond, timeout, func(deadline time.Time) (bool, bool, error) {
		ctx, cancel := context.WithDeadline(p.ctx, deadline)
		defer cancel()
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js, chromedp.EvalAwaitPromise))
		if p.ctx.Err() != nil {
			return false, true, fmt.Errorf("[%s] waiting for %s: %w", p.name, abbrev(cond), p.ctx.Err())
		}
		return err == nil && ok, false, err
	})
}

// waitFor polls check every pollInterval until it reports true or timeout
// passes: the wait of both browsers' pages. check evaluates the condition
// once, within deadline; fatal (the page or its browser is gone) ends the
// wait with check's error.
func waitFor(name, cond string, timeout time.Duration, check func(deadline time.Time) (ok, fatal bool, err error)) (time.Duration, error) {
	start := time.Now()
	deadline := start.Add(timeout)
	var lastErr error
	for {
		ok, fatal, err := check(deadline.Add(time.Second))
		if ok {
			return time.Since(start), nil
		}
		if fatal {
			return time.Since(start), err
		}
		if err != nil {
			lastErr = err
		}
		if time.Now().After(deadline) {
			if lastErr != nil {
				return time.Since(start), fmt.Errorf("[%s] %s still false after %v (last error: %w)", name, abbrev(cond), timeout, lastErr)
			}
			return time.Since(start), fmt.Errorf("[%s] %s still false after %v", name, abbrev(cond), timeout)
		}
		time.Sleep(pollInterval)
	}
}

// MustWaitFor is WaitFor that fails the page's test on timeout.
func (p *Page) MustWaitFor(cond string, timeout time.Duration) time.Duration {
	p.t.Helper()
	d, err := p.WaitFor(cond, timeout)
	if err != nil {
		p.t.Fatal(err)
	}
	return d
}

// clickTimeout bounds Click's wait for its element; generous, because a
// page in a busy mesh on a loaded 2-core machine can be slow to answer.
const clickTimeout = 20 * time.Second

// Click sends a real mouse click (which counts as a user gesture, so it may
// start a screen share) to the first element matching the CSS selector,
// waiting up to clickTimeout for it to be visible.
func (p *Page) Click(selector string) error {
	ctx, cancel := context.WithTimeout(p.ctx, clickTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(selector), chromedp.NodeVisible)); err != nil {
		return fmt.Errorf("[%s] click %s: %w", p.name, selector, err)
	}
	return nil
}

// Screenshot saves a PNG of the viewport to path.
func (p *Page) Screenshot(path string) error {
	buf, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		return fmt.Errorf("[%s] screenshot: %w", p.name, err)
	}
	return os.WriteFile(path, buf, 0o644)
}

// Close closes the tab the way a user closing it does (the page gets
// pagehide/unload; its WebSocket and peer connections close). It is safe to
// call more than once.
func (p *Page) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	// Cancel detaches and sends Target.closeTarget, then waits for the tab
	// to be gone (up to 500 ms: a tab with a hanging request can linger).
	err := chromedp.Cancel(p.ctx)
	p.cancel()
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("[%s] close: %w", p.name, err)
	}
	return nil
}

func shortName(url string) string {
	if i := strings.Index(url, "://"); i >= 0 {
		url = url[i+3:]
	}
	if i := strings.Index(url, "/"); i >= 0 {
		url = url[i:]
	}
	return url
}

func abbrev(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 120 {
		return s[:117] + "..."
	}
	return s
}
