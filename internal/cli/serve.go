package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"github.com/switchyard/switchyard/capacity"
	"github.com/switchyard/switchyard/capacity/monitor"
	"github.com/switchyard/switchyard/internal/capool"
	"github.com/switchyard/switchyard/internal/connect"
	"github.com/switchyard/switchyard/internal/ctxtime"
	"github.com/switchyard/switchyard/journal"
	"github.com/switchyard/switchyard/journal/etcdjournal"
	"github.com/switchyard/switchyard/migrate"
	"github.com/switchyard/switchyard/migrate/edge"
	"github.com/switchyard/switchyard/serve"
	"github.com/switchyard/switchyard/serve/dashboard"
	"github.com/switchyard/switchyard/telemetry"
	"github.com/switchyard/switchyard/traffic"
	"github.com/switchyard/switchyard/traffic/follow"
)

// serveOptions are the flags of `switchyard serve`.
type serveOptions struct {
	migrateOptions
	listen, metricsListen, advertise string
	tlsCert, tlsKey, peerCA          string
	tokensFile                       string
	tokenReview                      bool
	operatorGroup, viewerGroup       string
	logFormat                        string
	lbSync, monitor                  bool
	leaseTTL                         time.Duration

	po     *planOptions
	log    *slog.Logger
	events *telemetry.Metrics
}

func newServeCmd() *cobra.Command {
	o := &serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the migration controller as a service: HTTP API, live events, metrics; highly available on an etcd journal",
		Long: `Serve runs, for the context: the migration executor (migrations started through its API, and those the journal
shows in flight when it starts or takes over), the route follower (lb sync, --lb-sync) and the congestion monitor
(--monitor, when the context names a Mesos master).

API (JSON, Authorization: Bearer TOKEN; viewer reads, operator also changes):
  GET  /api/v1/status                     every app's migration, and who leads
  GET  /api/v1/apps/APP/history           an app's journaled transitions
  GET  /api/v1/events                     server-sent events: the status each time it changes
  GET  /api/v1/views/plan|capacity|routes the plan of --apps, the shared nodes, the load balancer's routes
  GET  /api/v1/leader, /api/v1/whoami
  POST /api/v1/migrations                 {"apps":["web"]} or {"wave":1}       (operator)
  POST /api/v1/apps/APP/pause|resume|abort|rollback  {"reason":"..."}          (operator)
  GET  /healthz, /readyz (no token), /metrics (viewer; or no token on --metrics-listen)

Tokens: --tokens-file (YAML: tokens: [{name, role: viewer|operator, sha256: <hex of the token>}], mode 0600 or 0640),
and/or --token-review (Kubernetes TokenReview: members of --operator-group / --viewer-group).

With journal.type etcd in the context, run two or three replicas: they elect a leader in etcd (a lease of
--lease-ttl); the leader runs the migrations, the others answer reads and forward writes to it (--advertise is the
URL they forward to). Every journal append is fenced on the leader key, and so is every weight push: a deposed
leader (paused, cut off) can neither write nor route. With a bbolt journal (the default), serve is the one
process that holds it.`,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
	o.bind(cmd, true)
	f := cmd.Flags()
	f.Lookup("apps").DefValue, o.appsDir = "", ""
	f.Lookup("apps").Usage = "directory searched for app.yaml files (the apps serve may migrate; none: status, history and commands only)"
	f.StringVar(&o.listen, "listen", ":8443", "API and dashboard address (TLS with --tls-cert and --tls-key)")
	f.StringVar(&o.metricsListen, "metrics-listen", "", "plain-HTTP address serving only /metrics, /healthz and /readyz, without a token (e.g. :9090)")
	f.StringVar(&o.advertise, "advertise", "", "this replica's base URL for the others (default: scheme://hostname:port of --listen)")
	f.StringVar(&o.tlsCert, "tls-cert", "", "certificate of the API listener")
	f.StringVar(&o.tlsKey, "tls-key", "", "key of the API listener")
	f.StringVar(&o.peerCA, "peer-ca", "", "CA that signed the other replicas' certificates (to forward writes; default the system's)")
	f.StringVar(&o.tokensFile, "tokens-file", "", "YAML file of API tokens and their roles (mode 0600, or 0640 for a group that reads it)")
	f.BoolVar(&o.tokenReview, "token-review", false, "also accept Kubernetes tokens (TokenReview API)")
	f.StringVar(&o.operatorGroup, "operator-group", "switchyard:operators", "Kubernetes group granted the operator role (--token-review)")
	f.StringVar(&o.viewerGroup, "viewer-group", "switchyard:viewers", "Kubernetes group granted the viewer role (--token-review)")
	f.StringVar(&o.logFormat, "log-format", "json", "log format on stderr: json or text")
	f.BoolVar(&o.lbSync, "lb-sync", true, "the leader keeps the load balancer's routes in step with the platforms (as `switchyard lb sync`)")
	f.BoolVar(&o.monitor, "monitor", true, "watch the shared nodes' capacity and raise congestion alerts (needs the context's Mesos master)")
	f.DurationVar(&o.leaseTTL, "lease-ttl", etcdjournal.DefaultTTL, "etcd journal: how long a leader that stopped answering keeps leading")
	f.StringVar(&o.onRestart, "on-restart", string(migrate.ResumeContinue), "what to do with a migration found in flight: continue or rollback")
	f.StringVar(&o.planFile, "plan", "", "plan file (`switchyard plan -o json`) for waves and resources")
	f.IntVar(&o.parallel, "parallel", 4, "migrations running at once per wave")
	return cmd
}

