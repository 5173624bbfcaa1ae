package appspec

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/testfs"
)

const validMarathon = `name: web
owner: storefront
priority: 10
type: marathon
marathon:
  id: /demo/web
  instances: 2
  cpus: 0.1
  mem: 64
  cmd: "sleep 100"
route:
  host: shop.example.com
  path: /web
  port: http
resources:
  requests: {cpu: 100m, memory: 64Mi}
  limits: {memory: 128Mi}
dependsOn: [db]
migration:
  maxErrorRate: 0.01
  maxP99Latency: 250ms
  steps: [5, 25, 50, 100]
  pausePerStep: 30s
  soak: 5m
  minRequests: 100
  autoRollback: false
`

func TestParseValid(t *testing.T) {
	s, err := Parse("apps/web/app.yaml", []byte(validMarathon))
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "web" || s.Owner != "storefront" || s.Priority != 10 || s.Type != TypeMarathon {
		t.Errorf("header fields: %+v", s)
	}
	if s.Marathon == nil || s.Marathon.App == nil || s.Marathon.App.ID != "/demo/web" || *s.Marathon.App.Instances != 2 {
		t.Fatalf("inline marathon app not decoded: %+v", s.Marathon)
	}
	if s.Route.Host != "shop.example.com" || s.RoutePath() != "/web" || s.Route.Port != "http" {
		t.Errorf("route: %+v", s.Route)
	}
	if s.Resources.Requests["cpu"] != "100m" || s.Resources.Limits["memory"] != "128Mi" {
		t.Errorf("resources: %+v", s.Resources)
	}
	m := s.Migration
	if *m.MaxErrorRate != 0.01 || m.MaxP99Latency != 250*time.Millisecond || len(m.Steps) != 4 || m.Steps[3] != 100 ||
		m.PausePerStep != 30*time.Second || m.Soak != 5*time.Minute || m.MinRequests != 100 || *m.AutoRollback {
		t.Errorf("migration: %+v", m)
	}
	if s.Dir != "apps/web" || s.ReleaseName() != "web" {
		t.Errorf("dir %q release %q", s.Dir, s.ReleaseName())
	}
}

