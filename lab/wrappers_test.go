package lab

import (
	"strings"
	"testing"

	"github.com/switchyard/switchyard/capacity"
	"github.com/switchyard/switchyard/lab/labconfig"
)

func TestWrapperNodesAndSpec(t *testing.T) {
	cfg := labconfig.Default()
	cfg.Dir = t.TempDir()
	cfg.Nodes[1].KubernetesShare = nil                    // stays Mesos-only
	cfg.Nodes[2].KubernetesShare = &labconfig.Resources{} // joins with zero
	nodes, err := WrapperNodes(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct{ share, alloc capacity.Resources }{
		"node-1": {capacity.Resources{CPUs: 2, Mem: 4096, Disk: 10240}, capacity.Resources{CPUs: 1.9, Mem: 3740, Disk: 9216}},
		"node-3": {capacity.Resources{CPUs: capacity.MinWrapperCPUs}, capacity.Resources{}},
	}
	if len(nodes) != len(want) {
		t.Fatalf("wrapper nodes %+v, want node-1 and node-3", nodes)
	}
	for _, np := range nodes {
		w, ok := want[np.Name]
		if !ok || !np.Share.Equal(w.share) || !np.Allocatable.Equal(w.alloc) {
			t.Errorf("%s: share %v allocatable %v, want %v %v", np.Name, np.Share, np.Allocatable, w.share, w.alloc)
		}
		if np.Hostname != cfg.Nodes[0].Address && np.Hostname != cfg.Nodes[2].Address {
			t.Errorf("%s: hostname %q is not the node's address", np.Name, np.Hostname)
		}
	}
	app := WrapperSpec(cfg, "/bin/switchyard", 30).WrapperApp(nodes[0], capacity.DefaultOverhead())
	args := strings.Join(app.Args, " ")
	for _, w := range []string{"/bin/switchyard kubelet-wrapper --node node-1", "--kubeconfig " + Kubeconfig(cfg), "--kubelet /bin/switchyard",
		"--kubelet-arg=node-agent", "--kubelet-arg=--kubelet-config={kubelet-config}"} {
		if !strings.Contains(args, w) {
			t.Errorf("wrapper args %q lack %q", args, w)
		}
	}
	if *app.CPUs != 2 || *app.Mem != 4096 || app.Constraints[0].String() != "hostname:CLUSTER:127.0.1.1" {
		t.Errorf("wrapper app %+v", app)
	}
	bad := cfg
	bad.Nodes = append([]labconfig.Node(nil), cfg.Nodes...)
	bad.Nodes[0].KubernetesShare = &labconfig.Resources{CPUs: 99}
	if _, err := WrapperNodes(bad); err == nil || !strings.Contains(err.Error(), "node-1") || !strings.Contains(err.Error(), "cpus") {
		t.Errorf("share above the node: %v", err)
	}
}