// Complete resolves the context and loads the app specs.
func (o *serveOptions) Complete(cmd *cobra.Command, _ []string) error {
	if err := o.complete(cmd, o.appsDir != ""); err != nil {
		return err
	}
	o.po = newPlanOptions(cmd)
	return nil
}

// Validate checks the flags that need no I/O.
func (o *serveOptions) Validate() error {
	switch {
	case o.tokensFile == "" && !o.tokenReview:
		return errors.New("serve: give --tokens-file and/or --token-review: every API call needs a token")
	case (o.tlsCert == "") != (o.tlsKey == ""):
		return errors.New("serve: give both --tls-cert and --tls-key, or neither")
	case o.logFormat != "json" && o.logFormat != "text":
		return fmt.Errorf("serve: --log-format %q: use json or text", o.logFormat)
	case o.onRestart != string(migrate.ResumeContinue) && o.onRestart != string(migrate.ResumeRollback):
		return fmt.Errorf("serve: --on-restart %q: use continue or rollback", o.onRestart)
	}
	if _, _, err := net.SplitHostPort(o.listen); err != nil {
		return fmt.Errorf("serve: --listen %q: %w", o.listen, err)
	}
	return nil
}

// Run serves until SIGINT/SIGTERM.
func (o *serveOptions) Run(ctx context.Context, _ io.Writer) error {
	o.log = newLogger(o.logFormat)
	ctx, stop := signalContext(ctx)
	defer stop()

	auth, err := o.authenticator()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("serve: --listen: %w", err)
	}
	defer ln.Close()
	self := o.advertiseURL(ln.Addr())

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	leading := prometheus.NewGauge(prometheus.GaugeOpts{Name: "switchyard_serve_leader",
		Help: "1 while this serve replica leads (runs the migrations), else 0."})
	reg.MustRegister(leading)
	if o.events, err = telemetry.NewMetrics(reg); err != nil {
		return err
	}

	reader, lead, closeJ, err := o.leadership(ctx, self, leading)
	if err != nil {
		return err
	}
	defer closeJ()

	views := map[string]serve.View{
		"plan": func(ctx context.Context) (any, error) {
			po := *o.po
			po.resolved = &o.ctx
			if o.namespace != "" {
				po.namespace = o.namespace
			}
			return po.make(ctx, o.appsDir)
		},
	}
	tel := telemetry.Options{Migrations: telemetry.JournalMigrations(reader), Logger: o.log}
	if fleet, err := connect.Fleet(o.ctx); err != nil {
		o.log.Warn("no load balancer: the routes and traffic views are off", "err", err)
	} else {
		tel.LoadBalancers = fleet.Snapshot
		sampler := &traffic.Sampler{Fleet: fleet, Period: time.Second, OnError: func(error) {}}
		go func() { _ = sampler.Run(ctx) }()
		views["routes"] = func(ctx context.Context) (any, error) { return fleet.Get(ctx) }
		views["traffic"] = func(ctx context.Context) (any, error) { return trafficView(ctx, fleet, sampler) }
	}
	if o.ctx.MesosURL() != "" {
		copts := capacityOptions{context: o.ctx, wrapperPrefix: capacity.DefaultWrapperAppPrefix, nodeNameFrom: capacity.NodeNameAuto, timeout: 30 * time.Second}
		// One inventory read per 15 s serves the metrics and the view.
		cached := cachedCluster(copts.cluster, 15*time.Second)
		tel.Capacity = cached
		views["capacity"] = func(ctx context.Context) (any, error) {
			c, err := cached(ctx)
			if err != nil {
				return nil, err
			}
			return c.Report(), nil
		}
		if o.monitor {
			m, err := monitor.New(monitor.Options{Source: copts.cluster, Logger: o.log, Registerer: reg})
			if err != nil {
				return err
			}
			go func() { _ = m.Run(ctx) }()
			tel.Alerts = m.Active
		}
	}
	reg.MustRegister(telemetry.NewCollector(tel))
	var forward http.RoundTripper
	if o.peerCA != "" {
		pool, err := capool.Load(o.peerCA, false)
		if err != nil {
			return fmt.Errorf("serve: --peer-ca: %w", err)
		}
		forward = capool.Transport(pool)
	}
	metrics := telemetry.Handler(reg)
	srv, err := serve.New(serve.Options{Auth: auth, Journal: reader, Leadership: lead, Views: views, Metrics: metrics,
		Forward: forward, Self: self, Log: o.log, Dashboard: dashboard.Handler(), Ready: func(context.Context) error { _, err := reader.LoadAll(); return err }})
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(o.log.Handler(), slog.LevelWarn)}
	errc := make(chan error, 2)
	go func() {
		if o.tlsCert != "" {
			errc <- hs.ServeTLS(ln, o.tlsCert, o.tlsKey)
			return
		}
		errc <- hs.Serve(ln)
	}()
	var ms *http.Server
	if o.metricsListen != "" {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", metrics)
		mux.Handle("GET /healthz", srv)
		mux.Handle("GET /readyz", srv)
		ms = &http.Server{Addr: o.metricsListen, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { errc <- ms.ListenAndServe() }()
	}
	if host, _, _ := net.SplitHostPort(ln.Addr().String()); o.tlsCert == "" && !net.ParseIP(host).IsLoopback() {
		o.log.Warn("the API listens beyond loopback without TLS: bearer tokens cross the network in clear (give --tls-cert and --tls-key)", "listen", ln.Addr().String())
	}
	o.log.Info("serving", "listen", ln.Addr().String(), "advertise", self, "context", o.ctx.Name, "journal", o.journalName(), "metrics", o.metricsListen)
	select {
	case <-ctx.Done():
	case err = <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = hs.Shutdown(sctx)
	if ms != nil {
		_ = ms.Shutdown(sctx)
	}
	o.log.Info("stopped")
	return err
}

// newLogger is serve's slog logger on stderr.
func newLogger(format string) *slog.Logger {
	if format == "text" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, nil))
}

