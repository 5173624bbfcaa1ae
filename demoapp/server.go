package demoapp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/internal/ctxtime"
)

// CrashExitCode is the exit status of a deliberate crash (DEMO_CRASH_AFTER, /admin/crash).
const CrashExitCode = 3

// Info is the JSON body of GET /.
type Info struct {
	App        string `json:"app"`
	Version    string `json:"version"`
	InstanceID string `json:"instanceId"`
	Host       string `json:"host"`
	TaskID     string `json:"taskId,omitempty"`
	Platform   string `json:"platform"`
	Path       string `json:"path"`
	Request    int64  `json:"request"`
}

// State is the runtime-switchable part of the app, as GET /admin/state shows it.
type State struct {
	FailRate  float64 `json:"failRate"`
	Failing   bool    `json:"failing"`
	Slow      string  `json:"slow"`
	Healthy   bool    `json:"healthy"`
	Ready     bool    `json:"ready"`
	Requests  int64   `json:"requests"`
	InFlight  int64   `json:"inFlight"`
	StartedAt string  `json:"startedAt"`
}

// App is the demo app's HTTP handler and its failure switches.
type App struct {
	cfg     Config
	started time.Time
	now     func() time.Time // seam for tests

	mu        sync.Mutex
	failRate  float64
	failing   bool // tripped by FailAfter or forced by /admin/fail?all=true
	fired     bool // FailAfter fired once (an admin reset is not undone by it)
	slow      time.Duration
	unhealthy bool
	readyAt   time.Time
	notReady  bool // forced by /admin/ready?v=false
	crashed   bool

	requests atomic.Int64
	inFlight atomic.Int64
	crash    chan struct{}
	mux      *http.ServeMux
}

// New returns the app for cfg; its clock starts now.
func New(cfg Config) *App {
	return newApp(cfg, time.Now)
}

func newApp(cfg Config, now func() time.Time) *App {
	a := &App{
		cfg: cfg, now: now, started: now(),
		failRate: cfg.FailRate, slow: cfg.Slow, unhealthy: cfg.Unhealthy,
		crash: make(chan struct{}),
	}
	a.readyAt = a.started.Add(cfg.ReadyDelay)
	m := http.NewServeMux()
	// Every other path answers too, so the app can sit behind a path-prefix
	// route of a load balancer (which passes the path through).
	m.HandleFunc("GET /", a.serveInfo)
	m.HandleFunc("POST /", a.serveEcho)
	m.HandleFunc("POST /echo", a.serveEcho)
	m.HandleFunc("GET /health", a.serveHealth)
	m.HandleFunc("GET /healthz", a.serveHealth)
	m.HandleFunc("GET /ready", a.serveReady)
	m.HandleFunc("GET /admin/state", a.serveState)
	m.HandleFunc("POST /admin/fail", a.adminFail)
	m.HandleFunc("POST /admin/healthy", a.adminHealthy)
	m.HandleFunc("POST /admin/ready", a.adminReady)
	m.HandleFunc("POST /admin/slow", a.adminSlow)
	m.HandleFunc("POST /admin/crash", a.adminCrash)
	m.HandleFunc("GET /admin/", adminFallback)
	m.HandleFunc("POST /admin/", adminFallback)
	a.mux = m
	return a
}

// Crashed is closed when the app decided to crash (DEMO_CRASH_AFTER or
// POST /admin/crash); Run then exits the process with CrashExitCode.
func (a *App) Crashed() <-chan struct{} { return a.crash }

// ServeHTTP implements http.Handler.
func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.inFlight.Add(1)
	defer a.inFlight.Add(-1)
	w.Header().Set("X-Demo-App", a.cfg.App)
	w.Header().Set("X-Demo-Version", a.cfg.Version)
	w.Header().Set("X-Demo-Instance", a.cfg.InstanceID)
	a.mux.ServeHTTP(w, r)
}

