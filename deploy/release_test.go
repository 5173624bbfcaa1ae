package deploy

import (
	"context"
	"io"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	kubefake "helm.sh/helm/v3/pkg/kube/fake"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage"
	"helm.sh/helm/v3/pkg/storage/driver"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes/fake"
)

// memoryReleases is the Helm flow with in-memory release records and
// Helm's printing kube client (Helm's real release logic, no cluster).
func memoryReleases() (*Releases, *action.Configuration) {
	cfg := &action.Configuration{Releases: storage.Init(driver.NewMemory()),
		KubeClient:   &kubefake.PrintingKubeClient{Out: io.Discard},
		Capabilities: chartutil.DefaultCapabilities, Log: func(string, ...any) {}}
	return &Releases{ActionConfig: func(string) (*action.Configuration, error) { return cfg, nil }}, cfg
}

func configMapChart(value string) *chart.Chart {
	return &chart.Chart{Metadata: &chart.Metadata{APIVersion: chart.APIVersionV2, Name: "c", Version: "0.1.0"},
		Templates: []*chart.File{{Name: "templates/cm.yaml", Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {v: " + value + "}\n")}}}
}

// TestReleasesFlow: install, upgrade, rollback and the history they leave,
// the objects of the latest revision (in the release's namespace), and an
// uninstall of a release that is not there.
func TestReleasesFlow(t *testing.T) {
	ctx := context.Background()
	h, _ := memoryReleases()
	r := Release{Name: "r", Namespace: "ns1", Chart: configMapChart("one")}
	for i, step := range []struct {
		name   string
		do     func() error
		latest int
		want   release.Status
	}{
		{"install", func() error { _, err := h.Install(ctx, r); return err }, 1, release.StatusDeployed},
		{"upgrade", func() error {
			r2 := r
			r2.Chart = configMapChart("two")
			_, err := h.Install(ctx, r2)
			return err
		}, 2, release.StatusDeployed},
		{"rollback", func() error { return h.Rollback(ctx, r, 1) }, 3, release.StatusDeployed},
	} {
		if err := step.do(); err != nil {
			t.Fatalf("step %d %s: %v", i, step.name, err)
		}
		last, deployed, err := h.History(r)
		if err != nil || !deployed || last.Version != step.latest || last.Info.Status != step.want {
			t.Fatalf("%s: latest %+v deployed %v err %v", step.name, last, deployed, err)
		}
	}
	objs, err := h.Objects(r)
	if err != nil || len(objs) != 1 || objs[0].GetNamespace() != "ns1" {
		t.Fatalf("objects %v %v", objs, err)
	}
	if v, _, _ := unstructured.NestedString(objs[0].Object, "data", "v"); v != "one" {
		t.Fatalf("after the rollback to revision 1: data.v %q", v)
	}
	if err := h.Uninstall(ctx, Release{Name: "absent", Namespace: "ns1"}); err != nil {
		t.Fatalf("uninstall of an absent release: %v", err)
	}
	if err := h.WaitReady(ctx, Release{Name: "absent", Namespace: "ns1"}, nil); err == nil {
		t.Fatal("waiting for an absent release succeeded")
	}
}

// TestServiceBackends: the port by name, by number or the first one; not
// ready endpoints left out (nil Ready counts as ready, as EndpointSlices
// say); IPv6 slices skipped; the first Service with the port wins.
func TestServiceBackends(t *testing.T) {
	yes, no := true, false
	name, port80, port81 := "http", int32(8080), int32(9090)
	admin := "admin"
	slice := func(svc, sliceName string, at discoveryv1.AddressType, eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
		return &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: sliceName, Namespace: "ns", Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
			AddressType: at, Ports: []discoveryv1.EndpointPort{{Name: &name, Port: &port80}, {Name: &admin, Port: &port81}}, Endpoints: eps}
	}
	ep := func(ip string, ready *bool) discoveryv1.Endpoint {
		return discoveryv1.Endpoint{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: ready}}
	}
	cs := fake.NewClientset(
		slice("web", "web-a", discoveryv1.AddressTypeIPv4, ep("10.0.0.2", &yes), ep("10.0.0.1", nil), ep("10.0.0.3", &no)),
		slice("web", "web-b", discoveryv1.AddressTypeIPv6, ep("fd00::1", &yes)),
	)
	for _, tc := range []struct {
		name, port string
		services   []string
		want       []string
	}{
		{"first port", "", []string{"web"}, []string{"10.0.0.1:8080", "10.0.0.2:8080"}},
		{"port by name", "admin", []string{"web"}, []string{"10.0.0.1:9090", "10.0.0.2:9090"}},
		{"port by number", "9090", []string{"web"}, []string{"10.0.0.1:9090", "10.0.0.2:9090"}},
		{"no such port", "dns", []string{"web"}, nil},
		{"first service with slices", "", []string{"none", "web"}, []string{"10.0.0.1:8080", "10.0.0.2:8080"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bs, err := ServiceBackends(context.Background(), cs, "ns", tc.services, tc.port)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, b := range bs {
				got = append(got, b.Address)
				if b.App != "ns/web" || b.Platform != "kubernetes" {
					t.Fatalf("backend %+v", b)
				}
			}
			if len(got) != len(tc.want) || (len(got) > 0 && got[0] != tc.want[0] || len(got) > 1 && got[1] != tc.want[1]) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}
