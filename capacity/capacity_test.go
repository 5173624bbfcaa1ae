package capacity

import (
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/switchyard/switchyard/internal/wanterr"
	"github.com/switchyard/switchyard/mesos"
)

func TestAllocatable(t *testing.T) {
	total := Resources{CPUs: 4, Mem: 8192, Disk: 20480}
	for _, tc := range []struct {
		name    string
		r       Reservations
		want    Resources
		wantErr string
	}{
		{"nothing reserved", Reservations{}, total, ""},
		{"all three", Reservations{SystemReserved: Resources{CPUs: 2, Mem: 4096, Disk: 10240}, KubeReserved: Resources{CPUs: 0.1, Mem: 256}, EvictionHard: Resources{Mem: 100, Disk: 1024}},
			Resources{CPUs: 1.9, Mem: 3740, Disk: 9216}, ""},
		{"over the total", Reservations{SystemReserved: Resources{CPUs: 4}, KubeReserved: Resources{CPUs: 0.5}}, Resources{}, "node n1: cpus: systemReserved + kubeReserved + evictionHard exceed the node total by 0.5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Allocatable("n1", total, tc.r)
			if !wanterr.Check(t, err, tc.wantErr) && !got.Equal(tc.want) {
				t.Fatalf("Allocatable = %v; want %v", got, tc.want)
			}
		})
	}
}

func TestReservationsFor(t *testing.T) {
	total := Resources{CPUs: 4, Mem: 8192, Disk: 20480}
	for _, tc := range []struct {
		name      string
		share     Resources
		wantAlloc Resources
		wantSys   Resources
	}{
		{"zero share joins with nothing", Resources{}, Resources{}, total},
		{"half", Resources{CPUs: 2, Mem: 4096, Disk: 10240}, Resources{CPUs: 1.9, Mem: 3740, Disk: 9216}, Resources{CPUs: 2, Mem: 4096, Disk: 10240}},
		{"share below the overhead clamps at zero", Resources{CPUs: 0.05, Mem: 300}, Resources{Mem: 0}, Resources{CPUs: 3.95, Mem: 7892, Disk: 20480}},
		{"whole node", total, Resources{CPUs: 3.9, Mem: 7836, Disk: 19456}, Resources{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ReservationsFor("n1", total, tc.share, DefaultOverhead())
			if err != nil {
				t.Fatal(err)
			}
			if !r.SystemReserved.Equal(tc.wantSys) {
				t.Errorf("systemReserved = %v, want %v", r.SystemReserved, tc.wantSys)
			}
			a, err := Allocatable("n1", total, r)
			if err != nil || !a.Equal(tc.wantAlloc) {
				t.Errorf("allocatable = %v, %v; want %v", a, err, tc.wantAlloc)
			}
			// The formula closes: systemReserved + kubeReserved + eviction + allocatable = total.
			if sum := r.SystemReserved.Add(r.KubeReserved).Add(r.EvictionHard).Add(a); !sum.Equal(total) {
				t.Errorf("sum of parts %v != total %v", sum, total)
			}
		})
	}
	if _, err := ReservationsFor("n9", total, Resources{CPUs: 5}, DefaultOverhead()); err == nil || !strings.Contains(err.Error(), "node n9: cpus") {
		t.Errorf("share over total: err = %v", err)
	}
}

func TestShareForCoversWant(t *testing.T) {
	total := Resources{CPUs: 16, Mem: 65536, Disk: 100000}
	for _, want := range []Resources{{}, {CPUs: 1, Mem: 512}, {CPUs: 3.3, Mem: 1000, Disk: 10}} {
		s := ShareFor(want, DefaultOverhead())
		a, err := ShareAllocatable("n", total, s, DefaultOverhead())
		if err != nil || !want.Fits(a) {
			t.Errorf("ShareFor(%v) = %v gives allocatable %v (%v)", want, s, a, err)
		}
	}
}