// authenticator builds the token chain of the flags.
func (o *serveOptions) authenticator() (serve.Authenticator, error) {
	var chain serve.Chain
	if o.tokensFile != "" {
		t, err := serve.LoadTokens(o.tokensFile)
		if err != nil {
			return nil, fmt.Errorf("serve: --tokens-file: %w", err)
		}
		chain = append(chain, t)
	}
	if o.tokenReview {
		kc, err := connect.Kubernetes(o.ctx, 0, 0)
		if err != nil {
			return nil, fmt.Errorf("serve: --token-review: %w", err)
		}
		chain = append(chain, &serve.TokenReview{Client: kc.Clientset, OperatorGroup: o.operatorGroup, ViewerGroup: o.viewerGroup})
	}
	return chain, nil
}

// advertiseURL is --advertise, else the listener's URL with this host's
// name when it listens on every address.
func (o *serveOptions) advertiseURL(addr net.Addr) string {
	if o.advertise != "" {
		return strings.TrimSuffix(o.advertise, "/")
	}
	scheme := "http"
	if o.tlsCert != "" {
		scheme = "https"
	}
	host, port, _ := net.SplitHostPort(addr.String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		if h, err := os.Hostname(); err == nil {
			host = h
		}
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// leadership opens the journal and returns its reader and who leads: with
// an etcd journal an election among the replicas (the engine runs while
// this one leads), with a bbolt journal this process alone (it holds the
// file's lock).
func (o *serveOptions) leadership(ctx context.Context, self string, leading prometheus.Gauge) (journal.Reader, serve.Leadership, func(), error) {
	if !o.etcd {
		j, err := o.openJournal(ctx)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("serve: %w", err)
		}
		e, err := o.newEngine(ctx, j, nil)
		if err != nil {
			j.Close()
			return nil, nil, nil, err
		}
		leading.Set(1)
		e.resumeInFlight()
		return j, soloLeadership{e: e, self: self}, func() { e.stop(); j.Close() }, nil
	}
	cli, err := connect.Etcd(ctx, o.ctx)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("serve: %w", err)
	}
	l := etcdjournal.NewLeadership(cli, o.ctx.Journal.Prefix, self, o.leaseTTL)
	el := &electedLeadership{l: l, self: self}
	done := make(chan struct{})
	go func() {
		defer close(done)
		el.campaign(ctx, o, leading)
	}()
	closeAll := func() {
		<-done
		rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = l.Resign(rctx)
		cancel()
		_ = l.Close()
		_ = cli.Close()
	}
	return etcdjournal.Open(cli, o.ctx.Journal.Prefix), el, closeAll, nil
}

