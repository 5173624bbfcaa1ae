package marathon

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDeployHealthyTasksAnswerOnHostPort(t *testing.T) {
	cfg := TestConfig(t, 3)
	ts := StartForTest(t, cfg)
	status, hdr, body := call(t, ts, "POST", "/v2/apps", demoApp("/web", 3, map[string]string{"DEMO_VERSION": "v1"}))
	if status != 201 {
		t.Fatalf("create: %d %s", status, body)
	}
	if hdr.Get("Location") != "/v2/apps/web" {
		t.Errorf("Location = %q, want /v2/apps/web", hdr.Get("Location"))
	}
	var created appStatus
	decodeJSON(t, body, &created)
	if len(created.Deployments) != 1 || created.Deployments[0].ID != hdr.Get("Marathon-Deployment-Id") {
		t.Fatalf("created app deployments = %+v, header %q", created.Deployments, hdr.Get("Marathon-Deployment-Id"))
	}
	waitDeployed(t, ts, created.Deployments[0].ID, 60*time.Second)

	app := getApp(t, ts, "/web")
	if app.TasksRunning != 3 || app.TasksHealthy != 3 {
		t.Fatalf("after deployment: running %d healthy %d, want 3/3", app.TasksRunning, app.TasksHealthy)
	}
	tasks := appTasks(t, ts, "/web")
	hosts := map[string]bool{}
	for _, task := range tasks {
		if task.State != "TASK_RUNNING" || len(task.HealthCheckResults) != 1 || !task.HealthCheckResults[0].Alive {
			t.Errorf("task %s: state %s health %+v", task.ID, task.State, task.HealthCheckResults)
		}
		info, err := getTask(t, task)
		if err != nil {
			t.Fatalf("task %s on %s:%v does not answer: %v", task.ID, task.Host, task.Ports, err)
		}
		if info["taskId"] != task.ID || info["version"] != "v1" || info["host"] != task.Host {
			t.Errorf("task %s answered %v", task.ID, info)
		}
		hosts[task.Host] = true
		// Mesos sandbox with stdout/stderr.
		sb := filepath.Join(cfg.Dir, "marathon", "sandboxes", task.ID)
		for _, f := range []string{"stdout", "stderr"} {
			if _, err := os.Stat(filepath.Join(sb, f)); err != nil {
				t.Errorf("sandbox file: %v", err)
			}
		}
	}
	if len(hosts) != 3 {
		t.Errorf("3 tasks landed on %d hosts %v; placement spreads over free agents", len(hosts), hosts)
	}
}

func TestTaskEnvironment(t *testing.T) {
	ts := StartForTest(t, TestConfig(t, 1))
	app := map[string]any{
		"id":   "/env/dump",
		"cmd":  "env > env.txt; exec sleep 600",
		"cpus": 0.1, "mem": 16, "instances": 1,
		"portDefinitions": []map[string]any{{"port": 0, "name": "http"}, {"port": 0}},
		"labels":          map[string]string{"team": "a", "tier.level": "web"},
		"env":             map[string]string{"GREETING": "hello"},
	}
	deploy(t, ts, app, 30*time.Second)
	task := appTasks(t, ts, "/env/dump")[0]
	var env string
	eventually(t, 10*time.Second, "env.txt", func() (bool, string) {
		b, err := os.ReadFile(filepath.Join(ts.Config.Dir, "marathon", "sandboxes", task.ID, "env.txt"))
		env = string(b)
		return err == nil && strings.Contains(env, "MESOS_TASK_ID"), fmt.Sprint(err)
	})
	want := []string{
		"HOST=" + task.Host,
		fmt.Sprintf("PORT0=%d", task.Ports[0]),
		fmt.Sprintf("PORT1=%d", task.Ports[1]),
		fmt.Sprintf("PORT=%d", task.Ports[0]),
		fmt.Sprintf("PORTS=%d,%d", task.Ports[0], task.Ports[1]),
		fmt.Sprintf("PORT_HTTP=%d", task.Ports[0]),
		"MESOS_TASK_ID=" + task.ID,
		"MESOS_SANDBOX=" + filepath.Join(ts.Config.Dir, "marathon", "sandboxes", task.ID),
		"MARATHON_APP_ID=/env/dump",
		"MARATHON_APP_VERSION=" + task.Version,
		"MARATHON_APP_RESOURCE_CPUS=0.1",
		"MARATHON_APP_RESOURCE_MEM=16",
		"MARATHON_APP_LABELS=TEAM TIER_LEVEL",
		"MARATHON_APP_LABEL_TIER_LEVEL=web",
		"GREETING=hello",
		"SWITCHYARD_LAB_ID=" + ts.Config.ID,
		"PATH=" + os.Getenv("PATH"),
	}
	for _, w := range want {
		if !strings.Contains(env, w+"\n") {
			t.Errorf("task env lacks %q", w)
		}
	}
}

