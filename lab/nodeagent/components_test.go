package nodeagent

import (
	"strings"
	"testing"

	"github.com/switchyard/switchyard/lab/component"
	"github.com/switchyard/switchyard/lab/kube"
	"github.com/switchyard/switchyard/lab/labconfig"
)

func TestComponents(t *testing.T) {
	cfg := labconfig.Default()
	cfg.Dir = t.TempDir()
	cfg.Nodes[1].KubernetesShare = nil // does not join Kubernetes
	cfg.Nodes[2].KubernetesShare = &labconfig.Resources{}
	specs, err := Components(cfg, "/usr/local/bin/switchyard")
	if err != nil {
		t.Fatal(err)
	}
	if len(specs) != 3 || specs[0].Name != PodNetworkName || specs[1].Name != "node-agent-node-1" || specs[2].Name != "node-agent-node-3" {
		t.Fatalf("specs = %v, want the pod network's cleanup, then agents for node-1 and node-3 (node-2 has no share)", names(specs))
	}
	// The lab-wide cleanup runs once, after every agent stopped: lab down
	// goes through Order's result backwards.
	if specs[0].Cleanup == nil || len(specs[0].Argv) != 0 {
		t.Errorf("%s: want a cleanup-only spec", specs[0].Name)
	}
	s := specs[2]
	if got := strings.Join(s.Argv, " "); got != "/usr/local/bin/switchyard lab run node-agent --config "+cfg.Path("run", "nodeagent-lab.yaml")+" --node node-3" {
		t.Errorf("argv = %s", got)
	}
	if len(s.After) != 1 || s.After[0] != kube.APIServerName {
		t.Errorf("after = %v", s.After)
	}
	if s.Address != "https://127.0.1.3:10252" || s.Ready == nil || s.Cleanup != nil || s.Prepare == nil {
		t.Errorf("address %q ready/prepare set: %v %v, cleanup set %v (want none: the pod network's)", s.Address, s.Ready != nil, s.Prepare != nil, s.Cleanup != nil)
	}
	if !strings.Contains(strings.Join(s.Env, " "), labconfig.MarkerEnv+"="+cfg.ID) {
		t.Errorf("env %v lacks the lab marker", s.Env)
	}
	cfg.Kubernetes.NodeAgents = labconfig.NodeAgentsWrapper
	specs, err = Components(cfg, "x")
	if err != nil || len(component.Runnable(specs)) != 0 || len(specs) != 1 || specs[0].Cleanup == nil {
		t.Errorf("wrapper mode: specs %v (err %v), want only the cleanup-only pod network", names(specs), err)
	}
	cfg.Kubernetes.NodeAgents = ""
	cfg.Kubernetes.Enabled = false
	if specs, _ := Components(cfg, "x"); len(specs) != 0 {
		t.Errorf("Kubernetes disabled but %d agents", len(specs))
	}
	cfg.Kubernetes.Enabled = true
	cfg.Kubernetes.PodCIDR = "10.1.2.0/25"
	if _, err := Components(cfg, "x"); err == nil || !strings.Contains(err.Error(), "kubernetes.podCIDR") {
		t.Errorf("bad pod CIDR: %v", err)
	}
}

func names(specs []component.Spec) []string {
	var out []string
	for _, s := range specs {
		out = append(out, s.Name)
	}
	return out
}
