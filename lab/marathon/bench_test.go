package marathon

import (
	"fmt"
	"testing"
	"time"

	"github.com/switchyard/switchyard/lab/labconfig"
)

// BenchmarkDeploy100Instances measures the lab Marathon's time from
// POST /v2/apps of a 100-instance app (the demo workload with an HTTP health
// check) to the end of its deployment, i.e. 100 tasks running and healthy.
// Four nodes with 8 cpus each hold the tasks (0.1 cpu, 16 MiB each).
func BenchmarkDeploy100Instances(b *testing.B) {
	cfg := TestConfig(b, 4)
	for i := range cfg.Nodes {
		cfg.Nodes[i].Resources = labconfig.Resources{CPUs: 8, Mem: 8192, Disk: 10240}
	}
	ts := StartForTestWith(b, cfg, Options{TickInterval: 50 * time.Millisecond, HealthRetry: 200 * time.Millisecond, Logf: func(string, ...any) {}})
	var total time.Duration
	for i := 0; i < b.N; i++ {
		id := fmt.Sprintf("/bench/app%d", i)
		app := demoApp(id, 100, nil)
		start := time.Now()
		deploy(b, ts, app, 5*time.Minute)
		total += time.Since(start)
		if a := getApp(b, ts, id); a.TasksHealthy != 100 {
			b.Fatalf("after deployment: %d healthy", a.TasksHealthy)
		}
		b.StopTimer()
		mustCall(b, ts, 200, "DELETE", "/v2/apps"+id, nil)
		eventually(b, 2*time.Minute, "tasks gone", func() (bool, string) {
			var n int
			ts.mu.Lock()
			n = len(ts.tasks)
			ts.mu.Unlock()
			return n == 0, fmt.Sprint(n)
		})
		b.StartTimer()
	}
	perDeploy := total / time.Duration(b.N)
	b.ReportMetric(perDeploy.Seconds(), "s/deploy")
	b.ReportMetric(100/perDeploy.Seconds(), "healthy-tasks/s")
}
