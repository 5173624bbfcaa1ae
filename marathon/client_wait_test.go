package marathon

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestAppReady(t *testing.T) {
	n := func(v int) *int { return &v }
	hc := []HealthCheck{{}}
	dep := []AppDeploymentRef{{}}
	for _, tc := range []struct {
		name      string
		app       App
		instances int
		want      bool
	}{
		{"running, no health checks", App{TasksRunning: n(2)}, 2, true},
		{"more running than asked", App{TasksRunning: n(3)}, 2, true},
		{"one short", App{TasksRunning: n(1)}, 2, false},
		{"running but not healthy", App{TasksRunning: n(2), TasksHealthy: n(1), HealthChecks: hc}, 2, false},
		{"healthy", App{TasksRunning: n(2), TasksHealthy: n(2), HealthChecks: hc}, 2, true},
		{"deployment in progress", App{TasksRunning: n(2), Deployments: dep}, 2, false},
		{"scaled to zero", App{}, 0, true},
		{"a task still staged", App{TasksStaged: n(1)}, 0, false},
		{"zero while a deployment runs", App{Deployments: dep}, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := AppReady(&tc.app, tc.instances); got != tc.want {
				t.Fatalf("AppReady = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestWaitForApp: it asks for the counts, deployments, tasks and last task
// failure, returns once the app is ready, and says how far it got on
// timeout.
func TestWaitForApp(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := strings.Join(r.URL.Query()["embed"], ","); got != "app.counts,app.deployments,app.tasks,app.lastTaskFailure" {
			t.Errorf("embed %q", got)
		}
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/v2/apps/ok" && calls.Add(1) > 2 {
			_, _ = w.Write([]byte(`{"app": {"id": "/ok", "tasksRunning": 1, "tasks": [{"id": "t1", "host": "127.0.1.1", "ports": [31000]}]}}`))
			return
		}
		_, _ = w.Write([]byte(`{"app": {"id": "/ok", "tasksRunning": 0, "lastTaskFailure": {"message": "exit 1"}}}`))
	}))
	defer srv.Close()
	c, err := NewClient(Config{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	a, err := c.WaitForApp(context.Background(), "/ok", 1, time.Millisecond)
	if err != nil || len(a.Tasks) != 1 || a.Tasks[0].Ports[0] != 31000 {
		t.Fatalf("app %+v, err %v", a, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = c.WaitForApp(ctx, "/never", 1, time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "app /never: waiting for 1 ready instances (0/1 running, 0 healthy, 0 deployment(s); last task failure: exit 1)") {
		t.Fatalf("err %v", err)
	}
}
