package deploy

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/repo"

	"github.com/switchyard/switchyard/appspec"
)

// TestChartFromRepository: helm.repository + chart + version fetch the
// chart from a real chart repository (index.yaml and a packaged chart,
// served over HTTP on loopback), as `helm install --repo` does.
func TestChartFromRepository(t *testing.T) {
	for _, v := range []string{"HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"} {
		t.Setenv(v, t.TempDir())
	}
	src, err := loader.Load(filepath.Join("..", "examples", "apps", "shop", "chart"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tgz, err := chartutil.Save(src, dir)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	defer srv.Close()
	idx := repo.NewIndexFile()
	if err := idx.MustAdd(src.Metadata, filepath.Base(tgz), srv.URL, ""); err != nil {
		t.Fatal(err)
	}
	if err := idx.WriteFile(filepath.Join(dir, "index.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}

	d := New(Options{})
	s := &appspec.Spec{Name: "shop", Type: appspec.TypeHelm, Helm: &appspec.HelmSource{Repository: srv.URL, Chart: "shop", Version: "0.1.0"}}
	ch, err := d.loadChart(s, "default")
	if err != nil {
		t.Fatal(err)
	}
	if ch.Name() != "shop" || ch.Metadata.Version != "0.1.0" || len(ch.Templates) != len(src.Templates) {
		t.Errorf("fetched chart %s %s with %d templates", ch.Name(), ch.Metadata.Version, len(ch.Templates))
	}

	s.Helm.Version = "9.9.9"
	if _, err := d.loadChart(s, "default"); err == nil || !strings.Contains(err.Error(), "cannot fetch chart shop 9.9.9 from "+srv.URL) {
		t.Errorf("missing version: %v", err)
	}
}