// soloLeadership is a single serve on a bbolt journal: it always leads.
type soloLeadership struct {
	e    *serveEngine
	self string
}

func (s soloLeadership) Engine() serve.Engine { return s.e }

func (s soloLeadership) Leader(context.Context) (string, bool, error) { return s.self, true, nil }

// electedLeadership is one replica in the etcd election.
type electedLeadership struct {
	l    *etcdjournal.Leadership
	self string

	mu sync.Mutex
	e  *serveEngine
	// broken is why this leader has no engine yet (e.g. the context names
	// no load balancer); it goes on trying to build one.
	broken error
}

// Engine is the running engine while this replica leads (one that refuses
// every migration, saying why, while the engine cannot be built).
func (el *electedLeadership) Engine() serve.Engine {
	el.mu.Lock()
	defer el.mu.Unlock()
	switch {
	case !el.l.IsLeader():
		return nil
	case el.e != nil:
		return el.e
	case el.broken != nil:
		return unavailableEngine{el.broken}
	}
	return nil
}

func (el *electedLeadership) setBroken(err error) {
	el.mu.Lock()
	el.broken = err
	el.mu.Unlock()
}

// engineRetry is how often a leader without an engine tries again.
var engineRetry = 5 * time.Second // a variable for tests

// unavailableEngine is a leader's engine that cannot run migrations: it
// refuses each with the reason, while the leader keeps trying to build
// the real one (it keeps leading: reads, forwarding and the election stay
// stable, and another replica would fail the same way).
type unavailableEngine struct{ err error }

