package convert_test

import (
	"encoding/json"
	"fmt"
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
	"github.com/switchyard/switchyard/internal/testfs"
	"github.com/switchyard/switchyard/marathon"
)

// hostileStrings are user strings that a template engine, a YAML writer or
// a placeholder scheme could mistake for something of its own.
var hostileStrings = []string{
	`{{ fail (print "X-" .Release.Namespace) }}`,
	`--format '{{.Name}}'`,
	`{{`,
	`}}`,
	`{`,
	`a{`,
	`{{{`,
	"`backticks` and {{`raw`}}",
	`{{- /* comment */ -}}`,
	`{{/* c */}}`,
	`SWITCHYARDTPL`,
	`SWITCHYARDTPL000`,
	`xSWITCHYARDTPL001y`,
	"line one\nline two\n{{ .Values }}\n",
	"  leading and trailing  ",
	"unicode: héllo 世界 \u2028 \U0001F600",
	"del\x7f and c1\u0085\u0090",
	`"quoted" 'single' \backslash`,
	`- not: a list`,
	"---\nkind: Secret",
	`{{ .Values.replicaCount }}`,
	`{{ include "x" . }}`,
}

// renderChart renders the chart of rel with the Helm SDK and its default
// values and returns the rendered objects by lowercase kind.
func renderChart(t testing.TB, rel *convert.Release) map[string]map[string]any {
	t.Helper()
	files, err := convert.Chart(rel)
	if err != nil {
		t.Fatalf("chart: %v", err)
	}
	var bufs []*loader.BufferedFile
	for _, cf := range files {
		bufs = append(bufs, &loader.BufferedFile{Name: cf.Name, Data: cf.Data})
	}
	ch, err := loader.LoadFiles(bufs)
	if err != nil {
		t.Fatalf("load chart: %v", err)
	}
	vals, err := chartutil.ToRenderValues(ch, nil, chartutil.ReleaseOptions{Name: rel.Name, Namespace: "default"}, chartutil.DefaultCapabilities)
	if err != nil {
		t.Fatalf("render values: %v", err)
	}
	out, err := engine.Render(ch, vals)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	got := map[string]map[string]any{}
	for name, text := range out {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(text), &m); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, text)
		}
		got[strings.TrimSuffix(filepath.Base(name), ".yaml")] = m
	}
	return got
}

// manifestsOf returns the manifests output of rel (parsed back from the
// YAML stream convert.YAML writes) by lowercase kind, without namespace.
func manifestsOf(t testing.TB, rel *convert.Release) map[string]map[string]any {
	t.Helper()
	want := map[string]map[string]any{}
	for _, o := range rel.Objects() {
		b, err := convert.YAML([]convert.Object{o})
		if err != nil {
			t.Fatalf("manifests: %v", err)
		}
		var m map[string]any
		if err := yaml.Unmarshal(b, &m); err != nil {
			t.Fatalf("manifests: %v\n%s", err, b)
		}
		if md, ok := m["metadata"].(map[string]any); ok {
			delete(md, "namespace")
		}
		want[strings.ToLower(o.GetObjectKind().GroupVersionKind().Kind)] = m
	}
	return want
}

// checkChartMatchesManifests renders every release's chart and compares
// it with the manifests output.
func checkChartMatchesManifests(t testing.TB, res *convert.Result) {
	t.Helper()
	for _, rel := range res.Releases {
		got, want := renderChart(t, rel), manifestsOf(t, rel)
		if len(got) != len(want) {
			t.Errorf("%s: %d templates rendered, want %d", rel.Name, len(got), len(want))
		}
		for kind, m := range want {
			if !reflect.DeepEqual(normalize(t, got[kind]), normalize(t, m)) {
				gb, _ := json.MarshalIndent(got[kind], "", "  ")
				wb, _ := json.MarshalIndent(m, "", "  ")
				t.Errorf("%s: %s: chart renders\n%s\nmanifest is\n%s", rel.Name, kind, gb, wb)
			}
		}
	}
}

