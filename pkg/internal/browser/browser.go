// Package browser starts a headless Chromium for the tests that check
// weatherd's pages the way an operator's browser shows them.
package browser

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Install is how to get the browser the tests need; the failure names it.
const Install = "apt-get install -y chromium (Debian's chromium package; .ci/run installs it)"

// candidates are the names Chromium's executable has on Debian and elsewhere.
var candidates = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// Path returns the Chromium executable: $WEATHERD_TEST_CHROMIUM when set,
// else the first candidate on $PATH. A machine without one fails tb, never
// skips it: CI installs Chromium, and a skipped browser test would pass
// without having looked at the page.
func Path(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("WEATHERD_TEST_CHROMIUM"); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			tb.Fatalf("WEATHERD_TEST_CHROMIUM=%s: %v; %s", p, err, Install)
		}
		return p
	}
	for _, name := range candidates {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	tb.Fatalf("no Chromium found (looked for %v on $PATH and $WEATHERD_TEST_CHROMIUM): %s", candidates, Install)
	return ""
}

// New starts a headless Chromium with a window of width×height CSS pixels
// and returns a chromedp context for one tab, bounded by timeout. The
// browser is stopped when the test ends.
func New(tb testing.TB, width, height int, timeout time.Duration) context.Context {
	tb.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(Path(tb)),
		chromedp.Headless,
		// Root in a container has no user namespace for Chromium's sandbox.
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(tb.TempDir()),
		chromedp.WindowSize(width, height),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	tab, cancelTab := chromedp.NewContext(actx, chromedp.WithErrorf(tb.Logf))
	tb.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	// Start the browser now, on a context without the deadline (a deadline
	// on the first run would stop the browser with it), so a Chromium that
	// cannot run fails here with its own error, not inside a later step.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(tab) }()
	select {
	case err := <-started:
		if err != nil {
			tb.Fatalf("start Chromium (%s): %v; %s", Path(tb), err, Install)
		}
	case <-time.After(timeout):
		tb.Fatalf("start Chromium (%s): not within %s", Path(tb), timeout)
	}
	ctx, cancel := context.WithTimeout(tab, timeout)
	tb.Cleanup(cancel)
	return ctx
}