func TestParseHelmDefaults(t *testing.T) {
	s, err := Parse("x/app.yaml", []byte("name: shop\ntype: helm\nhelm:\n  path: chart\n  values: {replicas: 2, nested: {a: [1, 2]}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !s.Helm.HasChart() || s.Helm.Values["replicas"] != 2 || s.RoutePath() != "/shop" || s.Resolve(s.Helm.Path) != "x/chart" {
		t.Errorf("helm spec: %+v route %q", s.Helm, s.RoutePath())
	}
}

// badCases are app.yaml documents the parser must refuse; want are
// substrings of the error (file:line: field: message: fix).
var badCases = []struct {
	name, doc string
	want      []string
}{
	{"percent error rate", "name: web\ntype: marathon\nmarathon: {path: web.json}\nmigration:\n  maxErrorRate: \"5%\"\n",
		[]string{`app.yaml:5: migration.maxErrorRate: expected a number between 0 and 1, got "5%": write 0.05`}},
	{"error rate as percentage number", "name: web\ntype: marathon\nmarathon: {path: web.json}\nmigration:\n  maxErrorRate: 5\n",
		[]string{`app.yaml:5: migration.maxErrorRate:`, `write 0.05`}},
	{"unknown top-level key", "name: web\ntype: marathon\nmarathon: {path: web.json}\nrout:\n  path: /x\n",
		[]string{`app.yaml:4: rout: unknown field: did you mean "route"?`}},
	{"unknown nested key", "name: web\ntype: marathon\nmarathon: {path: web.json}\nmigration:\n  step: [5, 100]\n",
		[]string{`app.yaml:5: migration.step: unknown field: did you mean "steps"?`}},
	{"missing name", "type: marathon\nmarathon: {path: web.json}\n", []string{"name: missing: add name:"}},
	{"bad name", "name: Web_App\ntype: marathon\nmarathon: {path: web.json}\n", []string{`app.yaml:1: name: "Web_App" is not a valid app name`, `"web-app"`}},
	{"missing type", "name: web\nmarathon: {path: web.json}\n", []string{"type: missing: add type: marathon or type: helm"}},
	{"unknown type", "name: web\ntype: kubernetes\nmarathon: {path: web.json}\n", []string{`app.yaml:2: type: unknown type "kubernetes": write type: marathon or type: helm`}},
	{"marathon type without definition", "name: web\ntype: marathon\n", []string{"marathon: type marathon needs a Marathon definition"}},
	{"helm type without chart", "name: web\ntype: helm\nhelm: {namespace: x}\n", []string{"helm: type helm needs a chart or a Marathon definition"}},
	{"priority as string", "name: web\npriority: high\ntype: marathon\nmarathon: {path: web.json}\n", []string{`app.yaml:2: priority: expected a whole number, got "high"`}},
	{"priority quoted number", "name: web\npriority: \"3\"\ntype: marathon\nmarathon: {path: web.json}\n", []string{`priority: expected a whole number, got "3": write 3 without quotes`}},
	{"priority out of range", "name: web\npriority: 5000\ntype: marathon\nmarathon: {path: web.json}\n", []string{"priority: 5000 is out of range"}},
	{"duration as number", "name: web\ntype: marathon\nmarathon: {path: web.json}\nmigration:\n  pausePerStep: 30\n", []string{`app.yaml:5: migration.pausePerStep: expected a duration, got 30: write "30s"`}},
	{"bad duration", "name: web\ntype: marathon\nmarathon: {path: web.json}\nmigration:\n  soak: 5 minutes\n", []string{`migration.soak: expected a duration, got "5 minutes"`}},
	{"zero latency", "name: web\ntype: marathon\nmarathon: {path: web.json}\nmigration:\n  maxP99Latency: 0s\n", []string{"migration.maxP99Latency: 0 would fail every step"}},
	{"steps not a list", "name: web\ntype: marathon\nmarathon: {path: web.json}\nmigration:\n  steps: 50\n", []string{"migration.steps: expected a list, got 50: write a list: steps: [50]"}},
	{"step over 100", "name: web\ntype: marathon\nmarathon: {path: web.json}\nmigration:\n  steps: [50, 150]\n", []string{"migration.steps[1]: 150 is not a percentage"}},
	{"steps decreasing", "name: web\ntype: marathon\nmarathon: {path: web.json}\nmigration:\n  steps: [50, 25, 100]\n", []string{"migration.steps[1]: 25 does not increase on 50"}},
	{"steps not ending at 100", "name: web\ntype: marathon\nmarathon: {path: web.json}\nmigration:\n  steps: [5, 50]\n", []string{"migration.steps: the last step is 50%", "end the steps with 100"}},
	{"autoRollback string", "name: web\ntype: marathon\nmarathon: {path: web.json}\nmigration:\n  autoRollback: \"yes\"\n", []string{"migration.autoRollback: expected true or false"}},
	{"route path without slash", "name: web\ntype: marathon\nmarathon: {path: web.json}\nroute: {path: web}\n", []string{`app.yaml:4: route.path: "web" is not a path prefix`}},
	{"route host with port", "name: web\ntype: marathon\nmarathon: {path: web.json}\nroute: {host: \"shop:80\"}\n", []string{`route.host: "shop:80" is not a host name`}},
	{"route port out of range", "name: web\ntype: marathon\nmarathon: {path: web.json}\nroute: {port: 70000}\n", []string{"route.port: 70000 is not a port"}},
	{"route as string", "name: web\ntype: marathon\nmarathon: {path: web.json}\nroute: /web\n", []string{`route: expected a mapping, got "/web"`}},
	{"bad quantity", "name: web\ntype: marathon\nmarathon: {path: web.json}\nresources:\n  requests: {memory: 64MB}\n", []string{`resources.requests.memory: "64MB" is not a quantity: write "64Mi"`}},
	{"unknown resource", "name: web\ntype: marathon\nmarathon: {path: web.json}\nresources:\n  requests: {gpu: 1}\n", []string{"resources.requests.gpu: unknown field"}},
	{"limit below request", "name: web\ntype: marathon\nmarathon: {path: web.json}\nresources:\n  requests: {memory: 128Mi}\n  limits: {memory: 64Mi}\n", []string{"resources.limits.memory: limit 64Mi is below the request 128Mi"}},
	{"dependsOn string", "name: web\ntype: marathon\nmarathon: {path: web.json}\ndependsOn: db\n", []string{"dependsOn: expected a list, got \"db\": write a list: dependsOn: [db]"}},
	{"depends on itself", "name: web\ntype: marathon\nmarathon: {path: web.json}\ndependsOn: [web]\n", []string{"dependsOn[0]: an app cannot depend on itself"}},
	{"helm path and chart", "name: web\ntype: helm\nhelm: {path: c, repository: \"https://x\", chart: c, version: \"1\"}\n", []string{"helm.path: a local chart path and a repository chart are both given"}},
	{"helm chart without repository", "name: web\ntype: helm\nhelm: {chart: nginx, version: \"1\"}\n", []string{"helm.chart: a chart name needs a repository"}},
	{"helm chart without version", "name: web\ntype: helm\nhelm: {repository: \"https://charts.example.com\", chart: nginx}\n", []string{"helm.version: a repository chart needs a version"}},
	{"helm version as number", "name: web\ntype: helm\nhelm: {repository: \"https://charts.example.com\", chart: nginx, version: 1.2}\n", []string{`helm.version: expected a string, got 1.2: quote it: version: "1.2"`}},
	{"helm values not a mapping", "name: web\ntype: helm\nhelm: {path: c, values: [1]}\n", []string{"helm.values: expected a mapping, got a list"}},
	{"bad release", "name: web\ntype: helm\nhelm: {path: c, release: My_Release}\n", []string{`helm.release: "My_Release" is not a valid release name`}},
	{"marathon path and inline", "name: web\ntype: marathon\nmarathon: {path: a.json, id: /x}\n", []string{"marathon.id: unknown field"}},
	{"inline marathon wrong type", "name: web\ntype: marathon\nmarathon:\n  id: /web\n  instances: two\n  cmd: sleep 1\n", []string{"app.yaml:5: marathon.instances:"}},
	{"inline marathon unknown field", "name: web\ntype: marathon\nmarathon:\n  id: /web\n  instancs: 2\n  cmd: sleep 1\n", []string{"app.yaml:5: marathon.instancs:", "unknown"}},
	{"inline marathon group", "name: web\ntype: marathon\nmarathon:\n  id: /g\n  apps: [{id: a, cmd: sleep 1}]\n", []string{"marathon: expected one Marathon app definition, got a group"}},
	{"repeated key", "name: web\nname: api\ntype: marathon\nmarathon: {path: web.json}\n", []string{"app.yaml:2: name: repeated key (first at line 1)"}},
	{"not a mapping", "- name: web\n", []string{"expected a mapping of fields"}},
	{"two documents", "name: web\ntype: marathon\nmarathon: {path: web.json}\n---\nname: api\n", []string{"a second YAML document"}},
	{"invalid yaml", "name: web\ntype: [marathon\n", []string{"app.yaml:", "invalid YAML"}},
	{"empty", "  \n", []string{"app.yaml:1: the file is empty"}},
}

func TestParseBad(t *testing.T) {
	for _, tc := range badCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("examples/web/app.yaml", []byte(tc.doc))
			if err == nil {
				t.Fatal("accepted")
			}
			var l ErrorList
			if !errors.As(err, &l) || len(l) == 0 {
				t.Fatalf("error is not an ErrorList: %T %v", err, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%s\ndoes not contain\n%s", err, w)
				}
			}
			for _, e := range l {
				if e.File != "examples/web/app.yaml" {
					t.Errorf("error does not name the file: %v", e)
				}
			}
		})
	}
}

