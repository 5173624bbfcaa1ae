package telemetry_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchyard/switchyard/telemetry"
	"github.com/switchyard/switchyard/traffic"
)

// readStats decodes testdata/stats/NAME, a real /stats body
// (TestStatsSamples).
func readStats(t *testing.T, name string) *traffic.InstanceStats {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "stats", name))
	if err != nil {
		t.Fatal(err)
	}
	st, err := traffic.DecodeStats(b)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return st
}

// gather flattens what g gathers: "name{label="value",...}" → value; a
// histogram gives name_count, name_sum and name_bucket{...,le="..."}.
func gather(t *testing.T, g prometheus.Gatherer) map[string]float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			key := func(name string, extra ...string) string {
				return name + "{" + strings.Join(append(slices.Clone(ls), extra...), ",") + "}"
			}
			switch {
			case m.Counter != nil:
				out[key(mf.GetName())] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				out[key(mf.GetName())] = m.GetGauge().GetValue()
			case m.Histogram != nil:
				h := m.GetHistogram()
				out[key(mf.GetName()+"_count")] = float64(h.GetSampleCount())
				out[key(mf.GetName()+"_sum")] = h.GetSampleSum()
				for _, b := range h.GetBucket() {
					out[key(mf.GetName()+"_bucket", fmt.Sprintf("le=%q", fmt.Sprint(b.GetUpperBound())))] = float64(b.GetCumulativeCount())
				}
			}
		}
	}
	return out
}

// lbSums is what the collector must export for the load balancers when
// the fleet's totals are the counters of the given samples added up.
func lbSums(samples ...*traffic.InstanceStats) map[string]float64 {
	out := map[string]float64{}
	for _, st := range samples {
		for _, s := range st.Series {
			ls := fmt.Sprintf("platform=%q,route=%q", s.Platform, s.Route)
			out["switchyard_lb_requests_total{"+ls+"}"] += float64(s.Requests)
			out["switchyard_lb_responses_5xx_total{"+ls+"}"] += float64(s.Errors5xx)
			out["switchyard_lb_request_duration_seconds_sum{"+ls+"}"] += s.SumSeconds
			var cum int64
			for i, b := range s.Buckets {
				cum += b
				if i < len(st.Bounds) {
					out[fmt.Sprintf("switchyard_lb_request_duration_seconds_bucket{%s,le=%q}", ls, fmt.Sprint(st.Bounds[i]))] += float64(cum)
				}
			}
			out["switchyard_lb_request_duration_seconds_count{"+ls+"}"] += float64(cum)
		}
	}
	return out
}

// only keeps the series of m whose names start with prefix.
func only(m map[string]float64, prefix string) map[string]float64 {
	out := map[string]float64{}
	for k, v := range m {
		if strings.HasPrefix(k, prefix) {
			out[k] = v
		}
	}
	return out
}

