package telemetry

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchyard/switchyard/traffic"
)

// lbTotals sums the load balancers' counters so that the sums never go
// backwards. Each instance's counters start again at zero when it restarts
// (its nginx instance id changes) and the module may drop a series; a sum
// that went down would be read by Prometheus' rate() as a counter reset of
// the whole sum, and everything counted before as new requests. So each
// instance keeps the counters of its current incarnation (last) and the
// totals of its earlier ones (offset); an instance that does not answer
// keeps contributing what it counted last.
//
// The sums count from the collector's first read of each instance (its
// counters then are a negative offset), as a process' own counters count
// from its start: a restarted serve starts again near zero, a reset rate()
// handles, rather than at the instances' lifetime totals, which may be
// lower than what the previous serve exported and would count in full as
// one scrape's increase.
type lbTotals struct {
	// bounds is the exported histogram layout: the first instance's.
	bounds    []float64
	instances map[string]*lbInstance
}

// lbInstance is one load-balancer instance as the collector knows it.
type lbInstance struct {
	// id is the nginx instance id of the incarnation last seen; answered
	// is whether the instance ever answered.
	id       string
	answered bool
	// up is whether it answered the last read; version is its routing
	// state version then.
	up      bool
	version int64
	// listed is whether the last snapshot listed it (an instance removed
	// from the fleet keeps its totals in the sums, without a series of its
	// own).
	listed bool
	// last are the counters of the current incarnation; offset the totals
	// of the earlier ones and of series that went down.
	last, offset map[traffic.Key]*counts
}

// counts are one series' counters; buckets are per bucket (not cumulative)
// in the exported layout, one per bound and one above.
type counts struct {
	requests, errors5xx int64
	sumSeconds          float64
	buckets             []int64
}

// negated returns -c.
func (c *counts) negated() *counts {
	n := &counts{requests: -c.requests, errors5xx: -c.errors5xx, sumSeconds: -c.sumSeconds, buckets: make([]int64, len(c.buckets))}
	for i, b := range c.buckets {
		n.buckets[i] = -b
	}
	return n
}

func (c *counts) add(o *counts) {
	c.requests += o.requests
	c.errors5xx += o.errors5xx
	c.sumSeconds += o.sumSeconds
	for i, b := range o.buckets {
		c.buckets[i] += b
	}
}

// below reports whether some counter of c is lower than in o: the series
// began again.
func (c *counts) below(o *counts) bool {
	if c.requests < o.requests || c.errors5xx < o.errors5xx || c.sumSeconds < o.sumSeconds {
		return true
	}
	for i, b := range c.buckets {
		if b < o.buckets[i] {
			return true
		}
	}
	return false
}

// update takes in a snapshot of the fleet.
func (t *lbTotals) update(snap traffic.Snapshot) {
	for _, in := range t.instances {
		in.listed = false
	}
	for _, is := range snap.Instances {
		in := t.instances[is.Name]
		if in == nil {
			in = &lbInstance{last: map[traffic.Key]*counts{}, offset: map[traffic.Key]*counts{}}
			t.instances[is.Name] = in
		}
		in.listed, in.up = true, is.Stats != nil
		if is.Stats == nil {
			continue // keeps its last counters in the sums
		}
		st := is.Stats
		in.version = st.Version
		if t.bounds == nil {
			t.bounds = slices.Clone(st.Bounds)
		}
		first := !in.answered
		in.answered = true
		if in.id != st.Instance {
			// A new incarnation (or the first read): what the old one
			// counted becomes offset.
			for k, c := range in.last {
				t.addTo(in.offset, k, c)
			}
			in.last = map[traffic.Key]*counts{}
			in.id = st.Instance
		}
		next := make(map[traffic.Key]*counts, len(st.Series))
		for i := range st.Series {
			s := &st.Series[i]
			k := traffic.Key{Route: s.Route, Platform: s.Platform}
			cur := &counts{requests: s.Requests, errors5xx: s.Errors5xx, sumSeconds: s.SumSeconds, buckets: t.rebucket(st.Bounds, s.Buckets)}
			if prev := in.last[k]; prev != nil && cur.below(prev) {
				t.addTo(in.offset, k, prev)
			}
			next[k] = cur
		}
		for k, prev := range in.last {
			if next[k] == nil { // the series is gone: keep what it counted
				t.addTo(in.offset, k, prev)
			}
		}
		in.last = next
		if first { // counted before the collector watched: the baseline
			for k, c := range next {
				t.addTo(in.offset, k, c.negated())
			}
		}
	}
}

