package marathon

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// Deployments lists the running deployments (GET /v2/deployments).
func (c *Client) Deployments(ctx context.Context) ([]Deployment, error) {
	var out []Deployment
	if _, err := c.do(ctx, http.MethodGet, "/v2/deployments", nil, nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteDeployment cancels a running deployment (DELETE /v2/deployments/{id}).
// Without force Marathon rolls the change back with a new deployment, which is
// returned; with force it only stops the deployment and the result is nil.
func (c *Client) DeleteDeployment(ctx context.Context, id string, force bool) (*DeploymentResult, error) {
	p, err := objectPath("/v2/deployments", id)
	if err != nil {
		return nil, fmt.Errorf("delete deployment: %w", err)
	}
	rep, err := c.do(ctx, http.MethodDelete, p, forceQuery(force), nil, nil)
	if err != nil {
		return nil, err
	}
	if rep.status == http.StatusAccepted || len(rep.body) == 0 {
		return nil, nil
	}
	return deploymentFrom(rep)
}

// DeploymentFailedError says a deployment waited for ended in failure or was cancelled.
type DeploymentFailedError struct {
	// ID is the deployment's id.
	ID string
	// Reason is Marathon's reason, when the event carried one.
	Reason string
}

// Error names the deployment and says where to look.
func (e *DeploymentFailedError) Error() string {
	msg := fmt.Sprintf("deployment %s failed or was cancelled", e.ID)
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	return msg + "; see the app's lastTaskFailure (embed=app.lastTaskFailure) and /v2/queue"
}

// WaitForDeployment returns when the deployment with this id is no longer
// running: nil when it succeeded (or was already gone), a
// *DeploymentFailedError when Marathon reported it failed. It listens to the
// event stream for deployment_success/deployment_failed and also polls
// /v2/deployments every poll interval (default 1s), so it works when the event
// stream is not available (the stream never delays the polling).
func (c *Client) WaitForDeployment(ctx context.Context, id string, poll time.Duration) error {
	if id == "" {
		return fmt.Errorf("wait for deployment: empty deployment id")
	}
	if poll <= 0 {
		poll = time.Second
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The event stream only makes the wait quicker: it is opened in the
	// background so that a slow or unavailable stream never delays polling.
	// event_stream_attached is asked for too: Marathon sends it at once.
	events := make(chan Event)
	go func() {
		ch, err := c.Events(sctx, EventOptions{Types: []string{EventStreamAttached, EventDeploymentSuccess, EventDeploymentFailed}})
		if err != nil {
			return
		}
		for ev := range ch {
			select {
			case events <- ev:
			case <-sctx.Done():
				return
			}
		}
	}()
	ticker := time.NewTicker(poll)
	defer ticker.Stop()
	for {
		// Check the list first: the deployment may be over before we subscribed.
		deps, err := c.Deployments(ctx)
		if err != nil {
			return fmt.Errorf("wait for deployment %s: %w", id, err)
		}
		running := false
		for _, d := range deps {
			if d.ID == id {
				running = true
				break
			}
		}
		if !running {
			return nil
		}
	wait:
		for {
			select {
			case <-ctx.Done():
				return fmt.Errorf("wait for deployment %s: %w", id, ctx.Err())
			case ev := <-events:
				switch p := ev.Payload.(type) {
				case *DeploymentSuccessEvent:
					if p.ID == id {
						return nil
					}
				case *DeploymentFailedEvent:
					if p.ID == id {
						return &DeploymentFailedError{ID: id, Reason: p.Reason}
					}
				}
			case <-ticker.C:
				break wait
			}
		}
	}
}
