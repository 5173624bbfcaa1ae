package kube

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/switchyard/switchyard/lab/labconfig"
)

// BenchmarkControlPlaneUp measures a control plane's start to all-ready
// (etcd, kube-apiserver incl. bootstrap RBAC, controller-manager, scheduler)
// with cached binaries, and reports each component's RSS once ready.
// fresh-dir includes generating the PKI; existing-dir restarts on a lab dir
// that already holds the PKI and etcd data (a second `lab up`).
func BenchmarkControlPlaneUp(b *testing.B) {
	requireBinaries(b, false)
	b.Run("fresh-dir", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			dir := b.TempDir()
			b.StartTimer()
			c := benchStart(b, dir, 0)
			b.StopTimer()
			reportRSS(b, c)
			c.stop()
			b.StartTimer()
		}
	})
	b.Run("existing-dir", func(b *testing.B) {
		dir := b.TempDir()
		first := benchStart(b, dir, 0)
		first.stop()
		b.ResetTimer()
		for b.Loop() {
			c := benchStart(b, dir, 0)
			b.StopTimer()
			reportRSS(b, c)
			c.stop()
			b.StartTimer()
		}
	})
}

// BenchmarkKwokNodesReady measures a control plane with 1000 kwok nodes
// (KUBE_BENCH_KWOK_NODES overrides), from start to every node Ready.
func BenchmarkKwokNodesReady(b *testing.B) {
	requireBinaries(b, true)
	n := 1000
	if v := os.Getenv("KUBE_BENCH_KWOK_NODES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("KUBE_BENCH_KWOK_NODES=%q: want a positive number", v)
		}
	}
	for b.Loop() {
		b.StopTimer()
		dir := b.TempDir()
		b.StartTimer()
		c := benchStart(b, dir, n)
		b.StopTimer()
		reportRSS(b, c)
		c.stop()
		b.StartTimer()
	}
	b.ReportMetric(float64(n), "nodes")
}

func benchStart(b *testing.B, dir string, kwokNodes int) *testCluster {
	b.Helper()
	cfg, err := testConfig(dir, kwokNodes)
	if err != nil {
		b.Fatal(err)
	}
	// The same ports on every restart of one dir, as a real lab.
	if prev, ok := benchPorts[dir]; ok {
		cfg.Kubernetes = prev
	} else {
		benchPorts[dir] = cfg.Kubernetes
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := startCluster(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

var benchPorts = map[string]labconfig.Kubernetes{}

func reportRSS(b *testing.B, c *testCluster) {
	for name, mib := range c.rssMiB() {
		b.ReportMetric(mib, name+"-RSS-MiB")
	}
	if os.Getenv("KUBE_BENCH_VERBOSE") != "" {
		b.Logf("ready in %s: %v", c.started, c.readyIn)
	}
}
