// Package e2e tests live migration on a whole real lab: lab Marathon, a
// real Kubernetes control plane with node agents, the shared nginx.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/switchyard/switchyard/internal/connect"
	"github.com/switchyard/switchyard/journal"
	"github.com/switchyard/switchyard/lab"
	"github.com/switchyard/switchyard/lab/labtest"
	"github.com/switchyard/switchyard/marathon"
	"github.com/switchyard/switchyard/migrate"
	"github.com/switchyard/switchyard/migrate/edge"
	"github.com/switchyard/switchyard/traffic/loadgen"
)

var theLab *labtest.Lab

func TestMain(m *testing.M) {
	os.Exit(labtest.Main(m, labtest.Options{Kubernetes: true, Nginx: true, Nodes: 3}, &theLab))
}

// marathonApp is a demo app on the lab's Marathon (2 instances, HTTP health checks).
func marathonApp(id string) *marathon.App {
	def := fmt.Sprintf(`{"id": %q, "instances": 2, "cpus": 0.05, "mem": 32,
	  "container": {"type": "DOCKER", "docker": {"image": "switchyard/demo-app:1"}},
	  "portDefinitions": [{"port": 0, "protocol": "tcp", "name": "http"}],
	  "env": {"DEMO_VERSION": "marathon"},
	  "healthChecks": [{"protocol": "HTTP", "path": "/health", "portIndex": 0, "gracePeriodSeconds": 10,
	    "intervalSeconds": 1, "timeoutSeconds": 2, "maxConsecutiveFailures": 3}],
	  "taskKillGracePeriodSeconds": 3}`, id)
	var a marathon.App
	if err := json.Unmarshal([]byte(def), &a); err != nil {
		panic(err)
	}
	return &a
}

// kubeObjects is the same app for Kubernetes: a Deployment and a Service.
func kubeObjects(ns, name string, env map[string]string) string {
	var extra strings.Builder
	for k, v := range env {
		fmt.Fprintf(&extra, "\n            - {name: %s, value: %q}", k, v)
	}
	return fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata: {name: %[1]s}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: %[2]s, namespace: %[1]s}
spec:
  replicas: 2
  selector: {matchLabels: {app: %[2]s}}
  template:
    metadata: {labels: {app: %[2]s}}
    spec:
      terminationGracePeriodSeconds: 3
      containers:
        - name: demo
          image: switchyard/demo-app:1
          ports: [{name: http, containerPort: 8080}]
          env:
            - {name: PORT, value: "8080"}
            - {name: DEMO_VERSION, value: kubernetes}
            - name: POD_IP
              valueFrom: {fieldRef: {fieldPath: status.podIP}}%[3]s
          readinessProbe:
            httpGet: {path: /ready, port: http}
            periodSeconds: 1
          resources:
            requests: {cpu: 50m, memory: 32Mi}
---
apiVersion: v1
kind: Service
metadata: {name: %[2]s, namespace: %[1]s}
spec:
  selector: {app: %[2]s}
  ports: [{name: http, port: 80, targetPort: http}]
