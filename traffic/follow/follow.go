// Package follow keeps the routes of one app at the shared nginx in step
// with the app's ready backends on both platforms: Marathon tasks (event
// stream plus periodic resync; task hosts resolved to IPv4) and Kubernetes
// pod endpoints (an EndpointSlice informer, ready endpoints only). Every
// route that sends traffic to the app (RoutesFor finds them) holds the same
// pool of both platforms' backends, weighted by traffic.SplitWeights for the
// percentage of requests Kubernetes should get, and is pushed in one state version with the
// follower's Owner ("migrate/APP"); Release hands the routes to another
// owner ("sync") when the migration ends. Changes are pushed through the
// admin API (never an nginx reload). It does not decide percentages: the
// migration executor does (SetKubePercent, SetMarathon).
package follow

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
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

// Pusher is the part of traffic.Fleet the follower needs.
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

// Follower keeps every route that sends traffic to one app (its app.yaml
// route, the lab's /demo/... route, a marathon-lb route...) equal to the
// ready backends of both platforms, split by the current Kubernetes percentage. All its
// routes get the same pool in the same state version, so traffic shifts on
// every route together. Syncs are serialized: a percentage or membership change
// and Run's periodic syncs never interleave (a sync computes its pool and
// pushes it under one lock, so a stale pool is never pushed after a newer one).
type Follower struct {
	// Routes are the routes' names, hosts and path prefixes (their
	// backends and owner are managed by the follower).
	Routes []traffic.Route
	// Owner is written on the routes while the follower keeps them (e.g.
	// "migrate/web"); Release hands them to another owner.
	Owner string
	// Client pushes to nginx.
	Client Pusher
	// Marathon and Kubernetes list the ready backends (Kubernetes may be
	// nil before the app is installed).
	Marathon, Kubernetes Source
	// Resync is the period of a full re-read (default 5 s).
	Resync time.Duration

	syncMu sync.Mutex // held across computing and pushing a pool

	mu          sync.Mutex // guards the fields below
	kubePercent int
	marathonIn  bool
	init        bool
	released    bool
	kick        chan struct{}
	last        []traffic.Backend
}

func (f *Follower) setup() {
	if !f.init {
		f.init, f.marathonIn = true, true
		f.kick = make(chan struct{}, 1)
	}
}

// names lists the follower's route names for messages.
func (f *Follower) names() string {
	var n []string
	for _, r := range f.Routes {
		n = append(n, r.Name)
	}
	if len(n) == 1 {
		return "route " + n[0]
	}
	return "routes " + strings.Join(n, ", ")
}

