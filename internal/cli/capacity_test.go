package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/capacity"
)

func TestCapacityTable(t *testing.T) {
	c := capacity.Cluster{Nodes: []capacity.Node{
		{Name: "node-1", Joined: true, Total: capacity.Resources{CPUs: 4, Mem: 8192}, KubernetesShare: capacity.Resources{CPUs: 2, Mem: 4096},
			Allocatable: capacity.Resources{CPUs: 1.9, Mem: 3740}, PodRequests: capacity.Resources{CPUs: 0.5, Mem: 512}, Pods: 2,
			MesosAllocated: capacity.Resources{CPUs: 1, Mem: 1024}, MesosTasks: 3},
		{Name: "node-2", Total: capacity.Resources{CPUs: 4, Mem: 8192}, MesosAllocated: capacity.Resources{CPUs: 5}, MesosTasks: 5},
	}}
	var b bytes.Buffer
	if err := capacityTable(&b, c.Report()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	norm := strings.Join(strings.Fields(out), " ")
	for _, want := range []string{
		"node-1 yes 4c 8Gi 3 1c 1Gi 2c 4Gi 1.9c 3.7Gi 2 0.5c 512Mi 1c 3Gi 1.4c 3.2Gi 75% 26%",
		"!node-2 no 4c 8Gi 5 5c 0Mi 0c 0Mi 0c 0Mi 0 0c 0Mi -1c 8Gi 0c 0Mi 125% 0%",
		"TOTAL (2) 1 8c 16Gi 8 6c 1Gi 2c 4Gi 1.9c 3.7Gi 2 0.5c 512Mi 0c 11Gi 1.4c 3.2Gi 100% 26%",
		"node node-2: cpus: Mesos allocations (incl. the kubelet wrapper) 5 exceed the node total 4",
	} {
		if !strings.Contains(norm, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if !strings.HasPrefix(lines[0], "NODE") {
		t.Errorf("header: %q", lines[0])
	}
}

// TestCapacityWatchBadWebhookHidesSecret: a --webhook that is not an http(s)
// URL is refused before any inventory read, naming --webhook and showing
// neither its password nor its path.
func TestCapacityWatchBadWebhookHidesSecret(t *testing.T) {
	isolateConfig(t)
	for _, hook := range []string{"ftp://u:s3cr3t@hooks.example/T0/s3cr3t", "http://u:s3cr3t@hooks.example/T0/%zz/s3cr3t"} {
		out, err := runRoot(t, "capacity", "watch", "--once", "--no-kubernetes", "--mesos-url", "http://127.0.0.1:1", "--webhook", hook)
		if err == nil || !strings.Contains(err.Error(), "--webhook: monitor: webhook") {
			t.Errorf("--webhook %s: err %v, want a --webhook error", hook, err)
			continue
		}
		if text := err.Error() + out; strings.Contains(text, "s3cr3t") || strings.Contains(text, "/T0") {
			t.Errorf("--webhook %s: the error shows the secret or path: %v\n%s", hook, err, out)
		}
	}
}

func TestCapacityValidate(t *testing.T) {
	inv := func(nodeNameFrom string) *capacityOptions { return &capacityOptions{nodeNameFrom: nodeNameFrom} }
	tests := []struct {
		name string
		o    commandOptions
		want string // "" when valid
	}{
		{"capacity", inv(capacity.NodeNameAuto), ""},
		{"capacity agent-id", inv(capacity.NodeNameAgentID), ""},
		{"capacity bad node name", inv("ip"), `--node-name-from "ip": use auto, hostname or agent-id`},
		{"plan", &capacityPlanOptions{co: inv(capacity.NodeNameHostname), target: "t.yaml"}, ""},
		{"plan without target", &capacityPlanOptions{co: inv(capacity.NodeNameAuto)}, "--target is required"},
		{"plan bad node name", &capacityPlanOptions{co: inv(""), target: "t.yaml"}, "--node-name-from"},
		{"watch", &capacityWatchOptions{co: inv(capacity.NodeNameAuto), raise: 0.9, clear: 0.8}, ""},
		{"watch clear above raise", &capacityWatchOptions{co: inv(capacity.NodeNameAuto), raise: 0.8, clear: 0.9}, "--raise/--clear"},
		{"watch clear 0", &capacityWatchOptions{co: inv(capacity.NodeNameAuto), raise: 0.9}, "--raise/--clear"},
		{"watch bad node name", &capacityWatchOptions{co: inv("x"), raise: 0.9, clear: 0.8}, "--node-name-from"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkValidate(t, tt.o.Validate(), tt.want)
		})
	}
}
