package edge

import (
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/switchyard/switchyard/appspec"
	"github.com/switchyard/switchyard/capacity"
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
		objs, err := DecodeObjects([]byte(text))
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

// TestChartFromObjects: Namespace objects stay out of the chart (the
// namespace is shared by other releases); the others become templates.
func TestChartFromObjects(t *testing.T) {
	_, tg, err := DemoApp("d", "ns1", 2, nil, PlanFromSpec(&appspec.Spec{}))
	if err != nil {
		t.Fatal(err)
	}
	ch, err := ChartFromObjects("d", tg.Objects)
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Templates) != 2 {
		t.Fatalf("templates: %d, want Deployment and Service", len(ch.Templates))
	}
	for _, f := range ch.Templates {
		if strings.Contains(string(f.Data), "kind: Namespace") || strings.Contains(string(f.Data), "namespace: ns1") {
			t.Fatalf("%s:\n%s", f.Name, f.Data)
		}
	}
	if _, err := ChartFromObjects("x", nil); err == nil {
		t.Fatal("an empty chart was accepted")
	}
}
