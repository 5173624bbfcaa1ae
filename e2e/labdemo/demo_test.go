// Package labdemo tests what a newcomer does first: `make lab` (lab up
// --demo) and then `switchyard migrate web --apps examples/apps`. Every URL
// that `lab up` printed must still answer 200 afterwards, and the demo's
// own route to the app (/demo/web, from its marathon-lb label) must shift
// with the app.yaml's route (/web): no request fails on either.
package labdemo

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/lab/labtest"
	"github.com/switchyard/switchyard/traffic/loadgen"
)

var theLab *labtest.Lab

func TestMain(m *testing.M) {
	if os.Getenv(takeoverEnv) != "" {
		os.Exit(m.Run()) // the other user's helper process: no lab of its own
	}
	os.Exit(labtest.Main(m, labtest.Options{Kubernetes: true, Nginx: true, Nodes: 3, Demo: true, MarathonToken: true}, &theLab))
}

// printedURLs are the "THROUGH NGINX" and "ANSWERS AT" URLs lab up printed.
func printedURLs(out string) []string {
	re := regexp.MustCompile(`http://[0-9.]+:[0-9]+/[^\s]*`)
	seen := map[string]bool{}
	var urls []string
	for _, u := range re.FindAllString(out, -1) {
		if !seen[u] && strings.Contains(u, "/demo/") {
			seen[u] = true
			urls = append(urls, u)
		}
	}
	return urls
}

// lbURLs are the printed URLs through the shared nginx.
func lbURLs(out, lb string) []string {
	var urls []string
	for _, u := range printedURLs(out) {
		if strings.HasPrefix(u, lb) {
			urls = append(urls, u)
		}
	}
	return urls
}

func get(u string) (int, error) {
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(u)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// copyExamples copies examples/ into dir with web's gates shortened (the
// same apps and routes; a 5-minute soak has no place in a test).
func copyExamples(t *testing.T, dir string) string {
	t.Helper()
	src := filepath.Join("..", "..", "examples")
	if out, err := exec.Command("cp", "-r", src, dir).CombinedOutput(); err != nil {
		t.Fatalf("copy examples: %v: %s", err, out)
	}
	p := filepath.Join(dir, "examples", "apps", "web", "app.yaml")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for old, repl := range map[string]string{"pausePerStep: 30s": "pausePerStep: 2s", "soak: 5m": "soak: 2s", "minRequests: 100": "minRequests: 5"} {
		if !strings.Contains(s, old) {
			t.Fatalf("examples/apps/web/app.yaml no longer says %q: update this test", old)
		}
		s = strings.ReplaceAll(s, old, repl)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "examples", "apps")
}

func TestMigrateWebKeepsEveryPrintedURL(t *testing.T) {
	l := labtest.Need(t, theLab)
	urls := printedURLs(l.UpOutput)
	lbs := lbURLs(l.UpOutput, l.LBURL)
	if len(lbs) < 4 {
		t.Fatalf("lab up printed %d URLs through nginx (%v), want the 4 demo apps:\n%s", len(lbs), lbs, l.UpOutput)
	}
	for _, u := range urls {
		if code, err := get(u); err != nil || code != 200 {
			t.Fatalf("before the migration %s answered %d %v", u, code, err)
		}
	}
	apps := copyExamples(t, t.TempDir())

	demoWeb := loadgen.Start(context.Background(), loadgen.Config{Target: strings.TrimPrefix(l.LBURL, "http://"), Path: "/demo/web/", Conns: 4, PostEvery: 3, Rate: 200})
	defer demoWeb.Stop()
	time.Sleep(time.Second)
	demoWeb.Begin()
	out, err := l.Run("migrate", "web", "--apps", apps)
	demoWeb.End()
	t.Logf("migrate web:\n%s", out)
	if err != nil {
		t.Fatalf("migrate web: %v", err)
	}
	time.Sleep(3 * time.Second) // lb sync has adopted /demo/web by now
	r := demoWeb.Stop()
	t.Logf("/demo/web/ around the migration:\n%s", r)
	if err := r.ZeroFailed(300); err != nil {
		t.Fatalf("/demo/web/: %v", err)
	}
	// Every URL through nginx that lab up printed still answers (the
	// direct task URLs of the migrated Marathon app are gone by design).
	for _, u := range lbs {
		deadline := time.Now().Add(10 * time.Second)
		for {
			code, err := get(u)
			if err == nil && code == 200 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after the migration %s answered %d %v", u, code, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	if code, err := get(l.LBURL + "/web/"); err != nil || code != 200 {
		t.Fatalf("the app.yaml's route /web/ answered %d %v", code, err)
	}
}
