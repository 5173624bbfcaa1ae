// Package traffic owns how requests reach an app's backends through the shared
// nginx: the routing state (routes, each with one pool of weighted backends
// from both platforms), the rules that make a state valid, how an app's
// traffic is split between Marathon and Kubernetes, the client that pushes a
// state to nginx's admin API (persisting it first so a restarted nginx routes
// the same), and the statistics read back from nginx's access log.
//
// The pure part (State, Validate, Match, SplitWeights, ParseLine, Window) does
// no I/O; Client and Tailer are the small edges that touch the network and
// disk. Weight and backend changes never reload nginx (see the notes in
// ../shared/notes/nginx-traffic.md): nginx's Lua balancer reads the state from
// a shared dict on every request.
package traffic

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// Platform labels of a backend.
const (
	Marathon   = "marathon"
	Kubernetes = "kubernetes"
)

// MaxVersion is the largest state version: nginx's Lua numbers are doubles,
// exact up to 2^53.
const MaxVersion = 1 << 53

// State is the whole routing state of the shared nginx.
type State struct {
	// Version increases with every change; nginx refuses a state that is not
	// newer than the active one.
	Version int64 `json:"version"`
	// Routes are matched by host, then longest path prefix.
	Routes []Route `json:"routes"`
}

// Route sends the requests for one host and path prefix to one pool.
type Route struct {
	// Name identifies the route (usually the app id), unique in a State.
	Name string `json:"name"`
	// Host is the lowercase host name without port; "" matches any host
	// (routes naming the request's host win over "" routes).
	Host string `json:"host"`
	// PathPrefix matches whole path segments: "/api" matches "/api" and
	// "/api/x" but not "/apix". "" or "/" matches every path.
	PathPrefix string `json:"pathPrefix"`
	// Owner says who keeps the route's pool: "" nobody (set by hand or by
	// deploy), "sync" the long-running `switchyard lb sync`, "migrate/APP" a
	// migration of APP (docs/load-balancer.md).
	Owner string `json:"owner,omitempty"`
	// Backends is the pool; each request goes to one backend with weight > 0.
	Backends []Backend `json:"backends"`
}

// Backend is one Marathon task or Kubernetes pod endpoint.
type Backend struct {
	// Address is IPv4:port, on loopback or in the lab's pod network.
	Address string `json:"address"`
	// Weight is the relative share of the route's requests; 0 means no traffic.
	Weight int `json:"weight"`
	// Platform is Marathon or Kubernetes.
	Platform string `json:"platform"`
	// App is the app (Marathon id or Kubernetes workload) behind the backend.
	App string `json:"app"`
	// ID is the task id or pod name.
	ID string `json:"id"`
}

// Route returns the route with that name.
func (s State) Route(name string) (Route, bool) {
	for _, r := range s.Routes {
		if r.Name == name {
			return r, true
		}
	}
	return Route{}, false
}

// Clone returns a deep copy of the state.
func (s State) Clone() State {
	c := State{Version: s.Version, Routes: make([]Route, len(s.Routes))}
	for i, r := range s.Routes {
		r.Backends = append([]Backend(nil), r.Backends...)
		c.Routes[i] = r
	}
	return c
}

// WithRoute returns a copy of the state in which r replaces the route of the
// same name, or is appended.
func (s State) WithRoute(r Route) State {
	c := s.Clone()
	r.Backends = append([]Backend(nil), r.Backends...)
	for i := range c.Routes {
		if c.Routes[i].Name == r.Name {
			c.Routes[i] = r
			return c
		}
	}
	c.Routes = append(c.Routes, r)
	return c
}

// WithoutRoute returns a copy of the state without the named route.
func (s State) WithoutRoute(name string) State {
	c := s.Clone()
	out := c.Routes[:0]
	for _, r := range c.Routes {
		if r.Name != name {
			out = append(out, r)
		}
	}
	c.Routes = out
	return c
}

// LiveBackends returns the backends that receive traffic (weight > 0).
func (r Route) LiveBackends() []Backend {
	var out []Backend
	for _, b := range r.Backends {
		if b.Weight > 0 {
			out = append(out, b)
		}
	}
	return out
}

var routeName = regexp.MustCompile(`^[A-Za-z0-9._/-]+$`)

