package browsertest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"sync"
	"testing"
	"time"
)

// firefoxCallTimeout bounds one BiDi command that is not a navigation or
// an evaluation.
const firefoxCallTimeout = 30 * time.Second

// evalTimeout bounds one evaluation (Chromium's have no bound of their
// own): a page on a 2-core machine loaded far beyond its cores was seen
// answering getStats after more than 30 s; this only keeps a hung page
// from hanging the test for ever.
const evalTimeout = 3 * time.Minute

// ErrEval is wrapped by errors of scripts that threw.
var ErrEval = errors.New("browsertest: script threw")

// FirefoxPage is one Firefox window (a top-level browsing context). Use it
// from one goroutine at a time.
type FirefoxPage struct {
	t       testing.TB
	f       *Firefox
	context string // the BiDi browsing context id
	name    string // for log lines: the URL's path
	all     bool   // forward every console message, not only warnings and errors

	mu     sync.Mutex
	closed bool // guards t.Log after the page or test ended
}

// NewPage opens a new window at url and returns once its load event has
// fired. Console errors and warnings go to t.Log (prefixed with the URL's
// path and "firefox"); the window is closed in t.Cleanup.
func (f *Firefox) NewPage(t testing.TB, url string, opts ...PageOption) *FirefoxPage {
	t.Helper()
	o := pageOptions{navTimeout: 30 * time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), firefoxCallTimeout)
	defer cancel()
	// A window rather than a tab: a background tab is hidden, and hidden
	// pages get throttled timers and no video frames.
	res, err := f.conn.call(ctx, "browsingContext.create", map[string]any{"type": "window"})
	if err != nil {
		t.Fatalf("browsertest: opening a Firefox window: %v", err)
	}
	var created struct {
		Context string `json:"context"`
	}
	if err := json.Unmarshal(res, &created); err != nil || created.Context == "" {
		t.Fatalf("browsertest: opening a Firefox window: %s (%v)", res, err)
	}
	p := &FirefoxPage{t: t, f: f, context: created.Context, name: "firefox " + shortName(url), all: o.consoleAll}
	f.mu.Lock()
	f.pages[p.context] = p
	f.mu.Unlock()
	t.Cleanup(func() { _ = p.Close() })

	for _, js := range o.initScripts {
		if _, err := f.conn.call(ctx, "script.addPreloadScript", map[string]any{
			"functionDeclaration": "() => {\n" + js + "\n}",
			"contexts":            []string{p.context},
		}); err != nil {
			t.Fatalf("browsertest: adding an init script: %v", err)
		}
	}
	nctx, ncancel := context.WithTimeout(context.Background(), o.navTimeout)
	defer ncancel()
	if _, err := f.conn.call(nctx, "browsingContext.navigate", map[string]any{
		"context": p.context, "url": url, "wait": "complete",
	}); err != nil {
		t.Fatalf("browsertest: loading %s in Firefox: %v", url, err)
	}
	return p
}

// console logs one of the page's console messages (from the BiDi reader).
func (p *FirefoxPage) console(e logEntry) {
	if !p.all && e.Level != "error" && e.Level != "warn" {
		return
	}
	p.logf("[%s] console %s %s: %s", p.name, e.Type, e.Level, e.Text)
}

func (p *FirefoxPage) logf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.t.Logf(format, args...)
	}
}

// TB returns the test the page belongs to (Tab).
func (p *FirefoxPage) TB() testing.TB { return p.t }

// Name returns the page's name in log lines (Tab).
func (p *FirefoxPage) Name() string { return p.name }

// Kind returns "firefox" (Tab).
func (p *FirefoxPage) Kind() string { return KindFirefox }

// evalResult is script.evaluate's result (W3C BiDi script.EvaluateResult).
type evalResult struct {
	Type   string `json:"type"` // "success" | "exception"
	Result struct {
		Type  string          `json:"type"`
		Value json.RawMessage `json:"value"`
	} `json:"result"`
	ExceptionDetails struct {
		Text string `json:"text"`
	} `json:"exceptionDetails"`
}

// evalJSON evaluates the expression js, awaits it, and returns its value as
// JSON (null for undefined). The value goes through JSON.stringify in the
// page, so what comes back is what a Chromium Page's Eval would decode.
func (p *FirefoxPage) evalJSON(js string) (json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(context.Background(), evalTimeout)
	defer cancel()
	return p.evalJSONCtx(ctx, js)
}

func (p *FirefoxPage) evalJSONCtx(ctx context.Context, js string) (json.RawMessage, error) {
	wrapped := "(async () => { const v = await (\n" + js + "\n); return v === undefined ? 'null' : JSON.stringify(v); })()"
	res, err := p.f.conn.call(ctx, "script.evaluate", map[string]any{
		"expression":      wrapped,
		"target":          map[string]any{"context": p.context},
		"awaitPromise":    true,
		"resultOwnership": "none",
	})
	if err != nil {
		return nil, fmt.Errorf("[%s] eval %s: %w", p.name, abbrev(js), err)
	}
	var r evalResult
	if err := json.Unmarshal(res, &r); err != nil {
		return nil, fmt.Errorf("[%s] eval %s: decode: %w", p.name, abbrev(js), err)
	}
	if r.Type != "success" {
		return nil, fmt.Errorf("[%s] eval %s: %w: %s", p.name, abbrev(js), ErrEval, r.ExceptionDetails.Text)
	}
	if r.Result.Type != "string" {
		// JSON.stringify gave undefined (a function, a symbol): say null.
		return json.RawMessage("null"), nil
	}
	var s string
	if err := json.Unmarshal(r.Result.Value, &s); err != nil {
		return nil, fmt.Errorf("[%s] eval %s: decode: %w", p.name, abbrev(js), err)
	}
	return json.RawMessage(s), nil
}

