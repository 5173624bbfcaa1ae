package marathon

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/testenv"
	"github.com/switchyard/switchyard/lab/labconfig"
	"github.com/switchyard/switchyard/lab/proc"
)

// TestServerProcessSurvivesSIGTERM runs the lab Marathon as its own process
// from a lab.yaml, as the lab supervisor does: the component's Ready probe
// passes, SIGTERM ends the server with status 0 and leaves the task running,
// and the next server process re-adopts it.
func TestServerProcessSurvivesSIGTERM(t *testing.T) {
	testenv.SkipIfShort(t, "the lab Marathon as a process")
	bin := filepath.Join(t.TempDir(), "labserver")
	if out, err := exec.Command("go", "build", "-o", bin, "./testdata/labserver").CombinedOutput(); err != nil {
		t.Fatalf("build labserver: %v\n%s", err, out)
	}
	cfg := TestConfig(t, 1)
	cfg.Marathon.Listen, cfg.Mesos.Listen = testenv.FreeAddr(t, "127.0.0.1"), testenv.FreeAddr(t, "127.0.0.1")
	b, err := cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(cfg.Dir, "lab.yaml")
	if err := os.WriteFile(cfgPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, id := range proc.FindByEnv(labconfig.MarkerEnv + "=" + cfg.ID) {
			proc.StopID(id, 2*time.Second, nil)
		}
	})
	specs, err := Components(cfg, bin)
	if err != nil || len(specs) != 1 || specs[0].Argv[len(specs[0].Argv)-1] != cfgPath {
		t.Fatalf("Components = %+v, %v", specs, err)
	}
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, cfgPath)
		cmd.Env = append(os.Environ(), specs[0].Env...)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		for {
			if err := specs[0].Ready(ctx); err == nil {
				return cmd
			} else if ctx.Err() != nil {
				cmd.Process.Kill()
				t.Fatalf("lab marathon process not ready: %v", err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	cmd := start()
	ts := &TestServer{URL: cfg.Marathon.URL(), MesosURL: cfg.Mesos.URL(), Config: cfg}
	deploy(t, ts, demoApp("/proc", 1, nil), 30*time.Second)
	task := appTasks(t, ts, "/proc")[0]

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("server after SIGTERM: %v", err)
	}
	if _, err := getTask(t, task); err != nil {
		t.Fatalf("task stopped with the server: %v", err)
	}
	cmd = start()
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	eventually(t, 20*time.Second, "the re-adopted task healthy", func() (bool, string) {
		tasks := appTasks(t, ts, "/proc")
		return len(tasks) == 1 && tasks[0].ID == task.ID && len(tasks[0].HealthCheckResults) == 1 && tasks[0].HealthCheckResults[0].Alive, fmt.Sprint(tasks)
	})
}
