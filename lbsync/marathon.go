package lbsync

import (
	"context"
	"errors"
	"fmt"

	"github.com/switchyard/switchyard/marathon"
	"github.com/switchyard/switchyard/traffic/follow"
)

// MarathonSource lists Marathon's apps with their tasks and follows its
// event stream (the Marathon edge of the sync).
type MarathonSource struct {
	// Client is the Marathon API client.
	Client *marathon.Client
	// Resolver resolves task host names to IPv4 (nil: follow.DefaultResolver).
	Resolver *follow.Resolver
}

// watchedEvents are the events after which the routes may have changed:
// task states, health, app changes and deployments.
var watchedEvents = []string{
	marathon.EventStatusUpdate, marathon.EventHealthStatusChanged, marathon.EventInstanceHealthChanged,
	marathon.EventInstanceChanged, marathon.EventAPIPost, marathon.EventAppTerminated,
	marathon.EventDeploymentSuccess, marathon.EventDeploymentFailed, marathon.EventDeploymentStepSuccess,
	marathon.EventDeploymentInfo, marathon.EventGroupChangeSuccess,
}

// List returns every app with its tasks (GET /v2/apps?embed=apps.tasks).
// A task whose host does not resolve is not ready (the others are listed).
func (m *MarathonSource) List(ctx context.Context) ([]MarathonApp, error) {
	apps, err := m.Client.Apps(ctx, marathon.AppsOptions{Embed: []string{marathon.EmbedAppsTasks}})
	if err != nil {
		return nil, fmt.Errorf("list Marathon apps at %s: %w", m.Client.URL(), err)
	}
	out := make([]MarathonApp, 0, len(apps))
	for _, a := range apps {
		if a == nil {
			continue
		}
		ma := MarathonApp{ID: marathonID(a.ID), Labels: a.Labels, Ports: appPorts(a)}
		checks := len(a.HealthChecks) > 0
		for _, t := range a.Tasks {
			ready := t.State != nil && *t.State == marathon.TaskRunning && (!checks || healthy(t.HealthCheckResults))
			task := Task{ID: t.ID, Ports: t.Ports, Ready: ready}
			if ready {
				host := ""
				if t.Host != nil {
					host = *t.Host
				}
				ip, err := m.Resolver.IPv4(ctx, host)
				if err != nil {
					task.Ready = false
				} else {
					task.Host = ip
				}
			}
			ma.Tasks = append(ma.Tasks, task)
		}
		out = append(out, ma)
	}
	return out, nil
}

func healthy(rs []marathon.AppHealthResult) bool {
	if len(rs) == 0 {
		return false
	}
	for _, r := range rs {
		if r.Alive == nil || !*r.Alive {
			return false
		}
	}
	return true
}

// appPorts names the app's ports by index: portDefinitions, else the
// container's port mappings.
func appPorts(a *marathon.App) []Port {
	var out []Port
	str := func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	}
	num := func(n *int) int {
		if n == nil {
			return 0
		}
		return *n
	}
	switch {
	case len(a.PortDefinitions) > 0:
		for _, p := range a.PortDefinitions {
			out = append(out, Port{Name: str(p.Name), Number: num(p.Port)})
		}
	case a.Container != nil && len(a.Container.PortMappings) > 0:
		for _, p := range a.Container.PortMappings {
			out = append(out, Port{Name: str(p.Name), Number: num(p.ContainerPort)})
		}
	case a.Container != nil && a.Container.Docker != nil:
		for _, p := range a.Container.Docker.PortMappings {
			out = append(out, Port{Name: str(p.Name), Number: num(p.ContainerPort)})
		}
	default:
		for _, p := range a.Ports {
			out = append(out, Port{Number: p})
		}
	}
	return out
}

// Watch subscribes to Marathon's event stream and calls kick after every
// event that may change a route (and after the stream was re-established,
// since events may have been missed). It returns once subscribed; the
// stream ends with ctx.
func (m *MarathonSource) Watch(ctx context.Context, kick func(), onErr func(error)) error {
	ch, err := m.Client.Events(ctx, marathon.EventOptions{Types: watchedEvents, OnError: onErr})
	if errors.Is(err, context.Canceled) {
		return err
	}
	if err != nil {
		return fmt.Errorf("Marathon event stream at %s: %w", m.Client.URL(), err)
	}
	go func() {
		for range ch {
			kick()
		}
	}()
	return nil
}
