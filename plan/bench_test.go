package plan

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"
)

// bigInventory is a synthetic estate: nodes of 16 cpus / 64 GiB sharing a
// 2 cpu / 8 GiB Kubernetes share (a tenth of them not yet in Kubernetes,
// every 50th cordoned), apps of 1-3 instances (0.1-1 cpu, 64-1024 MiB)
// whose tasks run round-robin on the nodes, each depending on up to two
// earlier apps, some with a fixed host port.
func bigInventory(apps, nodes int) Inventory {
	r := rand.New(rand.NewPCG(1, 2))
	inv := Inventory{Nodes: make([]Node, nodes), Apps: make([]App, apps)}
	for i := range inv.Nodes {
		n := Node{Name: fmt.Sprintf("node-%05d", i), Total: Resources{CPUs: 16, Mem: 65536, Disk: 102400}}
		if i%10 != 9 {
			n.Joined = true
			n.Share = Resources{CPUs: 2, Mem: 8192, Disk: 20480}
			n.Allocatable = Resources{CPUs: 1.9, Mem: 7836, Disk: 19456}
			n.Cordoned = i%50 == 0
		}
		inv.Nodes[i] = n
	}
	next := 0
	for i := range inv.Apps {
		a := App{Name: fmt.Sprintf("app-%05d", i), MarathonID: fmt.Sprintf("/team-%d/app-%05d", i%40, i),
			Priority: r.IntN(10), Instances: 1 + r.IntN(3),
			Marathon: Resources{CPUs: float64(1+r.IntN(10)) / 10, Mem: float64(64 * (1 + r.IntN(16)))}}
		for d := r.IntN(3); d > 0 && i > 0; d-- {
			dep := fmt.Sprintf("app-%05d", r.IntN(i))
			if len(a.DependsOn) == 0 || a.DependsOn[0] != dep {
				a.DependsOn = append(a.DependsOn, dep)
			}
		}
		if i%25 == 0 {
			a.HostPorts = []int{10000 + i%7}
		}
		for k := 0; k < a.Instances; k++ {
			n := &inv.Nodes[next%nodes]
			next++
			t := Task{ID: fmt.Sprintf("%s.%d", a.Name, k), App: a.MarathonID, Resources: a.Marathon}
			if len(a.HostPorts) > 0 {
				t.Ports = a.HostPorts
			} else {
				t.Ports = []int{31000 + len(n.Tasks)}
			}
			n.Tasks = append(n.Tasks, t)
			n.MesosAllocated = n.MesosAllocated.Add(a.Marathon)
		}
		inv.Apps[i] = a
	}
	return inv
}

// peakHeap samples the live heap until stop is closed and returns its maximum.
func peakHeap(stop <-chan struct{}) <-chan uint64 {
	out := make(chan uint64, 1)
	go func() {
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		var peak uint64
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > peak {
				peak = v
			}
			select {
			case <-stop:
				out <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return out
}

// BenchmarkPlan10kApps5kNodes plans 10,000 apps on 5,000 nodes (targets:
// < 1 s and < 500 MiB peak heap, inventory included). Reported: s/plan and
// peak-heap-MiB, plus waves and share changes for context.
func BenchmarkPlan10kApps5kNodes(b *testing.B) {
	inv := bigInventory(10000, 5000)
	o := Options{}
	var p *Plan
	var once sync.Once
	runtime.GC()
	stop := make(chan struct{})
	peak := peakHeap(stop)
	start := time.Now()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var err error
		if p, err = Make(inv, o); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	el := time.Since(start)
	close(stop)
	pk := <-peak
	once.Do(func() {
		changes := 0
		for _, w := range p.Waves {
			changes += len(w.ShareChanges)
		}
		b.ReportMetric(float64(len(p.Waves)), "waves")
		b.ReportMetric(float64(changes), "share-changes")
		b.ReportMetric(float64(len(p.Blockers)), "blockers")
	})
	b.ReportMetric(el.Seconds()/float64(b.N), "s/plan")
	b.ReportMetric(float64(pk)/(1<<20), "peak-heap-MiB")
}