func TestKubeletConfigRoundTrip(t *testing.T) {
	r, _ := ReservationsFor("n", Resources{CPUs: 4, Mem: 8192, Disk: 20480}, Resources{CPUs: 1.5, Mem: 3000, Disk: 5000}, DefaultOverhead())
	b, err := KubeletConfigYAML(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"apiVersion: kubelet.config.k8s.io/v1beta1", "kind: KubeletConfiguration", "cpu: 2500m", "memory: 5192Mi", "memory.available: 100Mi", "nodefs.available: 1Gi", "- pods"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("kubelet config lacks %q:\n%s", want, b)
		}
	}
	back, err := ParseKubeletConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	if !back.SystemReserved.Equal(r.SystemReserved) || !back.KubeReserved.Equal(r.KubeReserved) || !back.EvictionHard.Equal(r.EvictionHard) {
		t.Errorf("round trip: %+v != %+v", back, r)
	}
	if _, err := ParseKubeletConfig([]byte("kind: Pod\n")); err == nil {
		t.Error("a non-KubeletConfiguration was accepted")
	}
}

func TestParseResources(t *testing.T) {
	r, err := ParseResources("cpus=1.5, mem=2048,disk=0")
	if err != nil || !r.Equal(Resources{CPUs: 1.5, Mem: 2048}) {
		t.Fatalf("got %v %v", r, err)
	}
	for _, bad := range []string{"cpus", "cpus=-1", "gpus=1", "mem=x"} {
		if _, err := ParseResources(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func kq(cpu, mem string) corev1.ResourceList {
	return corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)}
}

func TestBuild(t *testing.T) {
	st := mesos.State{
		Slaves: []mesos.Slave{
			{SlaveInfo: mesos.SlaveInfo{ID: "node-1", Hostname: "127.0.1.1", Attributes: mesos.Attributes{"rack": mesos.Text("r1")}},
				Resources:     mesos.Resources{CPUs: 4, Mem: 8192, Disk: 20480, Ports: mesos.Ranges{{Begin: 31000, End: 31999}}},
				UsedResources: mesos.Resources{CPUs: 2.5, Mem: 4224, Ports: mesos.Ranges{{Begin: 31000, End: 31001}}}},
			{SlaveInfo: mesos.SlaveInfo{ID: "node-2", Hostname: "127.0.1.2"},
				Resources:     mesos.Resources{CPUs: 2, Mem: 4096, Disk: 10240},
				UsedResources: mesos.Resources{CPUs: 1, Mem: 128}},
		},
		Frameworks: []mesos.Framework{{Tasks: []mesos.Task{
			{ID: "w1", Name: "switchyard.kubelet-node-1", SlaveID: "node-1", State: mesos.TaskRunning, Resources: mesos.Resources{CPUs: 2, Mem: 4096}},
			{ID: "a1", Name: "shop.web", SlaveID: "node-1", State: mesos.TaskRunning, Resources: mesos.Resources{CPUs: 0.5, Mem: 128, Ports: mesos.Ranges{{Begin: 31000, End: 31001}}}},
			{ID: "a2", Name: "shop.web", SlaveID: "node-2", State: mesos.TaskRunning, Resources: mesos.Resources{CPUs: 1, Mem: 128}},
			{ID: "old", Name: "shop.web", SlaveID: "node-2", State: mesos.TaskKilled, Resources: mesos.Resources{CPUs: 1, Mem: 128}},
		}}},
	}
	nodes := []corev1.Node{
		{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}, Status: corev1.NodeStatus{Capacity: kq("4", "8Gi"), Allocatable: kq("1900m", "3740Mi")}},
		// node-2 is statically partitioned: Mesos offers 2 of 4 cpus.
		{ObjectMeta: metav1.ObjectMeta{Name: "node-2"}, Spec: corev1.NodeSpec{Unschedulable: true}, Status: corev1.NodeStatus{Capacity: kq("4", "8Gi"), Allocatable: kq("2", "4Gi")}},
	}
	pods := []corev1.Pod{
		{Spec: corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Resources: corev1.ResourceRequirements{Requests: kq("500m", "256Mi")}}, {Resources: corev1.ResourceRequirements{Requests: kq("250m", "64Mi")}}},
			InitContainers: []corev1.Container{{Resources: corev1.ResourceRequirements{Requests: kq("1", "16Mi")}}}}},
		{Spec: corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Resources: corev1.ResourceRequirements{Requests: kq("1", "1Gi")}}}}, Status: corev1.PodStatus{Phase: corev1.PodSucceeded}},
		{Spec: corev1.PodSpec{Containers: []corev1.Container{{Resources: corev1.ResourceRequirements{Requests: kq("1", "1Gi")}}}}},
	}
	c := Build(Sources{Mesos: st, Nodes: nodes, Pods: pods}, BuildOptions{})
	if len(c.Nodes) != 2 {
		t.Fatalf("nodes = %d", len(c.Nodes))
	}
	n1, n2 := c.Nodes[0], c.Nodes[1]
	check := func(what string, got, want Resources) {
		t.Helper()
		if !got.Equal(want) {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	if n1.Name != "node-1" || n1.Hostname != "127.0.1.1" || n1.Wrapper != "w1" || !n1.Joined || n1.MesosTasks != 1 || n1.Pods != 1 || n1.Attributes["rack"] != "r1" {
		t.Errorf("node-1 = %+v", n1)
	}
	check("node-1 total", n1.Total, Resources{CPUs: 4, Mem: 8192, Disk: 20480, Ports: 1000})
	check("node-1 share", n1.KubernetesShare, Resources{CPUs: 2, Mem: 4096})
	check("node-1 mesos", n1.MesosAllocated, Resources{CPUs: 0.5, Mem: 128, Ports: 2})
	check("node-1 allocatable", n1.Allocatable, Resources{CPUs: 1.9, Mem: 3740})
	check("node-1 pods (init container max)", n1.PodRequests, Resources{CPUs: 1, Mem: 320})
	check("node-1 mesos free", n1.MesosFree(), Resources{CPUs: 1.5, Mem: 3968, Disk: 20480, Ports: 998})
	check("node-2 total", n2.Total, Resources{CPUs: 4, Mem: 8192, Disk: 10240})
	check("node-2 static share", n2.KubernetesShare, Resources{CPUs: 2, Mem: 4096})
	if !n2.Cordoned || n2.MesosTasks != 1 {
		t.Errorf("node-2 = %+v", n2)
	}
	tot := c.Totals()
	if tot.Nodes != 2 || tot.Joined != 2 || tot.MesosTasks != 2 || tot.Pods != 1 {
		t.Errorf("totals = %+v", tot)
	}
	if err := c.Check(); err != nil {
		t.Errorf("Check: %v", err)
	}
}

func TestCheckNamesNodeAndResource(t *testing.T) {
	c := Cluster{Nodes: []Node{{Name: "n1", Total: Resources{CPUs: 4, Mem: 1000}, MesosAllocated: Resources{CPUs: 1, Mem: 200},
		KubernetesShare: Resources{CPUs: 2, Mem: 500}, Allocatable: Resources{CPUs: 1.9, Mem: 400}, PodRequests: Resources{CPUs: 1}}}}
	for _, tc := range []struct {
		side string
		add  Resources
		want string
	}{
		{SideMesos, Resources{CPUs: 1}, ""},
		{SideMesos, Resources{Mem: 301}, "node n1: mem: Mesos allocations (incl. the kubelet wrapper) 1001 MiB exceed the node total 1000 MiB"},
		{SideKubernetes, Resources{CPUs: 0.9}, ""},
		{SideKubernetes, Resources{CPUs: 1}, "node n1: cpus: pod requests 2 exceed the node allocatable 1.9"},
	} {
		err := c.CheckAdd("n1", tc.side, tc.add)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s %v: %v", tc.side, tc.add, err)
			}
			continue
		}
		var oc *OverCommitError
		if !errors.As(err, &oc) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %v: err = %v, want %q", tc.side, tc.add, err, tc.want)
		}
	}
	if err := c.CheckAdd("nope", SideMesos, Resources{}); err == nil {
		t.Error("unknown node accepted")
	}
}
