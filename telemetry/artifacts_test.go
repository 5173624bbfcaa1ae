package telemetry_test

// The dashboard, the alert rules and the documentation against what the
// collector exports.

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.yaml.in/yaml/v3"

	"github.com/switchyard/switchyard/capacity"
	"github.com/switchyard/switchyard/capacity/monitor"
	"github.com/switchyard/switchyard/internal/testenv"
	"github.com/switchyard/switchyard/journal"
	"github.com/switchyard/switchyard/migrate"
	"github.com/switchyard/switchyard/telemetry"
	"github.com/switchyard/switchyard/traffic"
)

// exported returns the name and type of every metric the collector and
// the event counters describe, checking that a scrape with every source
// fed exports each of them.
func exported(t *testing.T) map[string]dto.MetricType {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	m, err := telemetry.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	m.GateFailed("web")
	mon, err := monitor.New(monitor.Options{Source: func(context.Context) (capacity.Cluster, error) { return testCluster(), nil }, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mon.Step(context.Background()); err != nil {
		t.Fatal(err)
	}
	s, err := migrate.Start("web", migrate.Spec{MaxErrorRate: 0.01, MarathonInstances: 1})
	if err != nil {
		t.Fatal(err)
	}
	c := telemetry.NewCollector(telemetry.Options{
		LoadBalancers: func(context.Context) (traffic.Snapshot, error) {
			return traffic.Snapshot{Instances: []traffic.InstanceSnapshot{{Name: "lb-1", Stats: readStats(t, "lb1-a.json")}}}, nil
		},
		Capacity:   func(context.Context) (capacity.Cluster, error) { return testCluster(), nil },
		Alerts:     mon.Active,
		Migrations: func(context.Context) ([]migrate.State, error) { return []migrate.State{s}, nil },
	})
	reg.MustRegister(c)

	described := map[string]bool{}
	descs := make(chan *prometheus.Desc, 100)
	c.Describe(descs)
	m.Describe(descs)
	close(descs)
	fqName := regexp.MustCompile(`fqName: "([^"]+)"`)
	for d := range descs {
		match := fqName.FindStringSubmatch(d.String())
		if match == nil {
			t.Fatalf("no name in %s", d)
		}
		described[match[1]] = true
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]dto.MetricType{}
	for _, mf := range mfs {
		if !described[mf.GetName()] {
			t.Errorf("%s is exported but not described", mf.GetName())
		}
		out[mf.GetName()] = mf.GetType()
	}
	for name := range described {
		if _, ok := out[name]; !ok {
			t.Errorf("%s is described but a scrape with every source fed does not export it", name)
		}
	}
	return out
}

// metricRef finds the Switchyard metric names in PromQL and templates.
var metricRef = regexp.MustCompile(`switchyard_[a-z0-9_]+`)

// checkRefs reports every metric name in expr that is not exported (a
// histogram's _bucket, _sum and _count series are).
func checkRefs(t *testing.T, where, expr string, names map[string]dto.MetricType) []string {
	t.Helper()
	var used []string
	for _, ref := range metricRef.FindAllString(expr, -1) {
		name := ref
		if _, ok := names[name]; !ok {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if base, ok := strings.CutSuffix(ref, suffix); ok && names[base] == dto.MetricType_HISTOGRAM {
					name = base
				}
			}
		}
		if _, ok := names[name]; !ok {
			t.Errorf("%s: %s is not a metric the collector exports (in %q)", where, ref, expr)
		}
		used = append(used, name)
	}
	return used
}

// TestDashboard checks telemetry/grafana/switchyard.json: Grafana's
// dashboard model with a Prometheus datasource variable that every panel
// and query uses, and PromQL that names only exported metrics.
func TestDashboard(t *testing.T) {
	names := exported(t)
	raw, err := os.ReadFile(filepath.Join("grafana", "switchyard.json"))
	if err != nil {
		t.Fatal(err)
	}
	type datasource struct{ Type, UID string }
	type target struct {
		Expr       string
		RefID      string `json:"refId"`
		Datasource *datasource
	}
	type panel struct {
		ID          json.Number
		Type, Title string
		Datasource  *datasource
		GridPos     *struct{ H, W, X, Y int } `json:"gridPos"`
		Targets     []target
	}
	var dash struct {
		UID, Title    string
		SchemaVersion int `json:"schemaVersion"`
		Templating    struct {
			List []struct {
				Type, Name string
				Query      json.RawMessage
				Definition string
				Datasource *datasource
			}
		}
		Panels []json.RawMessage
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("grafana/switchyard.json: %v", err)
	}
	if dash.UID == "" || dash.Title == "" || dash.SchemaVersion < 36 || dash.SchemaVersion > 41 {
		t.Errorf("uid %q, title %q, schemaVersion %d: want a uid, a title and schemaVersion about 39", dash.UID, dash.Title, dash.SchemaVersion)
	}
	wantDS := datasource{Type: "prometheus", UID: "${datasource}"}
	var exprs []string
	hasDS := false
	for _, v := range dash.Templating.List {
		switch {
		case v.Type == "datasource" && v.Name == "datasource":
			hasDS = string(v.Query) == `"prometheus"`
		case v.Type == "query":
			if v.Datasource == nil || *v.Datasource != wantDS {
				t.Errorf("variable %s: datasource %v, want %v", v.Name, v.Datasource, wantDS)
			}
			exprs = append(exprs, v.Definition)
		}
	}
	if !hasDS {
		t.Error(`no Prometheus datasource variable: templating needs {"type": "datasource", "name": "datasource", "query": "prometheus"}`)
	}
	used := map[string]bool{}
	ids := map[string]bool{}
	for i, rp := range dash.Panels {
		var p panel
		if err := json.Unmarshal(rp, &p); err != nil {
			t.Fatalf("panel %d: %v", i, err)
		}
		if p.ID == "" || ids[p.ID.String()] {
			t.Errorf("panel %q: id %q missing or used twice", p.Title, p.ID)
		}
		ids[p.ID.String()] = true
		if p.GridPos == nil || p.GridPos.W == 0 || p.GridPos.H == 0 {
			t.Errorf("panel %q: no gridPos", p.Title)
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || *p.Datasource != wantDS || len(p.Targets) == 0 {
			t.Errorf("panel %q: datasource %v with %d queries, want %v", p.Title, p.Datasource, len(p.Targets), wantDS)
		}
		for _, tg := range p.Targets {
			if tg.Datasource == nil || *tg.Datasource != wantDS || tg.RefID == "" || tg.Expr == "" {
				t.Errorf("panel %q: query %+v: want refId, expr and datasource %v", p.Title, tg, wantDS)
			}
			exprs = append(exprs, tg.Expr)
		}
	}
	for _, e := range exprs {
		for _, n := range checkRefs(t, "grafana/switchyard.json", e, names) {
			used[n] = true
		}
	}
	// The panels the issue asks for: rate, 5xx, latency, the node split,
	// the alerts, the migrations.
	for _, name := range []string{"switchyard_lb_requests_total", "switchyard_lb_responses_5xx_total", "switchyard_lb_request_duration_seconds",
		"switchyard_lb_instance_up", "switchyard_node_cpus", "switchyard_node_memory_bytes", "switchyard_congestion_alert",
		"switchyard_migration_phase", "switchyard_migration_weight_percent", "switchyard_gate_failures_total"} {
		if !used[name] {
			t.Errorf("no panel shows %s", name)
		}
	}
}

// promtool returns Debian's promtool, or skips (fails under CI) without it.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		testenv.Missing(t, "promtool not found: install Debian's prometheus package (scripts/deps.sh)")
	}
	return p
}

