package marathon_test

// Integration tests of the Marathon client against the lab's real Marathon
// (package lab/marathon) running in-process on loopback, with tasks as real
// processes on the lab's loopback nodes.
// No fake Marathon: every answer here comes from the lab's implementation.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/testenv"
	labmarathon "github.com/switchyard/switchyard/lab/marathon"
	"github.com/switchyard/switchyard/lab/proc"
	"github.com/switchyard/switchyard/marathon"
)

// lab is the lab's Marathon running in-process for the test, with a client for it.
type lab struct {
	*labmarathon.TestServer
	client *marathon.Client
	nodes  map[string]bool // node addresses
}

// startLab starts the lab Marathon (real scheduler, real task processes,
// real HTTP on loopback) with three nodes of its own; the test's cleanup
// stops it and every process it started.
func startLab(t *testing.T) *lab {
	t.Helper()
	ts := labmarathon.StartForTest(t, labmarathon.TestConfig(t, 3))
	client, err := marathon.NewClient(marathon.Config{URL: ts.URL, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	l := &lab{TestServer: ts, client: client, nodes: map[string]bool{}}
	for _, n := range ts.Config.Nodes {
		l.nodes[n.Address] = true
	}
	return l
}

func ptr[T any](v T) *T { return &v }

// sleeper is a small app whose tasks are `sleep` processes.
func sleeper(id string, instances int) *marathon.App {
	return &marathon.App{
		ID:        id,
		Cmd:       ptr("sleep 3600"),
		Instances: ptr(instances),
		CPUs:      ptr(0.1),
		Mem:       ptr(16.0),
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// deploy waits for a change's deployment and fails the test if it does not finish.
func deploy(t *testing.T, c *marathon.Client, res *marathon.DeploymentResult, err error) *marathon.DeploymentResult {
	t.Helper()
	if err != nil {
		t.Fatalf("change: %v", err)
	}
	if res == nil || res.DeploymentID == "" {
		t.Fatalf("change returned no deployment: %+v", res)
	}
	if err := c.WaitForDeployment(ctxT(t), res.DeploymentID, 100*time.Millisecond); err != nil {
		t.Fatalf("deployment %s: %v", res.DeploymentID, err)
	}
	return res
}

func taskIDs(ts []marathon.Task) []string {
	var ids []string
	for _, t := range ts {
		ids = append(ids, t.ID)
	}
	slices.Sort(ids)
	return ids
}

func running(t *testing.T, c *marathon.Client, appID string) []marathon.Task {
	t.Helper()
	ts, err := c.AppTasks(ctxT(t), appID)
	if err != nil {
		t.Fatalf("AppTasks(%s): %v", appID, err)
	}
	var out []marathon.Task
	for _, x := range ts {
		if x.State == marathon.TaskRunning {
			out = append(out, x)
		}
	}
	return out
}

// eventually polls f until it returns nil or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	testenv.EventuallyNil(t, timeout, 100*time.Millisecond, "the condition", f)
}

func TestLabMarathon(t *testing.T) {
	l := startLab(t)
	c := l.client

	t.Run("ping info leader", func(t *testing.T) {
		ctx := ctxT(t)
		if err := c.Ping(ctx); err != nil {
			t.Fatalf("Ping: %v", err)
		}
		info, err := c.Info(ctx)
		if err != nil {
			t.Fatalf("Info: %v", err)
		}
		if info.Name == "" || info.Version == "" || !info.Elected {
			t.Errorf("info = %+v: want name, version and elected", info)
		}
		leader, err := c.Leader(ctx)
		if err != nil || leader == "" {
			t.Errorf("Leader = %q, %v", leader, err)
		}
	})

	t.Run("create, wait via events, list tasks", func(t *testing.T) {
		ctx := ctxT(t)
		evctx, stop := context.WithCancel(ctx)
		defer stop()
		types := []string{marathon.EventStreamAttached, marathon.EventDeploymentSuccess, marathon.EventDeploymentInfo,
			marathon.EventStatusUpdate, marathon.EventAPIPost}
		events, err := c.Events(evctx, marathon.EventOptions{Types: types})
		if err != nil {
			t.Fatalf("Events: %v", err)
		}
		var mu sync.Mutex
		seen := map[string][]marathon.Event{}
		collected := make(chan struct{})
		go func() {
			defer close(collected)
			for ev := range events {
				mu.Lock()
				seen[ev.Type] = append(seen[ev.Type], ev)
				mu.Unlock()
			}
		}()

		res, err := c.CreateApp(ctx, sleeper("/it/web", 2))
		deploy(t, c, res, err)

		tasks := running(t, c, "/it/web")
		if len(tasks) != 2 {
			t.Fatalf("running tasks = %d, want 2: %+v", len(tasks), tasks)
		}
		for _, x := range tasks {
			if x.AppID != "/it/web" || !l.nodes[x.Host] || x.SlaveID == "" || x.StartedAt == "" || x.Version == "" {
				t.Errorf("task %+v: want appId /it/web, a lab node host, slaveId, startedAt, version", x)
			}
		}
		for _, x := range tasks {
			if pids := proc.FindByEnv("MESOS_TASK_ID=" + x.ID); len(pids) == 0 {
				t.Errorf("task %s: no process carries MESOS_TASK_ID=%s (tasks are real processes)", x.ID, x.ID)
			}
		}
		all, err := c.Tasks(ctx, marathon.TasksOptions{Status: []string{marathon.TaskStatusRunning}})
		if err != nil {
			t.Fatal(err)
		}
		var mine int
		for _, x := range all {
			if x.AppID == "/it/web" {
				mine++
			}
		}
		if mine != 2 {
			t.Errorf("/v2/tasks?status=running lists %d tasks of /it/web, want 2", mine)
		}

		app, err := c.App(ctx, "/it/web", marathon.EmbedAppTasks, marathon.EmbedAppCounts)
		if err != nil {
			t.Fatal(err)
		}
		if len(app.Tasks) != 2 || app.TasksRunning == nil || *app.TasksRunning != 2 {
			t.Errorf("app with embed tasks,counts: %d tasks, tasksRunning %v", len(app.Tasks), app.TasksRunning)
		}
		apps, err := c.Apps(ctx, marathon.AppsOptions{ID: "/it/", Embed: []string{marathon.EmbedAppsTasks}})
		if err != nil {
			t.Fatal(err)
		}
		if len(apps) != 1 || apps[0].ID != "/it/web" || len(apps[0].Tasks) != 2 {
			t.Errorf("Apps(id=/it/, embed=apps.tasks) = %d apps", len(apps))
		}
		if apps, err := c.Apps(ctx, marathon.AppsOptions{Cmd: "no-such-command"}); err != nil || len(apps) != 0 {
			t.Errorf("Apps(cmd filter) = %d apps, %v; want none", len(apps), err)
		}

		// The event stream saw the deployment succeed and the tasks start.
		eventually(t, 10*time.Second, func() error {
			mu.Lock()
			defer mu.Unlock()
			ok := false
			for _, ev := range seen[marathon.EventDeploymentSuccess] {
				if p, _ := ev.Payload.(*marathon.DeploymentSuccessEvent); p != nil && p.ID == res.DeploymentID {
					ok = true
				}
			}
			if !ok {
				return fmt.Errorf("no deployment_success for %s; seen %d", res.DeploymentID, len(seen[marathon.EventDeploymentSuccess]))
			}
			runningUpdates := 0
			for _, ev := range seen[marathon.EventStatusUpdate] {
				if p, _ := ev.Payload.(*marathon.StatusUpdateEvent); p != nil && p.AppID == "/it/web" && p.TaskStatus == marathon.TaskRunning {
					runningUpdates++
				}
			}
			if runningUpdates < 2 {
				return fmt.Errorf("%d TASK_RUNNING status updates for /it/web, want 2", runningUpdates)
			}
			if len(seen[marathon.EventDeploymentInfo]) == 0 {
				return errors.New("no deployment_info event")
			}
			if len(seen[marathon.EventStreamAttached]) != 1 {
				return fmt.Errorf("%d event_stream_attached events, want 1", len(seen[marathon.EventStreamAttached]))
			}
			posted := false
			for _, ev := range seen[marathon.EventAPIPost] {
				if p, _ := ev.Payload.(*marathon.APIPostEvent); p != nil && p.AppDefinition != nil && p.AppDefinition.ID == "/it/web" {
					posted = true
				}
			}
			if !posted {
				return errors.New("no api_post_event with the /it/web definition")
			}
			for typ := range seen {
				if !slices.Contains(types, typ) {
					return fmt.Errorf("event_type filter let %s through", typ)
				}
			}
			return nil
		})
		stop()
		<-collected
	})

	t.Run("scale up and down", func(t *testing.T) {
		ctx := ctxT(t)
		res, err := c.ScaleApp(ctx, "/it/web", 3, false)
		deploy(t, c, res, err)
		if n := len(running(t, c, "/it/web")); n != 3 {
			t.Fatalf("after scale to 3: %d running", n)
		}
		res, err = c.ScaleApp(ctx, "/it/web", 1, false)
		deploy(t, c, res, err)
		eventually(t, 10*time.Second, func() error {
			if ts, _ := c.AppTasks(ctx, "/it/web"); len(ts) != 1 {
				return fmt.Errorf("%d tasks after scale to 1", len(ts))
			}
			return nil
		})
		app, err := c.App(ctx, "/it/web")
		if err != nil || app.Instances == nil || *app.Instances != 1 {
			t.Errorf("instances after scale = %v, %v", app.Instances, err)
		}
		if app.Cmd == nil || *app.Cmd != "sleep 3600" {
			t.Errorf("scale must keep the rest of the app (partial update): cmd = %v", app.Cmd)
		}
	})

	t.Run("restart replaces every task", func(t *testing.T) {
		ctx := ctxT(t)
		res, err := c.ScaleApp(ctx, "/it/web", 2, false)
		deploy(t, c, res, err)
		before := taskIDs(running(t, c, "/it/web"))
		versionsBefore, err := c.AppVersions(ctx, "/it/web")
		if err != nil {
			t.Fatal(err)
		}
		res, err = c.RestartApp(ctx, "/it/web", false)
		deploy(t, c, res, err)
		eventually(t, 10*time.Second, func() error {
			after := taskIDs(running(t, c, "/it/web"))
			if len(after) != 2 {
				return fmt.Errorf("%d running after restart", len(after))
			}
			for _, id := range after {
				if slices.Contains(before, id) {
					return fmt.Errorf("task %s survived the restart", id)
				}
			}
			return nil
		})
		versions, err := c.AppVersions(ctx, "/it/web")
		if err != nil || len(versions) <= len(versionsBefore) {
			t.Errorf("versions after restart = %v (before %v), %v", versions, versionsBefore, err)
		}
		if _, err := c.AppVersion(ctx, "/it/web", versions[0]); err != nil {
			t.Errorf("AppVersion(%s): %v", versions[0], err)
		}
	})

	t.Run("kill with and without scale", func(t *testing.T) {
		ctx := ctxT(t)
		tasks := running(t, c, "/it/web")
		if len(tasks) != 2 {
			t.Fatalf("want 2 running tasks, have %d", len(tasks))
		}
		// Kill one with scale=true: a deployment scales the app to 1.
		kr, err := c.KillTask(ctx, "/it/web", tasks[0].ID, marathon.KillOptions{Scale: true})
		if err != nil {
			t.Fatal(err)
		}
		if kr.Deployment == nil {
			t.Fatalf("kill with scale returned %+v, want a deployment", kr)
		}
		deploy(t, c, kr.Deployment, nil)
		app, err := c.App(ctx, "/it/web")
		if err != nil || *app.Instances != 1 {
			t.Fatalf("instances after kill+scale = %v, %v", app.Instances, err)
		}
		eventually(t, 10*time.Second, func() error {
			ts := running(t, c, "/it/web")
			if len(ts) != 1 || ts[0].ID == tasks[0].ID {
				return fmt.Errorf("running = %v, want only %s", taskIDs(ts), tasks[1].ID)
			}
			return nil
		})
		eventually(t, 10*time.Second, func() error {
			if pids := proc.FindByEnv("MESOS_TASK_ID=" + tasks[0].ID); len(pids) != 0 {
				return fmt.Errorf("the process of killed task %s still runs", tasks[0].ID)
			}
			return nil
		})
		// Kill without scale through /v2/tasks/delete: Marathon replaces the task.
		kr, err = c.KillTasks(ctx, []string{tasks[1].ID}, marathon.KillOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if kr.Deployment != nil || len(kr.Tasks) != 1 || kr.Tasks[0].ID != tasks[1].ID {
			t.Fatalf("kill without scale returned %+v, want the killed task", kr)
		}
		eventually(t, 20*time.Second, func() error {
			ts := running(t, c, "/it/web")
			if len(ts) != 1 || ts[0].ID == tasks[1].ID {
				return fmt.Errorf("running = %v, want one replacement task", taskIDs(ts))
			}
			return nil
		})
		// Kill all tasks of the app: they come back.
		kr, err = c.KillAppTasks(ctx, "/it/web", marathon.KillOptions{})
		if err != nil || len(kr.Tasks) != 1 {
			t.Fatalf("KillAppTasks = %+v, %v", kr, err)
		}
		if _, err := c.KillTask(ctx, "/it/web", "no-such-task", marathon.KillOptions{}); !marathon.IsNotFound(err) {
			t.Errorf("kill unknown task: err = %v, want 404", err)
		}
	})

	t.Run("update, replace and patch", func(t *testing.T) {
		ctx := ctxT(t)
		app := sleeper("/it/web", 1)
		app.Cmd = ptr("sleep 3601")
		app.Labels = map[string]string{"tier": "web"}
		res, err := c.UpdateApp(ctx, app, marathon.UpdateOptions{})
		deploy(t, c, res, err)
		got, err := c.App(ctx, "/it/web")
		if err != nil || *got.Cmd != "sleep 3601" || got.Labels["tier"] != "web" || got.Version == nil || *got.Version != res.Version {
			t.Fatalf("after update: %+v, %v", got, err)
		}
		res, err = c.PatchApp(ctx, "/it/web", map[string]any{"labels": map[string]string{"tier": "api"}}, false)
		deploy(t, c, res, err)
		got, err = c.App(ctx, "/it/web")
		if err != nil || got.Labels["tier"] != "api" || *got.Cmd != "sleep 3601" {
			t.Fatalf("after patch: labels %v cmd %v, %v", got.Labels, got.Cmd, err)
		}
		apps, err := c.Apps(ctx, marathon.AppsOptions{Label: "tier==api"})
		if err != nil || len(apps) != 1 {
			t.Errorf("label filter tier==api: %d apps, %v", len(apps), err)
		}

		// Without Replace, fields left out keep their values; with it they are reset.
		res, err = c.UpdateApp(ctx, &marathon.App{ID: "/it/web", Cmd: ptr("sleep 3602")}, marathon.UpdateOptions{})
		deploy(t, c, res, err)
		got, err = c.App(ctx, "/it/web")
		if err != nil || got.Labels["tier"] != "api" || *got.Cmd != "sleep 3602" {
			t.Fatalf("after a partial PUT: labels %v cmd %v, %v", got.Labels, got.Cmd, err)
		}
		res, err = c.UpdateApp(ctx, sleeper("/it/web", 1), marathon.UpdateOptions{Replace: true})
		deploy(t, c, res, err)
		got, err = c.App(ctx, "/it/web")
		if err != nil || len(got.Labels) != 0 || *got.Cmd != "sleep 3600" {
			t.Fatalf("after a replacing PUT: labels %v cmd %v, %v", got.Labels, got.Cmd, err)
		}

		// Roll back to the version with "sleep 3601".
		versions, err := c.AppVersions(ctx, "/it/web")
		if err != nil {
			t.Fatal(err)
		}
		var target string
		for _, v := range versions {
			def, err := c.AppVersion(ctx, "/it/web", v)
			if err != nil {
				t.Fatalf("AppVersion(%s): %v", v, err)
			}
			if def.Cmd != nil && *def.Cmd == "sleep 3601" {
				target = v
				break
			}
		}
		if target == "" {
			t.Fatalf("no stored version runs sleep 3601 among %v", versions)
		}
		res, err = c.RollbackApp(ctx, "/it/web", target, false)
		deploy(t, c, res, err)
		got, err = c.App(ctx, "/it/web")
		if err != nil || *got.Cmd != "sleep 3601" {
			t.Fatalf("after rollback to %s: cmd %v, %v", target, got.Cmd, err)
		}
	})

	t.Run("409 while locked, then force", func(t *testing.T) {
		ctx := ctxT(t)
		big := sleeper("/it/locked", 1)
		big.CPUs = ptr(1000.0) // fits no node: the deployment cannot finish
		res, err := c.CreateApp(ctx, big)
		if err != nil {
			t.Fatal(err)
		}
		deps, err := c.Deployments(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var d *marathon.Deployment
		for i := range deps {
			if deps[i].ID == res.DeploymentID {
				d = &deps[i]
			}
		}
		if d == nil || !d.Affects("/it/locked") || d.TotalSteps < 1 || len(d.Steps) != d.TotalSteps {
			t.Fatalf("deployment %s in /v2/deployments = %+v", res.DeploymentID, d)
		}

		_, err = c.ScaleApp(ctx, "/it/locked", 2, false)
		var apiErr *marathon.APIError
		if !errors.As(err, &apiErr) || !marathon.IsConflict(err) || !marathon.IsDeploymentLocked(err) {
			t.Fatalf("change of a locked app: err = %v, want 409 locked", err)
		}
		if !slices.Contains(apiErr.DeploymentIDs(), res.DeploymentID) {
			t.Errorf("409 names deployments %v, want %s", apiErr.DeploymentIDs(), res.DeploymentID)
		}
		for _, want := range []string{res.DeploymentID, "retry with --force", "/v2/apps/it/locked"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not mention %q", err, want)
			}
		}

		fixed := sleeper("/it/locked", 1)
		res2, err := c.UpdateApp(ctx, fixed, marathon.UpdateOptions{Force: true})
		deploy(t, c, res2, err)
		if n := len(running(t, c, "/it/locked")); n != 1 {
			t.Errorf("after forced update: %d running", n)
		}
		deps, _ = c.Deployments(ctx)
		for _, x := range deps {
			if x.ID == res.DeploymentID {
				t.Errorf("the forced change should have cancelled deployment %s", x.ID)
			}
		}
		res3, err := c.DeleteApp(ctx, "/it/locked", false)
		deploy(t, c, res3, err)
		if _, err := c.App(ctx, "/it/locked"); !marathon.IsNotFound(err) {
			t.Errorf("after delete: err = %v, want 404", err)
		}
	})

	t.Run("queue explains an unplaceable app; rollback removes it", func(t *testing.T) {
		ctx := ctxT(t)
		big := sleeper("/it/unplaceable", 1)
		big.CPUs = ptr(1000.0)
		res, err := c.CreateApp(ctx, big)
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, 10*time.Second, func() error {
			q, err := c.Queue(ctx, marathon.QueueOptions{LastUnusedOffers: true})
			if err != nil {
				return err
			}
			for _, item := range q {
				if item.App != nil && item.App.ID == "/it/unplaceable" {
					if item.Count != 1 {
						return fmt.Errorf("queue count = %d, want 1", item.Count)
					}
					if r := item.DeclineReasons(); !slices.Contains(r, "InsufficientCpus") {
						return fmt.Errorf("decline reasons = %v, want InsufficientCpus", r)
					}
					return nil
				}
			}
			return fmt.Errorf("/it/unplaceable not in the queue (%d items)", len(q))
		})
		if err := c.ResetDelay(ctx, "/it/unplaceable"); err != nil && !marathon.IsNotFound(err) {
			t.Errorf("ResetDelay: %v", err)
		}
		// Rolling back the create deployment removes the app.
		rb, err := c.DeleteDeployment(ctx, res.DeploymentID, false)
		if err != nil {
			t.Fatalf("DeleteDeployment: %v", err)
		}
		if rb == nil {
			t.Fatal("rollback without force must return the rollback deployment")
		}
		deploy(t, c, rb, nil)
		if _, err := c.App(ctx, "/it/unplaceable"); !marathon.IsNotFound(err) {
			t.Errorf("after rollback of its creation: err = %v, want 404", err)
		}
		if _, err := c.DeleteDeployment(ctx, res.DeploymentID, true); !marathon.IsNotFound(err) {
			t.Errorf("cancel a finished deployment: err = %v, want 404", err)
		}
	})

	t.Run("groups", func(t *testing.T) {
		ctx := ctxT(t)
		g := &marathon.Group{ID: "/itgroup", Apps: []*marathon.App{sleeper("/itgroup/a", 1), sleeper("/itgroup/b", 1)}}
		res, err := c.CreateGroup(ctx, g, false)
		deploy(t, c, res, err)
		got, err := c.Group(ctx, "/itgroup")
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, a := range got.Apps {
			ids = append(ids, a.ID)
		}
		slices.Sort(ids)
		if !slices.Equal(ids, []string{"/itgroup/a", "/itgroup/b"}) {
			t.Errorf("group apps = %v", ids)
		}
		if _, err := c.CreateGroup(ctx, g, false); !marathon.IsConflict(err) {
			t.Errorf("create existing group: err = %v, want 409", err)
		}
		g.Apps[1].Instances = ptr(2)
		res, err = c.UpdateGroup(ctx, g, marathon.UpdateOptions{})
		deploy(t, c, res, err)
		if n := len(running(t, c, "/itgroup/b")); n != 2 {
			t.Errorf("after group update /itgroup/b runs %d tasks, want 2", n)
		}
		if v, err := c.GroupVersions(ctx, "/itgroup"); err != nil || len(v) == 0 {
			t.Errorf("group versions = %v, %v", v, err)
		} else if _, err := time.Parse(time.RFC3339, v[0]); err != nil {
			t.Errorf("group version %q is not a timestamp: %v", v[0], err)
		}
		root, err := c.Group(ctx, "/")
		if err != nil || len(root.Groups) == 0 {
			t.Errorf("root group: %v groups, %v", root, err)
		}
		res, err = c.DeleteGroup(ctx, "/itgroup", false)
		deploy(t, c, res, err)
		if _, err := c.Group(ctx, "/itgroup"); !marathon.IsNotFound(err) {
			t.Errorf("after delete: err = %v, want 404", err)
		}
		eventually(t, 10*time.Second, func() error {
			ts, err := c.Tasks(ctx, marathon.TasksOptions{})
			if err != nil {
				return err
			}
			for _, x := range ts {
				if strings.HasPrefix(x.AppID, "/itgroup/") {
					return fmt.Errorf("task %s of a deleted group still listed", x.ID)
				}
			}
			return nil
		})
	})

	t.Run("health check results", func(t *testing.T) {
		ctx := ctxT(t)
		evctx, stop := context.WithCancel(ctx)
		defer stop()
		// Only health events: Marathon must answer the subscription at once
		// even though no event passes the filter yet.
		events, err := c.Events(evctx, marathon.EventOptions{Types: []string{marathon.EventHealthStatusChanged}})
		if err != nil {
			t.Fatal(err)
		}
		app := sleeper("/it/checked", 2)
		app.HealthChecks = []marathon.HealthCheck{{
			Protocol:        ptr(marathon.ProtocolCommand),
			Command:         &marathon.CommandCheck{Value: `test -n "$MESOS_TASK_ID"`},
			IntervalSeconds: ptr(1), GracePeriodSeconds: ptr(5), MaxConsecutiveFailures: ptr(3),
		}}
		res, err := c.CreateApp(ctx, app)
		deploy(t, c, res, err)
		tasks := running(t, c, "/it/checked")
		if len(tasks) != 2 {
			t.Fatalf("%d running", len(tasks))
		}
		for _, x := range tasks {
			if !x.Healthy() || x.HealthCheckResults[0].ConsecutiveFailures != 0 {
				t.Errorf("task %s health = %+v, want alive", x.ID, x.HealthCheckResults)
			}
		}
		got, err := c.App(ctx, "/it/checked", marathon.EmbedAppCounts)
		if err != nil || got.TasksHealthy == nil || *got.TasksHealthy != 2 {
			t.Errorf("tasksHealthy = %v, %v", got.TasksHealthy, err)
		}
		alive := map[string]bool{}
		timeout := time.After(10 * time.Second)
		for len(alive) < 2 {
			select {
			case ev := <-events:
				if p, ok := ev.Payload.(*marathon.HealthStatusChangedEvent); ok && p.AppID == "/it/checked" && p.Alive {
					alive[p.InstanceID+p.TaskID] = true
				}
			case <-timeout:
				t.Fatalf("health_status_changed_event alive for %d tasks, want 2", len(alive))
			}
		}
		res, err = c.DeleteApp(ctx, "/it/checked", false)
		deploy(t, c, res, err)
	})

	t.Run("event stream survives a Marathon restart", func(t *testing.T) {
		ctx := ctxT(t)
		evctx, stop := context.WithCancel(ctx)
		defer stop()
		events, err := c.Events(evctx, marathon.EventOptions{Types: []string{marathon.EventStreamAttached, marathon.EventDeploymentSuccess}})
		if err != nil {
			t.Fatal(err)
		}
		next := func() marathon.Event {
			select {
			case ev, ok := <-events:
				if !ok {
					t.Fatal("event channel closed")
				}
				return ev
			case <-time.After(30 * time.Second):
				t.Fatal("no event within 30s")
			}
			return marathon.Event{}
		}
		if ev := next(); ev.Type != marathon.EventStreamAttached {
			t.Fatalf("first event %q, want %s", ev.Type, marathon.EventStreamAttached)
		}
		l.Restart() // stops the server (the stream drops) and starts a new one on the same address
		if ev := next(); ev.Type != marathon.EventReconnected {
			t.Fatalf("after the restart got %q, want %s", ev.Type, marathon.EventReconnected)
		}
		if ev := next(); ev.Type != marathon.EventStreamAttached {
			t.Fatalf("after reconnecting got %q, want %s", ev.Type, marathon.EventStreamAttached)
		}
		res, err := c.CreateApp(ctx, sleeper("/it/after-restart", 1))
		if err != nil {
			t.Fatal(err)
		}
		if p, ok := next().Payload.(*marathon.DeploymentSuccessEvent); !ok || p.ID != res.DeploymentID {
			t.Fatalf("want deployment_success for %s on the re-opened stream, got %+v", res.DeploymentID, p)
		}
		// Tasks started before the restart were re-adopted.
		if n := len(running(t, c, "/it/web")); n != 1 {
			t.Errorf("/it/web runs %d tasks after the restart, want 1", n)
		}
	})

	t.Run("errors carry Marathon's status, message and details", func(t *testing.T) {
		ctx := ctxT(t)
		_, err := c.App(ctx, "/no/such/app")
		if !marathon.IsNotFound(err) || !strings.Contains(err.Error(), "/no/such/app") {
			t.Errorf("missing app: %v", err)
		}
		_, err = c.CreateApp(ctx, sleeper("/it/web", 1))
		if !marathon.IsConflict(err) || marathon.IsDeploymentLocked(err) {
			t.Errorf("duplicate create: %v, want 409 already exists (not locked)", err)
		}
		bad := sleeper("/it/bad", 1)
		bad.Mem = ptr(-5.0)
		_, err = c.CreateApp(ctx, bad)
		var apiErr *marathon.APIError
		if !errors.As(err, &apiErr) || !marathon.IsInvalid(err) || len(apiErr.Details) == 0 {
			t.Fatalf("invalid app: err = %v, want 422 with details", err)
		}
		if !slices.ContainsFunc(apiErr.Details, func(d marathon.ErrorDetail) bool { return d.Path == "/mem" }) {
			t.Errorf("details = %+v, want the path /mem", apiErr.Details)
		}
	})
}

func TestLabMarathonUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c, err := marathon.NewClient(marathon.Config{URL: "http://" + addr, Retries: 1, Backoff: marathon.Backoff{Initial: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Ping(context.Background())
	if !marathon.IsUnreachable(err) || !strings.Contains(err.Error(), "cannot reach Marathon at http://"+addr) {
		t.Errorf("err = %v", err)
	}
}