`, ns, name, extra.String())
}

type env struct {
	lab *edge.Edges
	j   *journal.Bolt
	x   *migrate.Executor
	out *strings.Builder
}

func setup(t *testing.T, pause time.Duration) *env {
	l := labtest.Need(t, theLab)
	el, err := connect.Migration(context.Background(), lab.ContextFor(l.Config))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(el.Close)
	el.OnError = func(err error) { t.Logf("follower: %v", err) }
	j, err := journal.Open(filepath.Join(t.TempDir(), "journal.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	out := &strings.Builder{}
	x := el.Executor(j)
	x.Drain, x.Progress, x.ActionTimeout = time.Second, &syncBuilder{b: out}, 2*time.Minute
	return &env{lab: el, j: j, x: x, out: out}
}

// deploy creates the Marathon app, waits until it is healthy and routes
// it through nginx (Marathon only).
func (e *env) deploy(t *testing.T, name string, kubeEnv map[string]string, plan migrate.Plan) edge.Target {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	id := "/mig/" + name
	if _, err := e.lab.Marathon.CreateApp(ctx, marathonApp(id)); err != nil {
		t.Fatal(err)
	}
	tgt := edge.Target{App: migrate.App{Name: name, MarathonID: id, Route: name, Plan: plan}, Namespace: "mig", Service: name, PathPrefix: "/" + name}
	objs, err := edge.DecodeObjects([]byte(kubeObjects("mig", name, kubeEnv)))
	if err != nil {
		t.Fatal(err)
	}
	tgt.Objects = objs
	if err := (edge.Marathon{Client: e.lab.Marathon}).Scale(ctx, tgt.App, 2); err != nil {
		t.Fatal(err)
	}
	f, err := e.lab.Add(ctx, tgt, e.j)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.SetShare(ctx, 0); err != nil {
		t.Fatal(err)
	}
	return tgt
}

type syncBuilder struct{ b *strings.Builder }

var outMu = make(chan struct{}, 1)

func (s *syncBuilder) Write(p []byte) (int, error) {
	outMu <- struct{}{}
	defer func() { <-outMu }()
	return s.b.Write(p)
}

func load(ctx context.Context, lbAddr, path string) <-chan loadgen.Result {
	ch := make(chan loadgen.Result, 1)
	go func() {
		ch <- loadgen.Run(ctx, loadgen.Config{Target: lbAddr, Path: path, Conns: 8, PostEvery: 3, Rate: 400})
	}()
	return ch
}

var plan = migrate.Plan{PausePerStep: 2 * time.Second, Soak: time.Second, MaxErrorRate: 0.01, MinRequests: 5}

// TestMigrateZeroFailed migrates a demo app from the lab's Marathon to its
// Kubernetes under steady keep-alive load (GET and POST, no retries) and
// requires zero failed requests.
func TestMigrateZeroFailed(t *testing.T) {
	e := setup(t, plan.PausePerStep)
	tgt := e.deploy(t, "web", nil, plan)
	ctx, stop := context.WithCancel(context.Background())
	res := load(ctx, theLab.Config.Nginx.Listen, "/web/")
	time.Sleep(2 * time.Second)
	t0 := time.Now()
	r := e.x.Migrate(context.Background(), tgt.App)
	t1 := time.Now()
	time.Sleep(2 * time.Second)
	stop()
	lg := <-res
	t.Logf("executor:\n%s", e.out.String())
	t.Logf("before:  %s", lg.Between(lg.Start, t0))
	t.Logf("during:  %s", lg.Between(t0, t1))
	t.Logf("after:   %s", lg.Between(t1, t1.Add(time.Hour)))
	t.Logf("total:   %s errors %v, by backend %v", lg, lg.Errors, lg.ByBackend)
	if r.Err != nil || r.State.Phase != migrate.Finalized {
		t.Fatalf("migration: %v (%s)", r.Err, r.State.Phase)
	}
	if lg.Failed != 0 || lg.Sent < 1000 {
		t.Fatalf("%d of %d requests failed: %v", lg.Failed, lg.Sent, lg.Errors)
	}
	if _, err := e.lab.Marathon.App(context.Background(), tgt.App.MarathonID); err == nil {
		t.Fatalf("the Marathon app %s still exists after finalize", tgt.App.MarathonID)
	}
}

// TestBadReleaseRollsBack: the Kubernetes version fails 30% of its
// requests (DEMO_FAIL_RATE). The 5% step's gate must trip, all traffic
// return to Marathon and the release be removed. At the client no request
// may fail in any other way than the bad release's own 500s during that
// first step (no transport error, nothing before or after).
func TestBadReleaseRollsBack(t *testing.T) {
	e := setup(t, plan.PausePerStep)
	tgt := e.deploy(t, "bad", map[string]string{"DEMO_FAIL_RATE": "0.3"}, plan)
	ctx, stop := context.WithCancel(context.Background())
	res := load(ctx, theLab.Config.Nginx.Listen, "/bad/")
	time.Sleep(2 * time.Second)
	t0 := time.Now()
	r := e.x.Migrate(context.Background(), tgt.App)
	t1 := time.Now()
	time.Sleep(2 * time.Second)
	stop()
	lg := <-res
	t.Logf("executor:\n%s", e.out.String())
	t.Logf("before:  %s", lg.Between(lg.Start, t0))
	t.Logf("during:  %s", lg.Between(t0, t1))
	t.Logf("after:   %s", lg.Between(t1, t1.Add(time.Hour)))
	if r.State.Phase != migrate.RolledBack || !strings.Contains(fmt.Sprint(r.Err), "gate maxErrorRate failed at step 5%") {
		t.Fatalf("want a rollback at the 5%% gate: %v (%s)", r.Err, r.State.Phase)
	}
	for what, n := range lg.Errors {
		if !strings.Contains(what, "status 500") {
			t.Errorf("%d requests failed at the client with %s", n, what)
		}
	}
	if s := lg.Between(t1, t1.Add(time.Hour)); s.Failed != 0 || s.Sent == 0 {
		t.Fatalf("after the rollback: %s", s)
	}
	if lg.Failed > lg.Sent/20 {
		t.Fatalf("%d of %d failed", lg.Failed, lg.Sent)
	}
	a, err := e.lab.Marathon.App(context.Background(), tgt.App.MarathonID)
	if err != nil || a.TasksHealthy == nil || *a.TasksHealthy != 2 {
		t.Fatalf("Marathon after rollback: %v %+v", err, a)
	}
	d, err := e.lab.Clientset.AppsV1().Deployments("mig").Get(context.Background(), "bad", metav1GetOptions)
	if err == nil {
		t.Fatalf("Kubernetes release still there: %s", d.Name)
	}
}

var metav1GetOptions = metav1.GetOptions{}
