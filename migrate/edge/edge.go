// Package edge holds the real implementations of the migration executor's
// interfaces: the shared nginx (through traffic/follow followers and the
// access log), the Marathon v2 API and Kubernetes (each app a Helm release,
// installed, upgraded and uninstalled with the Helm SDK: the chart converted
// from the app's Marathon definition by package deploy's converter, with the
// app.yaml's or the plan's requests and limits). Each method is idempotent.
package edge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/switchyard/switchyard/marathon"
	"github.com/switchyard/switchyard/migrate"
	"github.com/switchyard/switchyard/traffic"
	"github.com/switchyard/switchyard/traffic/follow"
)

// Traffic implements migrate.Traffic with one follower per app.
type Traffic struct {
	mu        sync.Mutex
	followers map[string]*follow.Follower
}

// Add registers the follower of an app's route.
func (t *Traffic) Add(app string, f *follow.Follower) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.followers == nil {
		t.followers = map[string]*follow.Follower{}
	}
	t.followers[app] = f
}

// Follower returns the app's follower.
func (t *Traffic) Follower(app string) (*follow.Follower, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.followers[app]
	if f == nil {
		return nil, fmt.Errorf("no traffic follower for app %s", app)
	}
	return f, nil
}

// SetKubePercent implements migrate.Traffic.
func (t *Traffic) SetKubePercent(ctx context.Context, app migrate.App, pct int) error {
	f, err := t.Follower(app.Name)
	if err != nil {
		return err
	}
	if pct > 0 {
		if err := f.WaitKubernetes(ctx); err != nil {
			return err
		}
	}
	return hold(f.SetKubePercent(ctx, pct))
}

// SetMarathon implements migrate.Traffic.
func (t *Traffic) SetMarathon(ctx context.Context, app migrate.App, in bool) error {
	f, err := t.Follower(app.Name)
	if err != nil {
		return err
	}
	return hold(f.SetMarathon(ctx, in))
}

// Routes returns the names of the routes the app's follower keeps (nil
// without a follower).
func (t *Traffic) Routes(app string) []string {
	f, err := t.Follower(app)
	if err != nil {
		return nil
	}
	names := make([]string, len(f.Routes))
	for i, r := range f.Routes {
		names[i] = r.Name
	}
	return names
}

// hold marks what a load-balancer fleet could not do yet for a reason
// outside the app (an instance that does not acknowledge a push, statistics
// missing an instance) as a hold: the migration waits, it does not roll back.
func hold(err error) error {
	if err != nil && (errors.Is(err, traffic.ErrNotAcknowledged) || errors.Is(err, traffic.ErrIncomplete)) {
		return fmt.Errorf("%w: %w", migrate.ErrHold, err)
	}
	return err
}

// Stats implements migrate.Stats from the load-balancer fleet's own
// statistics (/stats of every instance, summed): the gates are judged on
// what every instance saw, or not at all (a hold).
type Stats struct {
	Sampler *traffic.Sampler
	// Routes names the routes of an app (all the routes its follower
	// shifts); nil or empty: the app's own route.
	Routes func(app string) []string
}

// Observe implements migrate.Stats: the requests of the app's routes to
// platform between from and to, summed over every instance.
func (s Stats) Observe(ctx context.Context, app migrate.App, platform migrate.Platform, from, to time.Time) (migrate.Observation, error) {
	var routes []string
	if s.Routes != nil {
		routes = s.Routes(app.Name)
	}
	if len(routes) == 0 {
		routes = []string{app.Route}
	}
	st, err := s.Sampler.Window(ctx, from, to, routes, string(platform))
	if err != nil {
		return migrate.Observation{}, hold(fmt.Errorf("load-balancer statistics: %w", err))
	}
	return migrate.Observation{Requests: st.Requests, Errors: st.Errors5xx, ErrorRate: st.ErrorRate, P99: st.P99}, nil
}