// count records one workload request and applies the time/count triggers.
// It returns the request's sequence number and whether it must fail.
func (a *App) count() (int64, bool, time.Duration) {
	n := a.requests.Add(1)
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if t := a.cfg.FailAfter; !a.fired && ((t.Requests > 0 && n > t.Requests) || (t.After > 0 && now.Sub(a.started) >= t.After)) {
		a.failing, a.fired = true, true
	}
	if t := a.cfg.CrashAfter; t.Requests > 0 && n >= t.Requests {
		a.crashLocked()
	}
	fail := a.failing || (a.failRate > 0 && rand.Float64() < a.failRate)
	return n, fail, a.slow
}

func (a *App) crashLocked() {
	if !a.crashed {
		a.crashed = true
		close(a.crash)
	}
}

func (a *App) info(n int64, path string) Info {
	return Info{App: a.cfg.App, Version: a.cfg.Version, InstanceID: a.cfg.InstanceID, Host: a.cfg.Host,
		TaskID: a.cfg.TaskID, Platform: a.cfg.Platform, Path: path, Request: n}
}

func (a *App) serveInfo(w http.ResponseWriter, r *http.Request) {
	n, fail, slow := a.count()
	if ctxtime.Sleep(r.Context(), slow) != nil {
		return
	}
	if fail {
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": "injected failure", "instanceId": a.cfg.InstanceID, "version": a.cfg.Version})
		return
	}
	writeJSON(w, http.StatusOK, a.info(n, r.URL.Path))
}

func (a *App) serveEcho(w http.ResponseWriter, r *http.Request) {
	n, fail, slow := a.count()
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "read body: " + err.Error()})
		return
	}
	if ctxtime.Sleep(r.Context(), slow) != nil {
		return
	}
	if fail {
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": "injected failure", "instanceId": a.cfg.InstanceID})
		return
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("X-Demo-Request", strconv.FormatInt(n, 10))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

func (a *App) healthy() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return !a.unhealthy
}

func (a *App) ready() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return !a.unhealthy && !a.notReady && !a.now().Before(a.readyAt)
}

func (a *App) serveHealth(w http.ResponseWriter, _ *http.Request) {
	if !a.healthy() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unhealthy", "instanceId": a.cfg.InstanceID})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "instanceId": a.cfg.InstanceID, "version": a.cfg.Version})
}

func (a *App) serveReady(w http.ResponseWriter, _ *http.Request) {
	if !a.ready() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "instanceId": a.cfg.InstanceID})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready", "instanceId": a.cfg.InstanceID})
}

// Snapshot returns the current runtime state.
func (a *App) Snapshot() State {
	ready := a.ready()
	a.mu.Lock()
	defer a.mu.Unlock()
	return State{FailRate: a.failRate, Failing: a.failing, Slow: a.slow.String(), Healthy: !a.unhealthy,
		Ready: ready, Requests: a.requests.Load(), InFlight: a.inFlight.Load(), StartedAt: a.started.UTC().Format(time.RFC3339Nano)}
}

func (a *App) serveState(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, a.Snapshot())
}

// adminFail: ?rate=F sets the failure fraction; ?all=true|false forces or
// clears the "fail everything" switch (also what DEMO_FAIL_AFTER trips).
func (a *App) adminFail(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var rate *float64
	if s := q.Get("rate"); s != "" {
		v, err := ParseRate(s)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "rate: " + err.Error()})
			return
		}
		rate = &v
	}
	var all *bool
	if s := q.Get("all"); s != "" {
		v, err := strconv.ParseBool(s)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("all: %q: want true or false", s)})
			return
		}
		all = &v
	}
	if rate == nil && all == nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "give rate=FRACTION (0..1) and/or all=true|false"})
		return
	}
	a.mu.Lock()
	if rate != nil {
		a.failRate = *rate
	}
	if all != nil {
		a.failing = *all
	}
	a.mu.Unlock()
	writeJSON(w, http.StatusOK, a.Snapshot())
}

