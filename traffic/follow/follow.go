// Package follow keeps an app's route at the shared nginx in step with the
// app's ready backends on both platforms: Marathon tasks (event stream plus
// periodic resync) and Kubernetes pod endpoints (an EndpointSlice informer,
// ready endpoints only). The route holds one pool of both platforms'
// backends, weighted by traffic.SplitWeights for the share Kubernetes
// should get; only ready backends are in it. Changes are pushed through the
// admin API (never an nginx reload). It does not decide shares: the
// migration executor does (SetShare, SetMarathon).
package follow

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/switchyard/switchyard/marathon"
	"github.com/switchyard/switchyard/traffic"
)

// Source lists one platform's ready backends of an app.
type Source interface {
	Ready(ctx context.Context) ([]traffic.Backend, error)
}

// Pusher is the part of traffic.Client the follower needs.
type Pusher interface {
	Update(ctx context.Context, change func(traffic.State) (traffic.State, error)) (traffic.State, error)
}

// Serial makes the followers of one process push one at a time: every
// Update reads nginx's state and pushes the next version, so concurrent
// writers conflict and retry; serialized, the followers of a wave of apps
// never conflict with each other.
type Serial struct {
	Pusher Pusher
	mu     sync.Mutex
}

// Update implements Pusher.
func (s *Serial) Update(ctx context.Context, change func(traffic.State) (traffic.State, error)) (traffic.State, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Pusher.Update(ctx, change)
}

// Follower keeps one route's pool equal to the ready backends of both
// platforms, split by the current share.
type Follower struct {
	// Route is the route's name, host and path prefix (its backends are
	// managed by the follower).
	Route traffic.Route
	// Client pushes to nginx.
	Client Pusher
	// Marathon and Kubernetes list the ready backends (Kubernetes may be
	// nil before the app is installed).
	Marathon, Kubernetes Source
	// Resync is the period of a full re-read (default 5 s).
	Resync time.Duration

	mu         sync.Mutex
	share      int
	marathonIn bool
	init       bool
	kick       chan struct{}
	last       []traffic.Backend
}

func (f *Follower) setup() {
	if !f.init {
		f.init, f.marathonIn = true, true
		f.kick = make(chan struct{}, 1)
	}
}

// Init sets the starting share and Marathon's membership without pushing
// (e.g. from a journaled migration, before Run).
func (f *Follower) Init(share int, marathonIn bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.setup()
	f.share, f.marathonIn = share, marathonIn
}

// Kick asks Run for a sync soon (a platform reported a change).
func (f *Follower) Kick() {
	f.mu.Lock()
	f.setup()
	k := f.kick
	f.mu.Unlock()
	select {
	case k <- struct{}{}:
	default:
	}
}

// SetShare gives Kubernetes pct % of the route's requests and pushes it now.
func (f *Follower) SetShare(ctx context.Context, pct int) error {
	f.mu.Lock()
	f.setup()
	old := f.share
	f.share = pct
	f.mu.Unlock()
	if err := f.Sync(ctx); err != nil {
		f.mu.Lock()
		f.share = old
		f.mu.Unlock()
		return err
	}
	return nil
}

// SetMarathon puts Marathon's ready backends in the pool or takes them out
// (they then get no new request), and pushes it now.
func (f *Follower) SetMarathon(ctx context.Context, in bool) error {
	f.mu.Lock()
	f.setup()
	old := f.marathonIn
	f.marathonIn = in
	f.mu.Unlock()
	if err := f.Sync(ctx); err != nil {
		f.mu.Lock()
		f.marathonIn = old
		f.mu.Unlock()
		return err
	}
	return nil
}