// addTo adds c to m[k].
func (t *lbTotals) addTo(m map[traffic.Key]*counts, k traffic.Key, c *counts) {
	sum := m[k]
	if sum == nil {
		sum = &counts{buckets: make([]int64, len(t.bounds)+1)}
		m[k] = sum
	}
	sum.add(c)
}

// rebucket maps per-bucket counts of an instance's layout onto the
// exported one. With the same bounds (every instance rendered by the same
// version) it is a copy. Otherwise each bucket is counted in the first
// exported bucket whose bound is at least its own (latency is
// over-estimated by at most that bucket's width, never under-estimated).
func (t *lbTotals) rebucket(bounds []float64, buckets []int64) []int64 {
	out := make([]int64, len(t.bounds)+1)
	if slices.Equal(bounds, t.bounds) && len(buckets) == len(out) {
		copy(out, buckets)
		return out
	}
	for i, n := range buckets {
		upper := math.Inf(1)
		if i < len(bounds) {
			upper = bounds[i]
		}
		j := sort.Search(len(t.bounds), func(j int) bool { return t.bounds[j] >= upper*(1-1e-9) })
		out[j] += n
	}
	return out
}

// sums returns the fleet's totals per series: every instance's offset and
// last counters.
func (t *lbTotals) sums() map[traffic.Key]*counts {
	out := map[traffic.Key]*counts{}
	for _, in := range t.instances {
		for k, c := range in.offset {
			t.addTo(out, k, c)
		}
		for k, c := range in.last {
			t.addTo(out, k, c)
		}
	}
	return out
}

// collectLB reads the fleet's statistics and exports the sums and each
// instance's state. An error wrapping traffic.ErrIncomplete (some instance
// did not answer) is not the source's failure: switchyard_lb_instance_up
// says which.
func (c *Collector) collectLB(ctx context.Context, ch chan<- prometheus.Metric) error {
	c.lbMu.Lock()
	defer c.lbMu.Unlock()
	snap, err := c.o.LoadBalancers(ctx)
	failed := err != nil && (len(snap.Instances) == 0 || !errors.Is(err, traffic.ErrIncomplete))
	if failed {
		for _, in := range c.lb.instances {
			in.up = false
		}
	} else {
		c.lb.update(snap)
	}
	for name, in := range c.lb.instances {
		if !in.listed {
			continue
		}
		up := 0.0
		if in.up {
			up = 1
			ch <- prometheus.MustNewConstMetric(c.stateVersion, prometheus.GaugeValue, float64(in.version), name)
		}
		ch <- prometheus.MustNewConstMetric(c.instanceUp, prometheus.GaugeValue, up, name)
	}
	for k, s := range c.lb.sums() {
		ch <- prometheus.MustNewConstMetric(c.requests, prometheus.CounterValue, float64(s.requests), k.Route, k.Platform)
		ch <- prometheus.MustNewConstMetric(c.errors5xx, prometheus.CounterValue, float64(s.errors5xx), k.Route, k.Platform)
		cum := make(map[float64]uint64, len(c.lb.bounds))
		var n uint64
		for i, b := range s.buckets {
			n += uint64(b)
			if i < len(c.lb.bounds) {
				cum[c.lb.bounds[i]] = n
			}
		}
		ch <- prometheus.MustNewConstHistogram(c.duration, n, s.sumSeconds, cum, k.Route, k.Platform)
	}
	if failed {
		return fmt.Errorf("read the load balancers' statistics: %w", err)
	}
	return nil
}
