package marathon

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/switchyard/switchyard/lab/labconfig"
	"github.com/switchyard/switchyard/mesos"
)

// TestKubernetesShareIsNotOffered: a node's kubernetesShare belongs to
// Kubernetes, so the Mesos agent offers only the rest and placement respects it.
func TestKubernetesShareIsNotOffered(t *testing.T) {
	cfg := TestConfig(t, 1)
	cfg.Nodes[0].KubernetesShare = &labconfig.Resources{CPUs: 3, Mem: 1024}
	ts := StartForTest(t, cfg)
	sl := oneAgent(t, ts)
	if r := sl.Slaves[0].Resources; r.CPUs != 1 || r.Mem != 3072 || r.Disk != 10240 || r.Ports.Count() != 1000 {
		t.Errorf("agent resources %+v, want cpus 1, mem 3072, disk 10240, 1000 ports", r)
	}
	// Two 0.6-cpu tasks do not fit in the Mesos side's 1 cpu.
	mustCall(t, ts, 201, "POST", "/v2/apps", map[string]any{"id": "/fat", "cmd": "sleep 600", "cpus": 0.6, "mem": 16, "instances": 2})
	eventually(t, 10*time.Second, "one task and one queued", func() (bool, string) {
		var q struct {
			Queue []struct {
				Count int `json:"count"`
			} `json:"queue"`
		}
		decodeJSON(t, mustCall(t, ts, 200, "GET", "/v2/queue", nil), &q)
		n := len(appTasks(t, ts, "/fat"))
		return n == 1 && len(q.Queue) == 1 && q.Queue[0].Count == 1, ""
	})
}

// TestWrapperModeOffersTheWholeNode: in wrapper mode the share is held by
// the kubelet wrapper's Marathon task, so the agent offers the whole node
// and a task as large as the share still fits.
func TestWrapperModeOffersTheWholeNode(t *testing.T) {
	cfg := TestConfig(t, 1)
	cfg.Kubernetes.Enabled = true
	cfg.Kubernetes.NodeAgents = labconfig.NodeAgentsWrapper
	cfg.Nodes[0].KubernetesShare = &labconfig.Resources{CPUs: 3, Mem: 1024}
	ts := StartForTest(t, cfg)
	sl := oneAgent(t, ts)
	if r, n := sl.Slaves[0].Resources, cfg.Nodes[0].Resources; r.CPUs != n.CPUs || r.Mem != n.Mem || r.Disk != n.Disk {
		t.Errorf("agent resources %+v, want the whole node %+v", r, n)
	}
}

// oneAgent reads the Mesos view's /master/slaves, which must list one agent.
func oneAgent(t *testing.T, ts *TestServer) mesos.Slaves {
	t.Helper()
	resp, err := httpc.Get(ts.MesosURL + "/master/slaves")
	if err != nil {
		t.Fatal(err)
	}
	var sl mesos.Slaves
	err = json.NewDecoder(resp.Body).Decode(&sl)
	resp.Body.Close()
	if err != nil || len(sl.Slaves) != 1 {
		t.Fatalf("%v %+v", err, sl)
	}
	return sl
}
