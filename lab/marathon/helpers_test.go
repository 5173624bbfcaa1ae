package marathon

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/testenv"
)

// taskApp is the demo workload binary the integration tests run as tasks.
var taskApp string

func TestMain(m *testing.M) {
	if os.Getenv(orphanHelperEnv) == "" {
		for _, p := range SweepOrphans() {
			fmt.Fprintln(os.Stderr, "labmarathon tests: stopped a task of an earlier, killed test run:", p)
		}
	}
	if testenv.Short() { // no lab Marathon starts: no task binary to build
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "labmarathon-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// The tasks (run as the lab's task user when the tests run as root)
	// must be able to run it.
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	taskApp = filepath.Join(dir, "taskapp")
	cmd := exec.Command("go", "build", "-o", taskApp, "./testdata/taskapp")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build testdata/taskapp:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var httpc = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil}}

// call sends a request to the test server and returns status, headers and body.
func call(t testing.TB, ts *TestServer, method, path string, body any) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, ts.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, out
}

// mustCall is call that fails the test unless the status is want.
func mustCall(t testing.TB, ts *TestServer, want int, method, path string, body any) []byte {
	t.Helper()
	status, _, out := call(t, ts, method, path, body)
	if status != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, status, want, out)
	}
	return out
}

func decodeJSON(t testing.TB, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	testenv.Eventually(t, timeout, 100*time.Millisecond, what, cond)
}

// waitDeployed waits until the deployment is gone from /v2/deployments.
func waitDeployed(t testing.TB, ts *TestServer, id string, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, "deployment "+id, func() (bool, string) {
		var deps []struct {
			ID string `json:"id"`
		}
		decodeJSON(t, mustCall(t, ts, 200, "GET", "/v2/deployments", nil), &deps)
		for _, d := range deps {
			if d.ID == id {
				return false, string(mustCall(t, ts, 200, "GET", "/v2/deployments", nil))
			}
		}
		return true, ""
	})
}

// wireTask is the part of a task answer the tests read.
type wireTask struct {
	ID                 string `json:"id"`
	AppID              string `json:"appId"`
	Host               string `json:"host"`
	Ports              []int  `json:"ports"`
	SlaveID            string `json:"slaveId"`
	State              string `json:"state"`
	Version            string `json:"version"`
	HealthCheckResults []struct {
		Alive bool `json:"alive"`
	} `json:"healthCheckResults"`
}

func appTasks(t testing.TB, ts *TestServer, id string) []wireTask {
	t.Helper()
	var out struct {
		Tasks []wireTask `json:"tasks"`
	}
	decodeJSON(t, mustCall(t, ts, 200, "GET", "/v2/apps"+id+"/tasks", nil), &out)
	return out.Tasks
}

// appStatus is the part of an app answer the tests read.
type appStatus struct {
	ID             string `json:"id"`
	Instances      int    `json:"instances"`
	Version        string `json:"version"`
	TasksRunning   int    `json:"tasksRunning"`
	TasksHealthy   int    `json:"tasksHealthy"`
	TasksStaged    int    `json:"tasksStaged"`
	TasksUnhealthy int    `json:"tasksUnhealthy"`
	Deployments    []struct {
		ID string `json:"id"`
	} `json:"deployments"`
	Tasks           []wireTask      `json:"tasks"`
	LastTaskFailure json.RawMessage `json:"lastTaskFailure"`
	VersionInfo     struct {
		LastScalingAt      string `json:"lastScalingAt"`
		LastConfigChangeAt string `json:"lastConfigChangeAt"`
	} `json:"versionInfo"`
}

func getApp(t testing.TB, ts *TestServer, id string) appStatus {
	t.Helper()
	var out struct {
		App appStatus `json:"app"`
	}
	decodeJSON(t, mustCall(t, ts, 200, "GET", "/v2/apps"+id, nil), &out)
	return out.App
}

// demoApp is an app definition running the demo workload with an HTTP
// health check on its first port.
func demoApp(id string, instances int, env map[string]string) map[string]any {
	if env == nil {
		env = map[string]string{}
	}
	return map[string]any{
		"id":              id,
		"cmd":             taskApp,
		"instances":       instances,
		"cpus":            0.1,
		"mem":             32,
		"env":             env,
		"portDefinitions": []map[string]any{{"port": 0, "name": "http"}},
		"healthChecks": []map[string]any{{
			"protocol": "HTTP", "path": "/health", "portIndex": 0, "gracePeriodSeconds": 15,
			"intervalSeconds": 1, "timeoutSeconds": 2, "maxConsecutiveFailures": 3,
		}},
		"upgradeStrategy":            map[string]any{"minimumHealthCapacity": 1, "maximumOverCapacity": 1},
		"taskKillGracePeriodSeconds": 2,
	}
}

// deploy posts an app and waits for its deployment to finish.
func deploy(t testing.TB, ts *TestServer, app map[string]any, timeout time.Duration) {
	t.Helper()
	status, hdr, body := call(t, ts, "POST", "/v2/apps", app)
	if status != 201 {
		t.Fatalf("POST /v2/apps: %d %s", status, body)
	}
	waitDeployed(t, ts, hdr.Get("Marathon-Deployment-Id"), timeout)
}

// getTask fetches the demo workload's answer from a task.
func getTask(t testing.TB, task wireTask) (map[string]any, error) {
	t.Helper()
	resp, err := httpc.Get(fmt.Sprintf("http://%s:%d/", task.Host, task.Ports[0]))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, err
	}
	return out, nil
}
