// Package serve is the HTTP side of `switchyard serve`: the migration
// controller as a service. It authenticates every API call (bearer tokens
// in two roles, viewer and operator), answers reads from the journal
// (status, history, live events) and from the views the command plugs in
// (plan, capacity, routes), and hands writes (migrate, pause, resume,
// abort, rollback) to the engine of the replica that leads; a follower
// forwards writes to the leader. It runs nothing itself: the command wires
// the engine, the leadership and the views (internal/cli/serve.go).
package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/switchyard/switchyard/journal"
	"github.com/switchyard/switchyard/migrate"
	"github.com/switchyard/switchyard/migrate/control"
)

// Engine runs migrations on the replica that leads.
type Engine interface {
	// Start begins migrating apps in the background (with first as their
	// first event, e.g. EvRollback of a Finalized app). It refuses an
	// unknown app or one that is already being migrated, before starting
	// any.
	Start(apps []string, first ...migrate.Event) error
	// Wave returns the apps of wave n of the plan.
	Wave(ctx context.Context, n int) ([]string, error)
	control.Sender
}

// Leadership says who runs migrations.
type Leadership interface {
	// Engine is this replica's engine while it leads, else nil.
	Engine() Engine
	// Leader is the base URL of the replica that leads ("" with no
	// leader), and whether it is this one.
	Leader(ctx context.Context) (url string, self bool, err error)
}

// View answers a read-only API call (plan, capacity, routes).
type View func(ctx context.Context) (any, error)

// Options configure a Server.
type Options struct {
	// Auth authenticates bearer tokens (required).
	Auth Authenticator
	// Journal is read for status, history and events.
	Journal journal.Reader
	// Leadership finds the engine or the leader to forward to (required).
	Leadership Leadership
	// Views answer GET /api/v1/{name} (e.g. "plan", "capacity", "routes").
	Views map[string]View
	// Metrics serves /metrics (viewer role); nil: 404.
	Metrics http.Handler
	// Dashboard serves the web UI under / (its API calls need a token).
	Dashboard http.Handler
	// Ready reports whether this replica can serve (e.g. the journal
	// answers); nil: always ready.
	Ready func(ctx context.Context) error
	// Forward is the client used to forward writes to the leader (default
	// http.DefaultClient's transport).
	Forward http.RoundTripper
	// Self names this replica in responses and forwarded requests.
	Self string
	// Log receives one line per request that changes something and per
	// refusal (default: discarded).
	Log *slog.Logger
	// EventPeriod is how often /api/v1/events looks for changes (default 1 s).
	EventPeriod time.Duration
}

// Server is serve's HTTP handler.
type Server struct {
	o   Options
	mux *http.ServeMux
	hub *statusHub
}

// forwardedHeader marks a write a follower forwarded: the replica it
// reaches must lead (no second hop).
const forwardedHeader = "X-Switchyard-Forwarded-By"

// maxBody bounds a request body.
const maxBody = 1 << 20

// New returns the server's handler.
func New(o Options) (*Server, error) {
	if o.Auth == nil || o.Leadership == nil || o.Journal == nil {
		return nil, errors.New("serve: Auth, Journal and Leadership are required")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.EventPeriod <= 0 {
		o.EventPeriod = time.Second
	}
	s := &Server{o: o, mux: http.NewServeMux()}
	s.hub = &statusHub{poll: s.pollStatus, period: o.EventPeriod}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { writeText(w, http.StatusOK, "ok") })
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.Handle("GET /metrics", s.with(RoleViewer, s.metrics))
	s.mux.Handle("GET /api/v1/status", s.with(RoleViewer, s.status))
	s.mux.Handle("GET /api/v1/apps/{app}/history", s.with(RoleViewer, s.history))
	s.mux.Handle("GET /api/v1/events", s.with(RoleViewer, s.events))
	s.mux.Handle("GET /api/v1/leader", s.with(RoleViewer, s.leader))
	s.mux.Handle("GET /api/v1/whoami", s.with(RoleViewer, s.whoami))
	s.mux.Handle("GET /api/v1/views/{view}", s.with(RoleViewer, s.view))
	s.mux.Handle("POST /api/v1/migrations", s.with(RoleOperator, s.write(s.migrate)))
	s.mux.Handle("POST /api/v1/apps/{app}/{op}", s.with(RoleOperator, s.write(s.command)))
	if o.Dashboard != nil {
		s.mux.Handle("GET /", o.Dashboard)
	}
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	s.mux.ServeHTTP(w, r)
}

type identityKey struct{}

// IdentityOf is the caller authenticated for r (zero outside a handler).
func IdentityOf(r *http.Request) Identity {
	id, _ := r.Context().Value(identityKey{}).(Identity)
	return id
}

