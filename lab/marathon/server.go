package marathon

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/switchyard/switchyard/lab/labconfig"
	"github.com/switchyard/switchyard/lab/proc"
)

// Options tune a Server; the zero value is usable.
type Options struct {
	// Self is the switchyard binary that replaces "{switchyard}" in the lab's
	// image map (default: the running executable).
	Self string
	// PATH is the PATH given to tasks (default: the server's $PATH).
	PATH string
	// TickInterval is the longest time between two scheduler passes
	// (default 250ms); changes trigger a pass at once.
	TickInterval time.Duration
	// HealthRetry bounds the wait between probes of a task that has not yet
	// passed its health check (default 1s, never longer than the check's interval).
	HealthRetry time.Duration
	// Logf receives the scheduler's log lines (default: log.Printf to stderr).
	Logf func(format string, args ...any)
	// AdvertiseURL is the Marathon URL reported by /v2/info and /v2/leader
	// (default: http://<cfg.Marathon.Listen>).
	AdvertiseURL string
	// Token is the token the Marathon API requires on every request but
	// GET /ping (default: none, or with marathon.auth: token in the lab
	// config, the one EnsureToken reads or generates).
	Token string
}

// Server is the lab's Marathon with its Mesos master view.
type Server struct {
	cfg  labconfig.Config
	opts Options
	// taskUser is who tasks run as by default (nil: the server's own
	// identity, when it does not run as root).
	taskUser *proc.User
	// sandboxes holds the tasks' sandboxes (the lab's marathon/sandboxes,
	// or where proc.WorkDir moved it).
	sandboxes string
	started   time.Time
	agents    []agent
	store     store
	bus       *eventBus

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	kick   chan struct{}

	mu          sync.Mutex
	closed      bool
	dirty       bool
	clock       versionClock
	apps        map[string]*appState
	tasks       map[string]*taskState
	deployments []*deploymentState
	groups      map[string]*groupState
	history     map[string][]groupSnapshot
	procs       map[string]*proc.Process
	checkCancel map[string]context.CancelFunc
	specCache   map[string]*appSpec

	runOnce sync.Once
}

// New builds the lab Marathon for cfg: it loads the persisted state from
// <labdir>/marathon/state, re-adopts the tasks whose processes still run
// (and marks the others lost so they are replaced), and starts the
// scheduler. Serve its Handler and MesosHandler, or call Run.
func New(cfg labconfig.Config, opts Options) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("lab marathon: %w", err)
	}
	if err := checkLoopback("marathon.listen", cfg.Marathon.Listen); err != nil {
		return nil, fmt.Errorf("lab marathon: %w", err)
	}
	if err := checkLoopback("mesos.listen", cfg.Mesos.Listen); err != nil {
		return nil, fmt.Errorf("lab marathon: %w", err)
	}
	if opts.Self == "" {
		if exe, err := os.Executable(); err == nil {
			opts.Self = exe
		}
	}
	sandboxes := cfg.Path("marathon", "sandboxes")
	taskUser, err := proc.WorkloadUser(cfg.TaskUserName())
	if err != nil {
		return nil, fmt.Errorf("lab marathon: lab.yaml taskUser: %w", err)
	}
	if taskUser != nil {
		// Tasks reach their sandboxes (moved out of a lab directory they
		// cannot reach).
		if sandboxes, err = proc.WorkDir(*taskUser, cfg.Dir, cfg.ID, cfg.Path("marathon", "sandboxes")); err != nil {
			return nil, fmt.Errorf("lab marathon: task sandboxes: %w", err)
		}
		if opts.Self != "" {
			if opts.Self, err = proc.ExposeToLab(opts.Self, *taskUser, cfg.Dir, cfg.ID); err != nil {
				return nil, fmt.Errorf("lab marathon: the switchyard binary for tasks: %w", err)
			}
		}
	}
	if opts.PATH == "" {
		opts.PATH = os.Getenv("PATH")
	}
	if opts.TickInterval <= 0 {
		opts.TickInterval = 250 * time.Millisecond
	}
	if opts.HealthRetry <= 0 {
		opts.HealthRetry = time.Second
	}
	if opts.Logf == nil {
		opts.Logf = log.New(os.Stderr, "marathon: ", log.LstdFlags|log.Lmicroseconds).Printf
	}
	if opts.AdvertiseURL == "" {
		opts.AdvertiseURL = cfg.Marathon.URL()
	}
	if opts.Token == "" && cfg.MarathonAuthEnabled() {
		t, err := EnsureToken(cfg)
		if err != nil {
			return nil, fmt.Errorf("lab marathon: %w", err)
		}
		opts.Token = t
	}
	s := &Server{
		cfg:         cfg,
		opts:        opts,
		taskUser:    taskUser,
		sandboxes:   sandboxes,
		started:     time.Now(),
		store:       store{dir: cfg.Path("marathon", "state")},
		bus:         newEventBus(),
		kick:        make(chan struct{}, 1),
		apps:        map[string]*appState{},
		tasks:       map[string]*taskState{},
		groups:      map[string]*groupState{},
		history:     map[string][]groupSnapshot{},
		procs:       map[string]*proc.Process{},
		checkCancel: map[string]context.CancelFunc{},
		specCache:   map[string]*appSpec{},
	}
	for _, n := range cfg.Nodes {
		s.agents = append(s.agents, agent{ID: n.Name, Hostname: n.Address, Node: n, Resources: mesosResources(cfg, n)})
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if err := s.restore(); err != nil {
		s.cancel()
		return nil, err
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.loop(s.ctx)
	}()
	s.kickNow()
	return s, nil
}

