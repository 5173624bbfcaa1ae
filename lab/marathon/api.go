package marathon

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/switchyard/switchyard/marathon"
)

// MaxBodyBytes bounds request bodies: a larger one is answered 413 Request
// Entity Too Large with a Marathon-style error body, never truncated
// (Marathon's default is 1 MiB per app; groups are larger).
const MaxBodyBytes = 16 << 20

// Handler serves the Marathon v2 REST API (every request but GET /ping needs
// Options.Token when it is set).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/ping", s.handlePing)
	mux.HandleFunc("/v2/info", s.handleInfo)
	mux.HandleFunc("/v2/leader", s.handleLeader)
	mux.HandleFunc("/v2/apps", s.handleApps)
	mux.HandleFunc("/v2/apps/", s.handleApp)
	mux.HandleFunc("/v2/tasks", s.handleTasks)
	mux.HandleFunc("/v2/tasks/delete", s.handleTasksDelete)
	mux.HandleFunc("/v2/deployments", s.handleDeployments)
	mux.HandleFunc("/v2/deployments/", s.handleDeployment)
	mux.HandleFunc("/v2/groups", s.handleGroups)
	mux.HandleFunc("/v2/groups/", s.handleGroups)
	mux.HandleFunc("/v2/queue", s.handleQueue)
	mux.HandleFunc("/v2/queue/", s.handleQueueDelay)
	mux.HandleFunc("/v2/events", s.handleEvents)
	mux.HandleFunc("/v2/pods", s.handlePods)
	mux.HandleFunc("/v2/pods/", s.handlePods)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &apiError{Status: http.StatusNotFound, Message: fmt.Sprintf("Resource %s does not exist in the lab Marathon", r.URL.Path)})
	})
	h := limitBody(mux)
	if s.opts.Token != "" {
		return requireToken(s.opts.Token, h)
	}
	return h
}

// limitBody answers 413 to a request whose Content-Length is over
// MaxBodyBytes and bounds every other body to it (readBody answers 413 when
// a body without a length turns out larger).
func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > MaxBodyBytes {
			w.Header().Set("Connection", "close")
			writeError(w, bodyTooLarge(r.ContentLength))
			return
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		}
		next.ServeHTTP(w, r)
	})
}

// bodyTooLarge is the 413 answer to a body over MaxBodyBytes (n is its
// length, -1 when unknown).
func bodyTooLarge(n int64) *apiError {
	size := "more than " + strconv.Itoa(MaxBodyBytes)
	if n >= 0 {
		size = strconv.FormatInt(n, 10)
	}
	return &apiError{Status: http.StatusRequestEntityTooLarge,
		Message: fmt.Sprintf("Request entity too large: the body has %s bytes, the lab Marathon accepts at most %d", size, MaxBodyBytes)}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, e *apiError) { writeJSON(w, e.Status, e) }

func methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	writeError(w, &apiError{Status: http.StatusMethodNotAllowed, Message: fmt.Sprintf("HTTP method %s is not supported by %s", r.Method, r.URL.Path)})
}

// boolParam reads a boolean query parameter the way Marathon does (any case).
func boolParam(q url.Values, name string) bool {
	v := strings.ToLower(q.Get(name))
	return v == "true" || v == "1"
}

// readBody reads the request body as JSON; when it cannot, it answers the
// error itself and ok is false.
func readBody(w http.ResponseWriter, r *http.Request) (raw json.RawMessage, ok bool) {
	raw, e := bodyJSON(r)
	if e != nil {
		writeError(w, e)
		return nil, false
	}
	return raw, true
}

// bodyJSON reads the request body as JSON.
func bodyJSON(r *http.Request) (json.RawMessage, *apiError) {
	// Handler bounds bodies already (limitBody); this guards other callers.
	b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, bodyTooLarge(-1)
	}
	if err != nil {
		return nil, badRequest("read request body: %v", err)
	}
	if !json.Valid(b) {
		var v any
		return nil, invalidJSON("", json.Unmarshal(b, &v))
	}
	return b, nil
}

func (s *Server) handlePing(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "must-revalidate,no-cache,no-store")
	_, _ = io.WriteString(w, "pong\n")
}

func (s *Server) leaderHost() string {
	u, err := url.Parse(s.opts.AdvertiseURL)
	if err != nil {
		return s.cfg.Marathon.Listen
	}
	return u.Host
}

func (s *Server) handleInfo(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		methodNotAllowed(w, r)
		return
	}
	host := s.leaderHost()
	port, _ := strconv.Atoi(host[strings.LastIndex(host, ":")+1:])
	info := marathon.Info{
		Name: "marathon", Version: MarathonVersion, Buildref: "switchyard-lab", Elected: true, Leader: host,
		FrameworkID: s.frameworkID(),
		MarathonConfig: marathon.MarathonConfig{
			Master: "http://" + s.cfg.Mesos.Listen, Hostname: host[:strings.LastIndex(host, ":")],
			FrameworkName: "marathon", Features: []string{"task_killing"}, Checkpoint: true, MesosRole: "*",
			MesosUser: "root", MesosLeaderUIURL: "http://" + s.cfg.Mesos.Listen + "/", WebUIURL: s.opts.AdvertiseURL,
			LocalPortMin: 10000, LocalPortMax: 20000, TaskLaunchTimeout: 300000, EnvVarsPrefix: "",
			FailoverTimeout: 604800, Executor: "//cmd",
		},
		HTTPConfig: &marathon.HTTPConfig{HTTPPort: port},
		// The lab keeps Marathon's state in files, not ZooKeeper; the "zk"
		// member says where (clients such as python-marathon need the object).
		ZooKeeperConfig: &marathon.ZooKeeperConfig{ZK: "file://" + s.store.dir, ZKMaxVersions: maxVersions},
	}
	writeJSON(w, http.StatusOK, info)
}

// MarathonVersion is the Marathon version the lab's API follows.
const MarathonVersion = "1.10.17"

func (s *Server) frameworkID() string { return s.cfg.ID + "-marathon-0000" }

func (s *Server) handleLeader(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		methodNotAllowed(w, r)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"leader": s.leaderHost()})
}
