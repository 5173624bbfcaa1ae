package edge_test

import (
	"context"
	"io"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	kubefake "helm.sh/helm/v3/pkg/kube/fake"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage"
	"helm.sh/helm/v3/pkg/storage/driver"

	"github.com/switchyard/switchyard/appspec"
	"github.com/switchyard/switchyard/deploy"
	"github.com/switchyard/switchyard/migrate"
	"github.com/switchyard/switchyard/migrate/edge"
	"github.com/switchyard/switchyard/migrate/edge/edgetest"
)

// helmFixture is a Helm edge whose namespace "ns1" uses Helm's in-memory
// release storage and its printing kube client (the release logic is
// Helm's real one; the lab e2e tests cover a real cluster).
func helmFixture(t *testing.T) (*edge.Helm, *action.Configuration) {
	t.Helper()
	cfg := &action.Configuration{Releases: storage.Init(driver.NewMemory()),
		KubeClient:   &kubefake.PrintingKubeClient{Out: io.Discard},
		Capabilities: chartutil.DefaultCapabilities, Log: func(string, ...any) {}}
	h := &edge.Helm{Releases: &deploy.Releases{ActionConfig: func(string) (*action.Configuration, error) { return cfg, nil }}}
	ch := demoChart(t)
	h.Set("d", deploy.Release{Name: "d", Namespace: "ns1", Chart: ch})
	return h, cfg
}

// demoChart is the demo app's objects (edgetest.DemoApp "d" in "ns1")
// packed into a chart.
func demoChart(t *testing.T) *chart.Chart {
	t.Helper()
	_, tg, err := edgetest.DemoApp("d", "ns1", 2, nil, edge.PlanFromSpec(&appspec.Spec{}))
	if err != nil {
		t.Fatal(err)
	}
	ch, err := edge.ChartFromObjects("d", tg.Objects)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

func statuses(t *testing.T, cfg *action.Configuration) []release.Status {
	t.Helper()
	hist, err := cfg.Releases.History("d")
	if err != nil && err != driver.ErrReleaseNotFound {
		t.Fatal(err)
	}
	out := make([]release.Status, len(hist))
	for _, r := range hist {
		out[r.Version-1] = r.Info.Status
	}
	return out
}

// TestHelmInstallIsIdempotent: install, install again (an upgrade: a
// restarted executor re-performs the action), and recovery from a revision
// a crash left pending.
func TestHelmInstallIsIdempotent(t *testing.T) {
	ctx := context.Background()
	app := migrate.App{Name: "d"}
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, h *edge.Helm, cfg *action.Configuration)
		want  []release.Status
	}{
		{"fresh", nil, []release.Status{release.StatusDeployed}},
		{"again", func(t *testing.T, h *edge.Helm, _ *action.Configuration) {
			if err := h.Install(ctx, app); err != nil {
				t.Fatal(err)
			}
		}, []release.Status{release.StatusSuperseded, release.StatusDeployed}},
		{"pending install left by a crash", func(t *testing.T, h *edge.Helm, cfg *action.Configuration) {
			r, _ := h.Release("d")
			rel := &release.Release{Name: "d", Namespace: "ns1", Version: 1, Chart: r.Chart,
				Info: &release.Info{Status: release.StatusPendingInstall}}
			if err := cfg.Releases.Create(rel); err != nil {
				t.Fatal(err)
			}
		}, []release.Status{release.StatusDeployed}},
		{"pending upgrade left by a crash", func(t *testing.T, h *edge.Helm, cfg *action.Configuration) {
			if err := h.Install(ctx, app); err != nil {
				t.Fatal(err)
			}
			r, _ := h.Release("d")
			rel := &release.Release{Name: "d", Namespace: "ns1", Version: 2, Chart: r.Chart,
				Info: &release.Info{Status: release.StatusPendingUpgrade}}
			if err := cfg.Releases.Create(rel); err != nil {
				t.Fatal(err)
			}
		}, []release.Status{release.StatusSuperseded, release.StatusFailed, release.StatusDeployed}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, cfg := helmFixture(t)
			if tc.setup != nil {
				tc.setup(t, h, cfg)
			}
			if err := h.Install(ctx, app); err != nil {
				t.Fatal(err)
			}
			got := statuses(t, cfg)
			if len(got) != len(tc.want) {
				t.Fatalf("revisions %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("revisions %v, want %v", got, tc.want)
				}
			}
		})
	}
}

// TestHelmRemoveAbsent: removing a release that is not installed is not an
// error (a rollback that already removed it, or never installed it).
func TestHelmRemoveAbsent(t *testing.T) {
	h, _ := helmFixture(t)
	if err := h.Remove(context.Background(), migrate.App{Name: "d"}); err != nil {
		t.Fatal(err)
	}
	if err := h.Remove(context.Background(), migrate.App{Name: "unknown"}); err == nil {
		t.Fatal("an app without a release was accepted")
	}
}

// TestChartFromObjects: Namespace objects stay out of the chart (the
// namespace is shared by other releases); the others become templates.
func TestChartFromObjects(t *testing.T) {
	ch := demoChart(t)
	if len(ch.Templates) != 2 {
		t.Fatalf("templates: %d, want Deployment and Service", len(ch.Templates))
	}
	for _, f := range ch.Templates {
		if strings.Contains(string(f.Data), "kind: Namespace") || strings.Contains(string(f.Data), "namespace: ns1") {
			t.Fatalf("%s:\n%s", f.Name, f.Data)
		}
	}
	if _, err := edge.ChartFromObjects("x", nil); err == nil {
		t.Fatal("an empty chart was accepted")
	}
}