// Marathon implements migrate.Marathon with the Marathon v2 API.
type Marathon struct {
	Client *marathon.Client
	// Poll is the period of readiness checks (default 250 ms).
	Poll time.Duration
}

// Instances implements migrate.Marathon.
func (m Marathon) Instances(ctx context.Context, app migrate.App) (int, error) {
	a, err := m.Client.App(ctx, app.MarathonID)
	if err != nil {
		return 0, err
	}
	if a.Instances == nil {
		return 1, nil // Marathon's default
	}
	return *a.Instances, nil
}

// Definition implements migrate.Marathon: the app as Marathon runs it,
// without the read-only status fields (version, tasks, counts, deployments),
// so it can be written back with PUT /v2/apps/{id}.
func (m Marathon) Definition(ctx context.Context, app migrate.App) (json.RawMessage, error) {
	a, err := m.Client.App(ctx, app.MarathonID)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", app.MarathonID, err)
	}
	a.Version, a.VersionInfo = nil, nil
	a.TasksStaged, a.TasksRunning, a.TasksHealthy, a.TasksUnhealthy = nil, nil, nil, nil
	a.Deployments, a.Tasks, a.LastTaskFailure, a.ReadinessCheckResults, a.AppTaskStats = nil, nil, nil, nil, nil
	data, err := json.Marshal(a)
	if err != nil {
		return nil, fmt.Errorf("encode the definition of %s: %w", app.MarathonID, err)
	}
	return data, nil
}

// Create implements migrate.Marathon: PUT /v2/apps/{id} with the
// definition and instances (creates the app, or updates it to that: running
// it again after a crash is harmless), then it waits like Scale.
func (m Marathon) Create(ctx context.Context, app migrate.App, def json.RawMessage, instances int) error {
	var a marathon.App
	if err := json.Unmarshal(def, &a); err != nil {
		return fmt.Errorf("the journaled definition of %s: %w", app.MarathonID, err)
	}
	if a.ID == "" {
		a.ID = app.MarathonID
	}
	a.Instances = &instances
	if _, err := m.Client.UpdateApp(ctx, &a, marathon.UpdateOptions{Force: true, Replace: true}); err != nil {
		return fmt.Errorf("create %s with %d instances: %w", a.ID, instances, err)
	}
	return m.wait(ctx, app, instances)
}

// Scale implements migrate.Marathon: it scales the app and waits until n
// tasks run (and are healthy when the app has health checks). Scaling an
// absent app to 0 is done (a scale is a PUT, which would create it).
func (m Marathon) Scale(ctx context.Context, app migrate.App, n int) error {
	if n == 0 {
		if _, err := m.Client.App(ctx, app.MarathonID); notFound(err) {
			return nil
		}
	}
	if _, err := m.Client.ScaleApp(ctx, app.MarathonID, n, true); err != nil {
		return fmt.Errorf("scale %s to %d: %w", app.MarathonID, n, err)
	}
	return m.wait(ctx, app, n)
}

// wait waits until n tasks of the app run (healthy when it has health
// checks) and no deployment is in progress; for 0, until none runs
// (marathon.Client.WaitForApp).
func (m Marathon) wait(ctx context.Context, app migrate.App, n int) error {
	poll := m.Poll
	if poll <= 0 {
		poll = 250 * time.Millisecond
	}
	_, err := m.Client.WaitForApp(ctx, app.MarathonID, n, poll)
	return err
}

// Delete implements migrate.Marathon (an absent app is not an error).
func (m Marathon) Delete(ctx context.Context, app migrate.App) error {
	_, err := m.Client.DeleteApp(ctx, app.MarathonID, true)
	if notFound(err) {
		return nil
	}
	return err
}

// notFound reports whether Marathon answered 404.
func notFound(err error) bool {
	var he *marathon.APIError
	return errors.As(err, &he) && he.StatusCode == http.StatusNotFound
}