func TestParseReportsEveryError(t *testing.T) {
	_, err := Parse("app.yaml", []byte("name: web\ntype: marathon\nmarathon: {path: w.json}\npriority: x\nmigration: {maxErrorRate: 2.5, soak: 3}\n"))
	var l ErrorList
	if !errors.As(err, &l) || len(l) != 3 {
		t.Fatalf("want 3 errors (priority, maxErrorRate, soak), got %v", err)
	}
}

// write writes a test file (testfs.Write).
var write = testfs.Write

func TestLoadMarathonFile(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "defs/web.json", `{"id": "/web", "cmd": "sleep 100", "instances": 3}`)
	p := write(t, dir, "web/app.yaml", "name: web\ntype: marathon\nmarathon:\n  path: ../defs/web.json\n")
	s, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if s.Marathon.App == nil || s.Marathon.App.ID != "/web" || *s.Marathon.App.Instances != 3 {
		t.Fatalf("marathon file not loaded: %+v", s.Marathon)
	}
}

func TestLoadBadReferences(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "bad.json", "{\n  \"id\": \"/web\",\n  \"instances\": true,\n  \"cmd\": \"x\"\n}\n")
	cases := []struct{ name, doc, want string }{
		{"missing marathon file", "name: web\ntype: marathon\nmarathon: {path: nope.json}\n", "marathon.path: cannot read"},
		{"invalid marathon file", "name: web\ntype: marathon\nmarathon: {path: bad.json}\n", "bad.json:3: instances:"},
		{"missing chart", "name: web\ntype: helm\nhelm: {path: chart}\n", "helm.path: no chart at"},
		{"missing values file", "name: web\ntype: helm\nhelm: {path: ., valuesFiles: [prod.yaml]}\n", "helm.valuesFiles[0]: no values file at"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := write(t, dir, "app.yaml", tc.doc)
			_, err := Load(p)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want %q, got %v", tc.want, err)
			}
		})
	}
}

