// Package admintest is a TEST DOUBLE of one nginx instance's admin API as
// docs/load-balancer.md specifies it (bearer token, versioned PUT /routes
// with 409 and 400, /healthz with the instance id, /stats with latency
// histograms), served by an httptest server. It is for the tests of traffic
// and its sub-packages only: it is not the Lua module and proves nothing
// about it (the lab's nginx tests do). The per-route endpoints
// (/routes/NAME), /metrics and /stub_status are not implemented.
package admintest

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/traffic"
)

// Bounds are the latency bounds the module uses, in seconds.
var Bounds = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Server is one fake nginx instance.
type Server struct {
	// URL is the admin API base URL.
	URL string
	// Token is the admin token it accepts.
	Token string
	// CAFile is a PEM file of the server's certificate (TLS servers only).
	CAFile string

	srv   *httptest.Server
	cidrs []netip.Prefix

	mu     sync.Mutex
	state  traffic.State
	id     string
	down   bool
	refuse func(traffic.State) error
	series map[[2]string]*traffic.Series
	puts   int
}

// New starts a fake instance (closed with the test) accepting token and
// backends inside cidrs. With tls, it serves https with a self-signed
// certificate written to CAFile.
func New(t testing.TB, token string, cidrs []netip.Prefix, tls bool) *Server {
	t.Helper()
	s := &Server{Token: token, cidrs: cidrs, id: newID(), series: map[[2]string]*traffic.Series{}}
	if tls {
		s.srv = httptest.NewUnstartedServer(s)
		s.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshakes a test makes fail on purpose
		s.srv.StartTLS()
		s.CAFile = filepath.Join(t.TempDir(), "ca.pem")
		cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.srv.Certificate().Raw})
		if err := os.WriteFile(s.CAFile, cert, 0o600); err != nil {
			t.Fatal(err)
		}
	} else {
		s.srv = httptest.NewServer(s)
	}
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

func newID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Client returns a traffic.Client of this instance with the right token.
func (s *Server) Client(name string) *traffic.Client {
	return &traffic.Client{Name: name, AdminURL: s.URL, Token: s.Token, CAFile: s.CAFile}
}

// SetDown makes the instance unreachable (connections are closed without
// an answer) or reachable again.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
	if down {
		s.srv.CloseClientConnections()
	}
}

// Restart simulates an nginx restart that loaded st from its state file: a
// new instance id, counters at zero, reachable.
func (s *Server) Restart(st traffic.State) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state, s.id, s.down = st.Clone(), newID(), false
	s.series = map[[2]string]*traffic.Series{}
	s.srv.CloseClientConnections()
}

// SetRefuse makes PUT /routes answer 400 with the error refuse returns for
// a state (nil: accepted); e.g. an instance with other backend CIDRs.
func (s *Server) SetRefuse(refuse func(traffic.State) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse = refuse
}

// State returns the active routing state.
func (s *Server) State() traffic.State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state.Clone()
}

// ID returns the instance id.
func (s *Server) ID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.id
}

// Puts returns how many PUT /routes it accepted.
func (s *Server) Puts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.puts
}

// Observe counts n requests of a route and platform with that status and
// latency, as the module's log_by_lua phase does.
func (s *Server) Observe(route, platform string, n, status int, latency time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := [2]string{route, platform}
	sr := s.series[k]
	if sr == nil {
		sr = &traffic.Series{Route: route, Platform: platform, Buckets: make([]int64, len(Bounds)+1)}
		s.series[k] = sr
	}
	sec := latency.Seconds()
	b := sort.SearchFloat64s(Bounds, sec) // first bound >= sec: le semantics
	sr.Requests += int64(n)
	sr.SumSeconds += sec * float64(n)
	sr.Buckets[b] += int64(n)
	if status >= 500 && status <= 599 {
		sr.Errors5xx += int64(n)
	}
}

// ServeHTTP implements the admin API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	down := s.down
	s.mu.Unlock()
	if down {
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	if r.URL.Path == "/healthz" && r.Method == http.MethodGet {
		s.mu.Lock()
		h := traffic.Health{Status: "ok", Version: s.state.Version, Routes: len(s.state.Routes), Instance: s.id}
		s.mu.Unlock()
		reply(w, http.StatusOK, h)
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte("Bearer "+s.Token)) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="switchyard"`)
		fail(w, http.StatusUnauthorized, "missing or wrong admin token")
		return
	}
	switch {
	case r.URL.Path == "/routes" && r.Method == http.MethodGet:
		reply(w, http.StatusOK, s.State())
	case r.URL.Path == "/routes" && r.Method == http.MethodPut:
		s.put(w, r)
	case r.URL.Path == "/stats" && r.Method == http.MethodGet:
		reply(w, http.StatusOK, s.stats())
	case r.URL.Path == "/routes" || r.URL.Path == "/stats":
		fail(w, http.StatusMethodNotAllowed, r.Method+" "+r.URL.Path+" is not allowed")
	default:
		fail(w, http.StatusNotFound, r.URL.Path+" is not part of the admin API")
	}
}

func (s *Server) put(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		fail(w, http.StatusBadRequest, "body: "+err.Error())
		return
	}
	st, err := traffic.DecodeState(body, s.cidrs)
	if err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if st.Version <= s.state.Version {
		fail(w, http.StatusConflict, fmt.Sprintf("version: %d is not newer than the active version %d", st.Version, s.state.Version))
		return
	}
	if s.refuse != nil {
		if err := s.refuse(st); err != nil {
			fail(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	s.state = st
	s.puts++
	reply(w, http.StatusOK, st)
}

func (s *Server) stats() traffic.InstanceStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := traffic.InstanceStats{Instance: s.id, Version: s.state.Version, Bounds: Bounds, Series: []traffic.Series{}}
	for _, sr := range s.series {
		c := *sr
		c.Buckets = append([]int64(nil), sr.Buckets...)
		out.Series = append(out.Series, c)
	}
	sort.Slice(out.Series, func(i, j int) bool {
		a, b := out.Series[i], out.Series[j]
		return a.Route < b.Route || (a.Route == b.Route && a.Platform < b.Platform)
	})
	return out
}

func reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, code int, msg string) {
	reply(w, code, map[string]string{"error": msg})
}
