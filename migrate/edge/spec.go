package edge

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/switchyard/switchyard/appspec"
	"github.com/switchyard/switchyard/capacity"
	"github.com/switchyard/switchyard/convert"
	"github.com/switchyard/switchyard/deploy"
	"github.com/switchyard/switchyard/internal/kubeclient"
	"github.com/switchyard/switchyard/migrate"
)

// PlanFromSpec is the migration plan of an app.yaml: its migration gates,
// else appspec's defaults.
func PlanFromSpec(s *appspec.Spec) migrate.Spec {
	p := migrate.Spec{Steps: appspec.DefaultSteps, PausePerStep: appspec.DefaultPausePerStep, Soak: appspec.DefaultSoak, MaxErrorRate: appspec.DefaultMaxErrorRate}
	if m := s.Migration; m != nil {
		if len(m.Steps) > 0 {
			p.Steps = m.Steps
		}
		if m.PausePerStep > 0 {
			p.PausePerStep = m.PausePerStep
		}
		if m.Soak > 0 {
			p.Soak = m.Soak
		}
		if m.MaxErrorRate != nil {
			p.MaxErrorRate = *m.MaxErrorRate
		}
		p.MaxP99, p.MinRequests = m.MaxP99Latency, m.MinRequests
		if m.AutoRollback != nil && !*m.AutoRollback {
			p.ManualRollback = true
		}
	}
	return p
}

// TargetFromSpec builds what a migration of the app.yaml moves: its
// Marathon app (the app.yaml must have one: it is what the migration moves
// from), its route, and its Helm release, released as the app.yaml's
// release name in namespace ns unless the app.yaml's helm.namespace names
// one. The release's chart is the app's own (helm.path relative to the
// app.yaml, or helm.repository + helm.chart, with the app.yaml's values,
// loaded as deploy does; the Service behind the route is found by
// rendering it: OwnChart), else the chart converted from the Marathon
// definition (package deploy's converter). The containers get the
// app.yaml's resources, else planned (the planner's requests and limits;
// nil: those derived from the Marathon definition); an own chart gets them
// as the value "resources" unless its values set it.
func TargetFromSpec(s *appspec.Spec, ns string, planned *appspec.Resources) (Target, error) {
	if s.Marathon == nil || s.Marathon.App == nil {
		return Target{}, fmt.Errorf("%s: marathon: the app has no Marathon definition to migrate from", s.Label())
	}
	if s.Helm != nil && s.Helm.Namespace != "" {
		ns = s.Helm.Namespace
	}
	if ns == "" {
		ns = "default"
	}
	spec := s
	if s.Resources == nil && planned != nil {
		cp := *s
		cp.Resources = planned
		spec = &cp
	}
	t := Target{App: migrate.App{Name: s.Name, MarathonID: s.Marathon.App.ID, Route: s.Name, Spec: PlanFromSpec(s)},
		Namespace: ns, PathPrefix: s.RoutePath()}
	if s.Route != nil {
		t.Host = s.Route.Host
	}
	if s.Helm.HasChart() {
		rel, objs, err := OwnChart(spec, ns)
		if err != nil {
			return Target{}, err
		}
		port := ""
		if s.Route != nil {
			port = s.Route.Port
		}
		svc, svcPort, err := RouteService(objs, port)
		if err != nil {
			return Target{}, fmt.Errorf("%s: %w", s.Label(), err)
		}
		t.Release, t.Service, t.Port = &rel, svc.GetName(), svcPort
		if n := svc.GetNamespace(); n != "" {
			t.Namespace = n
		}
		return t, nil
	}
	opts := convert.Options{Namespace: ns}
	res, err := convert.App(s.Marathon.App, opts)
	if err != nil {
		return Target{}, fmt.Errorf("%s: convert the Marathon definition: %w", s.Label(), err)
	}
	ch, _, err := deploy.ConvertChart(opts)(s.Marathon.App, spec, ns)
	if err != nil {
		return Target{}, fmt.Errorf("%s: convert the Marathon definition into a chart: %w", s.Label(), err)
	}
	t.Release = &deploy.Release{Name: s.ReleaseName(), Namespace: ns, Chart: ch}
	for _, rel := range res.Releases {
		if rel.Service != nil && t.Service == "" {
			t.Service = rel.Service.Name
		}
	}
	if t.Service == "" {
		return Target{}, fmt.Errorf("%s: the converted app has no Service (does the Marathon app declare a port?)", s.Label())
	}
	return t, nil
}

// PlannedResources turns the planner's per-pod requests and limits (cores,
// MiB; a zero limit means none) into container resources (nil when the
// plan sets no requests).
func PlannedResources(requests, limits capacity.Resources) *appspec.Resources {
	conv := func(r capacity.Resources) map[string]string {
		m := map[string]string{}
		if r.CPUs > 0 {
			m["cpu"] = fmt.Sprintf("%dm", int64(math.Ceil(r.CPUs*1000)))
		}
		if r.Mem > 0 {
			m["memory"] = fmt.Sprintf("%dMi", int64(math.Ceil(r.Mem)))
		}
		if r.Disk > 0 {
			m["ephemeral-storage"] = fmt.Sprintf("%dMi", int64(math.Ceil(r.Disk)))
		}
		if len(m) == 0 {
			return nil
		}
		return m
	}
	out := &appspec.Resources{Requests: conv(requests), Limits: conv(limits)}
	if out.Requests == nil {
		return nil
	}
	return out
}

