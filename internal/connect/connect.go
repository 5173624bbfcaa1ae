// Package connect builds the clients of one context (package config): the
// Marathon client, the Kubernetes clients and the load-balancer fleet. It is
// the one place commands and tests turn a context into connections, so the
// lab (one context among others) is reached through the same code as a
// production cluster. Errors name the context, the field and what to do.
package connect

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/internal/kubeclient"
	"github.com/switchyard/switchyard/lb"
	"github.com/switchyard/switchyard/marathon"
	"github.com/switchyard/switchyard/mesos"
	"github.com/switchyard/switchyard/migrate/edge"
	"github.com/switchyard/switchyard/traffic"
)

// Marathon returns the context's Marathon client (a DC/OS service-account
// login happens here, bounded by ctx).
func Marathon(ctx context.Context, c config.Context) (*marathon.Client, error) {
	if c.Marathon.URL == "" {
		return nil, fmt.Errorf("%s: marathon.url is not set: `switchyard config set-context %s --marathon-url URL` (or MARATHON_URL)", label(c), nameOr(c))
	}
	mc, err := c.MarathonConfigContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: marathon: %w", label(c), err)
	}
	cl, err := marathon.NewClient(mc)
	if err != nil {
		return nil, fmt.Errorf("%s: marathon: %w", label(c), err)
	}
	return cl, nil
}

// Mesos returns the context's Mesos master reader (nil when mesos.url is
// not set).
func Mesos(c config.Context) (*mesos.Client, error) {
	u := c.MesosURL()
	if u == "" {
		return nil, nil
	}
	return mesos.NewClient(u), nil
}

// Kube returns the client factory of the context's cluster: its
// kubeconfig, kubeconfig context and namespace.
func Kube(c config.Context) *kubeclient.Factory {
	return &kubeclient.Factory{Kubeconfig: c.KubeconfigPath(), Context: c.KubeContext(), Namespace: c.Namespace()}
}

// Kubernetes returns the clients of the context's cluster (Kube); qps and
// burst raise client-go's rate limits.
func Kubernetes(c config.Context, qps float32, burst int) (*kubeclient.Clients, error) {
	f := Kube(c)
	f.QPS, f.Burst = qps, burst
	return clients(c, f)
}

// clients builds f's clients, naming the context and the fix on failure.
func clients(c config.Context, f *kubeclient.Factory) (*kubeclient.Clients, error) {
	kc, err := f.Clients()
	if err != nil {
		return nil, fmt.Errorf("%s: kubernetes: %w (set kubernetes.kubeconfig: `switchyard config set-context %s --kubeconfig FILE`, or KUBECONFIG)", label(c), err, nameOr(c))
	}
	return kc, nil
}

// ErrNoLoadBalancer means the context names no load-balancer instance.
var ErrNoLoadBalancer = errors.New("no load-balancer instance")

// Fleet returns the context's load-balancer instances as one fleet. Each
// instance's token file must exist and hold a token: a missing one is
// reported now, naming the context, the instance and the fix, before
// anything is changed anywhere.
func Fleet(c config.Context) (*traffic.Fleet, error) {
	ins := c.LBInstances()
	if len(ins) == 0 {
		return nil, fmt.Errorf("%s: %w: add one with `switchyard config set-context %s --lb-instance NAME=ADMIN_URL,tokenFile=FILE` (or --lb-admin URL --lb-token-file FILE, or SWITCHYARD_LB_ADMIN and SWITCHYARD_LB_TOKEN_FILE)", label(c), ErrNoLoadBalancer, nameOr(c))
	}
	cidrs, err := c.LoadBalancer.BackendPrefixes()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label(c), err)
	}
	var clients []*traffic.Client
	var errs []error
	for _, in := range ins {
		if in.TokenFile == "" {
			errs = append(errs, fmt.Errorf("%s: load-balancer instance %s (%s) has no tokenFile: the admin API refuses requests without its token; `switchyard config set-context %s --lb-instance %s=%s,tokenFile=FILE`", label(c), in.Name, in.AdminURL, nameOr(c), in.Name, in.AdminURL))
			continue
		}
		if _, err := lb.ReadToken(in.TokenFile); err != nil {
			errs = append(errs, fmt.Errorf("%s: load-balancer instance %s: token file: %w (copy the instance's --admin-token-file there, readable by you only)", label(c), in.Name, err))
			continue
		}
		clients = append(clients, &traffic.Client{Name: in.Name, AdminURL: strings.TrimSuffix(in.AdminURL, "/"), TokenFile: in.TokenFile, CAFile: in.CAFile})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return traffic.NewFleet(cidrs, clients...), nil
}

func nameOr(c config.Context) string {
	if c.Name == "" {
		return "NAME"
	}
	return c.Name
}

// Migration connects the migration executor's edges to the context's
// platforms: its Marathon, its Kubernetes cluster and its load-balancer
// fleet (the fleet's catch-up loop and statistics sampler start; Close the
// edges to stop them).
func Migration(ctx context.Context, c config.Context) (*edge.Edges, error) {
	mc, err := Marathon(ctx, c)
	if err != nil {
		return nil, err
	}
	kf := Kube(c)
	kf.QPS, kf.Burst = 100, 200
	if _, err := clients(c, kf); err != nil {
		return nil, err
	}
	fleet, err := Fleet(c)
	if err != nil {
		return nil, err
	}
	e, err := edge.New(edge.Config{Marathon: mc, Kube: kf, LB: fleet})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label(c), err)
	}
	return e, nil
}

// label names the context in messages ("context prod", or "no context"
// when the settings came from flags and the environment alone).
func label(c config.Context) string {
	if c.Name == "" {
		return "no context (flags and environment only)"
	}
	return "context " + c.Name
}
