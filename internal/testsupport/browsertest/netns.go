package browsertest

import (
	"os/exec"

	"github.com/chromedp/chromedp"
)

// WithNetNS starts the browser inside the network namespace at path (e.g.
// internal/testsupport/netns's NS.Path), through nsenter --net, so that it
// reaches the rest only over that namespace's links: how a test puts a
// browser behind a shaped link. The DevTools pipe is inherited, so the
// harness drives it as usual. Linux only (nsenter); elsewhere the browser
// fails to start.
func WithNetNS(path string) Option {
	return func(o *options) { o.netns = path }
}

// inNetNS makes the browser's command run through nsenter in the namespace
// at path, keeping what chromedp's default does (deathSignal: the browser
// is killed when the test process dies).
func inNetNS(path string) chromedp.ExecAllocatorOption {
	return chromedp.ModifyCmdFunc(func(cmd *exec.Cmd) {
		nsenter, err := exec.LookPath("nsenter")
		if err != nil {
			nsenter = "nsenter" // Start then fails and says so
		}
		cmd.Args = append([]string{"nsenter", "--net=" + path, "--", cmd.Path}, cmd.Args[1:]...)
		cmd.Path = nsenter
		deathSignal(cmd)
	})
}
