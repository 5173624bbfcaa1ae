// Package lbsync is the long-running route reconciler of the shared nginx
// (`switchyard lb sync`), in the manner of marathon-lb: it derives the
// routes every app should have from app.yaml files, from marathon-lb labels
// on Marathon apps (HAPROXY_GROUP, HAPROXY_{n}_VHOST, HAPROXY_{n}_PATH) and
// from the annotations the converter writes on Kubernetes Services
// (switchyard.io/haproxy-*), fills their pools with the ready backends of
// both platforms, and pushes the difference through the admin API.
//
// The core is pure: Desired (inputs → routes) and Reconcile/Merge (nginx's
// state + desired routes → next state and the changes) do no I/O. The edges
// are small: MarathonSource (GET /v2/apps plus the event stream),
// KubernetesSource (Service and EndpointSlice informers) and Syncer, the loop
// that ties them to a Pusher (traffic.Fleet, or any writer with the same
// Update method).
//
// Ownership (docs/load-balancer.md): lbsync writes its routes with owner
// "sync" and removes "sync" routes whose source is gone. It never changes a
// route a migration holds (owner "migrate/APP") nor a hand-made route it does
// not derive (owner "", another name); a route of owner "" with the name of
// a route it derives is adopted. A source that cannot be reached keeps its
// last good snapshot: an outage never empties a pool. It must not import
// lab/: it runs against production Marathon, Kubernetes and nginx fleets.
package lbsync

import (
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/switchyard/switchyard/appspec"
	"github.com/switchyard/switchyard/traffic"
)

// Owner is the owner lbsync writes on the routes it keeps.
const Owner = "sync"

// DefaultGroup is the marathon-lb group served when none is given.
const DefaultGroup = "external"

// Annotations the converter writes on a Service from marathon-lb labels
// (convert.haproxyAnnotation: HAPROXY_0_VHOST → switchyard.io/haproxy-vhost,
// HAPROXY_1_PATH → switchyard.io/haproxy-1-path) and the Marathon id.
const (
	AnnotationGroup      = "switchyard.io/haproxy-group"
	AnnotationMarathonID = "switchyard.io/marathon-id"
)

// Inputs are everything the desired routes are derived from.
type Inputs struct {
	// Group is the marathon-lb group served (default DefaultGroup): apps and
	// Services of another group get no route.
	Group string
	// Apps are the app.yaml specs (type marathon or helm with a route).
	Apps []*appspec.Spec
	// Marathon are the Marathon apps with their tasks.
	Marathon []MarathonApp
	// Services are the Kubernetes Services with their ready endpoints.
	Services []Service
}

// MarathonApp is one Marathon app as the sync sees it.
type MarathonApp struct {
	// ID is the app's absolute id ("/demo/web").
	ID string
	// Labels are the app's labels (HAPROXY_* among them).
	Labels map[string]string
	// Ports name the app's ports by index (portDefinitions, or the
	// container's portMappings).
	Ports []Port
	// Tasks are the app's tasks.
	Tasks []Task
}

// Port is one port of a Marathon app.
type Port struct {
	// Name is the port's name ("" when unnamed); Number its declared port
	// (0 when Marathon picks it).
	Name   string
	Number int
}

// Task is one Marathon task.
type Task struct {
	// ID is the task id.
	ID string
	// Host is the task host's IPv4 address (resolved by the edge).
	Host netip.Addr
	// Ports are the task's host ports, by port index.
	Ports []int
	// Ready is true when the task runs and, when the app has health checks,
	// all of them pass.
	Ready bool
}

// Service is one Kubernetes Service with its ready endpoints.
type Service struct {
	// Namespace and Name name the Service.
	Namespace, Name string
	// Labels and Annotations are the Service's (switchyard.io/haproxy-*,
	// switchyard.io/marathon-id, app.kubernetes.io/instance among them).
	Labels, Annotations map[string]string
	// Ports are the Service's ports in spec order.
	Ports []ServicePort
}

// ServicePort is one port of a Service and the ready endpoints behind it.
type ServicePort struct {
	// Name, Port and TargetPort are the Service port's (TargetPort as
	// written: a number or a container port name).
	Name       string
	Port       int
	TargetPort string
	// Ready are the ready endpoints of this port (from the EndpointSlices).
	Ready []Endpoint
}

