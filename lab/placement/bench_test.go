package placement

import (
	"fmt"
	"testing"
)

// BenchmarkPlace50kTasksOn5kAgents places 50,000 tasks (500 apps of 100
// instances, 0.1 cpu / 128 MiB / one dynamic port each; a fifth of the apps
// with hostname:UNIQUE, a fifth with rack:GROUP_BY:10, a fifth with
// rack:MAX_PER:20) on 5,000 agents in 50 racks, committing each placement,
// and reports tasks placed per second.
func BenchmarkPlace50kTasksOn5kAgents(b *testing.B) {
	const nAgents, nApps, instances = 5000, 500, 100
	agents := make([]Agent, nAgents)
	for i := range agents {
		agents[i] = Agent{
			ID:         fmt.Sprintf("agent-%04d", i),
			Hostname:   fmt.Sprintf("node-%04d", i),
			Attributes: map[string]string{"rack": fmt.Sprintf("rack-%02d", i%50)},
			Total:      Resources{CPUs: 8, Mem: 32768, Disk: 100000},
			PortRanges: []PortRange{{Begin: 31000, End: 32000}},
		}
	}
	reqs := make([]Request, nApps)
	for i := range reqs {
		r := Request{AppID: fmt.Sprintf("/app-%03d", i), Resources: Resources{CPUs: 0.1, Mem: 128}, Ports: []int{0}}
		switch i % 5 {
		case 1:
			r.Constraints = []Constraint{{Field: HostnameField, Operator: OpUnique}}
		case 2:
			r.Constraints = []Constraint{{Field: "rack", Operator: OpGroupBy, Value: "10"}}
		case 3:
			r.Constraints = []Constraint{{Field: "rack", Operator: OpMaxPer, Value: "20"}}
		}
		reqs[i] = r
	}
	b.ReportAllocs()
	b.ResetTimer()
	placed := 0
	for n := 0; n < b.N; n++ {
		c, err := NewCluster(agents)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range reqs {
			for k := 0; k < instances; k++ {
				d, err := c.Place(r)
				if err != nil {
					b.Fatalf("%s instance %d: %v", r.AppID, k, err)
				}
				if err := c.Commit(r, d); err != nil {
					b.Fatal(err)
				}
				placed++
			}
		}
	}
	b.ReportMetric(float64(placed)/b.Elapsed().Seconds(), "tasks/s")
}

// BenchmarkPlaceOneShot measures the pure Place function on 5,000 agents
// already holding 50,000 tasks (what the lab Marathon pays per call when it
// does not keep a Cluster).
func BenchmarkPlaceOneShot(b *testing.B) {
	agents := make([]Agent, 5000)
	for i := range agents {
		a := Agent{
			ID:         fmt.Sprintf("agent-%04d", i),
			Hostname:   fmt.Sprintf("node-%04d", i),
			Attributes: map[string]string{"rack": fmt.Sprintf("rack-%02d", i%50)},
			Total:      Resources{CPUs: 8, Mem: 32768, Disk: 100000},
			Used:       Resources{CPUs: 1, Mem: 1280},
			PortRanges: []PortRange{{Begin: 31000, End: 32000}},
			UsedPorts:  map[int]bool{},
		}
		for k := 0; k < 10; k++ {
			a.Tasks = append(a.Tasks, Running{AppID: fmt.Sprintf("/app-%03d", (i+k)%500)})
			a.UsedPorts[31000+k] = true
		}
		agents[i] = a
	}
	r := Request{AppID: "/app-007", Resources: Resources{CPUs: 0.1, Mem: 128}, Ports: []int{0},
		Constraints: []Constraint{{Field: "rack", Operator: OpGroupBy, Value: "10"}}}
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		if _, err := Place(agents, r); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "placements/s")
}