// WaitFor polls the JavaScript expression cond (awaited if it is a promise)
// until it is truthy, and returns how long that took. After timeout it
// returns an error naming the condition and the last evaluation error.
func (p *FirefoxPage) WaitFor(cond string, timeout time.Duration) (time.Duration, error) {
	js := "(async () => !!(" + cond + "))()"
	return waitFor(p.name, cond, timeout, func(deadline time.Time) (bool, bool, error) {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		defer cancel()
		raw, err := p.evalJSONCtx(ctx, js)
		return err == nil && string(raw) == "true", errors.Is(err, ErrBiDiClosed), err
	})
}

// MustWaitFor is WaitFor that fails the page's test on timeout.
func (p *FirefoxPage) MustWaitFor(cond string, timeout time.Duration) time.Duration {
	p.t.Helper()
	d, err := p.WaitFor(cond, timeout)
	if err != nil {
		p.t.Fatal(err)
	}
	return d
}

// jsCentre finds a visible element and returns its centre in viewport
// pixels (scrolling it into view first), or null.
const jsCentre = `(() => {
  const e = document.querySelector(%q);
  if (!e) return null;
  e.scrollIntoView({ block: 'center', inline: 'center' });
  const r = e.getBoundingClientRect();
  const s = getComputedStyle(e);
  if (!r.width || !r.height || s.visibility === 'hidden') return null;
  return [r.x + r.width / 2, r.y + r.height / 2];
})()`

// Click sends a real mouse click (input.performActions, so it counts as a
// user gesture) to the centre of the first element matching the CSS
// selector, waiting up to clickTimeout for it to be visible.
func (p *FirefoxPage) Click(selector string) error {
	deadline := time.Now().Add(clickTimeout)
	var at []float64
	for {
		raw, err := p.evalJSON(fmt.Sprintf(jsCentre, selector))
		if err == nil {
			_ = json.Unmarshal(raw, &at)
		}
		if len(at) == 2 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("[%s] click %s: no visible element after %v (%v)", p.name, selector, clickTimeout, err)
		}
		time.Sleep(pollInterval)
	}
	x, y := int(math.Round(at[0])), int(math.Round(at[1]))
	ctx, cancel := context.WithTimeout(context.Background(), firefoxCallTimeout)
	defer cancel()
	_, err := p.f.conn.call(ctx, "input.performActions", map[string]any{
		"context": p.context,
		"actions": []any{map[string]any{
			"type": "pointer", "id": "mouse", "parameters": map[string]any{"pointerType": "mouse"},
			"actions": []any{
				map[string]any{"type": "pointerMove", "x": x, "y": y, "origin": "viewport"},
				map[string]any{"type": "pointerDown", "button": 0},
				map[string]any{"type": "pointerUp", "button": 0},
			},
		}},
	})
	if err != nil {
		return fmt.Errorf("[%s] click %s: %w", p.name, selector, err)
	}
	return nil
}

// Screenshot saves a PNG of the viewport to path.
func (p *FirefoxPage) Screenshot(path string) error {
	ctx, cancel := context.WithTimeout(context.Background(), firefoxCallTimeout)
	defer cancel()
	res, err := p.f.conn.call(ctx, "browsingContext.captureScreenshot", map[string]any{"context": p.context})
	if err != nil {
		return fmt.Errorf("[%s] screenshot: %w", p.name, err)
	}
	var shot struct {
		Data string `json:"data"`
	}
	if err := json.Unmarshal(res, &shot); err != nil {
		return fmt.Errorf("[%s] screenshot: %w", p.name, err)
	}
	png, err := base64.StdEncoding.DecodeString(shot.Data)
	if err != nil {
		return fmt.Errorf("[%s] screenshot: %w", p.name, err)
	}
	return os.WriteFile(path, png, 0o644)
}

// Close closes the window the way a user closing it does (the page gets
// pagehide/unload). It is safe to call more than once.
func (p *FirefoxPage) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	p.f.mu.Lock()
	delete(p.f.pages, p.context)
	conn := p.f.conn
	p.f.mu.Unlock()
	if conn == nil {
		return nil // the browser is gone already
	}
	ctx, cancel := context.WithTimeout(context.Background(), firefoxCallTimeout)
	defer cancel()
	if _, err := conn.call(ctx, "browsingContext.close", map[string]any{"context": p.context}); err != nil &&
		!errors.Is(err, ErrBiDiClosed) {
		return fmt.Errorf("[%s] close: %w", p.name, err)
	}
	return nil
}