// Validate checks a state before it is pushed: route names unique and
// well-formed, one route per host and prefix, backend addresses IPv4:port on
// loopback or inside one of podNetworks (the only places the lab may send
// traffic), weights >= 0, platforms known. All problems are reported, each
// naming its field.
func Validate(s State, podNetworks ...netip.Prefix) error {
	var errs []error
	if s.Version < 0 || s.Version > MaxVersion {
		errs = append(errs, fmt.Errorf("version: %d must be between 0 and %d", s.Version, int64(MaxVersion)))
	}
	names := map[string]bool{}
	keys := map[string]string{}
	for i, r := range s.Routes {
		p := "routes[" + strconv.Itoa(i) + "]"
		switch {
		case !routeName.MatchString(r.Name):
			errs = append(errs, fmt.Errorf("%s.name: %q must be non-empty letters, digits, '.', '_', '-', '/'", p, r.Name))
		case names[r.Name]:
			errs = append(errs, fmt.Errorf("%s.name: %q is used twice", p, r.Name))
		}
		names[r.Name] = true
		if r.Host != strings.ToLower(r.Host) || strings.ContainsAny(r.Host, ":/ ") {
			errs = append(errs, fmt.Errorf("%s.host: %q must be a lowercase host name without port", p, r.Host))
		}
		if r.PathPrefix != "" && !strings.HasPrefix(r.PathPrefix, "/") {
			errs = append(errs, fmt.Errorf("%s.pathPrefix: %q must start with '/'", p, r.PathPrefix))
		}
		key := r.Host + " " + normPrefix(r.PathPrefix)
		if other, dup := keys[key]; dup {
			errs = append(errs, fmt.Errorf("%s: host %q and pathPrefix %q are already routed by %q", p, r.Host, r.PathPrefix, other))
		} else {
			keys[key] = r.Name
		}
		addrs := map[string]bool{}
		for j, b := range r.Backends {
			bp := fmt.Sprintf("%s.backends[%d]", p, j)
			if err := CheckAddress(b.Address, podNetworks...); err != nil {
				errs = append(errs, fmt.Errorf("%s.address: %w", bp, err))
			} else if addrs[b.Address] {
				errs = append(errs, fmt.Errorf("%s.address: %s is listed twice", bp, b.Address))
			}
			addrs[b.Address] = true
			if b.Weight < 0 {
				errs = append(errs, fmt.Errorf("%s.weight: %d must be >= 0", bp, b.Weight))
			}
			if b.Platform != Marathon && b.Platform != Kubernetes {
				errs = append(errs, fmt.Errorf("%s.platform: %q must be %q or %q", bp, b.Platform, Marathon, Kubernetes))
			}
		}
	}
	return errors.Join(errs...)
}

// DecodeState decodes a routing state (JSON, as in the state file and the
// admin API; unknown fields are errors) and validates it.
func DecodeState(data []byte, podNetworks ...netip.Prefix) (State, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var s State
	if err := dec.Decode(&s); err != nil {
		return State{}, fmt.Errorf("invalid JSON routing state: %w", err)
	}
	if err := Validate(s, podNetworks...); err != nil {
		return State{}, err
	}
	return s, nil
}

// CheckAddress accepts IPv4:port addresses on loopback or inside one of
// podNetworks, and nothing else.
func CheckAddress(addr string, podNetworks ...netip.Prefix) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q must be IPv4:port", addr)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q has no valid port", addr)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.Is4() {
		return fmt.Errorf("%q must be IPv4:port", addr)
	}
	if ip.IsLoopback() {
		return nil
	}
	for _, p := range podNetworks {
		if p.Contains(ip) {
			return nil
		}
	}
	return fmt.Errorf("%s is neither loopback nor in the lab's pod network %v: traffic may only go to lab addresses", addr, podNetworks)
}

func normPrefix(p string) string {
	if p == "" {
		return "/"
	}
	if len(p) > 1 && strings.HasSuffix(p, "/") {
		return strings.TrimSuffix(p, "/")
	}
	return p
}

// Match returns the route nginx uses for a request: among the routes whose
// Host equals the request's host (port removed, case ignored) the one with
// the longest matching PathPrefix, else the same among the routes with
// Host "". It mirrors the Lua balancer's rule.
func (s State) Match(host, path string) (Route, bool) {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(host)
	for _, want := range []string{host, ""} {
		best, found := Route{}, false
		for _, r := range s.Routes {
			if r.Host != want || !prefixMatches(normPrefix(r.PathPrefix), path) {
				continue
			}
			if !found || len(normPrefix(r.PathPrefix)) > len(normPrefix(best.PathPrefix)) {
				best, found = r, true
			}
		}
		if found {
			return best, true
		}
		if want == "" {
			break
		}
	}
	return Route{}, false
}

func prefixMatches(prefix, path string) bool {
	if prefix == "/" {
		return true
	}
	if !strings.HasPrefix(path, prefix) {
		return false
	}
	return len(path) == len(prefix) || path[len(prefix)] == '/'
}
