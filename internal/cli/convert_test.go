package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	"sigs.k8s.io/yaml"

	"github.com/switchyard/switchyard/convert"
	"github.com/switchyard/switchyard/internal/wanterr"
	labmarathon "github.com/switchyard/switchyard/lab/marathon"
	"github.com/switchyard/switchyard/marathon"
)

func runConvert(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := NewRoot()
	var out, errb bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SetArgs(append([]string{"convert"}, args...))
	err = cmd.Execute()
	return out.String(), errb.String(), err
}

// docs splits a YAML stream into objects.
func docs(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, d := range strings.Split(s, "---\n") {
		if strings.TrimSpace(d) == "" {
			continue
		}
		var m map[string]any
		if err := yaml.Unmarshal([]byte(d), &m); err != nil {
			t.Fatalf("yaml: %v\n%s", err, d)
		}
		out = append(out, m)
	}
	return out
}

func TestConvertManifestsAndReport(t *testing.T) {
	dir := t.TempDir()
	src := writeFile(t, dir, "web.json", `{"id":"/shop/web","instances":2,"cpus":0.25,"mem":64,
	  "container":{"type":"DOCKER","docker":{"image":"nginx:1.25"}},
	  "portDefinitions":[{"port":0,"name":"http"}],
	  "env":{"TOKEN":{"secret":"tok"}},"secrets":{"tok":{"source":"shop/token"}},
	  "constraints":[["hostname","LIKE","web-[0-9]+"]],"colour":"blue"}`)
	report := filepath.Join(dir, "report.json")
	out, errOut, err := runConvert(t, src, "--report-file", report, "-n", "shop", "--limit-policy", "equal")
	if err != nil {
		t.Fatalf("convert: %v\n%s", err, errOut)
	}
	objs := docs(t, out)
	if len(objs) != 2 || objs[0]["kind"] != "Service" || objs[1]["kind"] != "Deployment" {
		t.Fatalf("objects: %v", objs)
	}
	md := objs[1]["metadata"].(map[string]any)
	if md["name"] != "shop-web" || md["namespace"] != "shop" {
		t.Errorf("metadata %v", md)
	}
	if strings.Contains(out, "shop/token\n") || !strings.Contains(out, "secretKeyRef") {
		t.Errorf("secret not referenced by secretKeyRef:\n%s", out)
	}
	if !strings.Contains(out, "cpu: 250m") || strings.Count(out, "cpu: 250m") != 2 {
		t.Errorf("limit policy equal: want cpu request and limit 250m:\n%s", out)
	}
	for _, want := range []string{"app /shop/web -> shop-web", "unsupported", "constraints[0]", "colour", "total:"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("report lacks %q:\n%s", want, errOut)
		}
	}
	var rep convert.Report
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Totals.Unsupported != 2 || rep.Totals.Total == 0 || rep.Sources[0].Release != "shop-web" {
		t.Errorf("report totals %+v sources %+v", rep.Totals, rep.Sources)
	}
	again, _, err := runConvert(t, src, "-n", "shop", "--limit-policy", "equal")
	if err != nil || again != out {
		t.Errorf("second run differs (err %v)", err)
	}
}

func TestConvertDirectoryAndChart(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "src/db.json", `{"id":"/shop/db","cmd":"run-db","portDefinitions":[{"port":5432}]}`)
	writeFile(t, dir, "src/web.json", `{"id":"/shop/web","dependencies":["/shop/db"],"container":{"type":"DOCKER","docker":{"image":"nginx"}},"healthChecks":[{"protocol":"TCP"}]}`)
	out, errOut, err := runConvert(t, filepath.Join(dir, "src"))
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	// web has no portDefinitions: Marathon gives it one dynamic port, so
	// it gets a Service too.
	if n := len(docs(t, out)); n != 4 {
		t.Errorf("%d objects, want 4 (Service + Deployment each)", n)
	}
	if strings.Index(out, "name: shop-db") > strings.Index(out, "name: shop-web") {
		t.Error("db must come before web, which depends on it")
	}
	charts := filepath.Join(dir, "charts")
	if _, errOut, err := runConvert(t, filepath.Join(dir, "src"), "-o", "chart", "--out", charts); err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	for _, name := range []string{"shop-db", "shop-web"} {
		l := lint.All(filepath.Join(charts, name), nil, "default", false)
		if len(l.Messages) == 0 {
			t.Errorf("%s: lint saw nothing (no chart?)", name)
		}
		for _, m := range l.Messages {
			if m.Severity >= support.WarningSev {
				t.Errorf("%s: helm lint: %s", name, m)
			}
		}
	}
	order, err := os.ReadFile(filepath.Join(charts, "releases.yaml"))
	if err != nil || !strings.Contains(string(order), "- name: shop-web\n    chart: shop-web\n    marathonId: \"/shop/web\"\n    dependsOn: [shop-db]") {
		t.Errorf("releases.yaml (%v):\n%s", err, order)
	}
}

