package marathon

import (
	"context"
	"fmt"
	"time"
)

// AppReady reports whether an app (read with its counts and deployments)
// has reached instances: no deployment of it in progress and that many
// tasks running, healthy when it has health checks; for 0 instances, no
// task running or staged.
func AppReady(a *App, instances int) bool {
	running, staged, healthy := derefInt(a.TasksRunning), derefInt(a.TasksStaged), derefInt(a.TasksHealthy)
	if instances == 0 {
		return running == 0 && staged == 0
	}
	ready := running
	if len(a.HealthChecks) > 0 {
		ready = healthy
	}
	return ready >= instances && len(a.Deployments) == 0
}

// appProgress says how far an app got, for messages.
func appProgress(a *App, instances int) string {
	s := fmt.Sprintf("%d/%d running, %d healthy, %d deployment(s)", derefInt(a.TasksRunning), instances, derefInt(a.TasksHealthy), len(a.Deployments))
	if f := a.LastTaskFailure; f != nil && f.Message != nil && *f.Message != "" {
		s += "; last task failure: " + *f.Message
	}
	return s
}

func derefInt(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

// WaitForApp polls the app every poll (default 1 s) until it has reached
// instances (AppReady) and returns it as last read, with its tasks and last
// task failure embedded. When ctx ends first, the error says how far the
// app got (task counts, deployments, its last task failure).
func (c *Client) WaitForApp(ctx context.Context, id string, instances int, poll time.Duration) (*App, error) {
	if poll <= 0 {
		poll = time.Second
	}
	var last string
	for {
		a, err := c.App(ctx, id, EmbedAppCounts, EmbedAppDeployments, EmbedAppTasks, EmbedAppLastTaskFailure)
		switch {
		case err != nil:
			if ctx.Err() == nil { // keep what the app got to, not the cut request
				last = err.Error()
			}
		case AppReady(a, instances):
			return a, nil
		default:
			last = appProgress(a, instances)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("app %s: waiting for %d ready instances (%s): %w", id, instances, last, ctx.Err())
		case <-time.After(poll):
		}
	}
}