// diff describes how got differs from want (floats within 1e-9).
func diff(got, want map[string]float64) string {
	var out []string
	for k, w := range want {
		if g, ok := got[k]; !ok {
			out = append(out, fmt.Sprintf("missing %s (want %v)", k, w))
		} else if math.Abs(g-w) > 1e-9 {
			out = append(out, fmt.Sprintf("%s = %v, want %v", k, g, w))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			out = append(out, fmt.Sprintf("unexpected %s = %v", k, g))
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// scripted is a StatsSource answering one snapshot per read; a nil one is
// a failed read (no snapshot at all).
type scripted struct {
	snaps [][]traffic.InstanceSnapshot
	n     int
}

func (s *scripted) source(context.Context) (traffic.Snapshot, error) {
	is := s.snaps[min(s.n, len(s.snaps)-1)]
	s.n++
	if is == nil {
		return traffic.Snapshot{}, errors.New("no load balancer configured")
	}
	snap := traffic.Snapshot{Instances: is}
	return snap, snap.Err()
}

// TestLoadBalancerSums feeds the collector real /stats samples in
// sequences an operator's fleet goes through: the sums are those of every
// instance's counters since the collector's first read of it, an
// instance's restart or silence never makes a sum go backwards (each
// restarted incarnation adds on top of the counters the earlier one
// reached), and every exported counter is monotonic from scrape to scrape.
func TestLoadBalancerSums(t *testing.T) {
	a1, b1, c1, a2 := readStats(t, "lb1-a.json"), readStats(t, "lb1-b.json"), readStats(t, "lb1-c.json"), readStats(t, "lb2-a.json")
	if a1.Instance != b1.Instance || b1.Instance == c1.Instance {
		t.Fatalf("samples: lb1-a and lb1-b must be one incarnation and lb1-c a restart (ids %s %s %s)", a1.Instance, b1.Instance, c1.Instance)
	}
	// The samples' incarnations when nginx had just started: no series yet.
	fresh1 := &traffic.InstanceStats{Instance: a1.Instance, Version: a1.Version, Bounds: a1.Bounds}
	fresh2 := &traffic.InstanceStats{Instance: a2.Instance, Version: a2.Version, Bounds: a2.Bounds}
	// c1's counters reported by the same incarnation as b1: a series that
	// went down without a restart.
	c1same := *c1
	c1same.Instance = b1.Instance
	in := func(name string, st *traffic.InstanceStats) traffic.InstanceSnapshot {
		return traffic.InstanceSnapshot{Name: name, Stats: st}
	}
	off := func(name string) traffic.InstanceSnapshot {
		return traffic.InstanceSnapshot{Name: name, Err: fmt.Errorf("%s: connection refused", name)}
	}
	all := func(is ...traffic.InstanceSnapshot) []traffic.InstanceSnapshot { return is }
	start := all(in("lb-1", fresh1), in("lb-2", fresh2))
	for _, tc := range []struct {
		name   string
		steps  [][]traffic.InstanceSnapshot
		totals []*traffic.InstanceStats // whose counters add up to the sums at the end
		base   []*traffic.InstanceStats // minus these: what the first reads found
		up     map[string]float64       // switchyard_lb_instance_up at the end
		source float64                  // switchyard_telemetry_source_up at the end
	}{
		{"two instances are summed", [][]traffic.InstanceSnapshot{start, all(in("lb-1", a1), in("lb-2", a2))},
			[]*traffic.InstanceStats{a1, a2}, nil, map[string]float64{"lb-1": 1, "lb-2": 1}, 1},
		{"the first read is the baseline", [][]traffic.InstanceSnapshot{all(in("lb-1", a1), in("lb-2", a2)), all(in("lb-1", b1), in("lb-2", a2))},
			[]*traffic.InstanceStats{b1, a2}, []*traffic.InstanceStats{a1, a2}, map[string]float64{"lb-1": 1, "lb-2": 1}, 1},
		{"an instance's first answer is its baseline", [][]traffic.InstanceSnapshot{all(in("lb-1", fresh1), off("lb-2")), all(in("lb-1", b1), in("lb-2", a2))},
			[]*traffic.InstanceStats{b1, a2}, []*traffic.InstanceStats{a2}, map[string]float64{"lb-1": 1, "lb-2": 1}, 1},
		{"counters grow", [][]traffic.InstanceSnapshot{start, all(in("lb-1", a1), in("lb-2", a2)), all(in("lb-1", b1), in("lb-2", a2))},
			[]*traffic.InstanceStats{b1, a2}, nil, map[string]float64{"lb-1": 1, "lb-2": 1}, 1},
		{"a restart adds on top of what the old incarnation counted", [][]traffic.InstanceSnapshot{start,
			all(in("lb-1", a1), in("lb-2", a2)), all(in("lb-1", b1), in("lb-2", a2)), all(in("lb-1", c1), in("lb-2", a2))},
			[]*traffic.InstanceStats{b1, c1, a2}, nil, map[string]float64{"lb-1": 1, "lb-2": 1}, 1},
		{"a silent instance keeps its last counters", [][]traffic.InstanceSnapshot{start,
			all(in("lb-1", a1), in("lb-2", a2)), all(in("lb-1", b1), off("lb-2"))},
			[]*traffic.InstanceStats{b1, a2}, nil, map[string]float64{"lb-1": 1, "lb-2": 0}, 1},
		{"a silent instance answers again", [][]traffic.InstanceSnapshot{start,
			all(in("lb-1", a1), in("lb-2", a2)), all(in("lb-1", a1), off("lb-2")), all(in("lb-1", b1), in("lb-2", a2))},
			[]*traffic.InstanceStats{b1, a2}, nil, map[string]float64{"lb-1": 1, "lb-2": 1}, 1},
		{"a restart while silent: what was never read is lost, nothing goes back", [][]traffic.InstanceSnapshot{start,
			all(in("lb-1", a1), in("lb-2", a2)), all(off("lb-1"), in("lb-2", a2)), all(in("lb-1", c1), in("lb-2", a2))},
			[]*traffic.InstanceStats{a1, c1, a2}, nil, map[string]float64{"lb-1": 1, "lb-2": 1}, 1},
		{"a series that went down without a restart began again", [][]traffic.InstanceSnapshot{start,
			all(in("lb-1", b1), in("lb-2", a2)), all(in("lb-1", &c1same), in("lb-2", a2))},
			[]*traffic.InstanceStats{b1, c1, a2}, nil, map[string]float64{"lb-1": 1, "lb-2": 1}, 1},
		{"a failed read keeps the sums and marks every instance down", [][]traffic.InstanceSnapshot{start,
			all(in("lb-1", a1), in("lb-2", a2)), nil},
			[]*traffic.InstanceStats{a1, a2}, nil, map[string]float64{"lb-1": 0, "lb-2": 0}, 0},
		{"an instance that left the fleet keeps its totals, without an up series", [][]traffic.InstanceSnapshot{start,
			all(in("lb-1", a1), in("lb-2", a2)), all(in("lb-1", b1))},
			[]*traffic.InstanceStats{b1, a2}, nil, map[string]float64{"lb-1": 1}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := &scripted{snaps: tc.steps}
			reg := prometheus.NewPedanticRegistry()
			reg.MustRegister(telemetry.NewCollector(telemetry.Options{LoadBalancers: src.source, Logger: quiet()}))
			var prev map[string]float64
			var got map[string]float64
			for i := range tc.steps {
				got = gather(t, reg)
				for k, v := range prev {
					if strings.HasPrefix(k, "switchyard_lb_re") && got[k] < v {
						t.Errorf("scrape %d: %s went down from %v to %v", i+1, k, v, got[k])
					}
				}
				prev = got
			}
			want := lbSums(tc.totals...)
			for k, v := range lbSums(tc.base...) {
				want[k] -= v
			}
			if d := diff(only(got, "switchyard_lb_re"), want); d != "" {
				t.Errorf("sums after %d scrapes:\n%s", len(tc.steps), d)
			}
			wantUp := map[string]float64{}
			for name, v := range tc.up {
				wantUp[fmt.Sprintf("switchyard_lb_instance_up{lb_instance=%q}", name)] = v
			}
			if d := diff(only(got, "switchyard_lb_instance_up"), wantUp); d != "" {
				t.Errorf("instances up:\n%s", d)
			}
			for name, v := range tc.up {
				k := fmt.Sprintf("switchyard_lb_routing_state_version{lb_instance=%q}", name)
				if _, ok := got[k]; ok != (v == 1) {
					t.Errorf("%s exported: %v, want it only while the instance answers", k, ok)
				}
			}
			if k := `switchyard_telemetry_source_up{source="load_balancers"}`; got[k] != tc.source {
				t.Errorf("%s = %v, want %v", k, got[k], tc.source)
			}
		})
	}
}

// TestLoadBalancerLayouts sums instances whose modules use different
// histogram bounds: the first instance's layout is exported and the
// other's buckets land in the first exported bucket whose bound is at
// least theirs (never a lower latency than nginx measured).
func TestLoadBalancerLayouts(t *testing.T) {
	first := &traffic.InstanceStats{Instance: "1", Bounds: []float64{0.01, 0.1, 1},
		Series: []traffic.Series{{Route: "web", Platform: "kubernetes", Requests: 10, SumSeconds: 1, Buckets: []int64{4, 3, 2, 1}}}}
	for _, tc := range []struct {
		name    string
		bounds  []float64
		buckets []int64
		want    []float64 // cumulative counts at le 0.01, 0.1, 1, and the count
	}{
		{"same layout", []float64{0.01, 0.1, 1}, []int64{1, 2, 3, 4}, []float64{4 + 1, 7 + 3, 9 + 6, 10 + 10}},
		{"finer layout", []float64{0.005, 0.01, 0.05, 0.1, 2}, []int64{1, 1, 1, 1, 1, 1}, []float64{4 + 2, 7 + 4, 9 + 4, 10 + 6}},
		{"coarser layout", []float64{0.1}, []int64{5, 5}, []float64{4, 7 + 5, 9 + 5, 10 + 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n int64
			for _, b := range tc.buckets {
				n += b
			}
			other := &traffic.InstanceStats{Instance: "2", Bounds: tc.bounds,
				Series: []traffic.Series{{Route: "web", Platform: "kubernetes", Requests: n, SumSeconds: 2, Buckets: tc.buckets}}}
			src := &scripted{snaps: [][]traffic.InstanceSnapshot{
				{{Name: "lb-1", Stats: &traffic.InstanceStats{Instance: "1", Bounds: first.Bounds}}, {Name: "lb-2", Stats: &traffic.InstanceStats{Instance: "2", Bounds: tc.bounds}}},
				{{Name: "lb-1", Stats: first}, {Name: "lb-2", Stats: other}}}}
			reg := prometheus.NewPedanticRegistry()
			reg.MustRegister(telemetry.NewCollector(telemetry.Options{LoadBalancers: src.source}))
			gather(t, reg) // just started: the baseline
			got := gather(t, reg)
			const ls = `platform="kubernetes",route="web"`
			want := map[string]float64{
				"switchyard_lb_request_duration_seconds_bucket{" + ls + `,le="0.01"}`: tc.want[0],
				"switchyard_lb_request_duration_seconds_bucket{" + ls + `,le="0.1"}`:  tc.want[1],
				"switchyard_lb_request_duration_seconds_bucket{" + ls + `,le="1"}`:    tc.want[2],
				"switchyard_lb_request_duration_seconds_count{" + ls + "}":            tc.want[3],
				"switchyard_lb_request_duration_seconds_sum{" + ls + "}":              3,
			}
			if d := diff(only(got, "switchyard_lb_request_duration"), want); d != "" {
				t.Error(d)
			}
		})
	}
}
