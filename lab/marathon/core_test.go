package marathon

import (
	"encoding/json"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/lab/labconfig"
)

func tv(id string, current, running, healthy bool) taskView {
	return taskView{ID: id, Current: current, Running: running, Healthy: healthy, Ready: true}
}

func killing(id string, current bool) taskView {
	return taskView{ID: id, Current: current, Killing: true, Ready: true}
}

func TestDecide(t *testing.T) {
	st := func(minH, maxO float64) strategy { return strategy{minH, maxO, "YOUNGEST_FIRST"} }
	cases := []struct {
		name   string
		mode   mode
		target int
		st     strategy
		tasks  []taskView
		want   decision
	}{
		{"steady fills up", modeSteady, 3, st(1, 1), []taskView{tv("a", true, true, true)}, decision{Launch: 2}},
		{"steady never kills", modeSteady, 1, st(1, 1), []taskView{tv("a", true, true, true), tv("b", true, true, true)}, decision{}},
		{"steady ignores killing tasks", modeSteady, 1, st(1, 1), []taskView{killing("a", true)}, decision{Launch: 1}},
		{"hold does nothing", modeHold, 3, st(1, 1), nil, decision{Done: true}},
		{"scale up", modeScale, 3, st(1, 1), []taskView{tv("a", true, true, true)}, decision{Launch: 2}},
		{"scale waits for health", modeScale, 2, st(1, 1), []taskView{tv("a", true, true, true), tv("b", true, true, false)}, decision{}},
		{"scale done", modeScale, 2, st(1, 1), []taskView{tv("a", true, true, true), tv("b", true, true, true)}, decision{Done: true}},
		{"scale down kills not-running first", modeScale, 1, st(1, 1),
			[]taskView{tv("a", true, true, true), {ID: "b", Current: true, Ready: true}}, decision{Kill: []string{"b"}}},
		{"scale down waits for the kill", modeScale, 1, st(1, 1), []taskView{tv("a", true, true, true), killing("b", true)}, decision{}},
		{"stop kills all", modeStop, 0, st(1, 1), []taskView{tv("a", true, true, true), killing("b", true)}, decision{Kill: []string{"a"}}},
		{"stop done when empty", modeStop, 0, st(1, 1), nil, decision{Done: true}},
		// Rolling restarts, target 4.
		{"restart 1/1 starts 4 extra", modeRestart, 4, st(1, 1),
			[]taskView{tv("o1", false, true, true), tv("o2", false, true, true), tv("o3", false, true, true), tv("o4", false, true, true)},
			decision{Launch: 4}},
		{"restart 0.5/0 kills 2 first", modeRestart, 4, st(0.5, 0),
			[]taskView{tv("o1", false, true, true), tv("o2", false, true, true), tv("o3", false, true, true), tv("o4", false, true, true)},
			decision{Kill: []string{"o1", "o2"}}},
		{"restart 0.5/0 waits for kills before launching", modeRestart, 4, st(0.5, 0),
			[]taskView{killing("o1", false), killing("o2", false), tv("o3", false, true, true), tv("o4", false, true, true)},
			decision{}},
		{"restart 0.5/0 launches into the freed room", modeRestart, 4, st(0.5, 0),
			[]taskView{tv("o3", false, true, true), tv("o4", false, true, true)},
			decision{Launch: 2}},
		{"restart kills old as new become healthy", modeRestart, 4, st(0.5, 0),
			[]taskView{tv("o3", false, true, true), tv("o4", false, true, true), tv("n1", true, true, true), tv("n2", true, true, false)},
			decision{Kill: []string{"o3"}}},
		{"restart kills unhealthy old at once", modeRestart, 2, st(1, 0),
			[]taskView{tv("o1", false, true, false), tv("o2", false, true, true)},
			decision{Kill: []string{"o1"}}},
		{"restart 1/0 replaces one at a time", modeRestart, 2, st(1, 0),
			[]taskView{tv("o1", false, true, true), tv("o2", false, true, true)},
			decision{Kill: []string{"o1"}}},
		{"restart 1/0 waits for the new task", modeRestart, 2, st(1, 0),
			[]taskView{tv("o2", false, true, true), tv("n1", true, true, false)},
			decision{}},
		{"restart done", modeRestart, 2, st(1, 0),
			[]taskView{tv("n1", true, true, true), tv("n2", true, true, true)},
			decision{Done: true}},
		{"restart not done while not ready", modeRestart, 1, st(1, 1),
			[]taskView{{ID: "n1", Current: true, Running: true, Healthy: true}},
			decision{}},
		{"restart trims new tasks above target", modeRestart, 1, st(1, 1),
			[]taskView{tv("n1", true, true, true), tv("n2", true, true, true)},
			decision{Kill: []string{"n1"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := decide(c.mode, c.target, c.st, c.tasks)
			if got.Launch != c.want.Launch || got.Done != c.want.Done || !reflect.DeepEqual(nonNil(got.Kill), nonNil(c.want.Kill)) {
				t.Errorf("decide = %+v, want %+v", got, c.want)
			}
		})
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// TestRollingRestartSimulation runs decide to completion for many
// strategies, applying its decisions (launched tasks become healthy on the
// next pass, killed tasks disappear on the one after), and checks the
// invariants at every step: never more than maxCapacity tasks, never fewer
// than minHealthy healthy ones (unless the strategy leaves no room, where
// one task at a time is replaced), and completion.
func TestRollingRestartSimulation(t *testing.T) {
	for _, target := range []int{1, 2, 3, 5, 10} {
		for _, minH := range []float64{0, 0.5, 0.8, 1} {
			for _, maxO := range []float64{0, 0.2, 0.5, 1} {
				st := strategy{minH, maxO, "YOUNGEST_FIRST"}
				var tasks []taskView
				for i := 0; i < target; i++ {
					tasks = append(tasks, tv("old"+itoa(i), false, true, true))
				}
				minHealthy, maxCap := ceilInt(float64(target)*minH), floorInt(float64(target)*(1+maxO))
				noRoom := minHealthy >= target && maxCap <= target
				next := 0
				for pass := 0; ; pass++ {
					if pass > 200 {
						t.Fatalf("target %d strategy %+v: no completion after 200 passes", target, st)
					}
					d := decide(modeRestart, target, st, tasks)
					if d.Done {
						break
					}
					var out []taskView
					killed := map[string]bool{}
					for _, id := range d.Kill {
						killed[id] = true
					}
					for _, tk := range tasks {
						switch {
						case tk.Killing:
							// gone
						case killed[tk.ID]:
							tk.Killing, tk.Healthy, tk.Running = true, false, false
							out = append(out, tk)
						case tk.Current && !tk.Healthy:
							tk.Healthy, tk.Running = true, true
							out = append(out, tk)
						default:
							out = append(out, tk)
						}
					}
					for i := 0; i < d.Launch; i++ {
						out = append(out, taskView{ID: "new" + itoa(next), Current: true, Ready: true})
						next++
					}
					tasks = out
					healthy := 0
					for _, tk := range tasks {
						if tk.Healthy && !tk.Killing {
							healthy++
						}
					}
					if len(tasks) > max(maxCap, target) {
						t.Fatalf("target %d strategy %+v: %d tasks > maxCapacity %d", target, st, len(tasks), maxCap)
					}
					floor := minHealthy
					if noRoom {
						floor = target - 1
					}
					if healthy < floor {
						t.Fatalf("target %d strategy %+v: %d healthy < %d", target, st, healthy, floor)
					}
				}
			}
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestPlanDeployment(t *testing.T) {
	def := func(cmd string, n int, deps ...string) planApp {
		d := appDef{}
		d.set("cmd", cmd)
		d.set("instances", n)
		return planApp{Def: d, Instances: n, Dependencies: deps}
	}
	cases := []struct {
		name     string
		from, to map[string]planApp
		want     string
		err      string
	}{
		{"create", nil, map[string]planApp{"/a": def("x", 2)}, "StartApplication /a; ScaleApplication /a", ""},
		{"create with 0 instances", nil, map[string]planApp{"/a": def("x", 0)}, "StartApplication /a", ""},
		{"scale", map[string]planApp{"/a": def("x", 2)}, map[string]planApp{"/a": def("x", 3)}, "ScaleApplication /a", ""},
		{"config change", map[string]planApp{"/a": def("x", 2)}, map[string]planApp{"/a": def("y", 2)}, "RestartApplication /a", ""},
		{"config change and scale", map[string]planApp{"/a": def("x", 2)}, map[string]planApp{"/a": def("y", 5)}, "RestartApplication /a", ""},
		{"no change", map[string]planApp{"/a": def("x", 2)}, map[string]planApp{"/a": def("x", 2)}, "", ""},
		{"delete", map[string]planApp{"/a": def("x", 2)}, map[string]planApp{}, "StopApplication /a", ""},
		{"dependency order", nil, map[string]planApp{
			"/g/db": def("db", 1), "/g/api": def("api", 1, "/g/db"), "/g/web": def("web", 1, "/g/api"), "/g/cache": def("c", 1),
		}, "StartApplication /g/api, StartApplication /g/cache, StartApplication /g/db, StartApplication /g/web; ScaleApplication /g/cache, ScaleApplication /g/db; ScaleApplication /g/api; ScaleApplication /g/web", ""},
		{"group dependency", nil, map[string]planApp{
			"/back/db": def("db", 1), "/back/q": def("q", 1), "/front/web": def("web", 1, "/back"),
		}, "StartApplication /back/db, StartApplication /back/q, StartApplication /front/web; ScaleApplication /back/db, ScaleApplication /back/q; ScaleApplication /front/web", ""},
		{"stop and start together", map[string]planApp{"/old": def("x", 1)}, map[string]planApp{"/new": def("x", 1)},
			"StopApplication /old; StartApplication /new; ScaleApplication /new", ""},
		{"cycle", nil, map[string]planApp{"/a": def("a", 1, "/b"), "/b": def("b", 1, "/a")}, "", "cyclic"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			steps, err := planDeployment(c.from, c.to)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := describeSteps(steps); got != c.want {
				t.Errorf("steps\n got %s\nwant %s", got, c.want)
			}
		})
	}
}

func TestTransition(t *testing.T) {
	cases := []struct {
		from    string
		ev      taskEvent
		to      string
		failure bool
		ok      bool
	}{
		{taskStaging, evStarted, taskRunning, false, true},
		{taskStaging, evStartFailed, taskFailed, true, true},
		{taskRunning, evExitedOK, taskFinished, true, true},
		{taskRunning, evExitedFailed, taskFailed, true, true},
		{taskRunning, evVanished, taskLost, true, true},
		{taskRunning, evKillRequested, taskKilling, false, true},
		{taskKilling, evExitedFailed, taskKilled, false, true},
		{taskKilling, evExitedOK, taskKilled, false, true},
		{taskKilling, evKillRequested, taskKilling, false, false},
		{taskRunning, evStarted, taskRunning, false, false},
		{taskKilled, evExitedOK, taskKilled, false, false},
	}
	for _, c := range cases {
		to, failure, ok := transition(c.from, c.ev)
		if to != c.to || failure != c.failure || ok != c.ok {
			t.Errorf("transition(%s, %d) = %s %v %v, want %s %v %v", c.from, c.ev, to, failure, ok, c.to, c.failure, c.ok)
		}
	}
}

func TestNextDelay(t *testing.T) {
	d := time.Duration(0)
	var got []time.Duration
	for i := 0; i < 5; i++ {
		d = nextDelay(d, 1, 2, 5)
		got = append(got, d)
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("delays %v, want %v", got, want)
	}
}

func TestLabelSelector(t *testing.T) {
	labels := map[string]string{"env": "prod", "tier": "web", "a,b": "x"}
	cases := map[string]bool{
		"":                            true,
		"env":                         true,
		"missing":                     false,
		"env==prod":                   true,
		"env==dev":                    false,
		"tier!=db":                    true,
		"env in (stage,prod)":         true,
		"env notin (stage,prod)":      false,
		"env==prod, tier in (web)":    true,
		"env==prod, tier notin (web)": false,
		`a\,b==x`:                     true,
	}
	for q, want := range cases {
		sel, err := parseLabelSelector(q)
		if err != nil {
			t.Fatalf("%q: %v", q, err)
		}
		if got := sel.matches(labels); got != want {
			t.Errorf("%q matches = %v, want %v", q, got, want)
		}
	}
	if _, err := parseLabelSelector("env in prod"); err == nil {
		t.Error("a set without parentheses was accepted")
	}
}

func TestPaths(t *testing.T) {
	cases := []struct{ id, base, want string }{
		{"a", "/", "/a"}, {"a", "/g", "/g/a"}, {"/x/y", "/g", "/x/y"}, {"../b", "/g/h", "/g/b"}, {"./a/", "/", "/a"},
	}
	for _, c := range cases {
		if got := absPath(c.id, c.base); got != c.want {
			t.Errorf("absPath(%q, %q) = %q, want %q", c.id, c.base, got, c.want)
		}
	}
	if got := appIDOfTask(newTaskID("/tools/docker/registry")); got != "/tools/docker/registry" {
		t.Errorf("task id round trip: %q", got)
	}
	if validPathErrors("/ok/app-1.x") != nil || validPathErrors("/Bad") == nil || validPathErrors("/a_b") == nil {
		t.Error("id validation")
	}
	var c versionClock
	now := time.Now()
	a, b := c.next(now), c.next(now)
	if !b.After(a) {
		t.Errorf("versions %v then %v are not increasing", a, b)
	}
}

func TestAppDefaultsAndPorts(t *testing.T) {
	d, e := decodeApp(json.RawMessage(`{"id":"web","cmd":"x","ports":[0,0],"unknownField":1,"tasksRunning":3}`), "", nil)
	if e != nil {
		t.Fatal(e)
	}
	for _, k := range []string{"unknownField", "tasksRunning", "ports"} {
		if _, ok := d[k]; ok {
			t.Errorf("%s kept", k)
		}
	}
	sp, errs := parseSpec(d)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if sp.ID != "/web" || sp.Instances != 1 || sp.CPUs != 1 || sp.Mem != 128 || sp.MinHealth != 1 || sp.MaxOver != 1 ||
		sp.BackoffFactor != 1.15 || sp.MaxLaunchDelay != 300 || sp.KillSelection != "YOUNGEST_FIRST" {
		t.Errorf("defaults: %+v", sp)
	}
	if got := sp.hostPortRequests(); !reflect.DeepEqual(got, []int{0, 0}) {
		t.Errorf("host ports %v", got)
	}
	bridge, e := decodeApp(json.RawMessage(`{"id":"/b","container":{"type":"DOCKER","docker":{"image":"nginx:1"},"portMappings":[{"containerPort":80,"hostPort":0,"name":"web"},{"containerPort":81,"hostPort":31005},{"containerPort":82}]},"networks":[{"mode":"container/bridge"}]}`), "", nil)
	if e != nil {
		t.Fatal(e)
	}
	bs, _ := parseSpec(bridge)
	if got := bs.hostPortRequests(); !reflect.DeepEqual(got, []int{0, 31005, 0}) || bs.portNames()[0] != "web" || bs.Image != "nginx:1" {
		t.Errorf("bridge spec: ports %v names %v image %q", got, bs.portNames(), bs.Image)
	}
}

func TestTaskArgvImageMapping(t *testing.T) {
	cfg := TestConfig(t, 1)
	cfg.Kubernetes.Images = map[string]labconfig.Image{
		"switchyard/demo-app": {Command: []string{"{switchyard}", "demo-app"}},
		"nginx:1.25":          {Command: []string{"/usr/sbin/nginx"}, Args: []string{"-g", "daemon off;"}},
	}
	cases := []struct {
		spec  appSpec
		shell string
		argv  []string
		err   string
	}{
		{appSpec{ID: "/a", Cmd: "echo hi"}, "echo hi", nil, ""},
		{appSpec{ID: "/a", Args: []string{"/bin/true", "x"}}, "", []string{"/bin/true", "x"}, ""},
		{appSpec{ID: "/a", Image: "switchyard/demo-app:v2"}, "", []string{"/bin/sy", "demo-app"}, ""},
		{appSpec{ID: "/a", Image: "switchyard/demo-app:v2", Args: []string{"--version", "v2"}}, "", []string{"/bin/sy", "demo-app", "--version", "v2"}, ""},
		{appSpec{ID: "/a", Image: "nginx:1.25"}, "", []string{"/usr/sbin/nginx", "-g", "daemon off;"}, ""},
		{appSpec{ID: "/a", Image: "nginx:1.27"}, "", nil, "has no local program"},
		{appSpec{ID: "/a", Image: "registry.example.com:5000/team/app@sha256:abc"}, "", nil, "registry.example.com:5000/team/app"},
	}
	for _, c := range cases {
		shell, argv, err := taskArgv(cfg, "/bin/sy", &c.spec)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%+v: err %v, want %q", c.spec, err, c.err)
			}
			continue
		}
		if err != nil || shell != c.shell || !reflect.DeepEqual(argv, c.argv) {
			t.Errorf("%+v: %q %q %v", c.spec, shell, argv, err)
		}
	}
}

func TestAffectedAppsSorted(t *testing.T) {
	got := affectedApps([]step{{Actions: []action{{actScale, "/b"}, {actScale, "/a"}}}, {Actions: []action{{actScale, "/a"}}}})
	if !sort.StringsAreSorted(got) || len(got) != 2 {
		t.Errorf("affectedApps = %v", got)
	}
}
