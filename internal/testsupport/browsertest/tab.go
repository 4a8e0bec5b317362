package browsertest

import (
	"encoding/json"
	"testing"
	"time"
)

// Browser kinds, as Tab.Kind returns them.
const (
	KindChromium = "chromium"
	KindFirefox  = "firefox"
)

// Tab is one page of either browser: a Chromium *Page or a *FirefoxPage.
// Tests written over Tab (with Eval and MustEval) run in both browsers.
type Tab interface {
	// WaitFor polls the JavaScript expression cond until it is truthy.
	WaitFor(cond string, timeout time.Duration) (time.Duration, error)
	// MustWaitFor is WaitFor that fails the page's test on timeout.
	MustWaitFor(cond string, timeout time.Duration) time.Duration
	// Click sends a real mouse click (a user gesture) to the first match of a CSS selector.
	Click(selector string) error
	// Screenshot saves a PNG of the viewport.
	Screenshot(path string) error
	// Close closes the page as a user closing it would; safe to repeat.
	Close() error
	// TB is the test the page belongs to.
	TB() testing.TB
	// Name is the page's name in log lines.
	Name() string
	// Kind is KindChromium or KindFirefox.
	Kind() string

	// evalJSON evaluates an expression (awaited) and returns its value as JSON.
	evalJSON(js string) (json.RawMessage, error)
}

// Opener opens Tabs: a Chromium *Browser or a *Firefox.
type Opener interface {
	// Open opens a page at url and returns once its load event has fired.
	Open(t testing.TB, url string, opts ...PageOption) Tab
}

var (
	_ Tab    = (*Page)(nil)
	_ Tab    = (*FirefoxPage)(nil)
	_ Opener = (*Browser)(nil)
	_ Opener = (*Firefox)(nil)
)
