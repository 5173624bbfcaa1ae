package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/switchyard/switchyard/appspec"
	"github.com/switchyard/switchyard/convert"
	"github.com/switchyard/switchyard/internal/kubeclient"
	"github.com/switchyard/switchyard/marathon"
)

func jsonMap(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestDiffDefinitions(t *testing.T) {
	cur := `{"id":"/web","instances":2,"cpus":0.1,"backoffSeconds":1,"env":{"A":"1","B":"2"},"labels":{},
		"container":{"type":"DOCKER","docker":{"image":"demo:1","privileged":false},"portMappings":[{"servicePort":10002,"hostPort":31000}]},
		"portDefinitions":[{"port":10000}],"healthChecks":[{"path":"/h"}]}`
	cases := []struct {
		name, want string
		changes    []Change
	}{
		{"same, defaults not shown", `{"id":"/web","instances":2,"cpus":0.1,"env":{"A":"1","B":"2"},"container":{"type":"DOCKER","docker":{"image":"demo:1"}},"healthChecks":[{"path":"/h"}]}`, nil},
		{"instances", `{"id":"/web","instances":3,"cpus":0.1,"env":{"A":"1","B":"2"}}`,
			[]Change{{Path: "instances", Old: "2", New: "3"}}},
		{"env key removed and added", `{"id":"/web","instances":2,"env":{"A":"1","C":"3"}}`,
			[]Change{{Path: "env.B", Old: `"2"`}, {Path: "env.C", New: `"3"`}}},
		{"nested image", `{"id":"/web","container":{"docker":{"image":"demo:2"}}}`,
			[]Change{{Path: "container.docker.image", Old: `"demo:1"`, New: `"demo:2"`}}},
		{"list shorter", `{"id":"/web","healthChecks":[]}`, []Change{{Path: "healthChecks[0]", Old: `{"path":"/h"}`}}},
		{"new field", `{"id":"/web","mem":128}`, []Change{{Path: "mem", New: "128"}}},
		{"assigned ports are no change", `{"id":"/web","portDefinitions":[{"port":0}],"container":{"portMappings":[{"servicePort":0,"hostPort":0}]}}`, nil},
		{"fixed port changed", `{"id":"/web","portDefinitions":[{"port":10001}]}`, []Change{{Path: "portDefinitions[0].port", Old: "10000", New: "10001"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := DiffDefinitions(jsonMap(t, cur), jsonMap(t, tc.want))
			if !reflect.DeepEqual(got, tc.changes) {
				t.Errorf("got %+v\nwant %+v", got, tc.changes)
			}
		})
	}
}

func TestMergeValues(t *testing.T) {
	a := map[string]any{"a": 1, "m": map[string]any{"x": 1, "y": 2}, "l": []any{1}}
	b := map[string]any{"m": map[string]any{"y": 3, "z": 4}, "l": []any{2}, "n": "new"}
	got := mergeValues(a, b)
	want := map[string]any{"a": 1, "m": map[string]any{"x": 1, "y": 3, "z": 4}, "l": []any{2}, "n": "new"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v want %v", got, want)
	}
	if a["m"].(map[string]any)["y"] != 2 {
		t.Error("merge changed its input")
	}
}

func TestValuesResources(t *testing.T) {
	s := &appspec.Spec{Helm: &appspec.HelmSource{Values: map[string]any{"replicas": 2}},
		Resources: &appspec.Resources{Requests: map[string]string{"cpu": "100m"}}}
	v, err := values(s)
	if err != nil {
		t.Fatal(err)
	}
	if v["replicas"] != 2 || v["resources"].(map[string]any)["requests"].(map[string]any)["cpu"] != "100m" {
		t.Errorf("values %v", v)
	}
	s.Helm.Values["resources"] = map[string]any{}
	v, _ = values(s)
	if len(v["resources"].(map[string]any)) != 0 {
		t.Errorf("values' own resources must win: %v", v)
	}
}

func intp(i int) *int       { return &i }
func strp(s string) *string { return &s }

func TestRoutePortIndex(t *testing.T) {
	defs := &marathon.App{ID: "/a", PortDefinitions: []marathon.PortDefinition{{Port: intp(0), Name: strp("admin")}, {Port: intp(0), Name: strp("http")}}}
	maps := &marathon.App{ID: "/b", Container: &marathon.Container{PortMappings: []marathon.PortMapping{{ContainerPort: intp(9000), Name: strp("metrics")}, {ContainerPort: intp(8080)}}}}
	cases := []struct {
		app  *marathon.App
		port string
		want int
		err  string
	}{
		{defs, "", 0, ""},
		{defs, "http", 1, ""},
		{maps, "8080", 1, ""},
		{maps, "metrics", 0, ""},
		{defs, "grpc", 0, `route.port "grpc" matches no port of Marathon app /a`},
	}
	for _, tc := range cases {
		got, err := routePortIndex(tc.app, &appspec.Route{Port: tc.port})
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s %q: want error %q, got %v", tc.app.ID, tc.port, tc.err, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s %q: got %d %v, want %d", tc.app.ID, tc.port, got, err, tc.want)
		}
	}
}

