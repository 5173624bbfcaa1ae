package deploy

import (
	"context"
	"fmt"

	"github.com/switchyard/switchyard/appspec"
	"github.com/switchyard/switchyard/traffic"
)

// routed finishes a deploy: with the deployed app's backends (or the
// error that reading them gave), it registers the app's route and returns
// the result.
func (d *Deployer) routed(ctx context.Context, s *appspec.Spec, r *Result, backends []traffic.Backend, err error) (*Result, error) {
	if err != nil {
		return nil, err
	}
	r.Backends = backends
	if err := d.registerRoute(ctx, s, r); err != nil {
		return nil, err
	}
	return r, nil
}

// registerRoute points the app's public route at the shared nginx to its
// ready backends on the platform that runs it (replacing the route's
// previous backends). Without a traffic client or a route it does nothing.
func (d *Deployer) registerRoute(ctx context.Context, s *appspec.Spec, r *Result) error {
	if d.o.Traffic == nil {
		if s.Route != nil {
			d.printf("%s: route %s not registered: no load balancer admin API (pass --lb-admin or set SWITCHYARD_LB_ADMIN)\n", s.Name, s.RoutePath())
		}
		return nil
	}
	if len(r.Backends) == 0 {
		return fmt.Errorf("no ready backend to route %s to", s.RoutePath())
	}
	host := ""
	if s.Route != nil {
		host = s.Route.Host
	}
	route := traffic.Route{Name: s.Name, Host: host, PathPrefix: s.RoutePath(), Backends: r.Backends}
	st, err := d.o.Traffic.SetRoute(ctx, route)
	if err != nil {
		return fmt.Errorf("the app runs, but registering its route %s at the load balancer failed: %w", s.RoutePath(), err)
	}
	r.Route = s.Name
	where := s.RoutePath()
	if host != "" {
		where = host + where
	}
	d.printf("%s: routed %s to %d %s backend(s) at the load balancer (routing state version %d)\n", s.Name, where, len(r.Backends), r.Platform, st.Version)
	return nil
}