func TestConvertBadInput(t *testing.T) {
	dir := t.TempDir()
	syntax := writeFile(t, dir, "syntax.json", "{\n  \"id\": \"/a\",\n  \"cmd\": \n}")
	typ := writeFile(t, dir, "type.json", "{\n  \"id\": \"/a\",\n  \"cmd\": \"x\",\n  \"instances\": \"many\"\n}")
	invalid := writeFile(t, dir, "invalid.json", `{"id":"/a","cmd":"x","cpus":-1}`)
	cycle := writeFile(t, dir, "cycle.json", `{"id":"/g","apps":[{"id":"a","cmd":"x","dependencies":["b"]},{"id":"b","cmd":"y","dependencies":["a"]}]}`)
	good := writeFile(t, dir, "good.json", `{"id":"/a","cmd":"x"}`)
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"syntax error", []string{syntax}, []string{syntax, "line 4", "invalid JSON"}},
		{"wrong type", []string{typ}, []string{typ, "line 4", "instances", "expected an integer"}},
		{"invalid definition", []string{invalid}, []string{invalid, "cpus", "fix:"}},
		{"dependency cycle", []string{cycle}, []string{cycle, "dependency cycle", "fix:"}},
		{"missing file", []string{filepath.Join(dir, "nope.json")}, []string{"nope.json", "marathon://APP_ID"}},
		{"chart without --out", []string{good, "-o", "chart"}, []string{"--out"}},
		{"unknown output", []string{good, "-o", "helm"}, []string{"want manifests or chart"}},
		{"bad limit policy", []string{good, "--limit-policy", "factor:0"}, []string{"--limit-policy", "factor"}},
		{"bad host address", []string{good, "--host-address", "x"}, []string{"pod-ip"}},
		{"empty marathon id", []string{"marathon://"}, []string{"give an app id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := runConvert(t, tt.args...)
			wanterr.Check(t, err, tt.want...)
			if ExitCode(err) == 0 {
				t.Error("exit code 0")
			}
			if out != "" {
				t.Errorf("output on failure:\n%s", out)
			}
		})
	}
}

// TestConvertFromMarathon reads an app live from the lab's Marathon.
func TestConvertFromMarathon(t *testing.T) {
	ts := labmarathon.StartForTest(t, labmarathon.TestConfig(t, 1))
	c, err := marathon.NewClient(marathon.Config{URL: ts.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd, inst, cpus, mem := "sleep 3600", 0, 0.1, 16.0
	res, err := c.CreateApp(ctx, &marathon.App{ID: "/conv/live", Cmd: &cmd, Instances: &inst, CPUs: &cpus, Mem: &mem})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WaitForDeployment(ctx, res.DeploymentID, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MARATHON_URL", ts.URL)
	out, errOut, err := runConvert(t, "marathon:///conv/live")
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	if !strings.Contains(out, "name: conv-live") || !strings.Contains(out, "sleep 3600") || !strings.Contains(out, "replicas: 0") {
		t.Errorf("manifests:\n%s", out)
	}
	if !strings.Contains(errOut, "ignored") {
		t.Errorf("report should mark the live status fields ignored:\n%s", errOut)
	}
	if _, _, err := runConvert(t, "marathon:///conv/missing"); err == nil || !strings.Contains(err.Error(), "/conv/missing") {
		t.Errorf("missing app: %v", err)
	}
}

func TestConvertValidate(t *testing.T) {
	opts := func(f func(o *ConvertOptions)) *ConvertOptions {
		o := &ConvertOptions{Output: "manifests", LimitPolicy: convert.LimitNoCPU, HostAddress: convert.HostPodIP}
		f(o)
		return o
	}
	tests := []struct {
		name string
		o    *ConvertOptions
		want string // "" when valid
	}{
		{"manifests", opts(func(o *ConvertOptions) { o.Namespace = "apps" }), ""},
		{"chart", opts(func(o *ConvertOptions) { o.Output, o.Out = "chart", "charts" }), ""},
		{"factor limits, host ip", opts(func(o *ConvertOptions) { o.LimitPolicy, o.HostAddress = "factor:2", convert.HostNodeIP }), ""},
		{"manifests with --out", opts(func(o *ConvertOptions) { o.Out = "dir" }), "--out is for -o chart"},
		{"chart without --out", opts(func(o *ConvertOptions) { o.Output = "chart" }), "-o chart needs --out DIR"},
		{"chart with --namespace", opts(func(o *ConvertOptions) { o.Output, o.Out, o.Namespace = "chart", "charts", "apps" }), "--namespace is for manifests"},
		{"bad output", opts(func(o *ConvertOptions) { o.Output = "json" }), `-o "json": want manifests or chart`},
		{"bad host address", opts(func(o *ConvertOptions) { o.HostAddress = "dns" }), `--host-address "dns"`},
		{"bad limit policy first", opts(func(o *ConvertOptions) { o.LimitPolicy, o.Output = "loose", "json" }), "--limit-policy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkValidate(t, tt.o.Validate(), tt.want)
		})
	}
}
