package edge

import (
	"fmt"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/switchyard/switchyard/appspec"
	"github.com/switchyard/switchyard/capacity"
	"github.com/switchyard/switchyard/internal/kubeclient"
	"github.com/switchyard/switchyard/internal/wanterr"
)

const specBase = `name: web
type: marathon
marathon:
  id: /shop/web
  instances: 2
  cpus: 0.25
  mem: 128
  container:
    type: DOCKER
    docker: {image: "switchyard/demo-app:1"}
  portDefinitions:
    - {port: 0, protocol: tcp, name: http}
route:
  path: /web
`

// rendered renders the chart as Helm installs it and returns the first
// container's resources of its Deployment.
func rendered(t *testing.T, ch *chart.Chart, ns string) (requests, limits map[string]any) {
	t.Helper()
	vals, err := chartutil.ToRenderValues(ch, nil, chartutil.ReleaseOptions{Name: "web", Namespace: ns, IsInstall: true}, chartutil.DefaultCapabilities)
	if err != nil {
		t.Fatal(err)
	}
	files, err := engine.Render(ch, vals)
	if err != nil {
		t.Fatal(err)
	}
	for name, text := range files {
		if !strings.HasSuffix(name, ".yaml") || strings.TrimSpace(text) == "" {
			continue
		}
		objs, err := kubeclient.DecodeObjects([]byte(text))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, o := range objs {
			if o.GetKind() != "Deployment" {
				continue
			}
			ctrs, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
			c := ctrs[0].(map[string]any)
			requests, _, _ = unstructured.NestedMap(c, "resources", "requests")
			limits, _, _ = unstructured.NestedMap(c, "resources", "limits")
			return requests, limits
		}
	}
	t.Fatal("the chart renders no Deployment")
	return nil, nil
}

// TestTargetFromSpecResources: the release's chart is the converted
// Marathon app; its containers get the app.yaml's resources when set, else
// the plan's, else those derived from cpus/mem.
func TestTargetFromSpecResources(t *testing.T) {
	planned := PlannedResources(capacity.Resources{CPUs: 0.3, Mem: 200}, capacity.Resources{Mem: 256})
	for _, tc := range []struct {
		name, extra      string
		planned          *appspec.Resources
		wantReq, wantLim map[string]string
	}{
		{"from marathon", "", nil, map[string]string{"cpu": "250m", "memory": "128Mi"}, nil},
		{"from the plan", "", planned, map[string]string{"cpu": "300m", "memory": "200Mi"}, map[string]string{"memory": "256Mi"}},
		{"app.yaml wins", "resources:\n  requests: {cpu: 100m, memory: 64Mi}\n  limits: {memory: 96Mi}\n", planned,
			map[string]string{"cpu": "100m", "memory": "64Mi"}, map[string]string{"memory": "96Mi"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := appspec.Parse("app.yaml", []byte(specBase+tc.extra))
			if err != nil {
				t.Fatal(err)
			}
			tg, err := TargetFromSpec(s, "shop", tc.planned)
			if err != nil {
				t.Fatal(err)
			}
			if tg.Release == nil || tg.Release.Name != "web" || tg.Release.Namespace != "shop" || tg.Service == "" {
				t.Fatalf("target %+v", tg)
			}
			req, lim := rendered(t, tg.Release.Chart, "shop")
			for k, v := range tc.wantReq {
				if req[k] != v {
					t.Errorf("requests.%s = %v, want %s (all: %v)", k, req[k], v, req)
				}
			}
			for k, v := range tc.wantLim {
				if lim[k] != v {
					t.Errorf("limits.%s = %v, want %s (all: %v)", k, lim[k], v, lim)
				}
			}
		})
	}
}

func TestPlannedResources(t *testing.T) {
	if r := PlannedResources(capacity.Resources{}, capacity.Resources{Mem: 10}); r != nil {
		t.Fatalf("no requests: %+v", r)
	}
	r := PlannedResources(capacity.Resources{CPUs: 0.0101, Mem: 31.2, Disk: 5}, capacity.Resources{})
	if r.Requests["cpu"] != "11m" || r.Requests["memory"] != "32Mi" || r.Requests["ephemeral-storage"] != "5Mi" || r.Limits != nil {
		t.Fatalf("%+v", r)
	}
}

// ownBase is specBase as a helm app with its own chart: helm.path and
// more inline values, then more route: lines, are filled in.
var ownBase = strings.Replace(specBase, "type: marathon\n", "type: helm\nhelm: {path: %s, release: shop-web, values: {replicas: 3%s}}\n", 1) + "%s"

