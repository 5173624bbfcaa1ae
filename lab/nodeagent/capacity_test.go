package nodeagent

import (
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/switchyard/switchyard/lab/labconfig"
)

func TestNodeResources(t *testing.T) {
	total := labconfig.Resources{CPUs: 4, Mem: 8192, Disk: 20480}
	tests := []struct {
		name                 string
		share                *labconfig.Resources
		allocCPU, allocMem   string
		allocDisk, allocPods string
		reservedCPU, resvMem string
	}{
		{"half share", &labconfig.Resources{CPUs: 2, Mem: 4096, Disk: 10240}, "2", "4Gi", "10Gi", "110", "2", "4Gi"},
		{"fractional cpus", &labconfig.Resources{CPUs: 0.5, Mem: 100}, "500m", "100Mi", "0", "110", "3500m", "8092Mi"},
		{"zero share joins with nothing", &labconfig.Resources{}, "0", "0", "0", "0", "4", "8Gi"},
		{"no share", nil, "0", "0", "0", "0", "4", "8Gi"},
		{"whole node", &total, "4", "8Gi", "20Gi", "110", "0", "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NodeResources(labconfig.Node{Name: "n", Resources: total, KubernetesShare: tt.share})
			eq := func(what string, l corev1.ResourceList, name corev1.ResourceName, want string) {
				t.Helper()
				got := l[name]
				if got.Cmp(resource.MustParse(want)) != 0 {
					t.Errorf("%s %s = %s, want %s", what, name, got.String(), want)
				}
			}
			eq("capacity", r.Capacity, corev1.ResourceCPU, "4")
			eq("capacity", r.Capacity, corev1.ResourceMemory, "8Gi")
			eq("capacity", r.Capacity, corev1.ResourceEphemeralStorage, "20Gi")
			eq("capacity", r.Capacity, corev1.ResourcePods, "110")
			eq("allocatable", r.Allocatable, corev1.ResourceCPU, tt.allocCPU)
			eq("allocatable", r.Allocatable, corev1.ResourceMemory, tt.allocMem)
			eq("allocatable", r.Allocatable, corev1.ResourceEphemeralStorage, tt.allocDisk)
			eq("allocatable", r.Allocatable, corev1.ResourcePods, tt.allocPods)
			eq("reserved", r.SystemReserved, corev1.ResourceCPU, tt.reservedCPU)
			eq("reserved", r.SystemReserved, corev1.ResourceMemory, tt.resvMem)
		})
	}
}

func TestNodePodCIDR(t *testing.T) {
	cfg := labconfig.Default()
	tests := []struct {
		cidr    string
		i       int
		want    string
		wantErr bool
	}{
		{"10.244.0.0/16", 0, "10.244.0.0/24", false},
		{"10.244.0.0/16", 2, "10.244.2.0/24", false},
		{"10.244.0.0/16", 255, "10.244.255.0/24", false},
		{"10.244.0.0/16", 256, "", true},
		{"10.8.4.0/22", 3, "10.8.7.0/24", false},
		{"10.8.4.0/22", 4, "", true},
		{"10.8.4.0/25", 0, "", true},
		{"fd00::/64", 0, "", true},
	}
	for _, tt := range tests {
		cfg.Kubernetes.PodCIDR = tt.cidr
		got, err := NodePodCIDR(cfg, tt.i)
		if (err != nil) != tt.wantErr {
			t.Fatalf("NodePodCIDR(%s, %d) error = %v, wantErr %v", tt.cidr, tt.i, err, tt.wantErr)
		}
		if err == nil && got.String() != tt.want {
			t.Errorf("NodePodCIDR(%s, %d) = %s, want %s", tt.cidr, tt.i, got, tt.want)
		}
	}
}

