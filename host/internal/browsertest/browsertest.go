// Package browsertest drives Debian's chromium from Go tests of the
// merchant's page (github.com/chromedp/chromedp), for every package that
// serves it: the API's in-process tests and the end-to-end ones that run
// the real binary against the fake platforms.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/syncrules/syncrules/host/internal/slowtest"
)

// Stuck bounds one step of a browser test: a step that takes this long is
// stuck, not slow. The browser's own context has no deadline, so a failed
// step can still be looked at.
func Stuck(ctx context.Context, t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second*slowtest.Factor)
	t.Cleanup(cancel)
	return ctx
}

// Start starts a headless Chromium for the test. Without one it skips,
// saying how to install it, except under CI=true, where the browser tests
// must run.
func Start(t testing.TB) (context.Context, *Errors) {
	t.Helper()
	path := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("no chromium on PATH, and CI=true needs the browser tests: apt-get install -y chromium")
		}
		t.Skip("no chromium on PATH: apt-get install -y chromium (Debian) to run the browser tests")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // as root in a container
	)
	// The first run starts the browser, under no deadline (one would stop
	// the browser with it). On a loaded machine a start now and then
	// fails before the browser answers: a second try tells that from a
	// browser that cannot start.
	var ctx context.Context
	for try := 1; ; try++ {
		alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		c, cancel := chromedp.NewContext(alloc)
		err := chromedp.Do(c)
		if err == nil {
			t.Cleanup(cancelAlloc)
			t.Cleanup(cancel)
			ctx = c
			break
		}
		cancel()
		cancelAlloc()
		if try == 2 {
			t.Fatalf("starting %s: %v", path, err)
		}
		t.Logf("starting %s failed, trying again: %v", path, err)
	}
	errs := &Errors{}
	go func() {
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			// Uncaught exceptions, and what the browser refused (a
			// Content-Security-Policy violation is a security entry).
			if m.IsException() || m.Source == "security" {
				errs.add(m.String())
			}
		}
	}()
	return ctx, errs
}

// Errors collects the script's uncaught exceptions and what the browser
// refused.
type Errors struct {
	mu   sync.Mutex
	list []string
}

func (p *Errors) add(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.list = append(p.list, s)
}

// Check fails the test with each error collected.
func (p *Errors) Check(t testing.TB) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.list {
		t.Errorf("the page threw: %s", e)
	}
}

// Screenshot saves the page as name.png under the test's artifact
// folder (make screenshots copies them to docs/screenshots/).
func Screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	fixLabels(t, ctx, name)
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	path := filepath.Join(t.ArtifactDir(), name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Error(err)
	}
}

// FatalPage fails the test with what the page shows.
func FatalPage(t testing.TB, browserCtx context.Context, what string, err error) {
	t.Helper()
	page, _ := chromedp.Run(Stuck(browserCtx, t), chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
	t.Fatalf("%s: %v\nthe page shows:\n%s", what, err, page)
}

// ScreenshotOf saves the element sel selects (by CSS) as name.png under
// the test's artifact folder: a part of a long page, readable at its size.
func ScreenshotOf(t *testing.T, ctx context.Context, sel, name string) {
	t.Helper()
	fixLabels(t, ctx, name)
	png, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS(sel)))
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	path := filepath.Join(t.ArtifactDir(), name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Error(err)
	}
}

// fixLabels gives what differs from one run to the next, the token ids
// (class token-id) and the times (time elements) the page shows, a fixed
// label, so that the same page makes the same picture; the page keeps
// those labels.
func fixLabels(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`
		for (const el of document.querySelectorAll(".token-id")) el.textContent = "tok_0123456789ab";
		for (const el of document.querySelectorAll("time")) el.textContent = "12/1/2026, 9:00:00 AM";
		true`))
	if err != nil {
		t.Errorf("screenshot %s: fixing the labels: %v", name, err)
	}
}