// Endpoint is one ready pod endpoint.
type Endpoint struct {
	// Address is IPv4:port; Pod the pod's name.
	Address, Pod string
}

// RouteName is the route name of port index n of a Marathon app or
// Service named base: base itself for port 0, base + "_n" otherwise. ("_"
// because route names may not hold ":", and Marathon ids never hold "_".)
func RouteName(base string, n int) string {
	if n == 0 {
		return base
	}
	return base + "_" + strconv.Itoa(n)
}

// source is one candidate route and where it came from (for messages).
type source struct {
	route traffic.Route
	from  string
}

var haproxyPortLabel = regexp.MustCompile(`^HAPROXY_([0-9]+)_(VHOST|PATH)$`)

// Desired derives the routes the sync should keep, sorted by name, each
// pool sorted by address, and the problems that kept a candidate route out
// (an invalid host or path, two routes for one host and path, a port index
// the app does not have). Sources, in order of precedence when two of them
// route the same host and path: app.yaml routes, marathon-lb labels,
// Service annotations. Candidates of the same name from both platforms are
// one route with both pools (weight 1 each).
func Desired(in Inputs) ([]traffic.Route, []error) {
	group := in.Group
	if group == "" {
		group = DefaultGroup
	}
	var cands []source
	var problems []error
	add := func(r traffic.Route, from string) { cands = append(cands, source{r, from}) }
	fail := func(format string, args ...any) { problems = append(problems, fmt.Errorf(format, args...)) }

	byID := map[string]MarathonApp{}
	for _, a := range in.Marathon {
		byID[a.ID] = a
	}
	for _, s := range in.Apps {
		if s.Route == nil {
			continue
		}
		from := "app.yaml " + s.Label()
		r := traffic.Route{Name: s.Name, Host: s.Route.Host, PathPrefix: s.RoutePath()}
		switch s.Type {
		case appspec.TypeMarathon:
			if s.Marathon == nil || s.Marathon.App == nil {
				continue
			}
			id := marathonID(s.Marathon.App.ID)
			a, ok := byID[id]
			if !ok {
				continue // not deployed (yet): no route
			}
			n, err := marathonPortIndex(a, s.Route.Port)
			if err != nil {
				fail("%s: route.port: %w", from, err)
				continue
			}
			r.Backends = marathonBackends(a, n)
		case appspec.TypeHelm:
			svc, port, ok, err := helmService(s, in.Services)
			if err != nil {
				fail("%s: %w", from, err)
				continue
			}
			if !ok {
				continue // not installed (yet)
			}
			r.Backends = serviceBackends(svc, port)
		default:
			continue
		}
		add(r, from)
	}
	for _, a := range in.Marathon {
		for _, n := range labelPorts(a.Labels) {
			if !inGroup(group, a.Labels["HAPROXY_"+strconv.Itoa(n)+"_GROUP"], a.Labels["HAPROXY_GROUP"]) {
				continue
			}
			from := fmt.Sprintf("Marathon app %s labels HAPROXY_%d_*", a.ID, n)
			if n >= len(a.Ports) && !anyTaskHasPort(a, n) {
				fail("%s: the app has no port index %d", from, n)
				continue
			}
			add(traffic.Route{Name: RouteName(a.ID, n), Host: firstHost(a.Labels[fmt.Sprintf("HAPROXY_%d_VHOST", n)]),
				PathPrefix: a.Labels[fmt.Sprintf("HAPROXY_%d_PATH", n)], Backends: marathonBackends(a, n)}, from)
		}
	}
	for _, svc := range in.Services {
		for _, n := range annotationPorts(svc.Annotations) {
			if !inGroup(group, svc.Annotations[annotation(n, "group")], svc.Annotations[AnnotationGroup]) {
				continue
			}
			from := fmt.Sprintf("Service %s/%s annotations switchyard.io/haproxy-*", svc.Namespace, svc.Name)
			if n >= len(svc.Ports) {
				fail("%s: the Service has no port index %d", from, n)
				continue
			}
			base := svc.Annotations[AnnotationMarathonID]
			if base == "" {
				base = "/" + svc.Namespace + "/" + svc.Name
			}
			add(traffic.Route{Name: RouteName(marathonID(base), n), Host: firstHost(svc.Annotations[annotation(n, "vhost")]),
				PathPrefix: svc.Annotations[annotation(n, "path")], Backends: serviceBackends(svc, svc.Ports[n])}, from)
		}
	}
	routes, more := combine(cands)
	return routes, append(problems, more...)
}