// Init sets the starting Kubernetes percentage and Marathon's membership without pushing
// (e.g. from a journaled migration, before Run).
func (f *Follower) Init(kubePercent int, marathonIn bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.setup()
	f.kubePercent, f.marathonIn = kubePercent, marathonIn
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

// SetKubePercent gives Kubernetes pct % of the routes' requests and pushes it
// now. When the push fails the previous percentage is kept.
func (f *Follower) SetKubePercent(ctx context.Context, pct int) error {
	return f.change(ctx, func() func() {
		old := f.kubePercent
		f.kubePercent = pct
		return func() { f.kubePercent = old }
	})
}

// SetMarathon puts Marathon's ready backends in the pool or takes them out
// (they then get no new request), and pushes it now. When the push fails
// the previous membership is kept.
func (f *Follower) SetMarathon(ctx context.Context, in bool) error {
	return f.change(ctx, func() func() {
		old := f.marathonIn
		f.marathonIn = in
		return func() { f.marathonIn = old }
	})
}

// change applies set (under mu; it returns the undo) and syncs, all while
// holding syncMu, so no other sync runs between the change and its push.
// A push that some load-balancer instance did not acknowledge yet
// (traffic.ErrNotAcknowledged) is kept: the reachable instances hold it and
// the fleet brings the others to it, so going back would split the fleet.
func (f *Follower) change(ctx context.Context, set func() (undo func())) error {
	f.syncMu.Lock()
	defer f.syncMu.Unlock()
	f.mu.Lock()
	f.setup()
	undo := set()
	f.mu.Unlock()
	err := f.syncLocked(ctx, true)
	if err != nil && !errors.Is(err, traffic.ErrNotAcknowledged) {
		f.mu.Lock()
		undo()
		f.mu.Unlock()
	}
	return err
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
			return fmt.Errorf("%s: no ready Kubernetes endpoint: %w", f.names(), ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// KubePercent returns the current Kubernetes percentage and whether Marathon is in the pool.
func (f *Follower) KubePercent() (int, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.setup()
	return f.kubePercent, f.marathonIn
}

// Pool computes the routes' pool from the sources (no I/O besides them).
func (f *Follower) Pool(ctx context.Context) ([]traffic.Backend, error) {
	pct, in := f.KubePercent()
	var mb, kb []traffic.Backend
	var err error
	if in && f.Marathon != nil {
		if mb, err = f.Marathon.Ready(ctx); err != nil {
			return nil, fmt.Errorf("%s: marathon backends: %w", f.names(), err)
		}
	}
	if f.Kubernetes != nil {
		if kb, err = f.Kubernetes.Ready(ctx); err != nil {
			return nil, fmt.Errorf("%s: kubernetes backends: %w", f.names(), err)
		}
	}
	if pct == 0 {
		kb = nil // a platform with 0 % stays out of the pool
	}
	if pct == 100 {
		mb = nil
	}
	pool, err := traffic.SplitWeights(mb, kb, pct)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.names(), err)
	}
	return pool, nil
}

// Sync reads both platforms and pushes the routes' pool when it changed.
// Syncs of one follower run one at a time.
func (f *Follower) Sync(ctx context.Context) error {
	f.syncMu.Lock()
	defer f.syncMu.Unlock()
	return f.syncLocked(ctx, false)
}

// syncLocked computes the pool and pushes it to every route (syncMu held);
// force pushes even when the pool looks unchanged.
func (f *Follower) syncLocked(ctx context.Context, force bool) error {
	f.mu.Lock()
	released := f.released
	f.mu.Unlock()
	if released {
		return fmt.Errorf("%s: released by %s", f.names(), f.ownerName())
	}
	pool, err := f.Pool(ctx)
	if err != nil {
		return err
	}
	f.mu.Lock()
	same := !force && f.last != nil && slices.Equal(f.last, pool)
	f.mu.Unlock()
	if same {
		return nil
	}
	routes := make([]traffic.Route, len(f.Routes))
	for i, r := range f.Routes {
		r.Backends, r.Owner = pool, f.Owner
		routes[i] = r
	}
	if _, err := f.Client.Update(ctx, func(s traffic.State) (traffic.State, error) {
		for _, r := range routes {
			s = s.WithRoute(r)
		}
		return s, nil
	}); err != nil {
		return fmt.Errorf("%s: push to nginx: %w", f.names(), err)
	}
	f.mu.Lock()
	f.last = pool
	f.mu.Unlock()
	return nil
}

func (f *Follower) ownerName() string {
	if f.Owner == "" {
		return "its owner"
	}
	return f.Owner
}

// Release hands the routes over to newOwner (e.g. "sync" when a migration
// ends): their owner becomes newOwner and their pools stay as they are; a
// route that another owner took meanwhile is left alone. The follower stops
// pushing: Sync, SetKubePercent and SetMarathon then fail, and Run returns.
// Hand to "sync" only routes `lb sync` derives (marathon-lb labels, Service
// annotations, app.yaml routes with --apps): it removes a "sync" route
// whose source it does not know; hand the others to "" (nobody).
func (f *Follower) Release(ctx context.Context, newOwner string) error {
	f.syncMu.Lock()
	defer f.syncMu.Unlock()
	if _, err := f.Client.Update(ctx, func(s traffic.State) (traffic.State, error) {
		for _, want := range f.Routes {
			r, ok := s.Route(want.Name)
			if !ok || r.Owner != f.Owner {
				continue
			}
			r.Owner = newOwner
			s = s.WithRoute(r)
		}
		return s, nil
	}); err != nil {
		return fmt.Errorf("%s: hand over to %q: %w", f.names(), newOwner, err)
	}
	f.mu.Lock()
	f.setup()
	f.released = true
	k := f.kick
	f.mu.Unlock()
	select { // wake Run so it sees the release
	case k <- struct{}{}:
	default:
	}
	return nil
}

// Run syncs on every Kick and every Resync period until ctx ends or the
// routes are released; errors go to onErr (may be nil) and the next sync
// tries again.
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
		force := false
		select {
		case <-ctx.Done():
			return
		case <-kick:
		case <-t.C:
			force = true // a resync pushes even when nothing seems changed
		}
		f.mu.Lock()
		released := f.released
		f.mu.Unlock()
		if released {
			return
		}
		f.syncMu.Lock()
		err := f.syncLocked(ctx, force)
		f.syncMu.Unlock()
		if err != nil && onErr != nil && ctx.Err() == nil {
			onErr(err)
		}
	}
}

// RoutesFor returns every route of state whose pool holds a task of the
// Marathon app marathonAppID (Backend.App), plus extra (e.g. the app.yaml
// route), deduplicated by name (an extra replaces a found route of the same
// name): the routes a migration of the app must shift together, so a route
// nobody told it about (the lab's /demo/web) never keeps sending requests to
// a Marathon that is scaled down. Found routes come first, in state order.
func RoutesFor(state traffic.State, marathonAppID string, extra ...traffic.Route) []traffic.Route {
	return RoutesMatching(state, func(b traffic.Backend) bool {
		return b.Platform == traffic.Marathon && b.App == marathonAppID
	}, extra...)
}

