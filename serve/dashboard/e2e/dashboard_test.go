// Package e2e tests the dashboard of `switchyard serve` end to end: a real
// lab (lab Marathon, Kubernetes, the shared nginx), one `switchyard serve`
// process, and the page in headless Chromium driven as a person would.
package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/switchyard/switchyard/internal/testenv"
	"github.com/switchyard/switchyard/lab/labtest"
	"github.com/switchyard/switchyard/serve/dashboard/dashboardtest"
	"github.com/switchyard/switchyard/traffic/loadgen"
)

var theLab *labtest.Lab

func TestMain(m *testing.M) {
	os.Exit(labtest.Main(m, labtest.Options{Kubernetes: true, Nginx: true, Nodes: 2}, &theLab))
}

const (
	operatorToken = "e2e-dash-operator-token-0123456789"
	viewerToken   = "e2e-dash-viewer-token-0123456789"
)

// dashApp is the app.yaml of the app the test migrates from the page: the
// example web app's Marathon definition (marathonJSON), shifted in four
// steps so the page shows the weights move.
const dashApp = `name: dash
type: marathon
marathon:
  path: %s
route:
  path: /dash
migration:
  maxErrorRate: 0.01
  steps: [25, 50, 75, 100]
  pausePerStep: 4s
  soak: 2s
`

// marathonJSON is the example web app on Marathon (the demo app).
const marathonJSON = "../../../examples/marathon/web.json"

