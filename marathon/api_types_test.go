package marathon

import (
	"encoding/json"
	"net/http"
	"reflect"
	"testing"

	"github.com/switchyard/switchyard/internal/wanterr"
)

// The JSON below is written in the shapes Marathon's RAML documents
// (docs/docs/rest-api/public/api/v2/types and examples).

func TestDecodeDeployments(t *testing.T) {
	body := `[{
	  "id": "97c136bf", "version": "2015-09-30T09:09:17.614Z",
	  "affectedApps": ["/foo"], "affectedPods": ["/bla"],
	  "steps": [
	    {"actions": [{"action": "ScaleApplication", "app": "/foo"}]},
	    {"actions": [{"action": "ScalePod", "pod": "/bla"}]}
	  ],
	  "currentActions": [{"action": "ScaleApplication", "app": "/foo",
	    "readinessCheckResults": [{"taskId": "foo.instance-1", "name": "ready", "ready": false,
	      "lastResponse": {"body": "{}", "contentType": "application/json", "status": 500}}]}],
	  "currentStep": 1, "totalSteps": 2
	}]`
	var deps []Deployment
	if err := json.Unmarshal([]byte(body), &deps); err != nil {
		t.Fatal(err)
	}
	d := deps[0]
	if d.ID != "97c136bf" || d.CurrentStep != 1 || d.TotalSteps != 2 || len(d.Steps) != 2 {
		t.Fatalf("deployment = %+v", d)
	}
	if a := d.Steps[1].Actions[0]; a.Action != ActionScalePod || a.Pod != "/bla" || a.App != "" {
		t.Errorf("step 2 = %+v", d.Steps[1])
	}
	r := d.CurrentActions[0].ReadinessCheckResults[0]
	if r.TaskID != "foo.instance-1" || r.Ready == nil || *r.Ready || r.LastResponse == nil || r.LastResponse.Status == nil || *r.LastResponse.Status != 500 {
		t.Errorf("readiness = %+v", r)
	}
	for _, id := range []string{"/foo", "foo", "/bla/"} {
		if !d.Affects(id) {
			t.Errorf("Affects(%q) = false", id)
		}
	}
	if d.Affects("/fo") {
		t.Error("Affects(/fo) = true")
	}
}

func TestDeploymentStepShapes(t *testing.T) {
	want := DeploymentStep{Actions: []DeploymentAction{{Action: ActionRestartApplication, App: "/a"}}}
	for _, in := range []string{
		`{"actions":[{"action":"RestartApplication","app":"/a"}]}`,
		`[{"action":"RestartApplication","app":"/a"}]`,
		`{"action":"RestartApplication","app":"/a"}`,
		`{"actions":[{"type":"RestartApplication","app":"/a"}]}`,
	} {
		var s DeploymentStep
		if err := json.Unmarshal([]byte(in), &s); err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if !reflect.DeepEqual(s, want) {
			t.Errorf("%s decoded to %+v", in, s)
		}
	}
	var s DeploymentStep
	if err := json.Unmarshal([]byte(`"x"`), &s); err == nil {
		t.Error("a string step should be an error")
	}
}

func TestDecodeQueue(t *testing.T) {
	body := `{"queue": [{
	  "app": {"id": "/foo", "cmd": "sleep 1", "instances": 3, "cpus": 8},
	  "count": 2, "role": "*",
	  "delay": {"timeLeftSeconds": 0, "overdue": true},
	  "since": "2016-02-28T16:41:41.090Z",
	  "processedOffersSummary": {
	    "processedOffersCount": 12, "unusedOffersCount": 12,
	    "rejectSummaryLastOffers": [
	      {"reason": "UnfulfilledRole", "declined": 0, "processed": 3},
	      {"reason": "InsufficientMemory", "declined": 1, "processed": 3}],
	    "rejectSummaryLaunchAttempt": [
	      {"reason": "UnfulfilledConstraint", "declined": 0, "processed": 12},
	      {"reason": "InsufficientMemory", "declined": 2, "processed": 12},
	      {"reason": "InsufficientCpus", "declined": 10, "processed": 12}]
	  },
	  "lastUnusedOffers": [{"offer": {"id": "o1", "agentId": "a1", "hostname": "127.0.1.1",
	      "resources": [{"name": "ports", "role": "*", "ranges": [{"begin": 31000, "end": 31999}]}],
	      "attributes": [{"name": "rack", "text": "r1"}]},
	    "timestamp": "2016-02-28T16:41:41.090Z", "reason": ["InsufficientCpus", "InsufficientPorts"]}]
	}]}`
	var q queueList
	if err := json.Unmarshal([]byte(body), &q); err != nil {
		t.Fatal(err)
	}
	item := q.Queue[0]
	if item.App == nil || item.App.ID != "/foo" || item.Count != 2 || !item.Delay.Overdue || item.Pod != nil {
		t.Fatalf("item = %+v", item)
	}
	if o := item.LastUnusedOffers[0].Offer; o.Hostname != "127.0.1.1" || o.Resources[0].Ranges[0].End != 31999 || o.Attributes[0].Text != "r1" {
		t.Errorf("offer = %+v", o)
	}
	want := []string{"InsufficientCpus", "InsufficientMemory", "InsufficientPorts"}
	if got := item.DeclineReasons(); !reflect.DeepEqual(got, want) {
		t.Errorf("DeclineReasons = %v, want %v (most declines first, zero-decline reasons dropped, unused offers last)", got, want)
	}
	if got := (QueueItem{}).DeclineReasons(); len(got) != 0 {
		t.Errorf("empty item reasons = %v", got)
	}
}