// combine merges candidates of the same name (pools joined), checks each
// route's name, host and path, and drops a route whose host and path an
// earlier one already routes.
func combine(cands []source) ([]traffic.Route, []error) {
	var problems []error
	var order []string
	byName := map[string]*source{}
	for _, c := range cands {
		c.route.PathPrefix = traffic.NormPrefix(c.route.PathPrefix)
		if err := traffic.Validate(traffic.State{Routes: []traffic.Route{{Name: c.route.Name, Host: c.route.Host, PathPrefix: c.route.PathPrefix}}}, nil); err != nil {
			problems = append(problems, fmt.Errorf("%s: %w", c.from, err))
			continue
		}
		prev, ok := byName[c.route.Name]
		if !ok {
			cc := c
			byName[c.route.Name] = &cc
			order = append(order, c.route.Name)
			continue
		}
		if prev.route.Host != c.route.Host || prev.route.PathPrefix != c.route.PathPrefix {
			problems = append(problems, fmt.Errorf("%s: route %q is already %s%s from %s; its backends join that route",
				c.from, c.route.Name, prev.route.Host, prev.route.PathPrefix, prev.from))
		}
		prev.route.Backends = append(prev.route.Backends, c.route.Backends...)
	}
	keys := map[string]string{}
	var out []traffic.Route
	for _, name := range order {
		c := byName[name]
		key := c.route.Host + " " + c.route.PathPrefix
		if other, dup := keys[key]; dup {
			problems = append(problems, fmt.Errorf("%s: host %q and path %q are already routed by %q; route %q left out",
				c.from, c.route.Host, c.route.PathPrefix, other, name))
			continue
		}
		keys[key] = name
		c.route.Backends = sortedUnique(c.route.Backends)
		out = append(out, c.route)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, problems
}

// sortedUnique sorts a pool by address and drops repeated addresses.
func sortedUnique(bs []traffic.Backend) []traffic.Backend {
	out := append([]traffic.Backend{}, bs...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Address < out[j].Address })
	uniq := out[:0]
	for i, b := range out {
		if i > 0 && b.Address == out[i-1].Address {
			continue
		}
		uniq = append(uniq, b)
	}
	return uniq
}

// marathonBackends are the ready tasks of the app on port index n.
func marathonBackends(a MarathonApp, n int) []traffic.Backend {
	var out []traffic.Backend
	for _, t := range a.Tasks {
		if !t.Ready || n >= len(t.Ports) || !t.Host.Is4() || t.Ports[n] <= 0 {
			continue
		}
		out = append(out, traffic.Backend{Address: net.JoinHostPort(t.Host.String(), strconv.Itoa(t.Ports[n])), Weight: 1,
			Platform: traffic.Marathon, App: a.ID, ID: t.ID})
	}
	return out
}

// serviceBackends are the ready endpoints of one Service port.
func serviceBackends(s Service, p ServicePort) []traffic.Backend {
	var out []traffic.Backend
	for _, e := range p.Ready {
		out = append(out, traffic.Backend{Address: e.Address, Weight: 1, Platform: traffic.Kubernetes,
			App: s.Namespace + "/" + s.Name, ID: e.Pod})
	}
	return out
}

func anyTaskHasPort(a MarathonApp, n int) bool {
	for _, t := range a.Tasks {
		if n < len(t.Ports) {
			return true
		}
	}
	return false
}

// marathonPortIndex maps an app.yaml route.port to a port index of the
// app: "" is 0, a name matches a port's name, a number a declared port.
func marathonPortIndex(a MarathonApp, port string) (int, error) {
	if port == "" {
		return 0, nil
	}
	num, err := strconv.Atoi(port)
	for i, p := range a.Ports {
		if (err != nil && p.Name == port) || (err == nil && p.Number == num && num != 0) {
			return i, nil
		}
	}
	return 0, fmt.Errorf("%q is no port of Marathon app %s (its ports: %s)", port, a.ID, portList(a.Ports))
}

func portList(ps []Port) string {
	var s []string
	for i, p := range ps {
		switch {
		case p.Name != "":
			s = append(s, fmt.Sprintf("%d=%s", i, p.Name))
		default:
			s = append(s, fmt.Sprintf("%d=%d", i, p.Number))
		}
	}
	if len(s) == 0 {
		return "none declared"
	}
	return strings.Join(s, ", ")
}