// startServe runs `switchyard serve` on the lab's context with a journal
// of its own, an operator and a viewer token, and returns its URL once it
// answers.
func startServe(t *testing.T, l *labtest.Lab, appsDir string) string {
	t.Helper()
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens.yaml")
	data := fmt.Sprintf("tokens:\n- name: olga\n  role: operator\n  token: %s\n- name: vic\n  role: viewer\n  token: %s\n", operatorToken, viewerToken)
	if err := os.WriteFile(tokens, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := testenv.FreeAddr(t, "127.0.0.1")
	logPath := filepath.Join(dir, "serve.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	out := func() string { b, _ := os.ReadFile(logPath); return string(b) }
	cmd := exec.Command(l.Bin, "serve", "--lab-dir", l.Dir, "--apps", appsDir, "--namespace", "dash", "--listen", addr,
		"--journal", filepath.Join(dir, "journal.db"), "--tokens-file", tokens, "--lb-sync=false", "--monitor=false", "--log-format", "text")
	cmd.Env = l.Env()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("switchyard serve:\n%s", out())
		}
	})
	url := "http://" + addr
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get(url + "/readyz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url
			}
		}
		if time.Now().After(deadline) || cmd.ProcessState != nil {
			t.Fatalf("switchyard serve never got ready (%v):\n%s", err, out())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// row is the app's row as the page shows it.
type row struct {
	Phase  string `json:"phase"`
	K8s    string `json:"k8s"`
	Label  string `json:"label"`
	RPS    string `json:"rps"`
	Errors string `json:"errors"`
}

const readRow = `(() => {
	const r = document.querySelector('#apps-body tr[data-app="dash"]');
	const k = document.querySelector('#traffic-body [data-route="dash"] tr[data-platform="kubernetes"]');
	return r ? {phase: r.dataset.phase, k8s: r.dataset.k8s, label: r.querySelector(".kpct").textContent,
		rps: k ? k.children[2].textContent : "", errors: k ? k.children[3].textContent : ""} : {};
})()`

// TestMigrateFromTheDashboard is the "done when": an operator signs
// in to the page of a real `switchyard serve` on the lab, starts the
// migration of an app with its Migrate button and confirms it in the
// dialog, and watches the page: the Kubernetes weight moves through the
// steps to 100 % and the phase reaches Finalized, with the live request
// rate on Kubernetes shown while it shifts, under load through the shared
// nginx with no failed request. Screenshots at 1280 px and 390 px are
// kept as artifacts. A viewer's page has no action control, and a POST
// from it with the viewer's token is refused (403).
func TestMigrateFromTheDashboard(t *testing.T) {
	testenv.SkipIfShort(t, "a lab, switchyard serve and headless Chromium")
	l := labtest.Need(t, theLab)
	browser := dashboardtest.Browser(t)

	apps := t.TempDir()
	if err := os.MkdirAll(filepath.Join(apps, "dash"), 0o755); err != nil {
		t.Fatal(err)
	}
	def, err := filepath.Abs(marathonJSON)
	if err != nil {
		t.Fatal(err)
	}
	spec := filepath.Join(apps, "dash", "app.yaml")
	if err := os.WriteFile(spec, []byte(fmt.Sprintf(dashApp, def)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := l.Run("deploy", spec); err != nil {
		t.Fatalf("deploy: %v\n%s", err, out)
	}
	url := startServe(t, l, apps)

	lg := loadgen.Start(context.Background(), loadgen.Config{Target: l.Config.Nginx.Listen, Path: "/dash/", Conns: 4, PostEvery: 3, Rate: 200})
	stopped := false
	stopLoad := func() loadgen.Phases {
		stopped = true
		return lg.Stop()
	}
	defer func() {
		if !stopped {
			lg.Stop()
		}
	}()

	op := dashboardtest.NewTab(t, browser, 1280, 800)
	if err := op.SignIn(url, operatorToken); err != nil {
		t.Fatal(err)
	}
	migrate := `#apps-body tr[data-app="dash"] button[data-op="migrate"]`
	op.WaitFor(t, 2*time.Minute, `document.querySelector('`+migrate+`')`, `document.body.innerText`)
	if err := op.Do(20*time.Second, chromedp.Click(chromedp.CSS(migrate)), chromedp.WaitVisible(chromedp.ID("confirm-ok")),
		chromedp.Click(chromedp.ID("confirm-ok"))); err != nil {
		t.Fatal(err)
	}
	op.WaitFor(t, 20*time.Second, `document.getElementById("notice").textContent.startsWith("Migrate: dash accepted")`, `document.getElementById("notice").textContent`)

	// Watch the page until the migration is over.
	var seen []string
	kubeRPS := ""
	shot := false
	deadline := time.Now().Add(5 * time.Minute)
	for {
		r, err := dashboardtest.Eval[row](op, readRow)
		if err != nil {
			t.Fatal(err)
		}
		if r.K8s != "" && (len(seen) == 0 || seen[len(seen)-1] != r.K8s) {
			seen = append(seen, r.K8s)
			t.Logf("page: %s, %s", r.Phase, r.Label)
		}
		if r.Phase == "Shifting" && r.RPS != "" && r.RPS != "0.0" {
			kubeRPS = r.RPS
			if !shot && r.K8s == "50" {
				op.Screenshot(t, "dashboard-shifting-1280", 1280, 800)
				shot = true
			}
		}
		if r.Phase == "Finalized" {
			if r.K8s != "100" || r.Label != "Kubernetes 100 %" {
				t.Fatalf("Finalized with the page showing %+v", r)
			}
			break
		}
		if strings.HasPrefix(r.Phase, "Rolling") || r.Phase == "RolledBack" || time.Now().After(deadline) {
			why, _ := dashboardtest.Eval[string](op, `document.body.innerText`)
			t.Fatalf("phase %q, weights %v; page:\n%s", r.Phase, seen, why)
		}
		time.Sleep(150 * time.Millisecond)
	}
	t.Logf("Kubernetes weights the page showed: %v; Kubernetes requests/s while shifting: %s", seen, kubeRPS)
	if len(seen) < 3 || seen[len(seen)-1] != "100" {
		t.Errorf("the page did not show the weights move: %v", seen)
	}
	if kubeRPS == "" {
		t.Errorf("the page never showed Kubernetes' request rate while the traffic shifted")
	}
	op.WaitFor(t, 20*time.Second, `document.querySelector('#history-body table[data-app="dash"]') && document.querySelector('#history-body table[data-app="dash"]').textContent.includes("Finalized")`,
		`document.getElementById("history-body").innerText`)

	time.Sleep(500 * time.Millisecond)
	res := stopLoad()
	t.Logf("load: %s", res)
	if err := res.ZeroFailed(500); err != nil {
		t.Error(err)
	}
	op.Finish(t, "dashboard")

	t.Run("viewer", func(t *testing.T) {
		v := dashboardtest.NewTab(t, browser, 1280, 800)
		if err := v.SignIn(url, viewerToken); err != nil {
			t.Fatal(err)
		}
		v.WaitFor(t, time.Minute, `document.querySelector('#apps-body tr[data-app="dash"]') && document.querySelector("#plan-body").childElementCount > 0`, `document.body.innerText`)
		if n, err := dashboardtest.Eval[int](v, dashboardtest.ActionButtons); err != nil || n != 0 {
			t.Errorf("the viewer's page has %d action controls (%v)", n, err)
		}
		for _, c := range []struct{ path, body string }{
			{"api/v1/migrations", `{"apps":["dash"]}`},
			{"api/v1/apps/dash/rollback", `{"reason":"viewer"}`},
		} {
			code, body, err := v.Post(c.path, c.body)
			if err != nil || code != http.StatusForbidden {
				t.Errorf("viewer POST %s = %d %s %v, want 403", c.path, code, body, err)
			}
		}
		v.Screenshot(t, "dashboard-viewer-1280", 1280, 800)
	})
}