func TestNodeObject(t *testing.T) {
	cfg := labconfig.Default()
	cfg.Nodes[1].Attributes["bad value"] = "has spaces"
	cfg.Nodes[1].Attributes["disk"] = "not ok!"
	n, err := NodeObject(cfg, "node-2")
	if err != nil {
		t.Fatal(err)
	}
	if n.Name != "node-2" || n.Spec.PodCIDR != "10.244.1.0/24" {
		t.Errorf("name/podCIDR = %s/%s", n.Name, n.Spec.PodCIDR)
	}
	want := map[string]string{"rack": "r1", "zone": "lab", corev1.LabelHostname: "node-2", corev1.LabelOSStable: "linux"}
	for k, v := range want {
		if n.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, n.Labels[k], v)
		}
	}
	if _, ok := n.Labels["bad value"]; ok {
		t.Error("invalid label key was kept")
	}
	if _, ok := n.Labels["disk"]; ok {
		t.Error("invalid label value was kept")
	}
	if len(n.Status.Addresses) == 0 || n.Status.Addresses[0].Type != corev1.NodeInternalIP || n.Status.Addresses[0].Address != "127.0.1.2" {
		t.Errorf("addresses = %v", n.Status.Addresses)
	}
	if n.Status.DaemonEndpoints.KubeletEndpoint.Port != 10251 {
		t.Errorf("kubelet port = %d", n.Status.DaemonEndpoints.KubeletEndpoint.Port)
	}
	if got, want := FormatResources(n.Status.Allocatable), "cpu=2 ephemeral-storage=10Gi memory=4Gi pods=110"; got != want {
		t.Errorf("allocatable = %s, want %s", got, want)
	}
	if got := n.Annotations["node.switchyard.io/system-reserved"]; got != "cpu=2,memory=4Gi,ephemeral-storage=10Gi" {
		t.Errorf("system-reserved annotation = %s", got)
	}
	alloc := n.Status.Allocatable[corev1.ResourceCPU]
	if alloc.String() != "2" {
		t.Errorf("allocatable cpu = %s", alloc.String())
	}
	ready := false
	for _, c := range n.Status.Conditions {
		ready = ready || (c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue)
	}
	if !ready {
		t.Error("node is not Ready")
	}
	if _, err := NodeObject(cfg, "nope"); err == nil {
		t.Error("unknown node accepted")
	}
}

func TestNetworkNames(t *testing.T) {
	a := labconfig.Default()
	b := labconfig.Default()
	b.ID = "another-lab-with-a-long-id"
	na, err := NetworkFor(a)
	if err != nil {
		t.Fatal(err)
	}
	nb, _ := NetworkFor(b)
	if na.Bridge == nb.Bridge || na.NetnsPrefix == nb.NetnsPrefix {
		t.Errorf("two labs share names: %s %s", na.Bridge, nb.Bridge)
	}
	uid := "0b5f1f4e-6e0a-4b8e-9a52-6e7a4a1f2c3d"
	for _, name := range []string{na.Bridge, na.Veth(uid), nb.Veth(uid)} {
		if len(name) > 15 {
			t.Errorf("interface name %q is longer than 15 bytes", name)
		}
	}
	if na.Veth(uid) == nb.Veth(uid) || na.Veth(uid) == na.Veth(uid+"x") {
		t.Error("veth names collide")
	}
	if na.Gateway.String() != "10.244.0.1" || na.Prefix.String() != "10.244.0.0/16" {
		t.Errorf("gateway %s prefix %s", na.Gateway, na.Prefix)
	}
}

func TestPickPodIP(t *testing.T) {
	node := netip.MustParsePrefix("10.9.3.0/24")
	used := map[netip.Addr]bool{}
	first, _ := PickPodIP(node, used)
	if first.String() != "10.9.3.2" {
		t.Errorf("first pod IP = %s, want 10.9.3.2 (.0 network, .1 gateway)", first)
	}
	for i := 0; i < 253; i++ {
		ip, err := PickPodIP(node, used)
		if err != nil {
			t.Fatalf("pod %d: %v", i, err)
		}
		if used[ip] || !node.Contains(ip) || ip.As4()[3] < 2 || ip.As4()[3] == 255 {
			t.Fatalf("bad pod IP %s", ip)
		}
		used[ip] = true
	}
	if _, err := PickPodIP(node, used); err == nil {
		t.Error("full range accepted another pod")
	}
}

func TestConflictingInterface(t *testing.T) {
	out := `1: lo    inet 127.0.0.1/8 scope host lo\       valid_lft forever preferred_lft forever
2: eth0    inet 192.168.5.10/24 brd 192.168.5.255 scope global eth0\       valid_lft forever preferred_lft forever
7: sy111111br    inet 10.244.0.1/16 scope global sy111111br\       valid_lft forever preferred_lft forever
9: sy222222br    inet 10.120.0.1/16 scope global sy222222br\       valid_lft forever preferred_lft forever
`
	tests := []struct {
		bridge, prefix, wantDev string
	}{
		{"sy111111br", "10.244.0.0/16", ""},           // our own bridge
		{"sy333333br", "10.244.0.0/16", "sy111111br"}, // another lab uses the range
		{"sy333333br", "10.244.8.0/22", "sy111111br"}, // overlapping sub-range
		{"sy333333br", "10.250.0.0/16", ""},
		{"sy333333br", "192.168.0.0/16", "eth0"},
	}
	for _, tt := range tests {
		dev, _ := conflictingInterface(out, tt.bridge, netip.MustParsePrefix(tt.prefix))
		if dev != tt.wantDev {
			t.Errorf("bridge %s prefix %s: conflict %q, want %q", tt.bridge, tt.prefix, dev, tt.wantDev)
		}
	}
}
