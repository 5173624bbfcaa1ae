package marathon

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/testenv"
	"github.com/switchyard/switchyard/lab/proc"
)

const orphanHelperEnv = "LABMARATHON_ORPHAN_HELPER"

// TestOrphanHelper is the test process that gets killed: it starts a lab
// Marathon with one task, prints the task's pid and waits.
func TestOrphanHelper(t *testing.T) {
	if os.Getenv(orphanHelperEnv) == "" {
		t.Skip("helper of TestTasksOfAKilledTestRunAreSwept")
	}
	ts := StartForTest(t, TestConfig(t, 1))
	deploy(t, ts, map[string]any{"id": "/orphan", "cmd": "sleep 300", "instances": 1, "cpus": 0.1, "mem": 16}, 30*time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, id := range proc.FindByCwd(ts.Config.Dir) {
			if proc.Comm(id.PID) == "sleep" {
				fmt.Printf("task-pid %d\n", id.PID)
				time.Sleep(time.Minute) // killed meanwhile
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("no task process found")
}

// TestTasksOfAKilledTestRunAreSwept: a test process killed before its
// cleanups ran (a timeout, ^C) leaves its lab's tasks running, re-parented
// to init; the next run's TestMain stops them (SweepOrphans).
func TestTasksOfAKilledTestRunAreSwept(t *testing.T) {
	testenv.SkipIfShort(t, "a lab Marathon in a helper process")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "-test.run=^TestOrphanHelper$", "-test.v")
	cmd.Env = append(os.Environ(), orphanHelperEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := 0
	sc := bufio.NewScanner(out)
	var lines []string
	for pid == 0 && sc.Scan() {
		lines = append(lines, sc.Text())
		if rest, ok := strings.CutPrefix(sc.Text(), "task-pid "); ok {
			pid, _ = strconv.Atoi(rest)
		}
	}
	if pid == 0 {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper printed no task pid:\n%s", strings.Join(lines, "\n"))
	}
	// Killed: no cleanup runs.
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	task := proc.FindByPID(pid)
	if len(task) != 1 {
		t.Fatalf("the task %d died with its test process: nothing to sweep (test setup)", pid)
	}
	t.Cleanup(func() { proc.StopID(task[0], 0, nil) })

	swept := SweepOrphans()
	if len(proc.FindByPID(pid)) != 0 {
		t.Fatalf("task %d of the killed test process still runs after SweepOrphans (swept %v)", pid, swept)
	}
	if len(swept) == 0 {
		t.Errorf("SweepOrphans reported nothing, but stopped the task %d", pid)
	}
	// Our own labs are not orphans.
	ts := StartForTest(t, TestConfig(t, 1))
	deploy(t, ts, map[string]any{"id": "/mine", "cmd": "sleep 300", "instances": 1, "cpus": 0.1, "mem": 16}, 30*time.Second)
	if swept := SweepOrphans(); len(swept) != 0 {
		t.Errorf("SweepOrphans stopped a running test's tasks: %v", swept)
	}
	if len(appTasks(t, ts, "/mine")) != 1 {
		t.Error("our task is gone")
	}
}