// OwnChart loads the app.yaml's own chart and values as deploy does
// (deploy.LoadChart, deploy.Values) and renders it client-side as release
// s.ReleaseName() in ns (like helm template): it returns the release to
// install and the rendered objects (namespace ns where the chart sets none).
func OwnChart(s *appspec.Spec, ns string) (deploy.Release, []*unstructured.Unstructured, error) {
	ch, err := deploy.LoadChart(s)
	if err != nil {
		return deploy.Release{}, nil, fmt.Errorf("%s: %w", s.Label(), err)
	}
	vals, err := deploy.Values(s)
	if err != nil {
		return deploy.Release{}, nil, fmt.Errorf("%s: %w", s.Label(), err)
	}
	rel := deploy.Release{Name: s.ReleaseName(), Namespace: ns, Chart: ch, Values: vals}
	objs, err := Render(rel)
	if err != nil {
		return deploy.Release{}, nil, fmt.Errorf("%s: helm: %w", s.Label(), err)
	}
	return rel, objs, nil
}

// Render renders a release's chart client-side (deploy.Render, no
// cluster: default capabilities) and decodes its objects; objects without
// a namespace get the release's ("default" when it names none).
func Render(r deploy.Release) ([]*unstructured.Unstructured, error) {
	if r.Namespace == "" {
		r.Namespace = "default"
	}
	manifest, err := deploy.Render(context.Background(), r, nil, false)
	if err != nil {
		return nil, err
	}
	objs, err := kubeclient.DecodeObjects([]byte(manifest))
	if err != nil {
		return nil, fmt.Errorf("chart %s renders objects that cannot be read: %w", r.Chart.Name(), err)
	}
	for _, o := range objs {
		if o.GetNamespace() == "" {
			o.SetNamespace(r.Namespace)
		}
	}
	return objs, nil
}

// RouteService finds the Service behind an app's route among a chart's
// rendered objects. port is the app.yaml's route.port: the Service with a
// port of that name or number (or targetPort) is the one, and the port's
// name is returned (the EndpointSlice port to follow; "" for a single
// unnamed port). Without route.port the chart must render exactly one
// Service (its first port is followed). Errors name the app.yaml field to
// set.
func RouteService(objs []*unstructured.Unstructured, port string) (*unstructured.Unstructured, string, error) {
	var svcs []*unstructured.Unstructured
	var names []string
	for _, o := range objs {
		if o.GetKind() == "Service" && (o.GetAPIVersion() == "v1" || o.GetAPIVersion() == "") {
			svcs = append(svcs, o)
			names = append(names, o.GetName()+" (ports "+strings.Join(servicePorts(o), ", ")+")")
		}
	}
	if len(svcs) == 0 {
		return nil, "", fmt.Errorf("helm: the chart renders no Service: the route needs one in front of the app's pods (its EndpointSlices are the Kubernetes backends)")
	}
	if port == "" {
		if len(svcs) == 1 {
			return svcs[0], "", nil
		}
		return nil, "", fmt.Errorf("route.port: the chart renders %d Services (%s): set route.port to the name or number of the port that serves the route", len(svcs), strings.Join(names, "; "))
	}
	var found *unstructured.Unstructured
	var foundPort string
	var matched []string
	for _, svc := range svcs {
		ports, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports")
		for _, p := range ports {
			pm, ok := p.(map[string]any)
			if !ok {
				continue
			}
			name, _ := pm["name"].(string)
			if name == port || portString(pm["port"]) == port || portString(pm["targetPort"]) == port {
				found, foundPort = svc, name
				matched = append(matched, svc.GetName())
				break
			}
		}
	}
	switch len(matched) {
	case 0:
		return nil, "", fmt.Errorf("route.port: %q is no port of the chart's Services (%s): name one of their ports (name or number)", port, strings.Join(names, "; "))
	case 1:
		return found, foundPort, nil
	}
	return nil, "", fmt.Errorf("route.port: %q matches a port of several Services (%s): name a port only the route's Service has", port, strings.Join(matched, ", "))
}

// servicePorts lists a Service's ports for messages ("http 80→http").
func servicePorts(svc *unstructured.Unstructured) []string {
	ports, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports")
	var out []string
	for _, p := range ports {
		pm, ok := p.(map[string]any)
		if !ok {
			continue
		}
		d := strconv.Quote(fmt.Sprint(pm["name"]))
		if pm["name"] == nil {
			d = "unnamed"
		}
		d += " " + portString(pm["port"])
		if tp := portString(pm["targetPort"]); tp != "" {
			d += "→" + tp
		}
		out = append(out, d)
	}
	if len(out) == 0 {
		return []string{"none"}
	}
	return out
}

// portString renders a decoded port value (a JSON number or a name); ""
// when absent.
func portString(v any) string {
	switch p := v.(type) {
	case nil:
		return ""
	case float64:
		return strconv.FormatInt(int64(p), 10)
	case int64:
		return strconv.FormatInt(p, 10)
	case int:
		return strconv.Itoa(p)
	case string:
		return p
	}
	return fmt.Sprint(v)
}
