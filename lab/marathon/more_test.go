package marathon

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/lab/labconfig"
	"github.com/switchyard/switchyard/marathon"
)

func TestGroupDeploymentOrdersDependencies(t *testing.T) {
	ts := StartForTest(t, TestConfig(t, 2))
	app := func(id string, deps ...string) map[string]any {
		a := demoApp(id, 1, nil)
		a["dependencies"] = deps
		return a
	}
	group := map[string]any{
		"id": "/shop",
		"groups": []any{
			map[string]any{"id": "back", "apps": []any{app("db")}},
			map[string]any{"id": "front", "apps": []any{app("web", "/shop/back")}, "dependencies": []string{}},
		},
		"apps": []any{app("api", "back/db")},
	}
	var plan struct {
		Steps []struct {
			Actions []struct {
				Action string `json:"action"`
				App    string `json:"app"`
			} `json:"actions"`
		} `json:"steps"`
	}
	// dryRun shows the plan without applying it.
	decodeJSON(t, mustCall(t, ts, 200, "PUT", "/v2/groups/shop?dryRun=true", group), &plan)
	var got []string
	for _, st := range plan.Steps {
		var acts []string
		for _, a := range st.Actions {
			acts = append(acts, a.Action+" "+a.App)
		}
		got = append(got, strings.Join(acts, ", "))
	}
	want := []string{
		"StartApplication /shop/api, StartApplication /shop/back/db, StartApplication /shop/front/web",
		"ScaleApplication /shop/back/db",
		"ScaleApplication /shop/api, ScaleApplication /shop/front/web",
	}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Fatalf("plan\n got %v\nwant %v", got, want)
	}
	var apps struct {
		Apps []json.RawMessage `json:"apps"`
	}
	decodeJSON(t, mustCall(t, ts, 200, "GET", "/v2/apps", nil), &apps)
	if len(apps.Apps) != 0 {
		t.Fatal("dryRun created apps")
	}
	// Real deployment: db is healthy before api and web start.
	events := subscribe(t, ts, "status_update_event", "group_change_success")
	status, hdr, body := call(t, ts, "POST", "/v2/groups", group)
	if status != 201 {
		t.Fatalf("create group: %d %s", status, body)
	}
	dep := hdr.Get("Marathon-Deployment-Id")
	var order []string
	for {
		ev := events.next(t, 60*time.Second)
		if strings.HasPrefix(ev, "group_change_success") {
			break
		}
		if strings.Contains(ev, `"TASK_RUNNING"`) {
			var su struct {
				AppID string `json:"appId"`
			}
			decodeJSON(t, []byte(ev[strings.Index(ev, " ")+1:]), &su)
			order = append(order, su.AppID)
		}
	}
	waitDeployed(t, ts, dep, 30*time.Second)
	if len(order) != 3 || order[0] != "/shop/back/db" {
		t.Errorf("tasks started in order %v; db must come first", order)
	}
	// The group tree.
	var g struct {
		ID     string                `json:"id"`
		Apps   []struct{ ID string } `json:"apps"`
		Groups []struct {
			ID   string                `json:"id"`
			Apps []struct{ ID string } `json:"apps"`
		} `json:"groups"`
	}
	decodeJSON(t, mustCall(t, ts, 200, "GET", "/v2/groups/shop", nil), &g)
	if g.ID != "/shop" || len(g.Apps) != 1 || g.Apps[0].ID != "/shop/api" || len(g.Groups) != 2 || g.Groups[0].ID != "/shop/back" {
		t.Errorf("group tree %+v", g)
	}
	// Creating it again is a conflict.
	status, _, body = call(t, ts, "POST", "/v2/groups", group)
	if status != 409 || !strings.Contains(string(body), "Group /shop is already created. Use PUT to change this group.") {
		t.Errorf("second create: %d %s", status, body)
	}
	// A PUT that leaves out the api app removes it.
	delete(group, "apps")
	group["apps"] = []any{}
	var res struct {
		DeploymentID string `json:"deploymentId"`
	}
	decodeJSON(t, mustCall(t, ts, 200, "PUT", "/v2/groups/shop", group), &res)
	waitDeployed(t, ts, res.DeploymentID, 30*time.Second)
	mustCall(t, ts, 404, "GET", "/v2/apps/shop/api", nil)
	// Versions: the group has one per change; rolling back to the first
	// brings the api app back.
	var versions []string
	decodeJSON(t, mustCall(t, ts, 200, "GET", "/v2/groups/shop/versions", nil), &versions)
	if len(versions) != 2 || versions[0] <= versions[1] {
		t.Fatalf("group versions %v", versions)
	}
	decodeJSON(t, mustCall(t, ts, 200, "PUT", "/v2/groups/shop", map[string]any{"version": versions[1]}), &res)
	waitDeployed(t, ts, res.DeploymentID, 30*time.Second)
	if a := getApp(t, ts, "/shop/api"); a.TasksHealthy != 1 {
		t.Errorf("api after group rollback: %+v", a)
	}
	// scaleBy doubles every app.
	decodeJSON(t, mustCall(t, ts, 200, "PUT", "/v2/groups/shop", map[string]any{"scaleBy": 2}), &res)
	waitDeployed(t, ts, res.DeploymentID, 30*time.Second)
	for _, id := range []string{"/shop/front/web", "/shop/api", "/shop/back/db"} {
		if a := getApp(t, ts, id); a.Instances != 2 || a.TasksHealthy != 2 {
			t.Errorf("%s after scaleBy 2: %+v", id, a)
		}
	}
	// Relative ids outside the group are refused.
	status, _, body = call(t, ts, "POST", "/v2/groups", map[string]any{"id": "/g2", "apps": []any{map[string]any{"id": "/elsewhere/x", "cmd": "sleep 1"}}})
	if status != 422 || !strings.Contains(string(body), "is not child of /g2") {
		t.Errorf("foreign app id: %d %s", status, body)
	}
	// Deleting the group stops everything in it.
	decodeJSON(t, mustCall(t, ts, 200, "DELETE", "/v2/groups/shop", nil), &res)
	waitDeployed(t, ts, res.DeploymentID, 30*time.Second)
	eventually(t, 10*time.Second, "no tasks", func() (bool, string) {
		var tasks struct {
			Tasks []json.RawMessage `json:"tasks"`
		}
		decodeJSON(t, mustCall(t, ts, 200, "GET", "/v2/tasks", nil), &tasks)
		return len(tasks.Tasks) == 0, fmt.Sprint(len(tasks.Tasks))
	})
	mustCall(t, ts, 404, "GET", "/v2/groups/shop", nil)
}