// WaitKubernetes waits until the Kubernetes source lists a ready backend
// (a Deployment can report its replicas available a moment before its
// EndpointSlices say so).
func (f *Follower) WaitKubernetes(ctx context.Context) error {
	for {
		if f.Kubernetes != nil {
			bs, err := f.Kubernetes.Ready(ctx)
			if err == nil && len(bs) > 0 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("route %s: no ready Kubernetes endpoint: %w", f.Route.Name, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Share returns the current Kubernetes share and whether Marathon is in the pool.
func (f *Follower) Share() (int, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.setup()
	return f.share, f.marathonIn
}

// Pool computes the route's pool from the sources (no I/O besides them).
func (f *Follower) Pool(ctx context.Context) ([]traffic.Backend, error) {
	share, in := f.Share()
	var mb, kb []traffic.Backend
	var err error
	if in && f.Marathon != nil {
		if mb, err = f.Marathon.Ready(ctx); err != nil {
			return nil, fmt.Errorf("route %s: marathon backends: %w", f.Route.Name, err)
		}
	}
	if f.Kubernetes != nil {
		if kb, err = f.Kubernetes.Ready(ctx); err != nil {
			return nil, fmt.Errorf("route %s: kubernetes backends: %w", f.Route.Name, err)
		}
	}
	if share == 0 {
		kb = nil // a platform with no share stays out of the pool
	}
	if share == 100 {
		mb = nil
	}
	pool, err := traffic.SplitWeights(mb, kb, share)
	if err != nil {
		return nil, fmt.Errorf("route %s: %w", f.Route.Name, err)
	}
	return pool, nil
}

// Sync reads both platforms and pushes the route's pool when it changed.
func (f *Follower) Sync(ctx context.Context) error {
	pool, err := f.Pool(ctx)
	if err != nil {
		return err
	}
	f.mu.Lock()
	same := f.last != nil && slices.Equal(f.last, pool)
	f.mu.Unlock()
	if same {
		return nil
	}
	r := f.Route
	r.Backends = pool
	if _, err := f.Client.Update(ctx, func(s traffic.State) (traffic.State, error) { return s.WithRoute(r), nil }); err != nil {
		return fmt.Errorf("route %s: push to nginx: %w", f.Route.Name, err)
	}
	f.mu.Lock()
	f.last = pool
	f.mu.Unlock()
	return nil
}

// Run syncs on every Kick and every Resync period until ctx ends; errors
// go to onErr (may be nil) and the next sync tries again.
func (f *Follower) Run(ctx context.Context, onErr func(error)) {
	f.mu.Lock()
	f.setup()
	kick := f.kick
	f.mu.Unlock()
	every := f.Resync
	if every <= 0 {
		every = 5 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-kick:
		case <-t.C:
			f.mu.Lock()
			f.last = nil // a resync pushes even when nothing seems changed
			f.mu.Unlock()
		}
		if err := f.Sync(ctx); err != nil && onErr != nil && ctx.Err() == nil {
			onErr(err)
		}
	}
}

// MarathonTasks lists a Marathon app's ready tasks: running, and healthy
// when the app has health checks.
type MarathonTasks struct {
	// Client is the Marathon API client; AppID the app's id ("/prod/web").
	Client *marathon.Client
	AppID  string
	// PortIndex selects the task port (default 0).
	PortIndex int
}

// Ready implements Source.
func (m MarathonTasks) Ready(ctx context.Context) ([]traffic.Backend, error) {
	app, err := m.Client.App(ctx, m.AppID, "app.tasks")
	if err != nil {
		return nil, err
	}
	tasks, err := m.Client.AppTasks(ctx, m.AppID)
	if err != nil {
		return nil, err
	}
	checks := len(app.HealthChecks) > 0
	var out []traffic.Backend
	for _, t := range tasks {
		if t.State != "TASK_RUNNING" || len(t.Ports) <= m.PortIndex || (checks && !t.Healthy()) {
			continue
		}
		ip, err := netip.ParseAddr(t.Host)
		if err != nil || !ip.IsLoopback() {
			continue // the lab only sends traffic to loopback task hosts
		}
		out = append(out, traffic.Backend{Address: net.JoinHostPort(t.Host, strconv.Itoa(t.Ports[m.PortIndex])), Weight: 1,
			Platform: traffic.Marathon, App: m.AppID, ID: t.ID})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Address < out[j].Address })
	return out, nil
}

// WatchMarathon kicks f on every task status or health change of the app
// (Marathon's event stream) until ctx ends.
func WatchMarathon(ctx context.Context, c *marathon.Client, appID string, f *Follower) error {
	ch, err := c.Events(ctx, marathon.EventOptions{Types: []string{"status_update_event", "health_status_changed_event", "instance_health_changed_event"}})
	if err != nil {
		return fmt.Errorf("marathon events for %s: %w", appID, err)
	}
	go func() {
		for ev := range ch {
			if su, ok := ev.Payload.(*marathon.StatusUpdateEvent); ok && su.AppID != appID {
				continue
			}
			f.Kick()
		}
	}()
	return nil
}

// Endpoints lists a Service's ready endpoints from an EndpointSlice
// informer (only endpoints whose ready condition is true).
type Endpoints struct {
	// Namespace and Service name the Service.
	Namespace, Service string
	// Port names the Service port ("" = the first).
	Port string
	// App labels the backends ("namespace/service").
	App    string
	lister cache.Indexer
}

// WatchEndpoints starts an EndpointSlice informer for the Service and kicks
// f on every change; it returns once the cache is synced.
func WatchEndpoints(ctx context.Context, cs kubernetes.Interface, ns, svc string, f *Follower) (*Endpoints, error) {
	fac := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(ns),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.LabelSelector = labels.Set{discoveryv1.LabelServiceName: svc}.String()
		}))
	inf := fac.Discovery().V1().EndpointSlices().Informer()
	kick := func(any) { f.Kick() }
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: kick, UpdateFunc: func(_, n any) { f.Kick() }, DeleteFunc: kick}); err != nil {
		return nil, err
	}
	fac.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return nil, fmt.Errorf("endpointslices of %s/%s: cache not synced: %w", ns, svc, ctx.Err())
	}
	return &Endpoints{Namespace: ns, Service: svc, lister: inf.GetIndexer(), App: ns + "/" + svc}, nil
}

// Ready implements Source.
func (e *Endpoints) Ready(ctx context.Context) ([]traffic.Backend, error) {
	var out []traffic.Backend
	seen := map[string]bool{}
	for _, o := range e.lister.List() {
		s, ok := o.(*discoveryv1.EndpointSlice)
		if !ok {
			continue
		}
		var port int32
		for _, p := range s.Ports {
			if p.Port != nil && (e.Port == "" || (p.Name != nil && *p.Name == e.Port)) {
				port = *p.Port
				break
			}
		}
		if port == 0 {
			continue
		}
		for _, ep := range s.Endpoints {
			if ep.Conditions.Ready == nil || !*ep.Conditions.Ready || len(ep.Addresses) == 0 {
				continue
			}
			addr := net.JoinHostPort(ep.Addresses[0], strconv.Itoa(int(port)))
			if seen[addr] {
				continue
			}
			seen[addr] = true
			id := ""
			if ep.TargetRef != nil {
				id = ep.TargetRef.Name
			}
			out = append(out, traffic.Backend{Address: addr, Weight: 1, Platform: traffic.Kubernetes, App: e.App, ID: id})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Address < out[j].Address })
	return out, nil
}
