package nodeagent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/switchyard/switchyard/lab/labconfig"
)

func TestParseResourceList(t *testing.T) {
	tests := []struct {
		in, want, wantErr string
	}{
		{"cpu=500m,memory=1Gi", "cpu=500m memory=1Gi", ""},
		{" cpu = 2 , ephemeral-storage=10Gi,", "cpu=2 ephemeral-storage=10Gi", ""},
		{"", "", ""},
		{"cpu", "", "want NAME=QUANTITY"},
		{"gpu=1", "", `resource "gpu" is not one of`},
		{"memory=lots", "", "not a non-negative quantity"},
		{"memory=-1Gi", "", "not a non-negative quantity"},
	}
	for _, tt := range tests {
		got, err := ParseResourceList(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseResourceList(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || FormatResources(got) != tt.want {
			t.Errorf("ParseResourceList(%q) = %s, %v; want %s", tt.in, FormatResources(got), err, tt.want)
		}
	}
	if _, err := ParseEvictionHard("memory.available<100Mi,nodefs.available<10%"); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"memory.available=100Mi", "cpu.available<1", "nodefs.available<120%", "memory.available<abc"} {
		if _, err := ParseEvictionHard(bad); err == nil {
			t.Errorf("ParseEvictionHard(%q) accepted", bad)
		}
	}
}

func TestAllocatableFor(t *testing.T) {
	capacity := NodeResources(labconfig.Node{Resources: labconfig.Resources{CPUs: 4, Mem: 8192, Disk: 20480}}).Capacity
	rl := func(s string) corev1.ResourceList {
		l, err := ParseResourceList(s)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	tests := []struct {
		name string
		r    Reservation
		want string
	}{
		{"nothing reserved", Reservation{}, "cpu=4 ephemeral-storage=20Gi memory=8Gi pods=110"},
		{"the Mesos side as system-reserved", Reservation{SystemReserved: rl("cpu=2,memory=4Gi,ephemeral-storage=10Gi")}, "cpu=2 ephemeral-storage=10Gi memory=4Gi pods=110"},
		{"all three", Reservation{SystemReserved: rl("cpu=2,memory=4Gi"), KubeReserved: rl("cpu=500m,memory=512Mi"),
			EvictionHard: map[string]string{"memory.available": "512Mi", "nodefs.available": "10%"}}, "cpu=1500m ephemeral-storage=18Gi memory=3Gi pods=110"},
		{"reserving everything: zero share, no pods", Reservation{SystemReserved: rl("cpu=4,memory=8Gi")}, "cpu=0 ephemeral-storage=20Gi memory=0 pods=0"},
		{"over-reserved clamps at zero", Reservation{SystemReserved: rl("cpu=6,memory=9Gi")}, "cpu=0 ephemeral-storage=20Gi memory=0 pods=0"},
	}
	for _, tt := range tests {
		if got := FormatResources(AllocatableFor(capacity, tt.r)); got != tt.want {
			t.Errorf("%s: allocatable = %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestLoadKubeletConfigAndNodeObjectFor(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kubelet.yaml")
	os.WriteFile(path, []byte(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
systemReserved:
  cpu: "3"
  memory: 6Gi
kubeReserved:
  memory: 1Gi
evictionHard:
  memory.available: 100Mi
`), 0o644)
	r, err := LoadKubeletConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg := labconfig.Default()
	n, err := NodeObjectFor(cfg, "node-1", &r)
	if err != nil {
		t.Fatal(err)
	}
	if got := FormatResources(n.Status.Allocatable); got != "cpu=1 ephemeral-storage=20Gi memory=924Mi pods=110" {
		t.Errorf("allocatable = %s", got)
	}
	if got := n.Annotations["node.switchyard.io/system-reserved"]; got != "cpu=3,memory=7268Mi,ephemeral-storage=0" {
		t.Errorf("reserved annotation = %s", got)
	}
	os.WriteFile(path, []byte("kind: Pod\n"), 0o644)
	if _, err := LoadKubeletConfig(path); err == nil || !strings.Contains(err.Error(), "want KubeletConfiguration") {
		t.Errorf("wrong kind: %v", err)
	}
	os.WriteFile(path, []byte("systemReserved: {gpu: 1}\n"), 0o644)
	if _, err := LoadKubeletConfig(path); err == nil || !strings.Contains(err.Error(), "systemReserved") {
		t.Errorf("bad resource: %v", err)
	}
}