func TestDeploymentRollbackAndCancel(t *testing.T) {
	ts := StartForTest(t, TestConfig(t, 1))
	deploy(t, ts, demoApp("/rb", 1, map[string]string{"DEMO_VERSION": "good"}), 30*time.Second)
	good := appTasks(t, ts, "/rb")[0]
	// A broken update never becomes healthy; rolling it back restores the
	// previous definition and leaves the good task serving.
	var res struct {
		DeploymentID string `json:"deploymentId"`
	}
	decodeJSON(t, mustCall(t, ts, 200, "PUT", "/v2/apps/rb", map[string]any{"env": map[string]string{"DEMO_VERSION": "bad", "DEMO_UNHEALTHY": "true"}}), &res)
	time.Sleep(500 * time.Millisecond)
	var rb struct {
		DeploymentID string `json:"deploymentId"`
	}
	decodeJSON(t, mustCall(t, ts, 200, "DELETE", "/v2/deployments/"+res.DeploymentID, nil), &rb)
	waitDeployed(t, ts, rb.DeploymentID, 30*time.Second)
	tasks := appTasks(t, ts, "/rb")
	if len(tasks) != 1 {
		t.Fatalf("after rollback: %d tasks", len(tasks))
	}
	if info, err := getTask(t, tasks[0]); err != nil || info["version"] != "good" {
		t.Errorf("after rollback the task answers %v %v (good task was %s)", info, err, good.ID)
	}
	// force=true cancels without a rollback: 202 and no new deployment.
	decodeJSON(t, mustCall(t, ts, 200, "PUT", "/v2/apps/rb", map[string]any{"env": map[string]string{"DEMO_UNHEALTHY": "true"}}), &res)
	mustCall(t, ts, 202, "DELETE", "/v2/deployments/"+res.DeploymentID+"?force=true", nil)
	var deps []json.RawMessage
	decodeJSON(t, mustCall(t, ts, 200, "GET", "/v2/deployments", nil), &deps)
	if len(deps) != 0 {
		t.Errorf("cancel left deployments %s", deps)
	}
	// Versions: three definitions, newest first, each retrievable.
	var vs struct {
		Versions []string `json:"versions"`
	}
	decodeJSON(t, mustCall(t, ts, 200, "GET", "/v2/apps/rb/versions", nil), &vs)
	if len(vs.Versions) != 4 || vs.Versions[0] < vs.Versions[1] {
		t.Fatalf("versions %v", vs.Versions)
	}
	var old map[string]any
	decodeJSON(t, mustCall(t, ts, 200, "GET", "/v2/apps/rb/versions/"+vs.Versions[len(vs.Versions)-1], nil), &old)
	if env, _ := old["env"].(map[string]any); env["DEMO_VERSION"] != "good" {
		t.Errorf("first version %v", old)
	}
}

