package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	labmarathon "github.com/switchyard/switchyard/lab/marathon"
	"github.com/switchyard/switchyard/marathon"
)

// TestMarathonAPICmdsAgainstLab runs the marathon API sub-commands against
// the lab's real Marathon (in-process, tasks as real processes).
func TestMarathonAPICmdsAgainstLab(t *testing.T) {
	ts := labmarathon.StartForTest(t, labmarathon.TestConfig(t, 2))
	c, err := marathon.NewClient(marathon.Config{URL: ts.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd, inst, cpus, mem := "sleep 3600", 2, 0.1, 16.0
	res, err := c.CreateApp(ctx, &marathon.App{ID: "/cli/web", Cmd: &cmd, Instances: &inst, CPUs: &cpus, Mem: &mem})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WaitForDeployment(ctx, res.DeploymentID, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MARATHON_URL", ts.URL)
	t.Setenv("SWITCHYARD_CONFIG", filepath.Join(t.TempDir(), "config.yaml"))

	run := func(args ...string) string {
		t.Helper()
		out, err := runMarathonAPI(t, args...)
		if err != nil {
			t.Fatalf("marathon %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}

	if out := run("ping"); !strings.Contains(out, "pong from "+ts.URL) {
		t.Errorf("ping: %q", out)
	}
	if out := run("info"); !regexp.MustCompile(`(?m)^ELECTED\s+true$`).MatchString(out) {
		t.Errorf("info:\n%s", out)
	}
	if out := run("apps"); !regexp.MustCompile(`(?m)^/cli/web\s+2\s+2\s+`).MatchString(out) {
		t.Errorf("apps table should list /cli/web with 2 instances, 2 running:\n%s", out)
	}
	var apps []marathon.App
	if err := json.Unmarshal([]byte(run("apps", "-o", "json")), &apps); err != nil || len(apps) != 1 || apps[0].ID != "/cli/web" {
		t.Errorf("apps -o json: %v, %+v", err, apps)
	}
	if out := run("app", "/cli/web"); strings.Count(out, "cli_web.") != 2 {
		t.Errorf("app /cli/web should list its 2 tasks:\n%s", out)
	}
	out := run("tasks", "--status", "running")
	taskLine := regexp.MustCompile(`(?m)^(cli_web\.\S+)\s+/cli/web\s+127\.`)
	m := taskLine.FindAllStringSubmatch(out, -1)
	if len(m) != 2 {
		t.Fatalf("tasks --status running: want 2 task lines of /cli/web:\n%s", out)
	}
	if out := run("scale", "/cli/web", "3", "--wait"); !strings.Contains(out, "scale /cli/web to 3: deployment ") || !strings.Contains(out, "finished in") {
		t.Errorf("scale --wait:\n%s", out)
	}
	if out := run("kill", m[0][1], "--scale", "--wait"); !strings.Contains(out, "kill 1 task(s) and scale down: deployment") {
		t.Errorf("kill --scale --wait:\n%s", out)
	}
	if app, err := c.App(ctx, "/cli/web"); err != nil || *app.Instances != 2 {
		t.Errorf("after scale 3 and kill --scale: instances %v, %v", app.Instances, err)
	}
	if out := run("restart", "/cli/web", "--wait"); !strings.Contains(out, "finished in") {
		t.Errorf("restart --wait:\n%s", out)
	}

	// `events` prints one JSON object per event until its context ends.
	evctx, evcancel := context.WithTimeout(ctx, 20*time.Second)
	defer evcancel()
	root := &cobra.Command{Use: "marathon", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(newMarathonAPICmds()...)
	pr, pw := io.Pipe()
	root.SetOut(pw)
	root.SetArgs([]string{"events", "--type", "event_stream_attached,deployment_success"})
	evdone := make(chan error, 1)
	go func() { evdone <- root.ExecuteContext(evctx); pw.Close() }()
	type eventLine struct {
		Type string `json:"type"`
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	lines := bufio.NewScanner(pr)
	next := func() eventLine {
		t.Helper()
		if !lines.Scan() {
			t.Fatalf("events ended early: %v", lines.Err())
		}
		var l eventLine
		if err := json.Unmarshal(lines.Bytes(), &l); err != nil {
			t.Fatalf("events printed %q: %v", lines.Text(), err)
		}
		return l
	}
	if l := next(); l.Type != "event_stream_attached" {
		t.Fatalf("first event line %+v, want event_stream_attached", l)
	}
	res, err = c.ScaleApp(ctx, "/cli/web", 1, false)
	if err != nil {
		t.Fatal(err)
	}
	if l := next(); l.Type != "deployment_success" || l.Data.ID != res.DeploymentID {
		t.Errorf("events printed %+v, want deployment_success of %s", l, res.DeploymentID)
	}
	evcancel()
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if err := <-evdone; err != nil {
		t.Fatalf("events after cancel: %v", err)
	}

	// A change to a locked app fails with the deployment id and the --force hint.
	big := 1000.0
	res, err = c.CreateApp(ctx, &marathon.App{ID: "/cli/stuck", Cmd: &cmd, Instances: &inst, CPUs: &big, Mem: &mem})
	if err != nil {
		t.Fatal(err)
	}
	if out := run("deployments"); !strings.Contains(out, res.DeploymentID) || !strings.Contains(out, "/cli/stuck") {
		t.Errorf("deployments:\n%s", out)
	}
	queued := regexp.MustCompile(`(?m)^/cli/stuck\s+2\s+.*InsufficientCpus`)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		out := run("queue")
		if queued.MatchString(out) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue should explain /cli/stuck:\n%s", out)
		}
	}
	_, err = runMarathonAPI(t, "scale", "/cli/stuck", "1")
	if err == nil || !strings.Contains(err.Error(), res.DeploymentID) || !strings.Contains(err.Error(), "retry with --force") {
		t.Errorf("scale of a locked app: %v", err)
	}
	if out := run("rollback", res.DeploymentID, "--wait"); !strings.Contains(out, "cancel deployment "+res.DeploymentID) {
		t.Errorf("rollback:\n%s", out)
	}
	if _, err := c.App(ctx, "/cli/stuck"); !marathon.IsNotFound(err) {
		t.Errorf("after rolling back its creation /cli/stuck should be gone: %v", err)
	}
}
