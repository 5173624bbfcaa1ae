package bundle

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/appspec"
	"github.com/switchyard/switchyard/internal/wanterr"
)

// TestCollectApp: what an app's bundle copy holds, and what is refused or
// warned about.
func TestCollectApp(t *testing.T) {
	tests := []struct {
		name       string
		files      map[string]string
		wantFiles  []string
		wantImages []string
		wantWarn   string
		wantErr    string
	}{
		{
			name: "own chart",
			files: map[string]string{
				"app.yaml":         "name: a\ntype: helm\nhelm: {path: chart, values: {image: reg.example/a:1}}\n",
				"chart/Chart.yaml": "apiVersion: v2\nname: a\nversion: 1.0.0\n",
				"chart/templates/pod.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  initContainers: [{name: i, image: reg.example/init:2}]\n" +
					"  containers: [{name: c, image: {{ .Values.image | quote }}}]\n",
			},
			wantFiles:  []string{"app.yaml", "chart/Chart.yaml", "chart/templates/pod.yaml", "values.yaml"},
			wantImages: []string{"reg.example/a:1", "reg.example/init:2"},
		},
		{
			name: "image assembled from parts",
			files: map[string]string{
				"app.yaml":                 "name: a\ntype: helm\nhelm: {path: chart, values: {repo: reg.example/a, tag: \"1\"}}\n",
				"chart/Chart.yaml":         "apiVersion: v2\nname: a\nversion: 1.0.0\n",
				"chart/templates/pod.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers: [{name: c, image: \"{{ .Values.repo }}:{{ .Values.tag }}\"}]\n",
			},
			wantErr: "reg.example/a:1 (rendered by the chart)",
		},
		{
			name:       "marathon app converted",
			files:      map[string]string{"app.yaml": "name: w\ntype: helm\nmarathon: {id: /w, cpus: 0.1, mem: 32, container: {type: DOCKER, docker: {image: \"reg.example/w:3\"}}}\n"},
			wantFiles:  []string{"app.yaml", "converted-chart/Chart.yaml", "marathon.json"},
			wantImages: []string{"reg.example/w:3"},
		},
		{
			name:       "command without an image",
			files:      map[string]string{"app.yaml": "name: c\ntype: marathon\nmarathon: {id: /c, cmd: sleep 9, cpus: 0.1, mem: 32}\n"},
			wantFiles:  []string{"app.yaml", "marathon.json"},
			wantImages: []string{"debian:bookworm-slim"},
			wantWarn:   "debian:bookworm-slim, which the Marathon definition does not name",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, tc.files)
			s, err := appspec.Load(filepath.Join(dir, "app.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			b, err := collectApp(context.Background(), s)
			if wanterr.Check(t, err, tc.wantErr) {
				return
			}
			for _, f := range tc.wantFiles {
				if _, ok := b.files[f]; !ok {
					t.Errorf("no %s in %v", f, sortedKeys(b.files))
				}
			}
			if strings.Join(b.Images, " ") != strings.Join(tc.wantImages, " ") {
				t.Errorf("images %v, want %v", b.Images, tc.wantImages)
			}
			if w := strings.Join(b.warnings, "\n"); (tc.wantWarn == "") != (w == "") || !strings.Contains(w, tc.wantWarn) {
				t.Errorf("warnings %q, want %q", w, tc.wantWarn)
			}
		})
	}
}