func TestDecodeInfoAndTasks(t *testing.T) {
	var info Info
	err := json.Unmarshal([]byte(`{"name":"marathon","version":"1.11.24","buildref":"abc","elected":true,
	  "leader":"127.0.0.1:8080","frameworkId":"f-1",
	  "marathon_config":{"master":"zk://127.0.0.1:2181/mesos","features":["task_killing"],"local_port_min":10000,"local_port_max":20000,"mesos_role":"*"},
	  "zookeeper_config":{"zk":"zk://127.0.0.1:2181/marathon","zk_timeout":10000},
	  "http_config":{"http_port":8080,"https_port":8443}}`), &info)
	if err != nil {
		t.Fatal(err)
	}
	if !info.Elected || info.MarathonConfig.LocalPortMax != 20000 || info.MarathonConfig.Features[0] != "task_killing" || info.HTTPConfig.HTTPSPort != 8443 || info.ZooKeeperConfig.ZKTimeout != 10000 {
		t.Errorf("info = %+v", info)
	}

	var tl taskList
	err = json.Unmarshal([]byte(`{"tasks":[{"id":"web.1","appId":"/web","host":"127.0.1.1","ports":[31000],"servicePorts":[10000],
	  "slaveId":"node-1","state":"TASK_RUNNING","stagedAt":"2015-09-17T09:32:36.822Z","startedAt":"2015-09-17T09:32:42.598Z",
	  "version":"2015-09-17T09:32:36.583Z","ipAddresses":[{"ipAddress":"127.0.1.1","protocol":"IPv4"}],
	  "healthCheckResults":[{"alive":true,"consecutiveFailures":0,"firstSuccess":"2015-09-17T09:32:50.000Z","instanceId":"web.instance-1"},
	                        {"alive":false,"consecutiveFailures":2,"lastFailureCause":"500"}],
	  "region":"primary","zone":"a","role":"*"}]}`), &tl)
	if err != nil {
		t.Fatal(err)
	}
	task := tl.Tasks[0]
	if task.State != TaskRunning || task.IPAddresses[0].Protocol != "IPv4" || task.HealthCheckResults[1].LastFailureCause != "500" || task.Role != "*" {
		t.Errorf("task = %+v", task)
	}
	if task.Healthy() {
		t.Error("Healthy() with one failing check = true")
	}
	task.HealthCheckResults = task.HealthCheckResults[:1]
	if !task.Healthy() {
		t.Error("Healthy() with all checks alive = false")
	}
	if (Task{}).Healthy() {
		t.Error("Healthy() without checks = true")
	}
}

func TestChangeAnswers(t *testing.T) {
	hdr := func(id string) http.Header {
		h := http.Header{}
		if id != "" {
			h.Set("Marathon-Deployment-Id", id)
		}
		return h
	}
	tests := []struct {
		name    string
		body    string
		header  http.Header
		want    *DeploymentResult
		wantErr string
	}{
		{"deployment result", `{"deploymentId":"d1","version":"v1"}`, hdr(""), &DeploymentResult{"d1", "v1"}, ""},
		{"created app with header", `{"id":"/a","version":"v2","deployments":[{"id":"d2"}]}`, hdr("d2h"), &DeploymentResult{"d2h", "v2"}, ""},
		{"created app without header", `{"id":"/a","version":"v3","deployments":[{"id":"d3"}]}`, hdr(""), &DeploymentResult{"d3", "v3"}, ""},
		{"header only", ``, hdr("d4"), &DeploymentResult{"d4", ""}, ""},
		{"nothing", `{"id":"/a"}`, hdr(""), nil, "names no deployment"},
		{"broken JSON", `{"deploymentId":`, hdr(""), nil, "decode deployment result"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := deploymentFrom(&reply{method: "PUT", endpoint: "/v2/apps/a", status: 200, header: tt.header, body: []byte(tt.body)})
			if tt.wantErr != "" {
				wanterr.Check(t, err, tt.wantErr, "PUT /v2/apps/a")
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("deploymentFrom = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}

	kills := []struct {
		name      string
		body      string
		header    http.Header
		wantTasks []string
		wantDep   string
	}{
		{"task list", `{"tasks":[{"id":"t1","appId":"/a"},{"id":"t2","appId":"/a"}]}`, hdr(""), []string{"t1", "t2"}, ""},
		{"single task", `{"task":{"id":"t3","appId":"/a"}}`, hdr(""), []string{"t3"}, ""},
		{"scale deployment", `{"deploymentId":"d5","version":"v5"}`, hdr("d5"), nil, "d5"},
		{"empty list", `{"tasks":[]}`, hdr(""), nil, ""},
	}
	for _, tt := range kills {
		t.Run("kill "+tt.name, func(t *testing.T) {
			got, err := killResultFrom(&reply{method: "DELETE", endpoint: "/v2/apps/a/tasks", status: 200, header: tt.header, body: []byte(tt.body)})
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, x := range got.Tasks {
				ids = append(ids, x.ID)
			}
			if !reflect.DeepEqual(ids, tt.wantTasks) {
				t.Errorf("tasks = %v, want %v", ids, tt.wantTasks)
			}
			if (got.Deployment == nil) != (tt.wantDep == "") || got.Deployment != nil && got.Deployment.DeploymentID != tt.wantDep {
				t.Errorf("deployment = %+v, want %q", got.Deployment, tt.wantDep)
			}
		})
	}
}
