package dashboard_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/capacity"
	"github.com/switchyard/switchyard/journal"
	"github.com/switchyard/switchyard/migrate"
	"github.com/switchyard/switchyard/plan"
	"github.com/switchyard/switchyard/serve"
	"github.com/switchyard/switchyard/serve/dashboard"
)

const (
	operatorToken = "dash-operator-token-0123456789"
	viewerToken   = "dash-viewer-token-0123456789"
)

// xssApp is an app name that is markup: the page must show it as text.
const xssApp = `<img src=x onerror="window.pwned=1">`

// engine is the Engine of a serve.Server in these tests: it records what
// the API asked of it and runs nothing.
type engine struct {
	mu      sync.Mutex
	started [][]string
	sent    []string
}

func (e *engine) Start(apps []string, _ ...migrate.Event) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if slices.Contains(apps, "unknown") {
		return errors.New("app unknown: no app.yaml with that name")
	}
	e.started = append(e.started, apps)
	return nil
}

func (e *engine) Wave(context.Context, int) ([]string, error) { return []string{"shop"}, nil }

func (e *engine) Send(app string, ev migrate.Event) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sent = append(e.sent, app+" "+string(ev.Kind))
	return true
}

func (e *engine) calls() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return fmt.Sprint(e.started, e.sent)
}

// solo: this replica leads with its engine.
type solo struct{ e serve.Engine }

func (s solo) Engine() serve.Engine                         { return s.e }
func (s solo) Leader(context.Context) (string, bool, error) { return "http://self", true, nil }

// tokens writes a tokens file with an operator and a viewer.
func tokens(t testing.TB) serve.Authenticator {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokens.yaml")
	data := fmt.Sprintf("tokens:\n- name: alice\n  role: operator\n  token: %s\n- name: bob\n  role: viewer\n  token: %s\n", operatorToken, viewerToken)
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := serve.LoadTokens(path)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// openJournal is a real bbolt journal.
func openJournal(t testing.TB) *journal.Bolt {
	t.Helper()
	j, err := journal.Open(filepath.Join(t.TempDir(), "journal.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

// appendState journals st (to: the entry's phase, with its step; default
// st.Phase).
func appendState(t testing.TB, j journal.Journal, st migrate.State, to, reason string) {
	t.Helper()
	if to == "" {
		to = string(st.Phase)
	}
	data, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Append(context.Background(), &journal.Entry{App: st.App, From: "Pending", To: to, Event: "test",
		Reason: reason, Time: time.Now(), State: data}); err != nil {
		t.Fatal(err)
	}
}

// fixtureViews are a plan of two waves (one app named with markup), a
// capacity report with node-1's Mesos side over the alert threshold, a
// routes view that does not answer, and no traffic view.
func fixtureViews() map[string]serve.View {
	p := &plan.Plan{Version: plan.Version, OK: true, Waves: []plan.Wave{
		{Index: 1, Apps: []plan.AppPlan{{Name: "api", Instances: 2}, {Name: "web", Instances: 3}}},
		{Index: 2, Apps: []plan.AppPlan{{Name: "shop", Instances: 2, DependsOn: []string{"api"}}, {Name: xssApp, Instances: 1}}},
	}}
	c := capacity.Cluster{Nodes: []capacity.Node{
		{Name: "node-1", Total: capacity.Resources{CPUs: 4, Mem: 8192}, MesosAllocated: capacity.Resources{CPUs: 2.8, Mem: 3072}, MesosTasks: 5,
			KubernetesShare: capacity.Resources{CPUs: 0.9, Mem: 2048}, Allocatable: capacity.Resources{CPUs: 0.8, Mem: 1800},
			PodRequests: capacity.Resources{CPUs: 0.4, Mem: 512}, Pods: 3, Joined: true},
		{Name: "node-2", Total: capacity.Resources{CPUs: 4, Mem: 8192}, MesosAllocated: capacity.Resources{CPUs: 1, Mem: 2048}, MesosTasks: 2,
			KubernetesShare: capacity.Resources{CPUs: 1, Mem: 2048}, Allocatable: capacity.Resources{CPUs: 0.9, Mem: 1800},
			PodRequests: capacity.Resources{CPUs: 0.2, Mem: 256}, Pods: 1, Joined: true},
	}}
	return map[string]serve.View{
		"plan":     func(context.Context) (any, error) { return p, nil },
		"capacity": func(context.Context) (any, error) { return c.Report(), nil },
		"routes":   func(context.Context) (any, error) { return nil, errors.New("nginx admin API: connection refused") },
	}
}

// fixtureServer is serve's API with the dashboard on a real journal
// (web shifting at 50 %, cart paused at 25 %, api finalized); its event
// streams look for changes every eventPeriod.
func fixtureServer(t testing.TB, e serve.Engine, views map[string]serve.View, eventPeriod time.Duration) (*serve.Server, *journal.Bolt) {
	t.Helper()
	j := openJournal(t)
	appendState(t, j, migrate.State{App: "web", Phase: migrate.Shifting, KubePercent: 50,
		Last: migrate.Observation{Requests: 420, Errors: 1, ErrorRate: 1.0 / 420, P99: 8128571 * time.Nanosecond}}, "Shifting[50% applied]", "step 50%")
	appendState(t, j, migrate.State{App: "cart", Phase: migrate.Shifting, KubePercent: 25, Paused: true}, "", "operator: pause")
	appendState(t, j, migrate.State{App: "api", Phase: migrate.Finalized, KubePercent: 100}, "", "soaked")
	s, err := serve.New(serve.Options{Auth: tokens(t), Journal: j, Leadership: solo{e}, Views: views, Self: "http://self",
		Dashboard: dashboard.Handler(), EventPeriod: eventPeriod})
	if err != nil {
		t.Fatal(err)
	}
	return s, j
}