// TestAlertRules checks telemetry/prometheus/alerts.yaml with promtool
// (syntax, templates) and runs its unit test, alerts_test.yaml, which
// feeds series and asserts when each alert fires; every rule names only
// exported metrics.
func TestAlertRules(t *testing.T) {
	names := exported(t)
	tool := promtool(t)
	for _, args := range [][]string{{"check", "rules", "alerts.yaml"}, {"test", "rules", "alerts_test.yaml"}} {
		cmd := exec.Command(tool, args...)
		cmd.Dir = "prometheus"
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	raw, err := os.ReadFile(filepath.Join("prometheus", "alerts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert, Expr string
				Labels      map[string]string
			}
		}
	}
	if err := yaml.Unmarshal(raw, &rules); err != nil {
		t.Fatal(err)
	}
	var alerts []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			alerts = append(alerts, r.Alert)
			checkRefs(t, "prometheus/alerts.yaml "+r.Alert, r.Expr, names)
			if r.Labels["severity"] == "" {
				t.Errorf("%s: no severity label", r.Alert)
			}
		}
	}
	sort.Strings(alerts)
	if want := []string{"SwitchyardGateFailed", "SwitchyardLoadBalancerDown", "SwitchyardNodeCongested", "SwitchyardRoute5xxHigh"}; !slices.Equal(alerts, want) {
		t.Errorf("alerts %v, want %v", alerts, want)
	}
	// Each alert has a test case in alerts_test.yaml.
	tests, err := os.ReadFile(filepath.Join("prometheus", "alerts_test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range alerts {
		if !strings.Contains(string(tests), "alertname: "+a) {
			t.Errorf("alerts_test.yaml does not test %s", a)
		}
	}
}

// TestDocumented checks that docs/telemetry.md documents every exported
// metric, and names no Switchyard metric of serve's that does not exist in
// its metric tables.
func TestDocumented(t *testing.T) {
	names := exported(t)
	raw, err := os.ReadFile(filepath.Join("..", "docs", "telemetry.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	for name := range names {
		if !strings.Contains(doc, "`"+name+"`") && !strings.Contains(doc, "`"+name+"{") {
			t.Errorf("docs/telemetry.md does not document %s", name)
		}
	}
	// Table rows (| `name{labels}` | type | ...) name exported metrics only.
	row := regexp.MustCompile("(?m)^\\| `(switchyard_[a-z0-9_]+)")
	for _, m := range row.FindAllStringSubmatch(doc, -1) {
		if _, ok := names[m[1]]; !ok {
			t.Errorf("docs/telemetry.md documents %s, which the collector does not export", m[1])
		}
	}
}

// TestJournalRestart: a serve that restarts wraps a journal that already
// holds migrations: their counters exist at zero before anything is
// journaled, so the next gate failure is an increase Prometheus sees.
func TestJournalRestart(t *testing.T) {
	j, err := journal.Open(filepath.Join(t.TempDir(), "journal.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	s, err := migrate.Start("web", migrate.Spec{MaxErrorRate: 0.01, MarathonInstances: 1})
	if err != nil {
		t.Fatal(err)
	}
	n, _, err := migrate.Next(s, migrate.Event{Kind: migrate.EvStart})
	if err != nil {
		t.Fatal(err)
	}
	appendState(t, j, s, n, migrate.EvStart)
	reg := prometheus.NewPedanticRegistry()
	m, err := telemetry.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	m.Journal(j)
	if v, ok := gather(t, reg)[`switchyard_gate_failures_total{app="web"}`]; !ok || v != 0 {
		t.Errorf("web's gate failures after a restart: %v (exported %v), want 0", v, ok)
	}
	if err := m.Journal(j).Append(context.Background(), &journal.Entry{}); err == nil {
		t.Error("the wrapped journal accepted an entry without app")
	}
}