// Start refuses, naming the reason.
func (u unavailableEngine) Start([]string, ...migrate.Event) error {
	return fmt.Errorf("the leader cannot run migrations: %v (it tries again every %s; fix the context)", u.err, engineRetry)
}

// Wave refuses as Start does.
func (u unavailableEngine) Wave(context.Context, int) ([]string, error) { return nil, u.Start(nil) }

// Send delivers nothing: no migration runs here.
func (unavailableEngine) Send(string, migrate.Event) bool { return false }

// Leader reads who leads from etcd.
func (el *electedLeadership) Leader(ctx context.Context) (string, bool, error) {
	ld, err := el.l.Leader(ctx)
	if errors.Is(err, etcdjournal.ErrNoLeader) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return ld.ID, ld.ID == el.self, nil
}

// campaign leads whenever it can: each term opens the fenced journal,
// starts an engine, resumes the migrations in flight and runs until the
// term ends (another replica then takes over what is left).
func (el *electedLeadership) campaign(ctx context.Context, o *serveOptions, leading prometheus.Gauge) {
	for ctx.Err() == nil {
		if err := el.l.Campaign(ctx); err != nil {
			if ctx.Err() == nil {
				o.log.Warn("campaign", "err", err)
				_ = ctxtime.Sleep(ctx, time.Second)
			}
			continue
		}
		t := el.l.Term()
		o.log.Info("leading", "term", t.Key, "rev", t.Rev)
		leading.Set(1)
		e, err := el.term(ctx, o)
		for err != nil && ctx.Err() == nil && el.l.IsLeader() {
			o.log.Error("leading, but cannot run migrations (trying again)", "err", err, "every", engineRetry.String())
			el.setBroken(err)
			select {
			case <-el.l.Done():
			case <-ctx.Done():
			case <-time.After(engineRetry):
				e, err = el.term(ctx, o)
			}
		}
		el.setBroken(nil)
		if err == nil {
			select {
			case <-el.l.Done():
				o.log.Warn("no longer leading: stopping the migrations here (the new leader resumes them from the journal)", "term", t.Key, "rev", t.Rev)
			case <-ctx.Done():
			}
		}
		leading.Set(0)
		el.mu.Lock()
		el.e = nil
		el.mu.Unlock()
		if e != nil {
			e.stop()
		}
	}
}

// term starts this term's engine on the fenced journal.
func (el *electedLeadership) term(ctx context.Context, o *serveOptions) (*serveEngine, error) {
	j, err := el.l.Journal()
	if err != nil {
		return nil, err
	}
	e, err := o.newEngine(ctx, j, el.l.CheckLeader)
	if err != nil {
		return nil, err
	}
	el.mu.Lock()
	el.e = e
	el.mu.Unlock()
	e.resumeInFlight()
	return e, nil
}

// serveEngine runs migrations for serve while its replica leads.
type serveEngine struct {
	o     *serveOptions
	j     journal.Journal
	edges *edge.Edges
	x     *migrate.Executor
	ctx   context.Context
	stopF context.CancelFunc
	wg    sync.WaitGroup

	mu      sync.Mutex
	running map[string]bool
}

// fencedPusher refuses a weight push unless this replica still leads (a
// linearizable check in etcd before each push).
type fencedPusher struct {
	inner follow.Pusher
	check func(ctx context.Context) error
}

// Update pushes through inner once the check passed.
func (p fencedPusher) Update(ctx context.Context, change func(traffic.State) (traffic.State, error)) (traffic.State, error) {
	if err := p.check(ctx); err != nil {
		return traffic.State{}, fmt.Errorf("push refused: %w", err)
	}
	return p.inner.Update(ctx, change)
}