// normalize round-trips m through JSON so that number types compare
// equal (YAML would refuse to write some of the strings compared).
func normalize(t testing.TB, m map[string]any) map[string]any {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// hostileApps returns Marathon definitions carrying s in every free-text
// field the converter copies: labels, env, cmd, args, health check path,
// volume paths.
func hostileApps(s string) []map[string]any {
	return []map[string]any{
		{
			"id":              "/hostile/cmd",
			"cmd":             "echo " + s,
			"instances":       2,
			"labels":          map[string]string{"L": s, "other": "x " + s},
			"env":             map[string]string{"E": s, "E2": s + s},
			"portDefinitions": []map[string]any{{"port": 0, "name": "http"}},
			"healthChecks":    []map[string]any{{"protocol": "MARATHON_HTTP", "path": "/h" + s, "portIndex": 0}},
		},
		{
			"id":   "/hostile/args",
			"args": []string{s, "--format", s},
			"env":  map[string]string{"E": s},
			"container": map[string]any{
				"type":   "DOCKER",
				"docker": map[string]any{"image": "nginx:1.25"},
				"volumes": []map[string]any{
					{"containerPath": "/data" + s, "hostPath": "/srv" + s, "mode": "RW"},
				},
			},
			"labels": map[string]string{s: s},
		},
	}
}

// TestChartHostileStrings puts template actions, delimiters, placeholder
// look-alikes, newlines and unicode into every free-text field and checks
// that the rendered chart equals the manifests output: user data reaches
// the objects literally and never runs as a template.
func TestChartHostileStrings(t *testing.T) {
	for i, s := range hostileStrings {
		for _, app := range hostileApps(s) {
			t.Run(fmt.Sprintf("%d%s", i, app["id"]), func(t *testing.T) {
				b, err := json.Marshal(app)
				if err != nil {
					t.Fatal(err)
				}
				def, err := marathon.Decode(b)
				if err != nil {
					t.Skipf("decode: %v", err)
				}
				res, err := convert.Definition(def, convert.Options{})
				if err != nil {
					t.Fatalf("convert: %v", err)
				}
				checkChartMatchesManifests(t, res)
				for _, rel := range res.Releases {
					lintChart(t, rel)
				}
			})
		}
	}
}

// lintChart writes the chart of rel to a directory and runs Helm's linter:
// no warnings or errors.
func lintChart(t testing.TB, rel *convert.Release) {
	t.Helper()
	files, err := convert.Chart(rel)
	if err != nil {
		t.Fatalf("chart: %v", err)
	}
	dir := filepath.Join(t.TempDir(), rel.Name)
	for _, cf := range files {
		testfs.Write(t, dir, cf.Name, string(cf.Data))
	}
	for _, m := range lint.All(dir, nil, "default", false).Messages {
		if m.Severity >= support.WarningSev {
			t.Errorf("%s: helm lint: %s", rel.Name, m)
		}
	}
}

// TestChartPlaceholderLookalikes: user strings that look like the chart
// generator's placeholders neither crash it (a label "SWITCHYARDTPL" cut
// the line out of range) nor become template expressions (a label
// "SWITCHYARDTPL000" rendered as replicaCount).
func TestChartPlaceholderLookalikes(t *testing.T) {
	for _, s := range []string{"SWITCHYARDTPL", "SWITCHYARDTPL000", "SWITCHYARDTPL001", "SWITCHYARDTPL0X1Z", "SWITCHYARDTPL0Z"} {
		t.Run(s, func(t *testing.T) {
			res := conv(t, `{"id":"/a","cmd":"run `+s+`","instances":3,"labels":{"l":"`+s+`"},"env":{"E":"`+s+`"}}`, convert.Options{})
			rel := res.Releases[0]
			got := renderChart(t, rel)["deployment"]
			labels := got["metadata"].(map[string]any)["labels"].(map[string]any)
			if labels["l"] != s {
				t.Errorf("label l = %#v, want %q", labels["l"], s)
			}
			checkChartMatchesManifests(t, res)
		})
	}
}

// FuzzChartMatchesManifests builds a definition from fuzzed strings in
// labels, env, args, cmd and paths, converts it and checks that the chart,
// rendered with the Helm SDK, equals the manifests output. Its seed corpus
// (testdata/fuzz/FuzzChartMatchesManifests) runs with every `go test`.
func FuzzChartMatchesManifests(f *testing.F) {
	f.Add("web", "v", "--port", "serve")
	f.Fuzz(func(t *testing.T, label, env, arg, cmd string) {
		app := func(id string) map[string]any {
			return map[string]any{
				"id":              id,
				"labels":          map[string]string{"l": label, label: env},
				"env":             map[string]string{"E": env, "F": label + cmd},
				"portDefinitions": []map[string]any{{"port": 0}},
				"healthChecks":    []map[string]any{{"protocol": "MARATHON_HTTP", "path": "/" + arg, "portIndex": 0}},
			}
		}
		withCmd := app("c")
		withCmd["cmd"] = cmd
		withArgs := app("a")
		withArgs["args"] = []string{arg, env, cmd}
		withArgs["container"] = map[string]any{
			"type":    "DOCKER",
			"docker":  map[string]any{"image": "nginx:1.25"},
			"volumes": []map[string]any{{"containerPath": "/d/" + label, "hostPath": "/h/" + env, "mode": "RO"}},
		}
		b, err := json.Marshal(map[string]any{"id": "/fuzz", "apps": []any{withCmd, withArgs}})
		if err != nil {
			return
		}
		def, err := marathon.Decode(b)
		if err != nil {
			return
		}
		res, err := convert.Definition(def, convert.Options{})
		if err != nil {
			return
		}
		checkChartMatchesManifests(t, res)
	})
}
