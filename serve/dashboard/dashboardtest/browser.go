// Package dashboardtest drives the dashboard of `switchyard serve` in
// headless Chromium (Debian's chromium package, through chromedp) for
// tests: it starts the browser, opens tabs in separate browser contexts
// (each its own sessionStorage, hence its own token), signs in, reads the
// page's DOM, and saves screenshots as test artifacts. It also collects
// what the page wrote to the console, so a test can fail on an exception
// or a Content-Security-Policy violation. No product package imports it.
package dashboardtest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/switchyard/switchyard/internal/testenv"
)

// Chromium is Debian's chromium (scripts/deps.sh installs it).
const Chromium = "/usr/bin/chromium"

// ArtifactsEnv names the directory where screenshots are kept (default:
// the test's temporary directory, removed after the test).
const ArtifactsEnv = "SWITCHYARD_ARTIFACTS"

// Browser starts headless Chromium for t and returns its context; it stops
// when t ends. A missing chromium fails t under CI and skips it elsewhere.
func Browser(t testing.TB) context.Context {
	t.Helper()
	if _, err := os.Stat(Chromium); err != nil {
		testenv.Missing(t, "%s: %v (scripts/deps.sh installs Debian's chromium)", Chromium, err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(Chromium), chromedp.WindowSize(1280, 800),
		chromedp.Flag("lang", "en-US"), chromedp.Flag("hide-scrollbars", true))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start %s: %v", Chromium, err)
	}
	return ctx
}

// Tab is one page in a browser context of its own.
type Tab struct {
	// Ctx runs actions in the tab.
	Ctx context.Context

	mu      sync.Mutex
	console []chromedp.ConsoleMessage
}

// NewTab opens a tab of width x height pixels in a new browser context of
// browser (no storage shared with other tabs) and collects its console.
func NewTab(t testing.TB, browser context.Context, width, height int64) *Tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, height)); err != nil {
		t.Fatal(err)
	}
	tab := &Tab{Ctx: ctx}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			tab.mu.Lock()
			tab.console = append(tab.console, m)
			tab.mu.Unlock()
		}
	}()
	return tab
}

// Problems are the console messages that mean the page is broken: uncaught
// exceptions and Content-Security-Policy violations.
func (tab *Tab) Problems() []string {
	tab.mu.Lock()
	defer tab.mu.Unlock()
	var out []string
	for _, m := range tab.console {
		if m.IsException() || strings.Contains(m.Text, "Content Security Policy") {
			out = append(out, m.String())
		}
	}
	return out
}

// SignIn opens the dashboard at url and signs in with token; it returns
// once the page shows who signed in.
func (tab *Tab) SignIn(url, token string) error {
	ctx, cancel := context.WithTimeout(tab.Ctx, 30*time.Second)
	defer cancel()
	return chromedp.Do(ctx,
		chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), token),
		chromedp.Click(chromedp.CSS(`#login-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("who")),
	)
}

// Eval evaluates a JavaScript expression in the page (promises awaited).
func Eval[T any](tab *Tab, expr string) (T, error) {
	ctx, cancel := context.WithTimeout(tab.Ctx, 30*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

// Do runs actions in the tab, bounded by timeout.
func (tab *Tab) Do(timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(tab.Ctx, timeout)
	defer cancel()
	return chromedp.Do(ctx, actions...)
}

// WaitFor polls a JavaScript expression until it is truthy, or fails t
// after timeout with what the expression last gave and what `explain`
// (another expression) says of the page.
func (tab *Tab) WaitFor(t testing.TB, timeout time.Duration, expr, explain string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, err := Eval[bool](tab, "!!("+expr+")")
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			why, _ := Eval[string](tab, explain)
			t.Fatalf("after %v the page never showed %s (err %v); page: %s", timeout, expr, err, why)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ActionButtons is an expression counting the page's action controls
// (start, pause, resume, abort, roll back: none for a viewer).
const ActionButtons = `document.querySelectorAll("button.action, [data-op], #migrate-form").length`

// Post sends a POST to the API from the page with the token the page
// holds and returns the status code and the body.
func (tab *Tab) Post(path, body string) (int, string, error) {
	expr := fmt.Sprintf(`fetch(%s, {method: "POST", headers: {"Authorization": "Bearer " + sessionStorage.getItem("switchyard.token"),
		"Content-Type": "application/json"}, body: %s}).then(async (r) => JSON.stringify([r.status, await r.text()]))`, jsString(path), jsString(body))
	s, err := Eval[string](tab, expr)
	if err != nil {
		return 0, "", err
	}
	var res []any
	if err := json.Unmarshal([]byte(s), &res); err != nil || len(res) != 2 {
		return 0, "", fmt.Errorf("fetch answered %q", s)
	}
	code, _ := res[0].(float64)
	text, _ := res[1].(string)
	return int(code), text, nil
}

// Screenshot saves the whole page as name.png at width x height pixels
// (the tab keeps that size) under ArtifactsDir and logs the path.
func (tab *Tab) Screenshot(t testing.TB, name string, width, height int64) string {
	t.Helper()
	if err := tab.Do(30*time.Second, chromedp.EmulateViewport(width, height), chromedp.Sleep(300*time.Millisecond)); err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	ctx, cancel := context.WithTimeout(tab.Ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(ArtifactsDir(t), name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %dx%d: %s", width, height, path)
	return path
}

// Finish saves the page at 1280x800 (name-1280.png) and at a phone's
// 390x844 (name-390.png), then fails t if the console shows an exception
// or a Content-Security-Policy violation.
func (tab *Tab) Finish(t testing.TB, name string) {
	t.Helper()
	tab.Screenshot(t, name+"-1280", 1280, 800)
	tab.Screenshot(t, name+"-390", 390, 844)
	if p := tab.Problems(); len(p) > 0 {
		t.Errorf("console of the page:\n%s", strings.Join(p, "\n"))
	}
}

// ArtifactsDir is $SWITCHYARD_ARTIFACTS (created), else t's temporary
// directory.
func ArtifactsDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv(ArtifactsEnv)
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