func TestAPIErrors(t *testing.T) {
	ts := StartForTest(t, TestConfig(t, 1))
	cases := []struct {
		name, method, path string
		body               any
		status             int
		message            string
		detailPath         string
	}{
		{"truncated JSON", "POST", "/v2/apps", `{"id": "/x", "cmd": `, 400, "Invalid JSON", ""},
		{"wrong type", "POST", "/v2/apps", `{"id": "/x", "cmd": "sleep 1", "cpus": "lots"}`, 400, "Invalid JSON", "/cpus"},
		{"bad id", "POST", "/v2/apps", `{"id": "/Bad_ID", "cmd": "sleep 1"}`, 422, "Object is not valid", "/id"},
		{"no cmd", "POST", "/v2/apps", `{"id": "/x"}`, 422, "Object is not valid", "/"},
		{"bad strategy", "POST", "/v2/apps", `{"id": "/x", "cmd": "sleep 1", "upgradeStrategy": {"minimumHealthCapacity": 1.5}}`, 422, "Object is not valid", "/upgradeStrategy/minimumHealthCapacity"},
		{"bad constraint", "POST", "/v2/apps", `{"id": "/x", "cmd": "sleep 1", "constraints": [["hostname", "SOMETIMES"]]}`, 422, "Object is not valid", "/constraints(0)"},
		{"missing app", "GET", "/v2/apps/nope", nil, 404, "App '/nope' does not exist", ""},
		{"missing app tasks", "GET", "/v2/apps/nope/tasks", nil, 404, "App '/nope' does not exist", ""},
		{"missing deployment", "DELETE", "/v2/deployments/abc", nil, 404, "DeploymentPlan abc does not exist", ""},
		{"missing group", "GET", "/v2/groups/nope", nil, 404, "Group '/nope' does not exist", ""},
		{"unknown task", "POST", "/v2/tasks/delete", `{"ids": ["nope.1"]}`, 400, "Invalid task id nope.1", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, _, body := call(t, ts, c.method, c.path, c.body)
			if status != c.status {
				t.Fatalf("status %d, want %d: %s", status, c.status, body)
			}
			var e apiError
			decodeJSON(t, body, &e)
			if e.Message != c.message {
				t.Errorf("message %q, want %q", e.Message, c.message)
			}
			if c.detailPath != "" {
				found := false
				for _, d := range e.Details {
					found = found || d.Path == c.detailPath
				}
				if !found {
					t.Errorf("details %+v lack path %s", e.Details, c.detailPath)
				}
			}
		})
	}
	// Nothing was half-applied.
	var list struct {
		Apps []json.RawMessage `json:"apps"`
	}
	decodeJSON(t, mustCall(t, ts, 200, "GET", "/v2/apps", nil), &list)
	if len(list.Apps) != 0 {
		t.Errorf("invalid requests created apps: %s", list.Apps)
	}
	// Duplicate create is a 409.
	deploy(t, ts, map[string]any{"id": "/dup", "cmd": "sleep 600", "cpus": 0.1, "mem": 16}, 20*time.Second)
	status, _, body := call(t, ts, "POST", "/v2/apps", map[string]any{"id": "/dup", "cmd": "sleep 600"})
	if status != 409 || !strings.Contains(string(body), "An app with id [/dup] already exists.") {
		t.Errorf("duplicate create: %d %s", status, body)
	}
}