// newEngine connects the context's platforms and builds the executor on
// j; fence, when set, is checked before every weight push.
func (o *serveOptions) newEngine(ctx context.Context, j journal.Journal, fence func(context.Context) error) (*serveEngine, error) {
	ectx, cancel := context.WithCancel(ctx)
	edges, err := connect.Migration(ectx, o.ctx)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("serve: %w", err)
	}
	edges.OnError = func(err error) { o.log.Warn("load balancer", "err", err) }
	if fence != nil {
		edges.Pusher = fencedPusher{inner: edges.Pusher, check: fence}
	}
	var xj journal.Journal = j
	if o.events != nil {
		xj = o.events.Journal(j) // counts failed gates as they are journaled
	}
	x := edges.Executor(xj)
	x.Progress, x.ActionTimeout = logWriter(o.log), o.timeout
	x.Resume = migrate.ResumePolicy(o.onRestart)
	e := &serveEngine{o: o, j: j, edges: edges, x: x, ctx: ectx, stopF: cancel, running: map[string]bool{}}
	if o.lbSync {
		lo := &lbSyncOptions{context: o.ctx, group: "external", resync: 5 * time.Second, specs: o.specs}
		s, err := lo.syncer(ectx, func(f string, a ...any) { o.log.Info("lb sync: " + fmt.Sprintf(f, a...)) })
		if err != nil {
			o.log.Warn("lb sync not running", "err", err)
		} else {
			if fence != nil {
				s.Pusher = fencedPusher{inner: s.Pusher, check: fence}
			}
			go func() { _ = lo.fleet.Run(ectx) }()
			go func() { _ = s.Run(ectx) }()
		}
	}
	return e, nil
}

// Start begins migrating apps (first event optional); it checks every app
// before starting any.
func (e *serveEngine) Start(apps []string, first ...migrate.Event) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ctx.Err() != nil {
		return errors.New("this replica no longer leads (try again: it forwards to the new leader)")
	}
	var targets []edge.Target
	for _, n := range apps {
		if e.running[n] {
			return fmt.Errorf("%s is being migrated already (pause, resume or abort it)", n)
		}
		if err := migrate.Startable(e.j, n, first); err != nil {
			return err
		}
		s, err := e.o.spec(n)
		if err != nil {
			return err
		}
		planned, err := e.o.plannedResources(n)
		if err != nil {
			return err
		}
		t, err := edge.TargetFromSpec(s, e.o.namespace, planned)
		if err != nil {
			return err
		}
		targets = append(targets, t)
	}
	for _, t := range targets {
		if _, err := e.edges.Add(e.ctx, t, e.j); err != nil {
			return err
		}
		e.running[t.App.Name] = true
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			r := e.x.Migrate(e.ctx, t.App, first...)
			e.finish(r)
		}()
	}
	return nil
}

// finish logs how a migration ended and hands back its routes.
func (e *serveEngine) finish(r migrate.Result) {
	e.mu.Lock()
	delete(e.running, r.App)
	e.mu.Unlock()
	attrs := []any{"app", r.App, "phase", string(r.State.Phase), "seconds", r.Duration.Seconds(), "kubernetesPercent", r.State.KubePercent}
	if r.Err != nil {
		e.o.log.Warn("migration stopped", append(attrs, "err", r.Err.Error())...)
	} else {
		e.o.log.Info("migration ended", attrs...)
	}
	if r.State.Phase.Terminal() && e.ctx.Err() == nil {
		if err := e.edges.Release(e.ctx, r.App); err != nil {
			e.o.log.Warn("routes not handed back", "app", r.App, "err", err)
		}
	}
}

// Wave names the apps of wave n of the plan.
func (e *serveEngine) Wave(ctx context.Context, n int) ([]string, error) {
	mo := e.o.migrateOptions
	mo.wave = n
	p, err := mo.planner(ctx, e.o.po)
	if err != nil {
		return nil, err
	}
	return p.Wave(n)
}

