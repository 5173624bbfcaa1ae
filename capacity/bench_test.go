package capacity

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/switchyard/switchyard/mesos"
)

// benchSources is a /master/state of n agents and tasks tasks (a tenth of
// the agents already run a wrapper and are Kubernetes nodes with 4 pods).
func benchSources(n, tasks int) Sources {
	st := mesos.State{Frameworks: []mesos.Framework{{ID: "marathon"}}}
	var src Sources
	per := tasks / n
	for i := range n {
		id := fmt.Sprintf("node-%05d", i)
		s := mesos.Slave{SlaveInfo: mesos.SlaveInfo{ID: id, Hostname: id, Attributes: mesos.Attributes{"rack": mesos.Text(fmt.Sprintf("r%d", i%50))}},
			Resources: mesos.Resources{CPUs: 16, Mem: 65536, Disk: 100000, Ports: mesos.Ranges{{Begin: 31000, End: 31999}}}}
		for k := range per {
			r := mesos.Resources{CPUs: 0.5 + float64(k%4)*0.25, Mem: 512 + float64(k%3)*256, Ports: mesos.Ranges{{Begin: 31000 + k, End: 31000 + k}}}
			st.Frameworks[0].Tasks = append(st.Frameworks[0].Tasks, mesos.Task{ID: fmt.Sprintf("app%d.%s.%d", k, id, k), Name: fmt.Sprintf("shop.app%d", k), SlaveID: id, State: mesos.TaskRunning, Resources: r})
			s.UsedResources = s.UsedResources.Add(r)
		}
		if i%10 == 0 {
			w := mesos.Resources{CPUs: 2, Mem: 4096}
			st.Frameworks[0].Tasks = append(st.Frameworks[0].Tasks, mesos.Task{ID: "w." + id, Name: "switchyard.kubelet-" + id, SlaveID: id, State: mesos.TaskRunning, Resources: w})
			s.UsedResources = s.UsedResources.Add(w)
			q := func(c, m string) corev1.ResourceList {
				return corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(c), corev1.ResourceMemory: resource.MustParse(m)}
			}
			src.Nodes = append(src.Nodes, corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: id}, Status: corev1.NodeStatus{Capacity: q("16", "64Gi"), Allocatable: q("1900m", "3740Mi")}})
			for p := range 4 {
				src.Pods = append(src.Pods, corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%d", p)}, Spec: corev1.PodSpec{NodeName: id,
					Containers: []corev1.Container{{Resources: corev1.ResourceRequirements{Requests: q("100m", "128Mi")}}}}})
			}
		}
		st.Slaves = append(st.Slaves, s)
	}
	src.Mesos = st
	return src
}

// BenchmarkBuildAndPlan5000Nodes is the whole pure pipeline on 5,000 nodes
// and 50,000 tasks: build the model from the Mesos state and the Kubernetes
// nodes and pods, then plan a share for every node (half the racks need
// Mesos tasks moved).
func BenchmarkBuildAndPlan5000Nodes(b *testing.B) {
	src := benchSources(5000, 50000)
	tg := Target{Shares: []ShareTarget{{All: true, Share: Resources{CPUs: 2, Mem: 4096}}}}
	for r := 0; r < 25; r++ {
		tg.Shares = append(tg.Shares, ShareTarget{Selector: map[string]string{"rack": fmt.Sprintf("r%d", r)}, Share: Resources{CPUs: 10, Mem: 60000}})
	}
	b.ReportAllocs()
	b.ResetTimer()
	var steps int
	for b.Loop() {
		c := Build(src, BuildOptions{})
		p, err := PlanResize(c, tg)
		if err != nil {
			b.Fatal(err)
		}
		steps = len(p.Steps)
	}
	b.ReportMetric(float64(steps), "steps")
	b.ReportMetric(5000, "nodes")
	b.ReportMetric(50000, "tasks")
}