// helmService finds the Service of a type helm app: in the release's
// namespace (any when none is given), named like the release or labelled
// app.kubernetes.io/instance=<release>; and its port matching route.port
// (a Service port name or number, or a target port; "" is the first).
func helmService(s *appspec.Spec, svcs []Service) (Service, ServicePort, bool, error) {
	rel, ns := s.ReleaseName(), ""
	if s.Helm != nil {
		ns = s.Helm.Namespace
	}
	var found []Service
	for _, svc := range svcs {
		if ns != "" && svc.Namespace != ns {
			continue
		}
		if svc.Name == rel || svc.Labels["app.kubernetes.io/instance"] == rel {
			found = append(found, svc)
		}
	}
	if len(found) == 0 {
		return Service{}, ServicePort{}, false, nil
	}
	if len(found) > 1 {
		// Prefer the one named like the release.
		for _, svc := range found {
			if svc.Name == rel {
				found = []Service{svc}
				break
			}
		}
		if len(found) > 1 {
			return Service{}, ServicePort{}, false, fmt.Errorf("release %s has %d Services (%s/%s, %s/%s...): name the one to route with a Service named %s",
				rel, len(found), found[0].Namespace, found[0].Name, found[1].Namespace, found[1].Name, rel)
		}
	}
	svc := found[0]
	if len(svc.Ports) == 0 {
		return Service{}, ServicePort{}, false, fmt.Errorf("Service %s/%s has no port", svc.Namespace, svc.Name)
	}
	want := ""
	if s.Route != nil {
		want = s.Route.Port
	}
	if want == "" {
		return svc, svc.Ports[0], true, nil
	}
	for _, p := range svc.Ports {
		if p.Name == want || strconv.Itoa(p.Port) == want || p.TargetPort == want {
			return svc, p, true, nil
		}
	}
	return Service{}, ServicePort{}, false, fmt.Errorf("route.port: %q is no port of Service %s/%s", want, svc.Namespace, svc.Name)
}

// labelPorts lists the port indexes that HAPROXY_{n}_VHOST or
// HAPROXY_{n}_PATH labels route, in order.
func labelPorts(labels map[string]string) []int {
	seen := map[int]bool{}
	var out []int
	for k := range labels {
		if m := haproxyPortLabel.FindStringSubmatch(k); m != nil {
			if n, err := strconv.Atoi(m[1]); err == nil && !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	sort.Ints(out)
	return out
}

// annotation is the converter's annotation key of HAPROXY_{n}_{WHAT}.
func annotation(n int, what string) string {
	if n == 0 {
		return "switchyard.io/haproxy-" + what
	}
	return "switchyard.io/haproxy-" + strconv.Itoa(n) + "-" + what
}

var haproxyPortAnnotation = regexp.MustCompile(`^switchyard\.io/haproxy-(?:([0-9]+)-)?(vhost|path)$`)

// annotationPorts lists the port indexes that haproxy vhost or path
// annotations route, in order.
func annotationPorts(ann map[string]string) []int {
	seen := map[int]bool{}
	var out []int
	for k := range ann {
		m := haproxyPortAnnotation.FindStringSubmatch(k)
		if m == nil {
			continue
		}
		n := 0
		if m[1] != "" {
			n, _ = strconv.Atoi(m[1])
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Ints(out)
	return out
}

// inGroup reports whether a port belongs to the served group: its own
// group (HAPROXY_{n}_GROUP) when set, else the app's (HAPROXY_GROUP); both
// may be comma lists. An app without any group label is in no group.
func inGroup(group, portGroup, appGroup string) bool {
	g := portGroup
	if g == "" {
		g = appGroup
	}
	for _, x := range strings.Split(g, ",") {
		if strings.TrimSpace(x) == group {
			return true
		}
	}
	return false
}

// firstHost is the route host of a HAPROXY_{n}_VHOST value: marathon-lb
// takes a comma list of virtual hosts; a route has one host, the first
// (lowercased). The others are not routed.
func firstHost(v string) string {
	h, _, _ := strings.Cut(v, ",")
	return strings.ToLower(strings.TrimSpace(h))
}

// marathonID makes an app id absolute without trailing slash ("demo/web/"
// → "/demo/web").
func marathonID(id string) string { return "/" + strings.Trim(id, "/") }