// Send delivers a command to a running migration.
func (e *serveEngine) Send(app string, ev migrate.Event) bool { return e.x.Send(app, ev) }

// resumeInFlight starts the migrations the journal shows in flight (a
// restart, or a takeover from a replica that stopped leading).
func (e *serveEngine) resumeInFlight() {
	es, err := e.j.LoadAll()
	if err != nil {
		e.o.log.Error("journal: cannot resume", "err", err)
		return
	}
	for _, en := range es {
		st, err := migrate.StateOf(en)
		if err != nil || st.Phase.Terminal() {
			continue
		}
		if err := e.Start([]string{en.App}); err != nil {
			e.o.log.Error("cannot resume a migration in flight", "app", en.App, "phase", string(st.Phase), "err", err)
			continue
		}
		e.o.log.Info("resuming a migration in flight", "app", en.App, "phase", string(st.Phase))
	}
}

// stop ends the engine: its migrations stop where they are journaled.
func (e *serveEngine) stop() {
	e.stopF()
	e.wg.Wait()
	e.edges.Close()
}

// logWriter turns the executor's progress lines into log records.
func logWriter(l *slog.Logger) io.Writer {
	pr, pw := io.Pipe()
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			l.Info(sc.Text(), "source", "executor")
		}
	}()
	return pw
}

// ensure the interfaces hold.
var (
	_ serve.Engine     = (*serveEngine)(nil)
	_ serve.Engine     = unavailableEngine{}
	_ serve.Leadership = soloLeadership{}
	_ serve.Leadership = (*electedLeadership)(nil)
)

// TrafficRow is one route and platform's traffic over the last
// trafficWindow, summed over every load-balancer instance.
type TrafficRow struct {
	// Route and Platform name the series.
	Route    string `json:"route"`
	Platform string `json:"platform"`
	// Weight is the platform's share of the route's weights (percent).
	Weight float64 `json:"weightPercent"`
	// RequestsPerSecond, ErrorRate (5xx) and P99Ms are the window's.
	RequestsPerSecond float64 `json:"requestsPerSecond"`
	ErrorRate         float64 `json:"errorRate"`
	P99Ms             float64 `json:"p99Ms"`
}

// trafficWindow is the span of the traffic view.
const trafficWindow = 10 * time.Second

// trafficView is GET /api/v1/views/traffic: every route's traffic per
// platform (the dashboard's live request rate, error rate and p99).
func trafficView(ctx context.Context, fleet *traffic.Fleet, s *traffic.Sampler) ([]TrafficRow, error) {
	st, err := fleet.Get(ctx)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	rows := []TrafficRow{}
	for _, r := range st.Routes {
		pct := traffic.Percents(r.Backends)
		for _, p := range []string{traffic.Marathon, traffic.Kubernetes} {
			w, err := s.Window(ctx, now.Add(-trafficWindow), now, []string{r.Name}, p)
			if err != nil {
				return nil, err
			}
			if w.Requests == 0 && pct[p] == 0 {
				continue
			}
			rows = append(rows, TrafficRow{Route: r.Name, Platform: p, Weight: pct[p], RequestsPerSecond: float64(w.Requests) / trafficWindow.Seconds(),
				ErrorRate: w.ErrorRate, P99Ms: float64(w.P99) / float64(time.Millisecond)})
		}
	}
	return rows, nil
}

// cachedCluster reads the capacity model at most once per ttl (the
// collector reads it on every scrape; Mesos and the API server are read
// once per ttl).
func cachedCluster(read monitor.Source, ttl time.Duration) monitor.Source {
	var mu sync.Mutex
	var at time.Time
	var last capacity.Cluster
	var lastErr error
	return func(ctx context.Context) (capacity.Cluster, error) {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(at) < ttl {
			return last, lastErr
		}
		last, lastErr = read(ctx)
		at = time.Now()
		return last, lastErr
	}
}
