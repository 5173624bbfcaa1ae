package edge

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"

	"github.com/switchyard/switchyard/deploy"
	"github.com/switchyard/switchyard/internal/kubeclient"
	"github.com/switchyard/switchyard/journal"
	"github.com/switchyard/switchyard/marathon"
	"github.com/switchyard/switchyard/migrate"
	"github.com/switchyard/switchyard/traffic"
	"github.com/switchyard/switchyard/traffic/follow"
)

// Target is one app to migrate: what the executor moves, the Helm release
// to install, and the Service whose endpoints serve it.
type Target struct {
	App migrate.App
	// Release is the app's Helm release (TargetFromSpec: the chart
	// converted from its Marathon definition, or its own chart). When nil,
	// Objects are packed into a chart (ChartFromObjects) released as the
	// app's name in Namespace.
	Release *deploy.Release
	// Objects are the app's Kubernetes objects (a Deployment and a Service).
	Objects []*unstructured.Unstructured
	// Namespace and Service name the Service whose EndpointSlices list the
	// app's pods; Port names its port ("" = first).
	Namespace, Service, Port string
	// Host and PathPrefix are the app's own route at the load balancer
	// (app.yaml); every other route that sends traffic to the app shifts
	// with it.
	Host, PathPrefix string
}

// Config is what the edges connect to: one context's platforms (package
// internal/connect builds them from a context, the lab's included).
type Config struct {
	// Marathon is the Marathon v2 API client.
	Marathon *marathon.Client
	// Kube is the Kubernetes cluster (its clients, and Helm's).
	Kube *kubeclient.Factory
	// LB is the load-balancer fleet: routes are pushed to every instance,
	// statistics read from every instance.
	LB *traffic.Fleet
	// SamplePeriod is how often the fleet's statistics are scraped
	// (default 1 s).
	SamplePeriod time.Duration
}

// Edges connects the executor to one context's platforms: Marathon,
// Kubernetes (each app a Helm release) and the load-balancer fleet (a
// follower per app keeps the app's routes, the sampler reads the fleet's
// statistics for the gates). Close stops what it started.
type Edges struct {
	Marathon   *marathon.Client
	Clientset  kubernetes.Interface
	Kubernetes *Helm
	Traffic    *Traffic
	LB         *traffic.Fleet
	// Pusher serializes the followers' pushes to LB (tests may wrap it).
	Pusher  follow.Pusher
	Sampler *traffic.Sampler
	// OnError receives follower, fleet and sampler errors (default: dropped).
	OnError func(error)

	ctx    context.Context
	cancel context.CancelFunc

	mu    sync.Mutex
	stops map[string]context.CancelFunc // per app: stops its follower and watches
}

// New starts the edges: the fleet's catch-up loop (an instance that missed
// a push or restarted with an older state gets the current one) and the
// statistics sampler run until Close.
func New(c Config) (*Edges, error) {
	switch {
	case c.Marathon == nil:
		return nil, errors.New("migrate: no Marathon client")
	case c.Kube == nil:
		return nil, errors.New("migrate: no Kubernetes cluster")
	case c.LB == nil:
		return nil, errors.New("migrate: no load-balancer instance")
	}
	kc, err := c.Kube.Clients()
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &Edges{Marathon: c.Marathon, Clientset: kc.Clientset, LB: c.LB, Traffic: &Traffic{},
		Kubernetes: &Helm{Releases: &deploy.Releases{Kube: c.Kube}}, ctx: ctx, cancel: cancel}
	e.Pusher = &follow.Serial{Pusher: c.LB}
	e.Sampler = &traffic.Sampler{Fleet: c.LB, Period: c.SamplePeriod, OnError: e.report}
	prevErr := c.LB.OnError
	c.LB.OnError = func(err error) {
		if prevErr != nil {
			prevErr(err)
		}
		e.report(err)
	}
	go func() { _ = c.LB.Run(ctx) }()
	go func() { _ = e.Sampler.Run(ctx) }()
	return e, nil
}

func (e *Edges) report(err error) {
	if e.OnError != nil && e.ctx.Err() == nil {
		e.OnError(err)
	}
}