func TestUnhealthyTaskIsKilledAndReplaced(t *testing.T) {
	ts := StartForTest(t, TestConfig(t, 1))
	events := subscribe(t, ts, "unhealthy_task_kill_event", "failed_health_check_event")
	app := demoApp("/sick", 1, nil)
	app["healthChecks"] = []map[string]any{{
		"protocol": "HTTP", "path": "/health", "portIndex": 0, "gracePeriodSeconds": 0,
		"intervalSeconds": 1, "timeoutSeconds": 1, "maxConsecutiveFailures": 2,
	}}
	deploy(t, ts, app, 30*time.Second)
	first := appTasks(t, ts, "/sick")[0]
	// Make the task unhealthy through the demo app's admin API.
	resp, err := httpc.Post(fmt.Sprintf("http://%s:%d/admin/healthy?v=false", first.Host, first.Ports[0]), "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	sawFailed := false
	for {
		ev := events.next(t, 20*time.Second)
		if strings.HasPrefix(ev, "failed_health_check_event") {
			sawFailed = true
		}
		if strings.HasPrefix(ev, "unhealthy_task_kill_event") {
			if !strings.Contains(ev, first.ID) {
				t.Fatalf("kill event for another task: %s", ev)
			}
			break
		}
	}
	if !sawFailed {
		t.Error("no failed_health_check_event before the kill")
	}
	eventually(t, 20*time.Second, "a healthy replacement", func() (bool, string) {
		tasks := appTasks(t, ts, "/sick")
		return len(tasks) == 1 && tasks[0].ID != first.ID && len(tasks[0].HealthCheckResults) == 1 && tasks[0].HealthCheckResults[0].Alive, fmt.Sprint(tasks)
	})
}

func TestInFlightDeploymentResumesAfterRestart(t *testing.T) {
	ts := StartForTest(t, TestConfig(t, 1))
	app := demoApp("/slow", 2, map[string]string{"DEMO_READY_DELAY": "0s"})
	app["readinessChecks"] = []map[string]any{{"name": "ready", "protocol": "HTTP", "path": "/ready", "portName": "http", "intervalSeconds": 1, "timeoutSeconds": 1}}
	app["env"] = map[string]string{"DEMO_READY_DELAY": "3s"}
	status, hdr, body := call(t, ts, "POST", "/v2/apps", app)
	if status != 201 {
		t.Fatalf("create: %d %s", status, body)
	}
	dep := hdr.Get("Marathon-Deployment-Id")
	time.Sleep(500 * time.Millisecond)
	var deps []struct {
		ID             string `json:"id"`
		CurrentActions []struct {
			ReadinessCheckResults []struct {
				Ready bool `json:"ready"`
			} `json:"readinessCheckResults"`
		} `json:"currentActions"`
	}
	decodeJSON(t, mustCall(t, ts, 200, "GET", "/v2/deployments", nil), &deps)
	if len(deps) != 1 || deps[0].ID != dep {
		t.Fatalf("deployment not in flight: %+v", deps)
	}
	ts.Restart()
	decodeJSON(t, mustCall(t, ts, 200, "GET", "/v2/deployments", nil), &deps)
	if len(deps) != 1 || deps[0].ID != dep {
		t.Fatalf("deployment lost over the restart: %+v", deps)
	}
	waitDeployed(t, ts, dep, 30*time.Second)
	if a := getApp(t, ts, "/slow"); a.TasksHealthy != 2 {
		t.Errorf("after resumed deployment: %+v", a)
	}
}

func TestDockerImageRunsMappedProgram(t *testing.T) {
	cfg := TestConfig(t, 1)
	cfg.Kubernetes.Images = map[string]labconfig.Image{"switchyard/demo-app": {Command: []string{taskApp}}}
	ts := StartForTest(t, cfg)
	app := map[string]any{
		"id": "/img", "cpus": 0.1, "mem": 16, "instances": 1,
		"container": map[string]any{"type": "DOCKER", "docker": map[string]any{"image": "switchyard/demo-app:v3"},
			"portMappings": []map[string]any{{"containerPort": 8080, "hostPort": 0, "name": "http"}}},
		"networks": []map[string]any{{"mode": "container/bridge"}},
		"env":      map[string]string{"DEMO_VERSION": "img"},
	}
	deploy(t, ts, app, 30*time.Second)
	task := appTasks(t, ts, "/img")[0]
	eventually(t, 10*time.Second, "the mapped program answering", func() (bool, string) {
		info, err := getTask(t, task)
		return err == nil && info["version"] == "img", fmt.Sprint(info, err)
	})
	// An image the lab cannot map fails its task with a message saying what to do.
	mustCall(t, ts, 201, "POST", "/v2/apps", map[string]any{"id": "/unmapped", "cpus": 0.1, "mem": 16,
		"container": map[string]any{"type": "DOCKER", "docker": map[string]any{"image": "example/unknown:1"}}})
	eventually(t, 10*time.Second, "lastTaskFailure", func() (bool, string) {
		b := mustCall(t, ts, 200, "GET", "/v2/apps/unmapped", nil)
		return strings.Contains(string(b), "has no local program in the lab: add it under kubernetes.images"), string(b)
	})
}

// TestProjectClientAgainstLabMarathon drives the server with the project's
// own Marathon client (package marathon): create, wait, tasks, events, kill.
func TestProjectClientAgainstLabMarathon(t *testing.T) {
	ts := StartForTest(t, TestConfig(t, 2))
	c, err := marathon.NewClient(marathon.Config{URL: ts.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	evs, err := c.Events(ctx, marathon.EventOptions{Types: []string{marathon.EventDeploymentSuccess}})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(demoApp("/client", 2, nil))
	def, err := marathon.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.CreateApp(ctx, def.App)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-evs:
		if p, ok := ev.Payload.(*marathon.DeploymentSuccessEvent); !ok || p.ID != res.DeploymentID {
			t.Fatalf("event %+v", ev)
		}
	case <-ctx.Done():
		t.Fatal("no deployment_success event")
	}
	tasks, err := c.AppTasks(ctx, "/client")
	if err != nil || len(tasks) != 2 {
		t.Fatalf("tasks %v %v", tasks, err)
	}
	kr, err := c.KillTask(ctx, "/client", tasks[0].ID, marathon.KillOptions{Scale: true})
	if err != nil || kr.Deployment == nil {
		t.Fatalf("kill with scale: %+v %v", kr, err)
	}
	if err := c.WaitForDeployment(ctx, kr.Deployment.DeploymentID, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	app, err := c.App(ctx, "/client")
	if err != nil || app.Instances == nil || *app.Instances != 1 {
		t.Fatalf("app after kill with scale: %+v %v", app, err)
	}
	if _, err := c.App(ctx, "/nope"); !marathon.IsNotFound(err) {
		t.Errorf("missing app: %v", err)
	}
	if _, err := c.UpdateApp(ctx, def.App, marathon.UpdateOptions{}); err != nil {
		t.Errorf("update: %v", err)
	}
}

// TestKillGracePeriod: a kill sends SIGTERM first; a task that ignores it is
// killed with SIGKILL after taskKillGracePeriodSeconds.
func TestKillGracePeriod(t *testing.T) {
	ts := StartForTest(t, TestConfig(t, 1))
	polite := map[string]any{"id": "/polite", "cpus": 0.1, "mem": 16, "taskKillGracePeriodSeconds": 10,
		"cmd": `trap 'echo got-term > term.txt; exit 0' TERM; while true; do sleep 0.1; done`}
	stubborn := map[string]any{"id": "/stubborn", "cpus": 0.1, "mem": 16, "taskKillGracePeriodSeconds": 1,
		"cmd": `trap '' TERM; while true; do sleep 0.1; done`}
	deploy(t, ts, polite, 20*time.Second)
	deploy(t, ts, stubborn, 20*time.Second)
	p, s := appTasks(t, ts, "/polite")[0], appTasks(t, ts, "/stubborn")[0]
	time.Sleep(200 * time.Millisecond) // let the shells install their traps
	start := time.Now()
	mustCall(t, ts, 200, "POST", "/v2/tasks/delete?scale=true", map[string]any{"ids": []string{p.ID, s.ID}})
	gone := func(id string) func() (bool, string) {
		return func() (bool, string) {
			var all struct {
				Tasks []wireTask `json:"tasks"`
			}
			decodeJSON(t, mustCall(t, ts, 200, "GET", "/v2/tasks", nil), &all)
			for _, tk := range all.Tasks {
				if tk.ID == id {
					return false, tk.State
				}
			}
			return true, ""
		}
	}
	eventually(t, 5*time.Second, "the polite task gone", gone(p.ID))
	b, err := os.ReadFile(filepath.Join(ts.Config.Dir, "marathon", "sandboxes", p.ID, "term.txt"))
	if err != nil || strings.TrimSpace(string(b)) != "got-term" {
		t.Errorf("the polite task did not get SIGTERM: %q %v", b, err)
	}
	eventually(t, 10*time.Second, "the stubborn task gone", gone(s.ID))
	if d := time.Since(start); d < time.Second {
		t.Errorf("the stubborn task was gone after %s, before its 1s grace period", d)
	}
	for _, id := range []string{"/polite", "/stubborn"} {
		if a := getApp(t, ts, id); a.Instances != 0 {
			t.Errorf("%s: instances %d after kill with scale", id, a.Instances)
		}
	}
}

// TestFixedPortClash: two apps asking for the same fixed host port on a
// one-node lab: the second waits in the queue with InsufficientPorts.
func TestFixedPortClash(t *testing.T) {
	ts := StartForTest(t, TestConfig(t, 1))
	app := func(id string) map[string]any {
		return map[string]any{"id": id, "cmd": "sleep 600", "cpus": 0.1, "mem": 16, "requirePorts": true,
			"portDefinitions": []map[string]any{{"port": 20500}}}
	}
	deploy(t, ts, app("/first"), 20*time.Second)
	if tk := appTasks(t, ts, "/first")[0]; tk.Ports[0] != 20500 {
		t.Fatalf("requirePorts: task got port %v", tk.Ports)
	}
	mustCall(t, ts, 201, "POST", "/v2/apps", app("/second"))
	eventually(t, 10*time.Second, "InsufficientPorts in the queue", func() (bool, string) {
		b := mustCall(t, ts, 200, "GET", "/v2/queue", nil)
		return strings.Contains(string(b), `"reason":"InsufficientPorts","declined":1`), string(b)
	})
	// The text/plain task list names the app, its service port and host:port.
	req, _ := http.NewRequest("GET", ts.URL+"/v2/tasks", nil)
	req.Header.Set("Accept", "text/plain")
	resp, err := httpc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := fmt.Sprintf("first\t20500\t%s:20500\t", ts.Config.Nodes[0].Address)
	if !strings.Contains(string(body), want) {
		t.Errorf("text/plain tasks %q lack %q", body, want)
	}
}