func (a *App) adminHealthy(w http.ResponseWriter, r *http.Request) {
	v, ok := boolParam(w, r, "v")
	if !ok {
		return
	}
	a.mu.Lock()
	a.unhealthy = !v
	a.mu.Unlock()
	writeJSON(w, http.StatusOK, a.Snapshot())
}

func (a *App) adminReady(w http.ResponseWriter, r *http.Request) {
	v, ok := boolParam(w, r, "v")
	if !ok {
		return
	}
	a.mu.Lock()
	a.notReady = !v
	if v && a.now().Before(a.readyAt) {
		a.readyAt = a.now()
	}
	a.mu.Unlock()
	writeJSON(w, http.StatusOK, a.Snapshot())
}

func (a *App) adminSlow(w http.ResponseWriter, r *http.Request) {
	d, err := parseDuration(r.URL.Query().Get("d"))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "d: " + err.Error()})
		return
	}
	a.mu.Lock()
	a.slow = d
	a.mu.Unlock()
	writeJSON(w, http.StatusOK, a.Snapshot())
}

func (a *App) adminCrash(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "crashing", "instanceId": a.cfg.InstanceID})
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	a.mu.Lock()
	a.crashLocked()
	a.mu.Unlock()
}

// adminFallback answers admin paths the routes above do not serve: 405 for a
// known endpoint with the wrong method, 404 otherwise (never the workload).
func adminFallback(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/admin/fail", "/admin/healthy", "/admin/ready", "/admin/slow", "/admin/crash":
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": r.URL.Path + " takes POST"})
	case "/admin/state":
		w.Header().Set("Allow", http.MethodGet)
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": r.URL.Path + " takes GET"})
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no admin endpoint " + r.URL.Path + " (state, fail, healthy, ready, slow, crash)"})
	}
}

func boolParam(w http.ResponseWriter, r *http.Request, name string) (bool, bool) {
	s := r.URL.Query().Get(name)
	v, err := strconv.ParseBool(s)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("%s: %q: want true or false", name, s)})
		return false, false
	}
	return v, true
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// ErrCrashed is returned by Run when the app crashed on purpose.
var ErrCrashed = errors.New("demo-app: crashing on purpose")

// Run serves cfg until ctx is cancelled (then it stops accepting and lets
// in-flight requests finish within cfg.ShutdownGrace) or the app crashes on
// purpose (ErrCrashed). ready, when not nil, receives the bound address.
func Run(ctx context.Context, cfg Config, log io.Writer, ready func(addr string)) error {
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("demo-app: listen on %s: %w", cfg.Listen, err)
	}
	a := New(cfg)
	srv := &http.Server{Handler: a, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(log, "demo-app %s: app %s version %s instance %s platform %s listening on %s\n",
		time.Now().UTC().Format(time.RFC3339), cfg.App, cfg.Version, cfg.InstanceID, cfg.Platform, ln.Addr())
	if ready != nil {
		ready(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	var crashTimer <-chan time.Time
	if cfg.CrashAfter.After > 0 {
		t := time.NewTimer(cfg.CrashAfter.After)
		defer t.Stop()
		crashTimer = t.C
	}
	select {
	case err := <-errc:
		return fmt.Errorf("demo-app: serve: %w", err)
	case <-crashTimer:
		fmt.Fprintf(log, "demo-app: crashing after %s (%s)\n", cfg.CrashAfter.After, EnvCrashAfter)
		return ErrCrashed
	case <-a.Crashed():
		fmt.Fprintln(log, "demo-app: crashing on request")
		time.Sleep(50 * time.Millisecond) // let the answer that triggered it go out
		return ErrCrashed
	case <-ctx.Done():
	}
	fmt.Fprintf(log, "demo-app: shutting down, %d request(s) in flight\n", a.inFlight.Load())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("demo-app: shutdown: %w", err)
	}
	fmt.Fprintln(log, "demo-app: stopped")
	return nil
}
