// Package browsertest starts headless Chromium for the tests that drive
// CareCheck's pages in a real browser (the console, the demo's page)
// through chromedp.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/chromedp/chromedp"
)

// Start starts headless Chromium for one test with a window of width ×
// height pixels and returns its tab; the browser stops when the test ends.
// Without Chromium the test is skipped, unless CARECHECK_TEST_BROWSER=required
// (as in CI), where it fails.
func Start(t testing.TB, width, height int) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		// This machine's network is closed: without these Chromium keeps
		// trying to reach Google's hosts, many connections at a time.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancelTab(); cancelAlloc() }) // before the user data dir is removed
	// Start the browser now, with no timeout on its life.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// chromium finds Debian's Chromium.
func chromium(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "/usr/bin/chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CARECHECK_TEST_BROWSER") == "required" {
		t.Fatal("chromium not found and CARECHECK_TEST_BROWSER=required: apt-get install -y chromium")
	}
	t.Skip("chromium not found: skipping the browser test (apt-get install -y chromium; CARECHECK_TEST_BROWSER=required makes this a failure)")
	return ""
}