// with authenticates the request and requires role.
func (s *Server) with(role Role, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := s.o.Auth.Authenticate(r.Context(), bearer(r.Header.Get("Authorization")))
		if err != nil {
			if !errors.Is(err, ErrUnauthenticated) {
				s.o.Log.Warn("authentication failed", "path", r.URL.Path, "err", err)
				writeError(w, http.StatusServiceUnavailable, "authentication unavailable: "+err.Error())
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="switchyard"`)
			writeError(w, http.StatusUnauthorized, "a bearer token is required (Authorization: Bearer TOKEN)")
			return
		}
		if id.Role < role {
			s.o.Log.Warn("refused", "who", id.Name, "role", id.Role.String(), "method", r.Method, "path", r.URL.Path)
			writeError(w, http.StatusForbidden, fmt.Sprintf("%s is a %s; this needs the %s role", id.Name, id.Role, role))
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), identityKey{}, id)))
	})
}

// write runs a state-changing handler on the leader's engine, or forwards
// the request to the leader.
func (s *Server) write(h func(http.ResponseWriter, *http.Request, Engine)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if e := s.o.Leadership.Engine(); e != nil {
			h(w, r, e)
			return
		}
		if by := r.Header.Get(forwardedHeader); by != "" {
			writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("%s forwarded this to %s, which does not lead (leadership is changing: try again)", by, s.o.Self))
			return
		}
		leader, self, err := s.o.Leadership.Leader(r.Context())
		switch {
		case err != nil:
			writeError(w, http.StatusServiceUnavailable, "no leader to forward to: "+err.Error())
			return
		case leader == "" || self:
			writeError(w, http.StatusServiceUnavailable, "no replica leads right now (an election is under way: try again in a few seconds)")
			return
		}
		target, err := url.Parse(leader)
		if err != nil {
			writeError(w, http.StatusInternalServerError, fmt.Sprintf("leader URL %q: %v", leader, err))
			return
		}
		s.o.Log.Info("forward", "to", leader, "method", r.Method, "path", r.URL.Path, "who", IdentityOf(r).Name)
		p := &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(target)
				pr.Out.Header.Set(forwardedHeader, s.o.Self)
			},
			Transport: s.o.Forward,
			ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
				writeError(w, http.StatusBadGateway, fmt.Sprintf("forward to the leader %s: %v", leader, err))
			},
		}
		p.ServeHTTP(w, r)
	}
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.o.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		if err := s.o.Ready(ctx); err != nil {
			writeText(w, http.StatusServiceUnavailable, "not ready: "+err.Error())
			return
		}
	}
	writeText(w, http.StatusOK, "ok")
}

func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	if s.o.Metrics == nil {
		writeError(w, http.StatusNotFound, "no metrics")
		return
	}
	s.o.Metrics.ServeHTTP(w, r)
}

// Status is GET /api/v1/status: every app's migration, and who leads.
type Status struct {
	// Apps are the migrations, sorted by app.
	Apps []migrate.Summary `json:"apps"`
	// Leader is the base URL of the replica that leads ("" while none does).
	Leader string `json:"leader"`
	// Replica is the replica that answered.
	Replica string `json:"replica"`
}

func (s *Server) statusNow(ctx context.Context) (Status, error) {
	es, err := s.o.Journal.LoadAll()
	if err != nil {
		return Status{}, fmt.Errorf("journal: %w", err)
	}
	st := Status{Apps: []migrate.Summary{}, Replica: s.o.Self}
	for _, e := range es {
		sum, err := migrate.Summarize(e)
		if err != nil {
			return Status{}, err
		}
		st.Apps = append(st.Apps, sum)
	}
	if leader, _, err := s.o.Leadership.Leader(ctx); err == nil {
		st.Leader = leader
	}
	return st, nil
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	st, err := s.statusNow(r.Context())
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// HistoryEntry is one transition of an app's migration.
type HistoryEntry struct {
	// Seq, Time, From, To, Event and Reason are the journal entry's.
	Seq    uint64    `json:"seq"`
	Time   time.Time `json:"time"`
	From   string    `json:"from"`
	To     string    `json:"to"`
	Event  string    `json:"event"`
	Reason string    `json:"reason,omitempty"`
	// Kubernetes is the traffic percentage on Kubernetes after it.
	Kubernetes int `json:"kubernetesPercent"`
}

func (s *Server) history(w http.ResponseWriter, r *http.Request) {
	app := r.PathValue("app")
	es, err := s.o.Journal.Load(app)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "journal: "+err.Error())
		return
	}
	if len(es) == 0 {
		writeError(w, http.StatusNotFound, fmt.Sprintf("%s: no migration of this app in the journal", app))
		return
	}
	out := make([]HistoryEntry, 0, len(es))
	for _, e := range es {
		sum, err := migrate.Summarize(e)
		if err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		out = append(out, HistoryEntry{Seq: e.Seq, Time: e.Time, From: e.From, To: e.To, Event: e.Event, Reason: e.Reason, Kubernetes: sum.Kubernetes})
	}
	writeJSON(w, http.StatusOK, out)
}

// pollStatus is the status as one server-sent event ("status", or
// "error" when the journal does not answer).
func (s *Server) pollStatus(ctx context.Context) snapshot {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := s.statusNow(ctx)
	if err != nil {
		return snapshot{"error", mustJSON(map[string]string{"error": err.Error()})}
	}
	return snapshot{"status", mustJSON(st)}
}

// events streams the status as server-sent events: one "status" event at
// once and one each time it changes (every stream shares one poll of the
// journal, statusHub), a comment every 15 s to keep proxies from closing
// the stream.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, "streaming unsupported")
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fl.Flush()
	updates, done := s.hub.subscribe()
	defer done()
	keepAlive := time.NewTicker(15 * time.Second)
	defer keepAlive.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case sn := <-updates:
			if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", sn.event, sn.data); err != nil {
				return
			}
			keepAlive.Reset(15 * time.Second)
		case <-keepAlive.C:
			if _, err := io.WriteString(w, ": keep-alive\n\n"); err != nil {
				return
			}
		}
		fl.Flush()
	}
}

func (s *Server) leader(w http.ResponseWriter, r *http.Request) {
	leader, self, err := s.o.Leadership.Leader(r.Context())
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"leader": leader, "self": self, "replica": s.o.Self})
}

func (s *Server) whoami(w http.ResponseWriter, r *http.Request) {
	id := IdentityOf(r)
	writeJSON(w, http.StatusOK, map[string]string{"name": id.Name, "role": id.Role.String(), "replica": s.o.Self})
}

func (s *Server) view(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("view")
	v, ok := s.o.Views[name]
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no view %q (views: %s)", name, strings.Join(slices.Sorted(maps.Keys(s.o.Views)), ", ")))
		return
	}
	out, err := v(r.Context())
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("%s: %v", name, err))
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// MigrateRequest is the body of POST /api/v1/migrations: apps, or a wave
// of the plan.
type MigrateRequest struct {
	// Apps are the apps to migrate.
	Apps []string `json:"apps,omitempty"`
	// Wave is a wave of the plan (1-based) when Apps is empty.
	Wave int `json:"wave,omitempty"`
}

// Accepted answers a write: what was started or sent.
type Accepted struct {
	// Apps are the apps concerned; Op what was done.
	Apps []string `json:"apps"`
	Op   string   `json:"op"`
	// Replica is the replica (the leader) that did it.
	Replica string `json:"replica"`
}

func (s *Server) migrate(w http.ResponseWriter, r *http.Request, e Engine) {
	var req MigrateRequest
	if err := decodeBody(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	apps := req.Apps
	switch {
	case len(apps) > 0 && req.Wave != 0:
		writeError(w, http.StatusBadRequest, "give apps or wave, not both")
		return
	case len(apps) == 0 && req.Wave <= 0:
		writeError(w, http.StatusBadRequest, `name the apps ({"apps":["web"]}) or a wave ({"wave":1})`)
		return
	case req.Wave > 0:
		var err error
		if apps, err = e.Wave(r.Context(), req.Wave); err != nil {
			writeError(w, http.StatusConflict, err.Error())
			return
		}
		if len(apps) == 0 {
			writeError(w, http.StatusConflict, fmt.Sprintf("wave %d has no app", req.Wave))
			return
		}
	}
	if err := e.Start(apps); err != nil {
		writeError(w, http.StatusConflict, err.Error())
		return
	}
	s.o.Log.Info("migrate", "apps", apps, "who", IdentityOf(r).Name)
	writeJSON(w, http.StatusAccepted, Accepted{Apps: apps, Op: "migrate", Replica: s.o.Self})
}

// CommandRequest is the optional body of POST /api/v1/apps/{app}/{op}.
type CommandRequest struct {
	// Reason is journaled with the command.
	Reason string `json:"reason,omitempty"`
}

func (s *Server) command(w http.ResponseWriter, r *http.Request, e Engine) {
	app, op := r.PathValue("app"), r.PathValue("op")
	var req CommandRequest
	if err := decodeBody(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	who := IdentityOf(r).Name
	reason := req.Reason
	if reason == "" {
		reason = fmt.Sprintf("operator %s: %s", who, op)
	}
	switch op {
	case control.OpPause, control.OpResume, control.OpAbort:
		if _, err := control.Deliver(s.o.Journal, e, op, app, reason); err != nil {
			writeError(w, http.StatusConflict, err.Error())
			return
		}
	case "rollback":
		if err := e.Start([]string{app}, migrate.Event{Kind: migrate.EvRollback, Reason: reason}); err != nil {
			writeError(w, http.StatusConflict, err.Error())
			return
		}
	default:
		writeError(w, http.StatusNotFound, fmt.Sprintf("unknown operation %q (pause, resume, abort or rollback)", op))
		return
	}
	s.o.Log.Info(op, "app", app, "who", who)
	writeJSON(w, http.StatusAccepted, Accepted{Apps: []string{app}, Op: op, Replica: s.o.Self})
}

// decodeBody decodes a JSON body (empty is the zero value; unknown fields
// are errors).
func decodeBody(r *http.Request, v any) error {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return fmt.Errorf("read the body: %w", err)
	}
	if len(data) > maxBody {
		return fmt.Errorf("body larger than %d bytes", maxBody)
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("body: %w", err)
	}
	return nil
}

func mustJSON(v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		return []byte(`{"error":"encode"}`)
	}
	return data
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(append(mustJSON(v), '\n'))
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

func writeText(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, msg+"\n")
}
