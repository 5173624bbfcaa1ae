package marathon

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/mesos"
)

// TestRollingUpgradeHonoursUpgradeStrategy upgrades 4 instances with
// minimumHealthCapacity 0.5 and maximumOverCapacity 0: at every moment at
// most 4 tasks exist and at least 2 are healthy; at the end every task runs
// the new version.
func TestRollingUpgradeHonoursUpgradeStrategy(t *testing.T) {
	ts := StartForTest(t, TestConfig(t, 2))
	app := demoApp("/roll", 4, map[string]string{"DEMO_VERSION": "v1"})
	app["upgradeStrategy"] = map[string]any{"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0}
	deploy(t, ts, app, 60*time.Second)

	app["env"] = map[string]string{"DEMO_VERSION": "v2"}
	status, hdr, body := call(t, ts, "PUT", "/v2/apps/roll", app)
	if status != 200 {
		t.Fatalf("PUT: %d %s", status, body)
	}
	var res struct {
		DeploymentID string `json:"deploymentId"`
		Version      string `json:"version"`
	}
	decodeJSON(t, body, &res)
	if res.DeploymentID == "" || res.DeploymentID != hdr.Get("Marathon-Deployment-Id") || res.Version == "" {
		t.Fatalf("PUT answer %s", body)
	}
	maxTasks, minHealthy, samples := 0, 100, 0
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		tasks := appTasks(t, ts, "/roll")
		healthy := 0
		for _, tk := range tasks {
			if tk.State == "TASK_RUNNING" && len(tk.HealthCheckResults) > 0 && tk.HealthCheckResults[0].Alive {
				healthy++
			}
		}
		maxTasks, minHealthy = max(maxTasks, len(tasks)), min(minHealthy, healthy)
		samples++
		var deps []json.RawMessage
		decodeJSON(t, mustCall(t, ts, 200, "GET", "/v2/deployments", nil), &deps)
		if len(deps) == 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("%d samples: at most %d tasks, at least %d healthy", samples, maxTasks, minHealthy)
	if maxTasks > 4 {
		t.Errorf("upgrade ran %d tasks at once; maximumOverCapacity 0 allows 4", maxTasks)
	}
	if minHealthy < 2 {
		t.Errorf("upgrade dropped to %d healthy tasks; minimumHealthCapacity 0.5 requires 2", minHealthy)
	}
	tasks := appTasks(t, ts, "/roll")
	if len(tasks) != 4 {
		t.Fatalf("after upgrade: %d tasks", len(tasks))
	}
	for _, tk := range tasks {
		info, err := getTask(t, tk)
		if err != nil || info["version"] != "v2" {
			t.Errorf("task %s answers %v (%v), want version v2", tk.ID, info, err)
		}
		if tk.Version != res.Version {
			t.Errorf("task %s version %s, want %s", tk.ID, tk.Version, res.Version)
		}
	}
	a := getApp(t, ts, "/roll")
	if a.VersionInfo.LastConfigChangeAt != res.Version {
		t.Errorf("lastConfigChangeAt %s, want %s", a.VersionInfo.LastConfigChangeAt, res.Version)
	}
}

// TestRestartOneAtATime: minimumHealthCapacity 1 and maximumOverCapacity 0
// leave no room; Marathon then replaces one task at a time.
func TestRestartOneAtATime(t *testing.T) {
	ts := StartForTest(t, TestConfig(t, 1))
	app := demoApp("/tight", 2, nil)
	app["upgradeStrategy"] = map[string]any{"minimumHealthCapacity": 1, "maximumOverCapacity": 0}
	deploy(t, ts, app, 30*time.Second)
	before := map[string]bool{}
	for _, tk := range appTasks(t, ts, "/tight") {
		before[tk.ID] = true
	}
	var res struct {
		DeploymentID string `json:"deploymentId"`
	}
	decodeJSON(t, mustCall(t, ts, 200, "POST", "/v2/apps/tight/restart", nil), &res)
	waitDeployed(t, ts, res.DeploymentID, 60*time.Second)
	for _, tk := range appTasks(t, ts, "/tight") {
		if before[tk.ID] {
			t.Errorf("task %s survived the restart", tk.ID)
		}
	}
}

func TestLockedAppConflictThenForce(t *testing.T) {
	ts := StartForTest(t, TestConfig(t, 1))
	// Never healthy: the deployment cannot finish.
	status, hdr, body := call(t, ts, "POST", "/v2/apps", demoApp("/stuck", 1, map[string]string{"DEMO_UNHEALTHY": "true"}))
	if status != 201 {
		t.Fatalf("create: %d %s", status, body)
	}
	first := hdr.Get("Marathon-Deployment-Id")
	events := subscribe(t, ts, "deployment_failed")
	status, _, body = call(t, ts, "PUT", "/v2/apps/stuck", map[string]any{"instances": 2})
	if status != 409 {
		t.Fatalf("update of a locked app: %d %s, want 409", status, body)
	}
	var e apiError
	decodeJSON(t, body, &e)
	want := "App is locked by one or more deployments. Override with the option '?force=true'. View details at '/v2/deployments/" + first + "'."
	if e.Message != want || len(e.Deployments) != 1 || e.Deployments[0].ID != first {
		t.Fatalf("409 body %s", body)
	}
	status, _, body = call(t, ts, "PUT", "/v2/apps/stuck?force=true", map[string]any{"env": map[string]string{}, "instances": 1})
	if status != 200 {
		t.Fatalf("forced update: %d %s", status, body)
	}
	var res struct {
		DeploymentID string `json:"deploymentId"`
	}
	decodeJSON(t, body, &res)
	ev := events.next(t, 10*time.Second)
	if !strings.Contains(ev, first) {
		t.Errorf("deployment_failed event %s does not name %s", ev, first)
	}
	waitDeployed(t, ts, res.DeploymentID, 30*time.Second)
	if a := getApp(t, ts, "/stuck"); a.TasksHealthy != 1 {
		t.Errorf("after forced fix: %d healthy", a.TasksHealthy)
	}
}

func TestScaleUpDownAndKillWithScale(t *testing.T) {
	ts := StartForTest(t, TestConfig(t, 2))
	deploy(t, ts, demoApp("/sc", 2, nil), 30*time.Second)
	v0 := getApp(t, ts, "/sc").VersionInfo
	tasks0 := appTasks(t, ts, "/sc")

	var res struct {
		DeploymentID string `json:"deploymentId"`
	}
	decodeJSON(t, mustCall(t, ts, 200, "PUT", "/v2/apps/sc", map[string]any{"instances": 5}), &res)
	waitDeployed(t, ts, res.DeploymentID, 30*time.Second)
	a := getApp(t, ts, "/sc")
	if a.Instances != 5 || a.TasksRunning != 5 || a.TasksHealthy != 5 {
		t.Fatalf("scale up: %+v", a)
	}
	if a.VersionInfo.LastConfigChangeAt != v0.LastConfigChangeAt || a.VersionInfo.LastScalingAt == v0.LastScalingAt {
		t.Errorf("scaling changed versionInfo %+v -> %+v; want only lastScalingAt to move", v0, a.VersionInfo)
	}
	// Scaling does not restart running tasks.
	ids := map[string]bool{}
	for _, tk := range appTasks(t, ts, "/sc") {
		ids[tk.ID] = true
	}
	for _, tk := range tasks0 {
		if !ids[tk.ID] {
			t.Errorf("scale up restarted task %s", tk.ID)
		}
	}

	decodeJSON(t, mustCall(t, ts, 200, "PATCH", "/v2/apps/sc", map[string]any{"instances": 3}), &res)
	waitDeployed(t, ts, res.DeploymentID, 30*time.Second)
	eventually(t, 10*time.Second, "3 tasks", func() (bool, string) {
		n := len(appTasks(t, ts, "/sc"))
		return n == 3, fmt.Sprint(n)
	})

	victim := appTasks(t, ts, "/sc")[0]
	decodeJSON(t, mustCall(t, ts, 200, "DELETE", "/v2/apps/sc/tasks/"+victim.ID+"?scale=true", nil), &res)
	if res.DeploymentID == "" {
		t.Fatal("kill with scale=true returned no deployment")
	}
	waitDeployed(t, ts, res.DeploymentID, 30*time.Second)
	eventually(t, 10*time.Second, "2 tasks without the victim", func() (bool, string) {
		tasks := appTasks(t, ts, "/sc")
		for _, tk := range tasks {
			if tk.ID == victim.ID {
				return false, "victim still listed"
			}
		}
		return len(tasks) == 2, fmt.Sprint(len(tasks))
	})
	if a := getApp(t, ts, "/sc"); a.Instances != 2 {
		t.Errorf("instances after kill with scale: %d, want 2", a.Instances)
	}
	// A kill without scale is replaced.
	victim = appTasks(t, ts, "/sc")[0]
	mustCall(t, ts, 200, "POST", "/v2/tasks/delete", map[string]any{"ids": []string{victim.ID}})
	eventually(t, 20*time.Second, "replacement", func() (bool, string) {
		tasks := appTasks(t, ts, "/sc")
		running := 0
		for _, tk := range tasks {
			if tk.ID == victim.ID {
				return false, "victim still listed"
			}
			if tk.State == "TASK_RUNNING" {
				running++
			}
		}
		return running == 2, fmt.Sprint(tasks)
	})
}

func TestCrashRestartsWithBackoff(t *testing.T) {
	ts := StartForTest(t, TestConfig(t, 1))
	app := map[string]any{
		"id": "/crash", "cmd": "sleep 0.2; exit 3", "cpus": 0.1, "mem": 16, "instances": 1,
		"backoffSeconds": 1, "backoffFactor": 3, "maxLaunchDelaySeconds": 60,
	}
	mustCall(t, ts, 201, "POST", "/v2/apps", app)
	// Two failures in a row: the delay grows to 3s and shows in the queue.
	var item struct {
		Count int `json:"count"`
		Delay struct {
			TimeLeftSeconds int  `json:"timeLeftSeconds"`
			Overdue         bool `json:"overdue"`
		} `json:"delay"`
	}
	eventually(t, 20*time.Second, "a backed-off queue entry", func() (bool, string) {
		var q struct {
			Queue []json.RawMessage `json:"queue"`
		}
		b := mustCall(t, ts, 200, "GET", "/v2/queue", nil)
		decodeJSON(t, b, &q)
		if len(q.Queue) != 1 {
			return false, string(b)
		}
		decodeJSON(t, q.Queue[0], &item)
		return !item.Delay.Overdue && item.Delay.TimeLeftSeconds >= 1, string(b)
	})
	if item.Count != 1 {
		t.Errorf("queue count %d, want 1", item.Count)
	}
	var a struct {
		App struct {
			LastTaskFailure struct {
				State   string `json:"state"`
				Message string `json:"message"`
			} `json:"lastTaskFailure"`
		} `json:"app"`
	}
	decodeJSON(t, mustCall(t, ts, 200, "GET", "/v2/apps/crash?embed=app.lastTaskFailure", nil), &a)
	if a.App.LastTaskFailure.State != "TASK_FAILED" || !strings.Contains(a.App.LastTaskFailure.Message, "exited with status 3") {
		t.Errorf("lastTaskFailure %+v", a.App.LastTaskFailure)
	}
	// Resetting the delay launches at once (the next delay would be 9s).
	events := subscribe(t, ts, "status_update_event")
	status, _, _ := call(t, ts, "DELETE", "/v2/queue/crash/delay", nil)
	if status != http.StatusNoContent {
		t.Errorf("reset delay: %d", status)
	}
	reset := time.Now()
	for {
		ev := events.next(t, 5*time.Second)
		if strings.Contains(ev, `"TASK_RUNNING"`) {
			break
		}
	}
	if d := time.Since(reset); d > 2500*time.Millisecond {
		t.Errorf("launch came %s after the reset", d)
	}
}

func TestUnplaceableAppWaitsInQueueWithReason(t *testing.T) {
	ts := StartForTest(t, TestConfig(t, 2))
	mustCall(t, ts, 201, "POST", "/v2/apps", map[string]any{"id": "/huge", "cmd": "sleep 600", "cpus": 64, "mem": 16})
	var q struct {
		Queue []struct {
			Count                  int `json:"count"`
			ProcessedOffersSummary struct {
				ProcessedOffersCount    int `json:"processedOffersCount"`
				UnusedOffersCount       int `json:"unusedOffersCount"`
				RejectSummaryLastOffers []struct {
					Reason    string `json:"reason"`
					Declined  int    `json:"declined"`
					Processed int    `json:"processed"`
				} `json:"rejectSummaryLastOffers"`
			} `json:"processedOffersSummary"`
			LastUnusedOffers []struct {
				Offer struct {
					Hostname string `json:"hostname"`
				} `json:"offer"`
				Reason []string `json:"reason"`
			} `json:"lastUnusedOffers"`
		} `json:"queue"`
	}
	eventually(t, 10*time.Second, "queue entry", func() (bool, string) {
		b := mustCall(t, ts, 200, "GET", "/v2/queue?embed=lastUnusedOffers", nil)
		decodeJSON(t, b, &q)
		return len(q.Queue) == 1, string(b)
	})
	it := q.Queue[0]
	if it.Count != 1 || it.ProcessedOffersSummary.UnusedOffersCount == 0 {
		t.Errorf("queue item %+v", it)
	}
	found := false
	for _, r := range it.ProcessedOffersSummary.RejectSummaryLastOffers {
		if r.Reason == "InsufficientCpus" && r.Declined == 2 {
			found = true
		}
	}
	if !found {
		t.Errorf("rejectSummaryLastOffers %+v lacks InsufficientCpus declined by both agents", it.ProcessedOffersSummary.RejectSummaryLastOffers)
	}
	if len(it.LastUnusedOffers) != 2 || it.LastUnusedOffers[0].Reason[0] != "InsufficientCpus" {
		t.Errorf("lastUnusedOffers %+v", it.LastUnusedOffers)
	}
	if tasks := appTasks(t, ts, "/huge"); len(tasks) != 0 {
		t.Errorf("unplaceable app has tasks %v", tasks)
	}
}

func TestConstraints(t *testing.T) {
	ts := StartForTest(t, TestConfig(t, 3)) // racks r1, r2, r1
	hostsOf := func(id string) map[string]int {
		out := map[string]int{}
		for _, tk := range appTasks(t, ts, id) {
			out[tk.SlaveID]++
		}
		return out
	}
	base := func(id string, n int, cons ...[]string) map[string]any {
		return map[string]any{"id": id, "cmd": "sleep 600", "cpus": 0.1, "mem": 16, "instances": n, "constraints": cons}
	}
	deploy(t, ts, base("/uniq", 3, []string{"hostname", "UNIQUE"}), 20*time.Second)
	if h := hostsOf("/uniq"); len(h) != 3 {
		t.Errorf("UNIQUE hostname: tasks on %v", h)
	}
	deploy(t, ts, base("/clus", 3, []string{"rack", "CLUSTER", "r2"}), 20*time.Second)
	if h := hostsOf("/clus"); len(h) != 1 || h["node-2"] != 3 {
		t.Errorf("CLUSTER rack r2: tasks on %v", h)
	}
	mustCall(t, ts, 201, "POST", "/v2/apps", base("/maxper", 3, []string{"rack", "MAX_PER", "1"}))
	eventually(t, 10*time.Second, "MAX_PER placement", func() (bool, string) {
		var q struct {
			Queue []struct {
				Count                  int `json:"count"`
				ProcessedOffersSummary struct {
					RejectSummaryLastOffers []struct {
						Reason string `json:"reason"`
					} `json:"rejectSummaryLastOffers"`
				} `json:"processedOffersSummary"`
			} `json:"queue"`
		}
		b := mustCall(t, ts, 200, "GET", "/v2/queue", nil)
		decodeJSON(t, b, &q)
		h := hostsOf("/maxper")
		ok := len(q.Queue) == 1 && q.Queue[0].Count == 1 && len(h) == 2 && h["node-2"] == 1
		if ok {
			ok = false
			for _, r := range q.Queue[0].ProcessedOffersSummary.RejectSummaryLastOffers {
				ok = ok || r.Reason == "UnfulfilledConstraint"
			}
		}
		return ok, fmt.Sprintf("hosts %v queue %s", h, b)
	})
}

func TestServerRestartReadoptsTasks(t *testing.T) {
	ts := StartForTest(t, TestConfig(t, 2))
	deploy(t, ts, demoApp("/keep", 3, nil), 30*time.Second)
	before := appTasks(t, ts, "/keep")
	pids := map[string]int{}
	ts.mu.Lock()
	for _, tk := range before {
		pids[tk.ID] = ts.tasks[tk.ID].Proc.PID
	}
	ts.mu.Unlock()
	ts.Stop()
	// Tasks keep running while Marathon is down.
	for _, tk := range before {
		if _, err := getTask(t, tk); err != nil {
			t.Fatalf("task %s stopped with the server: %v", tk.ID, err)
		}
	}
	ts.Restart()
	eventually(t, 20*time.Second, "healthy re-adopted tasks", func() (bool, string) {
		a := getApp(t, ts, "/keep")
		return a.TasksHealthy == 3, fmt.Sprintf("%+v", a)
	})
	after := appTasks(t, ts, "/keep")
	if len(after) != 3 {
		t.Fatalf("after restart: %d tasks", len(after))
	}
	ts.mu.Lock()
	for _, tk := range after {
		if pids[tk.ID] == 0 || ts.tasks[tk.ID].Proc.PID != pids[tk.ID] {
			t.Errorf("task %s was not re-adopted (pid %d, before %d)", tk.ID, ts.tasks[tk.ID].Proc.PID, pids[tk.ID])
		}
	}
	ts.mu.Unlock()
	// A re-adopted task that dies is noticed and replaced.
	mustCall(t, ts, 200, "DELETE", "/v2/apps/keep/tasks/"+after[0].ID, nil)
	eventually(t, 20*time.Second, "replacement of a re-adopted task", func() (bool, string) {
		tasks := appTasks(t, ts, "/keep")
		for _, tk := range tasks {
			if tk.ID == after[0].ID {
				return false, "still there"
			}
		}
		return len(tasks) == 3, fmt.Sprint(len(tasks))
	})
}

func TestMesosStateReflectsUsedResources(t *testing.T) {
	ts := StartForTest(t, TestConfig(t, 2))
	deploy(t, ts, map[string]any{"id": "/res", "cmd": "sleep 600", "cpus": 0.5, "mem": 64, "disk": 10, "instances": 3,
		"portDefinitions": []map[string]any{{"port": 0}}}, 20*time.Second)
	for _, path := range []string{"/master/state", "/state"} {
		resp, err := httpc.Get(ts.MesosURL + path)
		if err != nil {
			t.Fatal(err)
		}
		var st mesos.State
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		var cpus, mem float64
		for _, sl := range st.Slaves {
			cpus += sl.UsedResources.CPUs
			mem += sl.UsedResources.Mem
			if sl.Resources.CPUs != 4 || sl.UnreservedResources.CPUs != 4 {
				t.Errorf("%s: agent %s resources %+v", path, sl.ID, sl.Resources)
			}
		}
		if cpus != 1.5 || mem != 192 {
			t.Errorf("%s: used cpus %v mem %v, want 1.5 and 192", path, cpus, mem)
		}
		if len(st.Frameworks) != 1 || len(st.Frameworks[0].Tasks) != 3 {
			t.Fatalf("%s: frameworks %+v", path, st.Frameworks)
		}
		for _, tk := range st.Frameworks[0].Tasks {
			if tk.State != mesos.TaskRunning || tk.Resources.CPUs != 0.5 || tk.Resources.Ports.Count() != 1 {
				t.Errorf("%s: task %+v", path, tk)
			}
		}
	}
	resp, err := httpc.Get(ts.MesosURL + "/master/slaves")
	if err != nil {
		t.Fatal(err)
	}
	var sl mesos.Slaves
	if err := json.NewDecoder(resp.Body).Decode(&sl); err != nil || len(sl.Slaves) != 2 {
		t.Fatalf("/master/slaves: %v %+v", err, sl)
	}
	resp.Body.Close()
	if sl.Slaves[0].Hostname != ts.Config.Nodes[0].Address || sl.Slaves[0].Attributes["rack"].Text != "r1" {
		t.Errorf("agent %+v", sl.Slaves[0].SlaveInfo)
	}
}

func TestEventStreamCarriesDeploymentSuccess(t *testing.T) {
	ts := StartForTest(t, TestConfig(t, 1))
	events := subscribe(t, ts, "deployment_success", "status_update_event")
	_, hdr, _ := call(t, ts, "POST", "/v2/apps", demoApp("/ev", 1, nil))
	id := hdr.Get("Marathon-Deployment-Id")
	sawRunning := false
	for {
		ev := events.next(t, 30*time.Second)
		switch {
		case strings.HasPrefix(ev, "status_update_event") && strings.Contains(ev, `"taskStatus":"TASK_RUNNING"`):
			sawRunning = true
		case strings.HasPrefix(ev, "deployment_success"):
			if !strings.Contains(ev, id) {
				t.Fatalf("deployment_success for another deployment: %s", ev)
			}
			if !sawRunning {
				t.Error("deployment_success came before TASK_RUNNING")
			}
			return
		case strings.HasPrefix(ev, "deployment_info"), strings.HasPrefix(ev, "event_stream_attached"):
			t.Fatalf("filtered event type came through: %s", ev)
		}
	}
}

// eventSub reads an SSE stream as "type data" strings.
type eventSub struct {
	ch chan string
}

// subscribe attaches to /v2/events with event_type filters.
func subscribe(t testing.TB, ts *TestServer, types ...string) *eventSub {
	t.Helper()
	q := ""
	for i, ty := range types {
		if i == 0 {
			q += "?"
		} else {
			q += "&"
		}
		q += "event_type=" + ty
	}
	req, _ := http.NewRequest("GET", ts.URL+"/v2/events"+q, nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("/v2/events: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	s := &eventSub{ch: make(chan string, 1000)}
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { resp.Body.Close() }) })
	go func() {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		typ := ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				typ = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				s.ch <- typ + " " + strings.TrimPrefix(line, "data: ")
			}
		}
		close(s.ch)
	}()
	return s
}

func (s *eventSub) next(t testing.TB, timeout time.Duration) string {
	t.Helper()
	select {
	case ev, ok := <-s.ch:
		if !ok {
			t.Fatal("event stream closed")
		}
		return ev
	case <-time.After(timeout):
		t.Fatalf("no event within %s", timeout)
		return ""
	}
}
