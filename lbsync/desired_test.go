package lbsync

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/appspec"
	"github.com/switchyard/switchyard/marathon"
	"github.com/switchyard/switchyard/traffic"
)

func task(id, host string, ready bool, ports ...int) Task {
	return Task{ID: id, Host: netip.MustParseAddr(host), Ports: ports, Ready: ready}
}

func mb(app, id, addr string) traffic.Backend {
	return traffic.Backend{Address: addr, Weight: 1, Platform: traffic.Marathon, App: app, ID: id}
}

func kb(app, pod, addr string) traffic.Backend {
	return traffic.Backend{Address: addr, Weight: 1, Platform: traffic.Kubernetes, App: app, ID: pod}
}

func web(labels map[string]string, tasks ...Task) MarathonApp {
	return MarathonApp{ID: "/demo/web", Labels: labels, Ports: []Port{{Name: "http"}, {Name: "admin"}}, Tasks: tasks}
}

func spec(t *testing.T, doc string) *appspec.Spec {
	t.Helper()
	s, err := appspec.Parse("apps/x/app.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDesired(t *testing.T) {
	external := map[string]string{"HAPROXY_GROUP": "external", "HAPROXY_0_PATH": "/demo/web"}
	tasks := []Task{task("t1", "127.0.0.2", true, 31001, 31002), task("t2", "10.0.0.3", true, 31003, 31004),
		task("t3", "127.0.0.4", false, 31005, 31006)}
	shop := Service{Namespace: "demo", Name: "shop",
		Annotations: map[string]string{AnnotationGroup: "external", "switchyard.io/haproxy-path": "/demo/shop"},
		Ports:       []ServicePort{{Name: "http", Port: 80, TargetPort: "http", Ready: []Endpoint{{"10.9.0.5:8080", "shop-b"}, {"10.9.0.4:8080", "shop-a"}}}}}
	converted := Service{Namespace: "demo", Name: "web",
		Annotations: map[string]string{AnnotationGroup: "external", "switchyard.io/haproxy-path": "/demo/web", AnnotationMarathonID: "/demo/web"},
		Ports:       []ServicePort{{Name: "http", Port: 80, Ready: []Endpoint{{"10.9.0.7:8080", "web-x"}}}}}
	for _, tc := range []struct {
		name     string
		in       Inputs
		want     []traffic.Route
		problems []string
	}{
		{name: "labels: ready tasks on port 0, any task host", in: Inputs{Marathon: []MarathonApp{web(external, tasks...)}},
			want: []traffic.Route{{Name: "/demo/web", PathPrefix: "/demo/web", Backends: []traffic.Backend{
				mb("/demo/web", "t2", "10.0.0.3:31003"), mb("/demo/web", "t1", "127.0.0.2:31001")}}}},
		{name: "labels: other group, or none", in: Inputs{Marathon: []MarathonApp{
			web(map[string]string{"HAPROXY_GROUP": "internal", "HAPROXY_0_PATH": "/a"}),
			{ID: "/b", Labels: map[string]string{"HAPROXY_0_PATH": "/b"}}}}},
		{name: "labels: --group internal", in: Inputs{Group: "internal", Marathon: []MarathonApp{
			web(map[string]string{"HAPROXY_GROUP": "external,internal", "HAPROXY_0_PATH": "/a"})}},
			want: []traffic.Route{{Name: "/demo/web", PathPrefix: "/a", Backends: []traffic.Backend{}}}},
		{name: "labels: vhost list → first host, port 1 named _1, per-port group", in: Inputs{Marathon: []MarathonApp{web(map[string]string{
			"HAPROXY_GROUP": "external", "HAPROXY_0_VHOST": "Shop.Example.com, www.shop.example.com",
			"HAPROXY_1_GROUP": "external", "HAPROXY_1_PATH": "/admin/", "HAPROXY_1_VHOST": "ops.example.com"}, tasks[0])}},
			want: []traffic.Route{
				{Name: "/demo/web", Host: "shop.example.com", PathPrefix: "/", Backends: []traffic.Backend{mb("/demo/web", "t1", "127.0.0.2:31001")}},
				{Name: "/demo/web_1", Host: "ops.example.com", PathPrefix: "/admin", Backends: []traffic.Backend{mb("/demo/web", "t1", "127.0.0.2:31002")}},
			}},
		{name: "labels: bad path and missing port index", in: Inputs{Marathon: []MarathonApp{
			web(map[string]string{"HAPROXY_GROUP": "external", "HAPROXY_0_PATH": "web", "HAPROXY_5_PATH": "/x"}, tasks[0])}},
			problems: []string{"labels HAPROXY_5_*: the app has no port index 5", `labels HAPROXY_0_*: routes[0].pathPrefix: "web" must start with '/'`}},
		{name: "annotations: Service endpoints", in: Inputs{Services: []Service{shop}},
			want: []traffic.Route{{Name: "/demo/shop", PathPrefix: "/demo/shop", Backends: []traffic.Backend{
				kb("demo/shop", "shop-a", "10.9.0.4:8080"), kb("demo/shop", "shop-b", "10.9.0.5:8080")}}}},
		{name: "both platforms, one name: both pools", in: Inputs{Marathon: []MarathonApp{web(external, tasks[0])}, Services: []Service{converted}},
			want: []traffic.Route{{Name: "/demo/web", PathPrefix: "/demo/web", Backends: []traffic.Backend{
				kb("demo/web", "web-x", "10.9.0.7:8080"), mb("/demo/web", "t1", "127.0.0.2:31001")}}}},
		{name: "app.yaml marathon route by port name; labels on the same path lose", in: Inputs{
			Apps:     []*appspec.Spec{spec(t, "name: web\ntype: marathon\nmarathon: {id: demo/web, cmd: x}\nroute: {path: /demo/web, port: admin}\n")},
			Marathon: []MarathonApp{web(external, tasks[0])}},
			want:     []traffic.Route{{Name: "web", PathPrefix: "/demo/web", Backends: []traffic.Backend{mb("/demo/web", "t1", "127.0.0.2:31002")}}},
			problems: []string{`host "" and path "/demo/web" are already routed by "web"; route "/demo/web" left out`}},
		{name: "app.yaml marathon app not deployed, unknown port", in: Inputs{
			Apps: []*appspec.Spec{spec(t, "name: api\ntype: marathon\nmarathon: {id: /api, cmd: x}\nroute: {path: /api}\n"),
				spec(t, "name: web\ntype: marathon\nmarathon: {id: /demo/web, cmd: x}\nroute: {port: grpc}\n"),
				spec(t, "name: noroute\ntype: marathon\nmarathon: {id: /demo/web, cmd: x}\n")},
			Marathon: []MarathonApp{web(nil, tasks[0])}},
			problems: []string{`route.port: "grpc" is no port of Marathon app /demo/web (its ports: 0=http, 1=admin)`}},
		{name: "app.yaml helm: the release's Service, port by number", in: Inputs{
			Apps:     []*appspec.Spec{spec(t, "name: shop\ntype: helm\nhelm: {path: chart, namespace: demo}\nroute: {host: shop.example.com, port: \"80\"}\n")},
			Services: []Service{{Namespace: "other", Name: "shop"}, {Namespace: "demo", Name: "shop", Ports: shop.Ports}}},
			want: []traffic.Route{{Name: "shop", Host: "shop.example.com", PathPrefix: "/shop", Backends: []traffic.Backend{
				kb("demo/shop", "shop-a", "10.9.0.4:8080"), kb("demo/shop", "shop-b", "10.9.0.5:8080")}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, problems := Desired(tc.in)
			if !sameRoutes(got, tc.want) {
				t.Errorf("routes\n got %+v\nwant %+v", got, tc.want)
			}
			if len(problems) != len(tc.problems) {
				t.Errorf("problems %v, want %d: %q", problems, len(tc.problems), tc.problems)
			}
			for i := range problems {
				if i < len(tc.problems) && !strings.Contains(problems[i].Error(), tc.problems[i]) {
					t.Errorf("problem %d: %v\nwant it to contain %q", i, problems[i], tc.problems[i])
				}
			}
		})
	}
}

func sameRoutes(a, b []traffic.Route) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Name != y.Name || x.Host != y.Host || x.PathPrefix != y.PathPrefix || x.Owner != y.Owner || len(x.Backends) != len(y.Backends) {
			return false
		}
		for j := range x.Backends {
			if x.Backends[j] != y.Backends[j] {
				return false
			}
		}
	}
	return true
}

func TestFromMarathon(t *testing.T) {
	// The edge's conversion of an API app: ports named from portDefinitions.
	name := "http"
	app := &marathon.App{ID: "/demo/web", PortDefinitions: []marathon.PortDefinition{{Name: &name}}}
	got := appPorts(app)
	if len(got) != 1 || got[0].Name != "http" {
		t.Fatalf("ports %+v", got)
	}
}
