package rollout

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/capacity"
	"github.com/switchyard/switchyard/marathon"
)

// recorder records the calls a rollout makes (the real Marathon path is
// covered by capacity/e2e on the lab).
type recorder struct{ calls []string }

func (r *recorder) UpdateApp(_ context.Context, app *marathon.App, _ marathon.UpdateOptions) (*marathon.DeploymentResult, error) {
	r.calls = append(r.calls, "put "+app.ID+" cpus="+capacity.Fmt(*app.CPUs))
	return &marathon.DeploymentResult{DeploymentID: "d-" + app.ID}, nil
}

func (r *recorder) WaitForDeployment(_ context.Context, id string, _ time.Duration) error {
	r.calls = append(r.calls, "wait "+id)
	return nil
}

func (r *recorder) KillTasks(_ context.Context, ids []string, o marathon.KillOptions) (*marathon.KillResult, error) {
	r.calls = append(r.calls, "kill "+strings.Join(ids, ",")+" scale="+map[bool]string{true: "true", false: "false"}[o.Scale])
	return &marathon.KillResult{}, nil
}

func cluster() capacity.Cluster {
	n := func(name string, tasks ...capacity.Task) capacity.Node {
		nd := capacity.Node{Name: name, Hostname: name, Total: capacity.Resources{CPUs: 4, Mem: 4096}, Tasks: tasks}
		for _, t := range tasks {
			nd.MesosAllocated = nd.MesosAllocated.Add(t.Resources)
			nd.MesosTasks++
		}
		return nd
	}
	return capacity.Cluster{Nodes: []capacity.Node{
		n("a", capacity.Task{ID: "web.1", App: "/web", Resources: capacity.Resources{CPUs: 1, Mem: 512}}, capacity.Task{ID: "db.1", App: "/db", Resources: capacity.Resources{CPUs: 2.5, Mem: 512}}),
		n("b"),
	}}
}

func TestApplyOneNodeAtATime(t *testing.T) {
	p, err := capacity.PlanResize(cluster(), capacity.Target{Apps: []capacity.AppTarget{{ID: "/web"}}, Shares: []capacity.ShareTarget{{Node: "b", Share: capacity.Resources{CPUs: 1, Mem: 1024}}}})
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{}
	if err := Apply(context.Background(), r, p, Options{Spec: capacity.WrapperSpec{Command: "w"}}); err != nil {
		t.Fatal(err)
	}
	want := "kill web.1 scale=true|put /switchyard/kubelet-a cpus=1.1|wait d-/switchyard/kubelet-a|put /switchyard/kubelet-b cpus=1|wait d-/switchyard/kubelet-b"
	if got := strings.Join(r.calls, "|"); got != want {
		t.Errorf("calls:\n%s\nwant\n%s", got, want)
	}
}

func TestApplyRefusesMovesBeforeChanging(t *testing.T) {
	p, err := capacity.PlanResize(cluster(), capacity.Target{Shares: []capacity.ShareTarget{{Node: "a", Share: capacity.Resources{CPUs: 2, Mem: 1024}}}})
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{}
	err = Apply(context.Background(), r, p, Options{Spec: capacity.WrapperSpec{Command: "w"}})
	if err == nil || !strings.Contains(err.Error(), "moved off node a") || len(r.calls) != 0 {
		t.Fatalf("err = %v, calls %v", err, r.calls)
	}
}

func TestApplyRechecksTheLiveInventory(t *testing.T) {
	c := cluster()
	p, err := capacity.PlanResize(c, capacity.Target{Shares: []capacity.ShareTarget{{Node: "b", Share: capacity.Resources{CPUs: 3, Mem: 1024}}}})
	if err != nil {
		t.Fatal(err)
	}
	// Meanwhile Mesos placed 2 cpus on b: the share no longer fits.
	live := cluster()
	live.Nodes[1].MesosAllocated = capacity.Resources{CPUs: 2}
	r := &recorder{}
	err = Apply(context.Background(), r, p, Options{Spec: capacity.WrapperSpec{Command: "w"},
		Inventory: func(context.Context) (capacity.Cluster, error) { return live, nil }})
	if err == nil || !strings.Contains(err.Error(), "refused") || !strings.Contains(err.Error(), "node b: cpus") || len(r.calls) != 0 {
		t.Fatalf("err = %v, calls %v", err, r.calls)
	}
}