// Executor returns an executor on these edges writing to j.
func (e *Edges) Executor(j journal.Journal) *migrate.Executor {
	return &migrate.Executor{Journal: j, Kubernetes: e.Kubernetes, Marathon: Marathon{Client: e.Marathon}, Traffic: e.Traffic,
		Stats: Stats{Sampler: e.Sampler, Routes: e.Traffic.Routes}}
}

// Owner is the route owner of a migration of app (docs/load-balancer.md).
func Owner(app string) string { return "migrate/" + app }

// Add starts following an app's backends on both platforms (Marathon event
// stream + resync, EndpointSlice informer) on every route that sends
// traffic to it: its own route (Target.PathPrefix) and every route of the
// load balancer's state with a backend of the app (its Marathon tasks, or
// its Service's pods once the Marathon app is gone), which the migration
// then holds (owner "migrate/APP") and shifts together. The follower starts
// from the share journaled for the app in j (nil: Marathon only), so a
// restarted executor never pushes a different split than the one it resumes.
func (e *Edges) Add(ctx context.Context, t Target, j journal.Journal) (*follow.Follower, error) {
	rel := t.Release
	if rel == nil {
		ch, err := ChartFromObjects(t.App.Name, t.Objects)
		if err != nil {
			return nil, fmt.Errorf("app %s: %w", t.App.Name, err)
		}
		rel = &deploy.Release{Name: t.App.Name, Namespace: t.Namespace, Chart: ch}
	}
	e.Kubernetes.Set(t.App.Name, *rel)
	state, err := e.LB.Get(ctx)
	if err != nil {
		return nil, fmt.Errorf("app %s: read the load balancer's routes: %w", t.App.Name, err)
	}
	svc := t.Namespace + "/" + t.Service
	routes := follow.RoutesMatching(state, func(b traffic.Backend) bool {
		return (b.Platform == traffic.Marathon && b.App == t.App.MarathonID) || (b.Platform == traffic.Kubernetes && b.App == svc)
	}, traffic.Route{Name: t.App.Route, Host: t.Host, PathPrefix: t.PathPrefix})
	for i := range routes {
		routes[i].Backends = nil
	}
	f := &follow.Follower{Routes: routes, Owner: Owner(t.App.Name), Client: e.Pusher,
		Marathon: follow.MarathonTasks{Client: e.Marathon, AppID: t.App.MarathonID}, Resync: 2 * time.Second}
	share, in := 0, true
	if j != nil {
		s, found, err := migrate.Latest(j, t.App.Name)
		if err != nil {
			return nil, err
		}
		if found {
			share, in = s.KubePercent, !s.MarathonDown
		}
	}
	f.Init(share, in)
	// An app added again (a rollback after its migration ended, in a
	// long-running executor) replaces its follower: the old one stops.
	ctx, stop := context.WithCancel(e.ctx)
	eps, err := follow.WatchEndpoints(ctx, e.Clientset, t.Namespace, t.Service, f)
	if err != nil {
		stop()
		return nil, err
	}
	eps.Port = t.Port
	f.Kubernetes = eps
	if err := follow.WatchMarathon(ctx, e.Marathon, t.App.MarathonID, f); err != nil {
		stop()
		return nil, err
	}
	e.mu.Lock()
	if e.stops == nil {
		e.stops = map[string]context.CancelFunc{}
	}
	if prev := e.stops[t.App.Name]; prev != nil {
		prev()
	}
	e.stops[t.App.Name] = stop
	e.mu.Unlock()
	e.Traffic.Add(t.App.Name, f)
	go f.Run(ctx, e.report)
	return f, nil
}

// Release hands an app's routes back when its migration ended: to nobody
// (owner ""), keeping their pools; a running `lb sync` adopts the routes it
// derives and keeps them in step from then on.
func (e *Edges) Release(ctx context.Context, app string) error {
	f, err := e.Traffic.Follower(app)
	if err != nil {
		return err
	}
	return f.Release(ctx, "")
}

// Close stops the followers, the fleet's catch-up loop and the sampler.
func (e *Edges) Close() { e.cancel() }
