package traffic

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// benchBounds are the module's latency bounds.
var benchBounds = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// statsBodies returns the /stats bodies of n instances with routes routes
// on 3 platforms each, counters grown by step.
func statsBodies(tb testing.TB, n, routes int, step int64) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		st := InstanceStats{Instance: fmt.Sprintf("%016x", i), Version: 12, Bounds: benchBounds}
		for r := 0; r < routes; r++ {
			for p, platform := range []string{Marathon, Kubernetes, NoBackend} {
				b := make([]int64, len(benchBounds)+1)
				for k := range b {
					b[k] = step * int64(1+(r+k+p)%7)
				}
				var sum int64
				for _, c := range b {
					sum += c
				}
				st.Series = append(st.Series, Series{Route: fmt.Sprintf("app-%04d", r), Platform: platform,
					Requests: sum, Errors5xx: step, SumSeconds: float64(sum) * 0.02, Buckets: b})
			}
		}
		body, err := json.Marshal(st)
		if err != nil {
			tb.Fatal(err)
		}
		out[i] = body
	}
	return out
}

// decodeSnapshot decodes the bodies as Client.Stats does (names interned
// per instance).
func decodeSnapshot(tb testing.TB, bodies [][]byte, at time.Time, intern []map[string]string) Snapshot {
	s := Snapshot{Time: at, Instances: make([]InstanceSnapshot, len(bodies))}
	for i, body := range bodies {
		st, err := decodeStats(body, intern[i])
		if err != nil {
			tb.Fatal(err)
		}
		s.Instances[i] = InstanceSnapshot{Name: fmt.Sprintf("lb%d", i), Stats: st}
	}
	return s
}

// BenchmarkGate measures a gate's evaluation on 10 instances with 1,000
// routes on 3 platforms each (30,000 series): decoding the /stats bodies of
// one snapshot, the Delta of one app's route between two snapshots, and
// both (what Sampler.Window costs when it takes a fresh snapshot, without
// the network).
func BenchmarkGate(b *testing.B) {
	const instances, routes = 10, 1000
	t0 := time.Unix(1_700_000_000, 0)
	intern := make([]map[string]string, instances)
	for i := range intern {
		intern[i] = map[string]string{}
	}
	older := decodeSnapshot(b, statsBodies(b, instances, routes, 10), t0, intern)
	newerBodies := statsBodies(b, instances, routes, 20)
	size := 0
	for _, body := range newerBodies {
		size += len(body)
	}
	app := []string{"app-0500"}
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(size))
		for b.Loop() {
			decodeSnapshot(b, newerBodies, t0, intern)
		}
	})
	newer := decodeSnapshot(b, newerBodies, t0.Add(time.Minute), intern)
	b.Run("delta", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			st, err := Delta(older, newer, app, Kubernetes)
			if err != nil || st.Requests == 0 {
				b.Fatal(st, err)
			}
		}
	})
	b.Run("decode+delta", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			n := decodeSnapshot(b, newerBodies, t0.Add(time.Minute), intern)
			if _, err := Delta(older, n, app, Kubernetes); err != nil {
				b.Fatal(err)
			}
		}
	})
}