// TestTargetFromSpecOwnChart: an app.yaml with its own chart migrates onto
// it: the chart is loaded relative to the app.yaml with the app.yaml's
// values, rendered client-side to find the Service behind the route, and
// released as the app.yaml's release name in its namespace.
func TestTargetFromSpecOwnChart(t *testing.T) {
	for _, tc := range []struct {
		name string
		// path is helm.path; values are more inline values; route are
		// more route: lines; noMarathon leaves out the marathon: section.
		path, values, route   string
		noMarathon            bool
		wantService, wantPort string
		wantErr               string
	}{
		{name: "route.port names the Service port", route: "  port: web\n", wantService: "shop-web", wantPort: "web"},
		{name: "route.port is the Service port's number", route: "  port: \"80\"\n", wantService: "shop-web", wantPort: "web"},
		{name: "route.port is the target port", route: "  port: http\n", wantService: "shop-web", wantPort: "web"},
		{name: "the only Service", wantService: "shop-web", wantPort: ""},
		{name: "two Services, route.port picks one", values: ", admin: true", route: "  port: admin\n", wantService: "shop-web-admin", wantPort: "admin"},
		{name: "two Services, no route.port", values: ", admin: true", wantErr: "route.port: the chart renders 2 Services (shop-web (ports \"web\" 80→http); shop-web-admin (ports \"admin\" 9090→9090)): set route.port"},
		{name: "route.port matches nothing", route: "  port: grpc\n", wantErr: `route.port: "grpc" is no port of the chart's Services (shop-web (ports "web" 80→http))`},
		{name: "no Service", values: ", service: false", wantErr: "helm: the chart renders no Service"},
		{name: "chart missing", path: "nochart", wantErr: "helm.path: cannot load the chart at testdata/own/nochart"},
		{name: "chart does not render", values: ", image: \"\"", wantErr: "helm: chart shop-web does not render: "},
		{name: "no Marathon side", noMarathon: true, wantErr: "marathon: the app has no Marathon definition to migrate from"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			if path == "" {
				path = "chart"
			}
			data := fmt.Sprintf(ownBase, path, tc.values, tc.route)
			if tc.noMarathon {
				i, j := strings.Index(data, "marathon:"), strings.Index(data, "route:")
				data = data[:i] + data[j:]
			}
			s, err := appspec.Parse("testdata/own/app.yaml", []byte(data))
			if err != nil {
				t.Fatal(err)
			}
			s.Dir = "testdata/own" // as appspec.Load sets it
			tg, err := TargetFromSpec(s, "shop", nil)
			if wanterr.Check(t, err, tc.wantErr) {
				return
			}
			if tg.Service != tc.wantService || tg.Port != tc.wantPort || tg.Namespace != "shop" {
				t.Fatalf("service %s/%s port %q, want shop/%s port %q", tg.Namespace, tg.Service, tg.Port, tc.wantService, tc.wantPort)
			}
			if r := tg.Release; r == nil || r.Name != "shop-web" || r.Namespace != "shop" || r.Chart.Name() != "shop-web" || r.Values["replicas"] != float64(3) && r.Values["replicas"] != 3 {
				t.Fatalf("release %+v", tg.Release)
			}
			if tg.App.MarathonID != "/shop/web" || tg.PathPrefix != "/web" {
				t.Fatalf("target %+v", tg)
			}
		})
	}
}

// TestOwnChartLoad: helm.path is relative to the app.yaml (appspec.Load),
// helm.namespace wins over the command line's namespace, the app.yaml's
// values and resources (else the planned ones) reach the rendered chart.
func TestOwnChartLoad(t *testing.T) {
	s, err := appspec.Load("testdata/own/app.yaml")
	if err != nil {
		t.Fatal(err)
	}
	planned := PlannedResources(capacity.Resources{CPUs: 0.3, Mem: 200}, capacity.Resources{})
	tg, err := TargetFromSpec(s, "elsewhere", planned)
	if err != nil {
		t.Fatal(err)
	}
	if tg.Namespace != "shop" || tg.Service != "shop-web" || tg.Port != "web" {
		t.Fatalf("target %+v", tg)
	}
	objs, err := Render(*tg.Release)
	if err != nil {
		t.Fatal(err)
	}
	var dep *unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == "Deployment" {
			dep = o
		}
		if o.GetNamespace() != "shop" {
			t.Errorf("%s %s in namespace %q", o.GetKind(), o.GetName(), o.GetNamespace())
		}
	}
	if dep == nil {
		t.Fatal("no Deployment rendered")
	}
	if n, _, _ := unstructured.NestedFloat64(dep.Object, "spec", "replicas"); n != 3 {
		if i, _, _ := unstructured.NestedInt64(dep.Object, "spec", "replicas"); i != 3 {
			t.Fatalf("replicas %v, want the app.yaml's 3", dep.Object["spec"])
		}
	}
	ctrs, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "containers")
	req, _, _ := unstructured.NestedMap(ctrs[0].(map[string]any), "resources", "requests")
	if req["cpu"] != "300m" || req["memory"] != "200Mi" {
		t.Fatalf("requests %v, want the planned ones", req)
	}
}

// TestRouteService: a route.port matching ports of two Services is
// ambiguous.
func TestRouteService(t *testing.T) {
	svc := func(name string, ports ...map[string]any) *unstructured.Unstructured {
		var ps []any
		for _, p := range ports {
			ps = append(ps, p)
		}
		return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Service",
			"metadata": map[string]any{"name": name}, "spec": map[string]any{"ports": ps}}}
	}
	a := svc("a", map[string]any{"name": "http", "port": float64(80)})
	b := svc("b", map[string]any{"name": "http", "port": float64(8080)})
	for _, tc := range []struct {
		port, want, wantPort, wantErr string
	}{
		{"http", "", "", `route.port: "http" matches a port of several Services (a, b)`},
		{"8080", "b", "http", ""},
		{"", "", "", "route.port: the chart renders 2 Services"},
	} {
		got, port, err := RouteService([]*unstructured.Unstructured{a, b}, tc.port)
		switch {
		case tc.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: error %v, want %q", tc.port, err, tc.wantErr)
			}
		case err != nil || got.GetName() != tc.want || port != tc.wantPort:
			t.Errorf("%q: %v %q %v, want %s %q", tc.port, got, port, err, tc.want, tc.wantPort)
		}
	}
}