// restore loads the persisted state and re-adopts running tasks.
func (s *Server) restore() error {
	p, err := s.store.load()
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clock.last = p.LastVersion
	for _, a := range p.Apps {
		sp, errs := parseSpec(a.Def)
		if len(errs) > 0 {
			return fmt.Errorf("marathon state: app %s: %s %v", a.ID, errs[0].Path, errs[0].Errors)
		}
		a.spec = sp
		if a.Versions == nil {
			a.Versions = map[string]appDef{}
		}
		s.apps[a.ID] = a
	}
	for _, g := range p.Groups {
		s.groups[g.ID] = g
	}
	if p.History != nil {
		s.history = p.History
	}
	s.deployments = p.Deployments
	for _, t := range p.Tasks {
		a := s.apps[t.AppID]
		if a == nil || terminal(t.State) {
			// A task without an app is unknown to Marathon: it is killed.
			if a == nil && proc.Alive(t.Proc) {
				s.logf("task %s belongs to no app: killing it", t.ID)
				id, grace := t.Proc, t.KillGrace
				s.wg.Add(1)
				go func() {
					defer s.wg.Done()
					proc.StopID(id, grace, nil)
				}()
			}
			s.dirty = true
			continue
		}
		s.tasks[t.ID] = t
		pr, err := proc.Adopt(t.Proc)
		if err != nil || t.State == taskStaging {
			s.logf("task %s of %s is gone after the restart (%v): marking it lost", t.ID, t.AppID, err)
			s.taskEnded(t, evVanished, "task lost while Marathon was down")
			continue
		}
		s.logf("re-adopted task %s of %s (pid %d)", t.ID, t.AppID, t.Proc.PID)
		s.procs[t.ID] = pr
		// Health is unknown until probed again, as after a Marathon failover.
		for i := range t.Health {
			t.Health[i] = healthState{}
		}
		s.watch(t.ID, pr)
		if t.State == taskKilling {
			t.State = taskRunning
			s.killTask(t.ID, t.KillReason)
			continue
		}
		s.startChecks(a, t)
	}
	s.gcSandboxes(24 * time.Hour)
	s.flush()
	return nil
}

// gcSandboxes removes the sandboxes of finished tasks older than age (Mesos
// keeps them a while for their logs, then collects them).
func (s *Server) gcSandboxes(age time.Duration) {
	dir := s.cfg.Path("marathon", "sandboxes")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if _, live := s.tasks[e.Name()]; live {
			continue
		}
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > age {
			_ = os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}

// checkLoopback refuses a lab.yaml listen address (field names it:
// marathon.listen, mesos.listen) that is not a loopback address: the lab
// Marathon starts processes for whoever asks it (and its token, when set,
// is a lab convenience, not a perimeter), and its Mesos view shows every
// task's command and environment, so neither listens beyond the machine.
// "localhost" and 127.0.0.0/8 or ::1 addresses pass; an empty host (all
// interfaces), 0.0.0.0 and any other name do not.
func checkLoopback(field, listen string) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("%s: %q must be host:port: %w", field, listen, err)
	}
	if host == "localhost" {
		return nil
	}
	if a, err := netip.ParseAddr(host); err == nil && a.Unmap().IsLoopback() {
		return nil
	}
	return fmt.Errorf("%s: %q is not a loopback address; the lab Marathon runs processes on request and listens on loopback only (use 127.0.0.1:<port>)", field, listen)
}

// Run serves the Marathon API on cfg.Marathon.Listen and the Mesos view on
// cfg.Mesos.Listen until ctx ends, then closes the server (tasks keep running).
func (s *Server) Run(ctx context.Context) error {
	ml, err := net.Listen("tcp", s.cfg.Marathon.Listen)
	if err != nil {
		return fmt.Errorf("marathon.listen %s: %w", s.cfg.Marathon.Listen, err)
	}
	sl, err := net.Listen("tcp", s.cfg.Mesos.Listen)
	if err != nil {
		ml.Close()
		return fmt.Errorf("mesos.listen %s: %w", s.cfg.Mesos.Listen, err)
	}
	return s.Serve(ctx, ml, sl)
}

// Serve is Run on given listeners.
func (s *Server) Serve(ctx context.Context, marathonL, mesosL net.Listener) error {
	ms := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	ss := &http.Server{Handler: s.MesosHandler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 2)
	go func() { errc <- ms.Serve(marathonL) }()
	go func() { errc <- ss.Serve(mesosL) }()
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	s.bus.closeAll()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = ms.Shutdown(sctx)
	_ = ss.Shutdown(sctx)
	s.Close()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// Close stops the scheduler and persists the state. Tasks keep running; a
// new Server on the same lab directory re-adopts them.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.dirty = true
	s.flush()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.bus.closeAll()
	s.wg.Wait()
	return nil
}
