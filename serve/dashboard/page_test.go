package dashboard_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/switchyard/switchyard/internal/testenv"
	"github.com/switchyard/switchyard/migrate"
	"github.com/switchyard/switchyard/serve/dashboard/dashboardtest"
)

// cutFirstStream ends the first /api/v1/events stream after a second (as
// a proxy or a restarting replica would) and counts the streams opened.
func cutFirstStream(h http.Handler, streams *atomic.Int32) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/events" && streams.Add(1) == 1 {
			ctx, cancel := context.WithTimeout(r.Context(), time.Second)
			defer cancel()
			r = r.WithContext(ctx)
		}
		h.ServeHTTP(w, r)
	})
}

// rowOps is an expression: each app row's action buttons, "app=op,op;...".
const rowOps = `[...document.querySelectorAll("#apps-body tr")].map((r) => r.dataset.app + "=" +
	[...r.querySelectorAll("button.action")].map((b) => b.dataset.op).join(",")).join(";")`

// TestPage drives the dashboard in headless Chromium against serve's API
// on a real journal with fixed views: what each panel shows (apps from
// the plan and the journal, weights, a congestion alert from the capacity
// report, "not available" for a view that fails or is not configured),
// that markup in data stays text, the actions each phase offers, the
// confirmation dialog (keyboard: Enter opens it, focus on Cancel, Escape
// cancels and focus returns; Confirm starts the migration), an API
// refusal shown as its text, the live update through server-sent events
// after the stream was cut and reconnected, and no exception or CSP
// violation in the console. A viewer sees no action and the API refuses
// its POST; a wrong token is refused at sign-in and not kept.
func TestPage(t *testing.T) {
	testenv.SkipIfShort(t, "headless Chromium")
	browser := dashboardtest.Browser(t)
	eng := &engine{}
	srv, j := fixtureServer(t, eng, fixtureViews(), 50*time.Millisecond)
	var streams atomic.Int32
	ts := httptest.NewServer(cutFirstStream(srv, &streams))
	t.Cleanup(ts.Close)

	op := dashboardtest.NewTab(t, browser, 1280, 800)
	if err := op.SignIn(ts.URL, operatorToken); err != nil {
		t.Fatal(err)
	}
	op.WaitFor(t, 30*time.Second, `document.querySelectorAll("#apps-body tr").length === 5 && document.querySelector("#plan-body .wave")`, rowOps)

	t.Run("panels", func(t *testing.T) {
		for _, c := range []struct{ what, expr string }{
			{"weights", `document.querySelector('tr[data-app="web"]').dataset.k8s === "50" && document.querySelector('tr[data-app="web"] .kpct').textContent === "Kubernetes 50 %"`},
			{"last gate", `document.querySelector('tr[data-app="web"] .gate').textContent === "0.24 % errors · p99 8.1 ms · 420 req"`},
			{"paused", `document.querySelector('tr[data-app="cart"] .phase').textContent === "Shifting (paused)"`},
			{"platform", `document.querySelector('tr[data-app="api"] .platform').textContent === "Kubernetes" && document.querySelector('tr[data-app="shop"] .phase').textContent === "Not started"`},
			{"markup stays text", `window.pwned === undefined && !document.querySelector("#apps-body img, #plan-body img") && [...document.querySelectorAll("#apps-body tr")].some((r) => r.dataset.app === '<img src=x onerror="window.pwned=1">')`},
			{"congestion banner", `!document.getElementById("alerts").hidden && document.getElementById("alerts").textContent.includes("node node-1 mesos cpus at 93%")`},
			{"no alert under the threshold", `!document.getElementById("alerts").textContent.includes("node-2")`},
			{"node bars", `document.querySelectorAll('#nodes-body [data-node="node-1"] .bar .seg').length === 8 && document.querySelector('#nodes-body [data-node="node-1"] .bar.hot')`},
			{"traffic not configured", `document.querySelector("#traffic-body .unavailable").textContent.startsWith("Not available (not configured")`},
			{"routes failing: apps still shown", `document.querySelector('tr[data-app="shop"] .mpct').textContent === "no route"`},
			{"waves", `document.querySelector('#plan-body [data-wave="1"]').dataset.state === "moving" && document.querySelector('#plan-body button[data-wave="2"]')`},
			{"status region", `document.getElementById("status-region").getAttribute("aria-live") === "polite" && document.getElementById("status-region").textContent.includes("web Shifting[50% applied] at 50 % Kubernetes")`},
			{"history of the last change", `document.querySelector('#history-body table[data-app="api"]')`},
			{"token not in the URL", `!location.href.includes("` + operatorToken + `") && sessionStorage.getItem("switchyard.token") === "` + operatorToken + `"`},
		} {
			t.Run(c.what, func(t *testing.T) { op.WaitFor(t, 30*time.Second, c.expr, `document.body.innerText`) })
		}
		got, err := dashboardtest.Eval[string](op, rowOps)
		if want := `<img src=x onerror="window.pwned=1">=migrate;api=rollback;cart=resume,abort;shop=migrate;web=pause,abort`; err != nil || got != want {
			t.Errorf("actions per app:\n got %s (%v)\nwant %s", got, err, want)
		}
	})

	shop := `#apps-body tr[data-app="shop"] button[data-op="migrate"]`
	t.Run("keyboard and Escape", func(t *testing.T) {
		if err := op.Do(30*time.Second, chromedp.Focus(chromedp.CSS(shop)), chromedp.KeyEvent(kb.Enter)); err != nil {
			t.Fatal(err)
		}
		op.WaitFor(t, 30*time.Second, `document.getElementById("confirm").open && document.activeElement.id === "confirm-cancel" && document.getElementById("confirm-title").textContent === "Migrate shop?"`, `document.activeElement.outerHTML`)
		if err := op.Do(30*time.Second, chromedp.KeyEvent(kb.Escape)); err != nil {
			t.Fatal(err)
		}
		op.WaitFor(t, 30*time.Second, `!document.getElementById("confirm").open && document.activeElement.matches('`+shop+`')`, `document.activeElement.outerHTML`)
		if got := eng.calls(); got != "[] []" {
			t.Errorf("cancelled, yet the engine got %s", got)
		}
	})

	t.Run("confirm starts", func(t *testing.T) {
		if err := op.Do(30*time.Second, chromedp.Click(chromedp.CSS(shop)), chromedp.WaitVisible(chromedp.ID("confirm-ok")), chromedp.Click(chromedp.ID("confirm-ok"))); err != nil {
			t.Fatal(err)
		}
		op.WaitFor(t, 30*time.Second, `document.getElementById("notice").textContent === "Migrate: shop accepted by http://self."`, `document.getElementById("notice").textContent + " open=" + document.getElementById("confirm").open + " rv=" + document.getElementById("confirm").returnValue + " active=" + document.activeElement.outerHTML`)
		if got := eng.calls(); got != "[[shop]] []" {
			t.Errorf("engine got %s", got)
		}
	})

	t.Run("pause with a reason", func(t *testing.T) {
		web := `#apps-body tr[data-app="web"] button[data-op="pause"]`
		if err := op.Do(30*time.Second, chromedp.Click(chromedp.CSS(web)), chromedp.WaitVisible(chromedp.ID("confirm-reason")),
			chromedp.SendKeys(chromedp.ID("confirm-reason"), "watching p99"), chromedp.Click(chromedp.ID("confirm-ok"))); err != nil {
			t.Fatal(err)
		}
		op.WaitFor(t, 30*time.Second, `document.getElementById("notice").textContent.startsWith("Pause: web accepted")`, `document.getElementById("notice").textContent`)
		if got := eng.calls(); got != "[[shop]] [web pause]" {
			t.Errorf("engine got %s", got)
		}
	})

	t.Run("refusal shown", func(t *testing.T) {
		if err := op.Do(30*time.Second, chromedp.SendKeys(chromedp.ID("migrate-apps"), "unknown"),
			chromedp.Click(chromedp.CSS(`#migrate-form button`)), chromedp.WaitVisible(chromedp.ID("confirm-ok")), chromedp.Click(chromedp.ID("confirm-ok"))); err != nil {
			t.Fatal(err)
		}
		op.WaitFor(t, 30*time.Second, `document.querySelector("#notice p.error").textContent === "Migrate unknown refused: app unknown: no app.yaml with that name"`, `document.getElementById("notice").textContent`)
	})

	t.Run("live after reconnect", func(t *testing.T) {
		deadline := time.Now().Add(30 * time.Second)
		for streams.Load() < 2 && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		if n := streams.Load(); n < 2 {
			t.Fatalf("the page opened %d event stream(s) after the first was cut", n)
		}
		appendState(t, j, migrate.State{App: "web", Phase: migrate.Shifting, KubePercent: 75}, "Shifting[75% applied]", "step 75%")
		op.WaitFor(t, 30*time.Second, `document.querySelector('tr[data-app="web"]').dataset.k8s === "75" && document.getElementById("conn").dataset.state === "live"`, `document.getElementById("conn").textContent`)
	})

	op.Finish(t, "fixture")

	t.Run("viewer", func(t *testing.T) {
		v := dashboardtest.NewTab(t, browser, 1280, 800)
		if err := v.SignIn(ts.URL, viewerToken); err != nil {
			t.Fatal(err)
		}
		v.WaitFor(t, 30*time.Second, `document.querySelectorAll("#apps-body tr").length === 5 && document.querySelector("#plan-body .wave")`, `document.body.innerText`)
		if n, err := dashboardtest.Eval[int](v, dashboardtest.ActionButtons); err != nil || n != 0 {
			t.Errorf("a viewer sees %d action controls (%v)", n, err)
		}
		before := eng.calls()
		code, body, err := v.Post("api/v1/migrations", `{"apps":["shop"]}`)
		if err != nil || code != http.StatusForbidden || !strings.Contains(body, "bob is a viewer") {
			t.Errorf("a viewer's POST = %d %s %v, want 403", code, body, err)
		}
		if eng.calls() != before {
			t.Errorf("the engine got %s after a viewer's POST", eng.calls())
		}
	})

	t.Run("wrong token", func(t *testing.T) {
		w := dashboardtest.NewTab(t, browser, 390, 844)
		if err := w.Do(30*time.Second, chromedp.Navigate(ts.URL), chromedp.WaitVisible(chromedp.ID("token")),
			chromedp.SendKeys(chromedp.ID("token"), "not-a-token-0123456789"), chromedp.Click(chromedp.CSS(`#login-form button[type="submit"]`))); err != nil {
			t.Fatal(err)
		}
		w.WaitFor(t, 30*time.Second, `document.getElementById("login-error").textContent === "This token is not accepted." && sessionStorage.getItem("switchyard.token") === null && document.getElementById("main").hidden`, `document.body.innerText`)
	})
}
