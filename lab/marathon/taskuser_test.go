package marathon

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/lab/labconfig"
	"github.com/switchyard/switchyard/lab/proc"
)

// TestTasksDoNotRunAsRoot: a lab started by root runs its tasks (and their
// command health checks) as its unprivileged task user, or as the app's
// "user" when that names an existing account other than root; only the
// apps of marathon.rootApps (the kubelet wrappers) may ask for root.
func TestTasksDoNotRunAsRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the tests do not run as root: tasks run as the test's own user")
	}
	labUser, err := proc.LookupUser(labconfig.DefaultTaskUser)
	if err != nil {
		t.Fatalf("%v: scripts/deps.sh creates it", err)
	}
	ts := StartForTest(t, TestConfig(t, 1))
	// The command health check leaves its uid in the sandbox too.
	app := func(id, user string) map[string]any {
		a := map[string]any{
			"id": id, "cmd": "id -u > uid && exec sleep 300", "instances": 1, "cpus": 0.1, "mem": 16,
			"healthChecks": []map[string]any{{"protocol": "COMMAND", "command": map[string]any{"value": "id -u > check-uid"},
				"intervalSeconds": 1, "gracePeriodSeconds": 10}},
		}
		if user != "" {
			a["user"] = user
		}
		return a
	}
	for _, tc := range []struct {
		id, user string
		want     uint32
	}{
		{"/default", "", labUser.UID},
		{"/nobody", "nobody", 65534},
		{"/root", "root", labUser.UID},
		{"/ghost", "no-such-user-here", labUser.UID},
		// marathon.rootApps (default: the kubelet wrappers) may run as root.
		{"/switchyard/kubelet-t", "root", 0},
	} {
		t.Run(tc.id, func(t *testing.T) {
			deploy(t, ts, app(tc.id, tc.user), 30*time.Second)
			tasks := appTasks(t, ts, tc.id)
			if len(tasks) != 1 {
				t.Fatalf("%d tasks", len(tasks))
			}
			sandbox := ts.Config.Path("marathon", "sandboxes", tasks[0].ID)
			for _, f := range []string{"uid", "check-uid"} {
				var got string
				deadline := time.Now().Add(10 * time.Second)
				for time.Now().Before(deadline) {
					b, _ := os.ReadFile(filepath.Join(sandbox, f))
					if got = strings.TrimSpace(string(b)); got != "" {
						break
					}
					time.Sleep(50 * time.Millisecond)
				}
				if got != strconv.FormatUint(uint64(tc.want), 10) {
					t.Errorf("%s: %s ran as uid %q, want %d", tc.id, f, got, tc.want)
				}
			}
			st, err := os.Stat(sandbox)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want != 0 && st.Mode().Perm() != 0o700 {
				t.Errorf("sandbox mode %s, want 0700 (its task's only)", st.Mode().Perm())
			}
		})
	}
}

// TestTasksRunWhenTheLabDirIsOutOfReach: a lab directory inside a directory
// the task user cannot pass (a lab in /root, as root) keeps working: the
// sandboxes move under proc.FallbackWorkRoot, and the directory above the
// lab is left as it is.
func TestTasksRunWhenTheLabDirIsOutOfReach(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the tests do not run as root: tasks run as the test's own user")
	}
	labUser, err := proc.LookupUser(labconfig.DefaultTaskUser)
	if err != nil {
		t.Fatalf("%v: scripts/deps.sh creates it", err)
	}
	cfg := TestConfig(t, 1)
	if err := os.Chmod(filepath.Dir(cfg.Dir), 0o700); err != nil { // like /root
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(filepath.Join(proc.FallbackWorkRoot, cfg.ID)) })
	ts := StartForTest(t, cfg)
	deploy(t, ts, map[string]any{"id": "/far", "cmd": "id -u > uid && exec sleep 300", "instances": 1, "cpus": 0.1, "mem": 16}, 30*time.Second)
	tasks := appTasks(t, ts, "/far")
	if len(tasks) != 1 {
		t.Fatalf("%d tasks", len(tasks))
	}
	var got string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && got == ""; time.Sleep(50 * time.Millisecond) {
		b, _ := os.ReadFile(ts.Config.Path("marathon", "sandboxes", tasks[0].ID, "uid"))
		got = strings.TrimSpace(string(b))
	}
	if got != strconv.FormatUint(uint64(labUser.UID), 10) {
		t.Errorf("the task ran as uid %q, want %d", got, labUser.UID)
	}
	target, err := filepath.EvalSymlinks(ts.Config.Path("marathon", "sandboxes"))
	if err != nil || !strings.HasPrefix(target, proc.FallbackWorkRoot+"/") {
		t.Errorf("sandboxes at %q (%v), want under %s", target, err, proc.FallbackWorkRoot)
	}
	if st, _ := os.Stat(filepath.Dir(cfg.Dir)); st.Mode().Perm() != 0o700 {
		t.Errorf("the directory above the lab became %s", st.Mode().Perm())
	}
}
