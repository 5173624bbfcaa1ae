package convert_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	"sigs.k8s.io/yaml"

	"github.com/switchyard/switchyard/convert"
)

// TestChartLintAndRender writes the chart of every release of the corpus,
// lints it with Helm's linter and renders it with its default values: the
// rendered objects must equal the manifests output.
func TestChartLintAndRender(t *testing.T) {
	files := corpus(t)
	if testing.Short() {
		files = files[:10]
	}
	for _, f := range files {
		res := convertFile(t, f, convert.Options{})
		for _, rel := range res.Releases {
			chartFiles, err := convert.Chart(rel)
			if err != nil {
				t.Fatalf("%s: %v", rel.Name, err)
			}
			dir := filepath.Join(t.TempDir(), rel.Name)
			var bufs []*loader.BufferedFile
			for _, cf := range chartFiles {
				p := filepath.Join(dir, cf.Name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, cf.Data, 0o644); err != nil {
					t.Fatal(err)
				}
				bufs = append(bufs, &loader.BufferedFile{Name: cf.Name, Data: cf.Data})
			}
			l := lint.All(dir, nil, "default", false)
			for _, m := range l.Messages {
				if m.Severity >= support.WarningSev {
					t.Errorf("%s: helm lint: %s", rel.Name, m)
				}
			}
			ch, err := loader.LoadFiles(bufs)
			if err != nil {
				t.Fatalf("%s: load chart: %v", rel.Name, err)
			}
			vals, err := chartutil.ToRenderValues(ch, nil, chartutil.ReleaseOptions{Name: rel.Name, Namespace: "default"}, chartutil.DefaultCapabilities)
			if err != nil {
				t.Fatal(err)
			}
			out, err := engine.Render(ch, vals)
			if err != nil {
				t.Fatalf("%s: render: %v", rel.Name, err)
			}
			want := map[string]map[string]any{}
			for _, o := range rel.Objects() {
				m, err := convert.ObjectMap(o)
				if err != nil {
					t.Fatal(err)
				}
				want[strings.ToLower(o.GetObjectKind().GroupVersionKind().Kind)] = m
			}
			if len(out) != len(want) {
				t.Errorf("%s: %d templates rendered, want %d", rel.Name, len(out), len(want))
			}
			for name, text := range out {
				var got map[string]any
				if err := yaml.Unmarshal([]byte(text), &got); err != nil {
					t.Fatalf("%s: %s: %v\n%s", rel.Name, name, err, text)
				}
				kind := strings.TrimSuffix(filepath.Base(name), ".yaml")
				if !reflect.DeepEqual(normalize(t, got), normalize(t, want[kind])) {
					t.Errorf("%s: %s renders differently from the manifest:\n%s", rel.Name, name, text)
				}
			}
		}
	}
}

// normalize round-trips through YAML so that number types compare equal.
func normalize(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	b, err := yaml.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := yaml.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
