// Package traffic owns how requests reach an app's backends through the
// operator's nginx fleet (docs/load-balancer.md): the routing state (routes,
// each with one pool of weighted backends from both platforms, and the owner
// that keeps it), the rules and bounds that make a state valid, how an app's
// traffic is split between Marathon and Kubernetes, the admin API client of
// one nginx instance, the Fleet that pushes one versioned state to every
// instance of a context, and the statistics read back from the instances.
//
// The pure part (State, Validate, Match, SplitWeights, Delta,
// HistogramQuantile, ParseLine, Window) does no I/O. The edges are Client
// (one instance's admin API: token, https with the operator's CA), Fleet
// (Update, Run: every instance holds the same version, or the error says
// which does not and why), Sampler (the fleet's /stats every second, for the
// migration's gates) and Tailer (an access log, for people). Weight and
// backend changes never reload nginx: its Lua balancer reads the state from
// a shared dict on every request, and nginx persists the state it accepted.
// This package does not decide percentages or gates (migrate does), nor follow
// the platforms' backends (traffic/follow does).
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

// Bounds of a routing state, enforced by Validate and by nginx's Lua module
// (docs/load-balancer.md).
const (
	// MaxVersion is the largest state version: nginx's Lua numbers are
	// doubles, exact up to 2^53.
	MaxVersion = 1 << 53
	// MaxWeight is the largest backend weight.
	MaxWeight = 1000000
	// MaxRoutes is the largest number of routes in a state.
	MaxRoutes = 10000
	// MaxBackends is the largest number of backends in one route.
	MaxBackends = 1000
	// MaxOwner is the longest Route.Owner.
	MaxOwner = 128
)

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
	// migration of APP. At most MaxOwner characters of [A-Za-z0-9._/:-].
	Owner string `json:"owner,omitempty"`
	// Backends is the pool; each request goes to one backend with weight > 0.
	Backends []Backend `json:"backends"`
}

// Backend is one Marathon task or Kubernetes pod endpoint.
type Backend struct {
	// Address is IPv4:port inside one of the load balancer's backend CIDRs.
	Address string `json:"address"`
	// Weight is the relative part of the route's requests, 0 to MaxWeight;
	// 0 means no traffic.
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

var (
	routeName = regexp.MustCompile(`^[A-Za-z0-9._/-]+$`)
	ownerName = regexp.MustCompile(`^[A-Za-z0-9._/:-]*$`)
)

// Validate checks a state before it is pushed: at most MaxRoutes routes,
// route names unique and well-formed, one route per host and prefix, owner
// well-formed, at most MaxBackends backends per route, backend addresses
// IPv4:port inside one of backendCIDRs (the only networks nginx may send
// traffic to; loopback only when a CIDR covers it, e.g. 127.0.0.0/8), weights
// in [0, MaxWeight], platforms known. All problems are reported, each naming
// its field.
func Validate(s State, backendCIDRs []netip.Prefix) error {
	var errs []error
	if s.Version < 0 || s.Version > MaxVersion {
		errs = append(errs, fmt.Errorf("version: %d must be between 0 and %d", s.Version, int64(MaxVersion)))
	}
	if len(s.Routes) > MaxRoutes {
		errs = append(errs, fmt.Errorf("routes: %d routes, at most %d are allowed", len(s.Routes), MaxRoutes))
	}
	names := make(map[string]bool, len(s.Routes))
	keys := make(map[string]string, len(s.Routes))
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
		if len(r.Owner) > MaxOwner || !ownerName.MatchString(r.Owner) {
			errs = append(errs, fmt.Errorf("%s.owner: %q must be at most %d letters, digits, '.', '_', '/', ':', '-'", p, r.Owner, MaxOwner))
		}
		key := r.Host + " " + NormPrefix(r.PathPrefix)
		if other, dup := keys[key]; dup {
			errs = append(errs, fmt.Errorf("%s: host %q and pathPrefix %q are already routed by %q", p, r.Host, r.PathPrefix, other))
		} else {
			keys[key] = r.Name
		}
		if len(r.Backends) > MaxBackends {
			errs = append(errs, fmt.Errorf("%s.backends: %d backends, at most %d are allowed", p, len(r.Backends), MaxBackends))
		}
		addrs := make(map[string]bool, len(r.Backends))
		for j, b := range r.Backends {
			bp := p + ".backends[" + strconv.Itoa(j) + "]"
			if err := CheckAddress(b.Address, backendCIDRs); err != nil {
				errs = append(errs, fmt.Errorf("%s.address: %w", bp, err))
			} else if addrs[b.Address] {
				errs = append(errs, fmt.Errorf("%s.address: %s is listed twice", bp, b.Address))
			}
			addrs[b.Address] = true
			if b.Weight < 0 || b.Weight > MaxWeight {
				errs = append(errs, fmt.Errorf("%s.weight: %d must be between 0 and %d", bp, b.Weight, MaxWeight))
			}
			if b.Platform != Marathon && b.Platform != Kubernetes {
				errs = append(errs, fmt.Errorf("%s.platform: %q must be %q or %q", bp, b.Platform, Marathon, Kubernetes))
			}
		}
	}
	return errors.Join(errs...)
}

// DecodeState decodes a routing state (JSON, as in nginx's routes.json and
// the admin API; unknown fields are errors) and validates it against
// backendCIDRs.
func DecodeState(data []byte, backendCIDRs []netip.Prefix) (State, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var s State
	if err := dec.Decode(&s); err != nil {
		return State{}, fmt.Errorf("invalid JSON routing state: %w", err)
	}
	if dec.More() {
		return State{}, errors.New("invalid JSON routing state: data after the state")
	}
	if err := Validate(s, backendCIDRs); err != nil {
		return State{}, err
	}
	return s, nil
}

// CheckAddress accepts IPv4:port addresses inside one of backendCIDRs, and
// nothing else (loopback included: it is allowed only when a CIDR covers it).
func CheckAddress(addr string, backendCIDRs []netip.Prefix) error {
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
	for _, p := range backendCIDRs {
		if p.Contains(ip) {
			return nil
		}
	}
	return fmt.Errorf("%s is in none of the backend CIDRs %v: traffic may only go to those networks (the load balancer's --backends-cidr)", addr, backendCIDRs)
}

// NormPrefix is the path prefix as nginx stores it ("" → "/", no trailing
// slash but for "/").
func NormPrefix(p string) string {
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
			if r.Host != want || !prefixMatches(NormPrefix(r.PathPrefix), path) {
				continue
			}
			if !found || len(NormPrefix(r.PathPrefix)) > len(NormPrefix(best.PathPrefix)) {
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
