package marathon

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/testenv"
)

// pythonWithMarathon finds a python3 that imports Debian's python3-marathon.
func pythonWithMarathon() string {
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(py, "-c", "import marathon").Run() == nil {
			return py
		}
	}
	return ""
}

// TestPythonMarathonClient drives the lab Marathon with an independent
// client, Debian's python3-marathon, unchanged: create, list, scale, list
// tasks, kill with scale, versions, groups, delete.
func TestPythonMarathonClient(t *testing.T) {
	testenv.SkipIfShort(t, "lab Marathon tasks")
	py := pythonWithMarathon()
	if py == "" {
		testenv.Missing(t, "python3-marathon is not installed (apt-get install python3-marathon; scripts/deps.sh does it)")
	}
	ts := StartForTest(t, TestConfig(t, 3))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, py, "testdata/pyclient.py", ts.URL, taskApp).CombinedOutput()
	t.Logf("python3-marathon:\n%s", out)
	if err != nil {
		t.Fatalf("python3-marathon client failed: %v", err)
	}
	if !strings.HasSuffix(strings.TrimSpace(string(out)), "OK") {
		t.Fatalf("python3-marathon client did not finish")
	}
}