func TestUnifiedDiff(t *testing.T) {
	d, err := UnifiedDiff("a", "b", "x: 1\nreplicas: 2\n", "x: 1\nreplicas: 3\n")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(d, "-replicas: 2") || !strings.Contains(d, "+replicas: 3") || !strings.Contains(d, "--- a") {
		t.Errorf("diff:\n%s", d)
	}
	if d, _ := UnifiedDiff("a", "b", "x\n", "x"); d != "" {
		t.Errorf("equal texts give a diff: %q", d)
	}
}

// TestConvertChartRenders: the chart made from a Marathon app renders with
// the Helm engine into the converted objects, with app.yaml resources.
func TestConvertChartRenders(t *testing.T) {
	s, err := appspec.Load("../examples/apps/web/app.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s.Type = appspec.TypeHelm
	app, err := marathonApp(s)
	if err != nil {
		t.Fatal(err)
	}
	ch, summary, err := ConvertChart(convert.Options{})(app, s, "demo")
	if err != nil {
		t.Fatal(err)
	}
	if ch.Name() != "demo-web" || !strings.Contains(summary, "converted") {
		t.Errorf("chart %s, summary %q", ch.Name(), summary)
	}
	manifest, err := Render(context.Background(), Release{Name: "web", Namespace: "demo", Chart: ch, Values: map[string]any{}}, nil, false)
	if err != nil {
		t.Fatalf("converted chart does not render: %v", err)
	}
	objs, err := kubeclient.DecodeObjects([]byte(manifest))
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, o := range objs {
		kinds[o.GetKind()] = true
	}
	if !kinds["Deployment"] || !kinds["Service"] {
		t.Errorf("kinds %v, want a Deployment and a Service:\n%s", kinds, manifest)
	}
	var res map[string]any
	for _, o := range objs {
		if o.GetKind() == "Deployment" {
			cs, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
			if len(cs) > 0 {
				res, _, _ = unstructured.NestedMap(cs[0].(map[string]any), "resources")
			}
		}
	}
	if cpu, _, _ := unstructured.NestedString(res, "requests", "cpu"); cpu != "100m" {
		t.Errorf("app.yaml resources not applied (requests.cpu %q):\n%s", cpu, manifest)
	}
	if mem, _, _ := unstructured.NestedString(res, "limits", "memory"); mem != "128Mi" {
		t.Errorf("app.yaml resources not applied (limits.memory %q):\n%s", mem, manifest)
	}
	if ws := workloads(objs); len(ws) != 1 || ws[0].selector == nil {
		t.Errorf("workloads %+v", ws)
	}
}

func TestPodLogFileTail(t *testing.T) {
	dir := t.TempDir()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", UID: "u1"}}
	p := podLogFile(dir, pod, "app")
	if p != filepath.Join(dir, "ns_p_u1", "app.log") {
		t.Fatalf("path %s", p)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for i := range 50 {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := fileTail(p, 3)
	if err != nil || got != "line 47\nline 48\nline 49" {
		t.Errorf("tail %q %v", got, err)
	}
	if _, err := fileTail(filepath.Join(dir, "nope"), 3); err == nil {
		t.Error("no error for a missing file")
	}
}