func TestLoadDirOrderAndChecks(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "a/app.yaml", "name: api\ntype: marathon\npriority: 1\ndependsOn: [db]\nmarathon: {id: /api, cmd: sleep 1}\n")
	write(t, dir, "b/app.yaml", "name: db\ntype: marathon\nmarathon: {id: /db, cmd: sleep 1}\n")
	write(t, dir, "c/app.yaml", "name: web\ntype: marathon\npriority: 5\nmarathon: {id: /web, cmd: sleep 1}\n")
	specs, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range specs {
		names = append(names, s.Name)
	}
	if got := strings.Join(names, ","); got != "web,db,api" {
		t.Errorf("order %s, want web,db,api (priority first, dependencies before their dependents)", got)
	}

	bad := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"missing dependency", map[string]string{"a/app.yaml": "name: api\ntype: marathon\ndependsOn: [db]\nmarathon: {id: /api, cmd: sleep 1}\n"}, `dependsOn[0]: no app named "db"`},
		{"cycle", map[string]string{
			"a/app.yaml": "name: a\ntype: marathon\ndependsOn: [b]\nmarathon: {id: /a, cmd: sleep 1}\n",
			"b/app.yaml": "name: b\ntype: marathon\ndependsOn: [a]\nmarathon: {id: /b, cmd: sleep 1}\n"}, "dependency cycle: a -> b -> a"},
		{"duplicate name", map[string]string{
			"a/app.yaml": "name: a\ntype: marathon\nmarathon: {id: /a, cmd: sleep 1}\n",
			"b/app.yaml": "name: a\ntype: marathon\nmarathon: {id: /b, cmd: sleep 1}\n"}, `app "a" is also described in`},
		{"one bad file fails all", map[string]string{
			"a/app.yaml": "name: a\ntype: marathon\nmarathon: {id: /a, cmd: sleep 1}\n",
			"b/app.yaml": "name: b\ntype: marathn\nmarathon: {id: /b, cmd: sleep 1}\n"}, `b/app.yaml:2: type: unknown type "marathn"`},
		{"empty dir", map[string]string{}, "no app.yaml found"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			d := t.TempDir()
			for n, c := range tc.files {
				write(t, d, n, c)
			}
			specs, err := LoadDir(d)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want %q, got %v", tc.want, err)
			}
			if specs != nil {
				t.Errorf("specs returned with an error: %v", specs)
			}
		})
	}
}

func TestExamplesLoad(t *testing.T) {
	specs, err := LoadDir(filepath.Join("..", "examples", "apps"))
	if err != nil {
		t.Fatal(err)
	}
	types := map[Type]int{}
	for _, s := range specs {
		types[s.Type]++
	}
	if types[TypeMarathon] == 0 || types[TypeHelm] == 0 {
		t.Errorf("examples need both types, got %v", types)
	}
}