// RoutesMatching returns every route of state with a backend for which
// match is true, plus extra, deduplicated by name like RoutesFor (e.g. the
// routes that send traffic to an app's Kubernetes Service once its Marathon
// app is gone, when a finalized migration moves back).
func RoutesMatching(state traffic.State, match func(traffic.Backend) bool, extra ...traffic.Route) []traffic.Route {
	var out []traffic.Route
	index := map[string]int{}
	add := func(r traffic.Route) {
		if i, ok := index[r.Name]; ok {
			out[i] = r
			return
		}
		index[r.Name] = len(out)
		out = append(out, r)
	}
	for _, r := range state.Routes {
		for _, b := range r.Backends {
			if match(b) {
				r.Backends = append([]traffic.Backend(nil), r.Backends...)
				add(r)
				break
			}
		}
	}
	for _, r := range extra {
		add(r)
	}
	return out
}

// MarathonTasks lists a Marathon app's ready tasks: running, and healthy
// when the app has health checks. Task hosts are resolved to IPv4 addresses
// (production agents are named hosts); which networks may receive traffic
// is the load balancer's allow-list's call, not this source's.
type MarathonTasks struct {
	// Client is the Marathon API client; AppID the app's id ("/prod/web").
	Client *marathon.Client
	AppID  string
	// PortIndex selects the task port (default 0).
	PortIndex int
	// Resolver resolves task host names (nil: DefaultResolver).
	Resolver *Resolver
}

// Ready implements Source. A task whose host does not resolve is left out
// (the others are listed); when no ready task is left because of that, the
// error says why.
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
	var errs []error
	for _, t := range tasks {
		if t.State != marathon.TaskRunning || len(t.Ports) <= m.PortIndex || (checks && !t.Healthy()) {
			continue
		}
		ip, err := m.Resolver.IPv4(ctx, t.Host)
		if err != nil {
			errs = append(errs, fmt.Errorf("task %s: %w", t.ID, err))
			continue
		}
		out = append(out, traffic.Backend{Address: net.JoinHostPort(ip.String(), strconv.Itoa(t.Ports[m.PortIndex])), Weight: 1,
			Platform: traffic.Marathon, App: m.AppID, ID: t.ID})
	}
	if len(out) == 0 && len(errs) > 0 {
		return nil, fmt.Errorf("app %s: no ready task with a resolvable host: %w", m.AppID, errors.Join(errs...))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Address < out[j].Address })
	return out, nil
}

// Resolver turns Marathon task hosts (IPv4 literals or agent host names)
// into IPv4 addresses with net.DefaultResolver (or Lookup), caching each
// answer for TTL. When a lookup fails, the last good answer is used (a DNS
// outage must not empty a pool). A nil *Resolver uses DefaultResolver.
type Resolver struct {
	// Lookup resolves a host name to its IPv4 addresses (default
	// net.DefaultResolver.LookupNetIP(ctx, "ip4", host)).
	Lookup func(ctx context.Context, host string) ([]netip.Addr, error)
	// TTL is how long an answer is reused (default 30 s).
	TTL time.Duration

	mu    sync.Mutex
	cache map[string]resolved
}

type resolved struct {
	addr netip.Addr
	at   time.Time
}

// DefaultResolver is the Resolver of MarathonTasks without one.
var DefaultResolver = &Resolver{}

// IPv4 returns host's IPv4 address: host itself when it is an IPv4 literal,
// else the first IPv4 address it resolves to.
func (r *Resolver) IPv4(ctx context.Context, host string) (netip.Addr, error) {
	if r == nil {
		r = DefaultResolver
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip = ip.Unmap(); !ip.Is4() {
			return netip.Addr{}, fmt.Errorf("task host %s is not an IPv4 address", host)
		}
		return ip, nil
	}
	if host == "" {
		return netip.Addr{}, errors.New("task has no host")
	}
	ttl := r.TTL
	if ttl <= 0 {
		ttl = 30 * time.Second
	}
	r.mu.Lock()
	c, ok := r.cache[host]
	r.mu.Unlock()
	if ok && time.Since(c.at) < ttl {
		return c.addr, nil
	}
	lookup := r.Lookup
	if lookup == nil {
		lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip4", host)
		}
	}
	addrs, err := lookup(ctx, host)
	var ip netip.Addr
	for _, a := range addrs {
		if a = a.Unmap(); a.Is4() {
			ip = a
			break
		}
	}
	if !ip.IsValid() {
		if ok {
			return c.addr, nil // keep the last good answer through a DNS outage
		}
		if err == nil {
			err = errors.New("no IPv4 address")
		}
		return netip.Addr{}, fmt.Errorf("resolve task host %s: %w", host, err)
	}
	r.mu.Lock()
	if r.cache == nil {
		r.cache = map[string]resolved{}
	}
	r.cache[host] = resolved{addr: ip, at: time.Now()}
	r.mu.Unlock()
	return ip, nil
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
