package traffic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// NoBackend is the platform of the requests that reached no backend in the
// module's statistics (404 no route, 503 empty pool).
const NoBackend = "none"

// AllPlatforms selects every platform's requests in Delta and Sampler.Window.
const AllPlatforms = "*"

// ErrIncomplete means statistics are missing for some instance of the
// fleet: a gate must not be judged on part of the fleet.
var ErrIncomplete = errors.New("statistics incomplete")

// InstanceStats is one instance's GET /stats: cumulative counters per route
// and platform since the instance started (its Instance id).
type InstanceStats struct {
	// Instance is the nginx instance id (changes on every restart).
	Instance string `json:"instance"`
	// Version is the routing state version it holds.
	Version int64 `json:"version"`
	// Bounds are the latency histogram's upper bounds, in seconds.
	Bounds []float64 `json:"bounds"`
	// Series are the counters per route and platform.
	Series []Series `json:"series"`

	byRoute map[string]span // route -> its series' indexes in order
	order   []int32         // indexes of Series grouped by route
}

// span is a range of InstanceStats.order.
type span struct{ off, n int32 }

// Series is the counters of one route and platform.
type Series struct {
	// Route is the route's name.
	Route string `json:"route"`
	// Platform is Marathon, Kubernetes or NoBackend.
	Platform string `json:"platform"`
	// Requests is the number of requests.
	Requests int64 `json:"requests"`
	// Errors5xx is the number of requests answered with a 5xx status.
	Errors5xx int64 `json:"errors5xx"`
	// SumSeconds is the sum of the requests' $request_time.
	SumSeconds float64 `json:"sumSeconds"`
	// Buckets are per-bucket request counts (not cumulative), one per bound
	// and a last one above the highest bound.
	Buckets []int64 `json:"buckets"`
}

// DecodeStats decodes and checks a GET /stats body, and indexes its series
// by route. Unknown fields are ignored (the module may add some).
func DecodeStats(data []byte) (*InstanceStats, error) {
	return decodeStats(data, nil)
}

// decodeStats is DecodeStats interning names through intern (may be nil):
// a fast decoder for the module's own output, encoding/json for anything
// else (and for the error messages).
func decodeStats(data []byte, intern map[string]string) (*InstanceStats, error) {
	st, err := decodeStatsFast(data, intern)
	if err != nil {
		st = InstanceStats{}
		if err := json.Unmarshal(data, &st); err != nil {
			return nil, fmt.Errorf("invalid statistics JSON: %w", err)
		}
	}
	if err := st.index(); err != nil {
		return nil, err
	}
	return &st, nil
}

// index checks the statistics and builds byRoute.
func (s *InstanceStats) index() error {
	for i, b := range s.Bounds {
		if math.IsNaN(b) || b <= 0 || (i > 0 && b <= s.Bounds[i-1]) {
			return fmt.Errorf("statistics bounds[%d]: %v must be positive and increasing", i, b)
		}
	}
	if len(s.Series) > math.MaxInt32 {
		return fmt.Errorf("statistics: %d series", len(s.Series))
	}
	// One map entry per route and one array of indexes grouped by route:
	// no allocation per route.
	idx := make(map[string]span, len(s.Series)/2+1)
	for i := range s.Series {
		sr := &s.Series[i]
		if len(sr.Buckets) != len(s.Bounds)+1 {
			return fmt.Errorf("statistics series[%d] (route %q, platform %q): %d buckets, want %d (one per bound and one above)", i, sr.Route, sr.Platform, len(sr.Buckets), len(s.Bounds)+1)
		}
		if sr.Requests < 0 || sr.Errors5xx < 0 {
			return fmt.Errorf("statistics series[%d] (route %q, platform %q): negative counter", i, sr.Route, sr.Platform)
		}
		sp := idx[sr.Route]
		sp.n++
		idx[sr.Route] = sp
	}
	next := int32(0)
	for r, sp := range idx {
		idx[r] = span{off: next}
		next += sp.n
	}
	s.order = make([]int32, len(s.Series))
	for i := range s.Series {
		sp := idx[s.Series[i].Route]
		s.order[sp.off+sp.n] = int32(i)
		sp.n++
		idx[s.Series[i].Route] = sp
	}
	s.byRoute = idx
	return nil
}

// Find returns the series of a route and platform, or nil.
func (s *InstanceStats) Find(route, platform string) *Series {
	for _, i := range s.lookup(route) {
		if s.Series[i].Platform == platform {
			return &s.Series[i]
		}
	}
	return nil
}

// lookup returns the indexes of a route's series (by a scan when the stats
// were not decoded by DecodeStats).
func (s *InstanceStats) lookup(route string) []int32 {
	if s.byRoute != nil {
		sp := s.byRoute[route]
		return s.order[sp.off : sp.off+sp.n]
	}
	var out []int32
	for i := range s.Series {
		if s.Series[i].Route == route {
			out = append(out, int32(i))
		}
	}
	return out
}

// Snapshot is the statistics of every instance of a fleet at one time.
type Snapshot struct {
	// Time is when the scrape started.
	Time time.Time
	// Instances are the fleet's instances, in its order.
	Instances []InstanceSnapshot
}

// InstanceSnapshot is one instance's part of a Snapshot.
type InstanceSnapshot struct {
	// Name is the instance's name.
	Name string
	// Stats is its statistics; nil when Err is set.
	Stats *InstanceStats
	// Err says why it could not be scraped.
	Err error
}

// Err returns an error wrapping ErrIncomplete that names every instance
// missing from the snapshot, or nil.
func (s Snapshot) Err() error {
	var missing []string
	var errs []error
	for _, in := range s.Instances {
		if in.Stats == nil {
			missing = append(missing, in.Name)
			if in.Err != nil {
				errs = append(errs, in.Err)
			}
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("%w: no statistics from load balancer instance %s at %s: %w", ErrIncomplete, strings.Join(missing, ", "), s.Time.Format(time.RFC3339), errors.Join(errs...))
}

func (s Snapshot) find(name string) *InstanceSnapshot {
	for i := range s.Instances {
		if s.Instances[i].Name == name {
			return &s.Instances[i]
		}
	}
	return nil
}

// Snapshot scrapes every instance's /stats in parallel. The snapshot lists
// every instance, with the error of those that could not be scraped; the
// error (wrapping ErrIncomplete) is non-nil when some could not.
func (f *Fleet) Snapshot(ctx context.Context) (Snapshot, error) {
	if err := f.setup(); err != nil {
		return Snapshot{}, err
	}
	snap := Snapshot{Time: time.Now(), Instances: make([]InstanceSnapshot, len(f.Instances))}
	f.each(nil, func(i int, c *Client) result {
		st, err := c.Stats(ctx)
		snap.Instances[i] = InstanceSnapshot{Name: c.String(), Stats: st, Err: err}
		return result{}
	})
	return snap, snap.Err()
}

// Delta sums, over every instance and the given routes, the requests
// counted between two snapshots of the same fleet; platform selects one
// platform's requests (Marathon, Kubernetes, NoBackend) or AllPlatforms.
//
// An instance whose id changed between the snapshots restarted (its
// counters began again at zero): its newer counters are its delta; so are
// the counters of a series that went down. An instance missing from either
// snapshot is an error wrapping ErrIncomplete that names it: a gate must not
// be judged on part of the fleet.
//
// P50 and P99 are interpolated within the histogram bucket that holds the
// quantile's rank, as Prometheus' histogram_quantile does: with rank =
// q*requests, the first bucket whose cumulative count reaches the rank, and
// n requests in that bucket of which c came before the rank, the quantile is
// lower + (upper-lower)*c/n (lower is 0 for the first bucket). A rank in the
// bucket above the highest bound gives that highest bound. The result is an
// estimate whose error is bounded by the bucket's width.
func Delta(older, newer Snapshot, routes []string, platform string) (Stat, error) {
	var missing []string
	var errs []error
	for _, in := range newer.Instances {
		o := older.find(in.Name)
		switch {
		case in.Stats == nil:
			missing = append(missing, in.Name)
			if in.Err != nil {
				errs = append(errs, in.Err)
			}
		case o == nil || o.Stats == nil:
			missing = append(missing, in.Name)
			if o != nil && o.Err != nil {
				errs = append(errs, o.Err)
			}
		}
	}
	for _, in := range older.Instances {
		if newer.find(in.Name) == nil {
			missing = append(missing, in.Name)
		}
	}
	if len(missing) > 0 {
		return Stat{}, fmt.Errorf("%w between %s and %s: no statistics from load balancer instance %s (the gate is not judged on part of the fleet): %w",
			ErrIncomplete, older.Time.Format(time.RFC3339), newer.Time.Format(time.RFC3339), strings.Join(missing, ", "), errors.Join(errs...))
	}
	var req, errs5xx int64
	var bounds []float64
	var boundsFrom string
	var buckets []int64
	for _, in := range newer.Instances {
		n, o := in.Stats, older.find(in.Name).Stats
		restarted := n.Instance != o.Instance
		if !restarted && !slices.Equal(n.Bounds, o.Bounds) {
			restarted = true // another histogram layout: counters began again
		}
		if bounds == nil {
			bounds, boundsFrom = n.Bounds, in.Name
			buckets = make([]int64, len(bounds)+1)
		} else if !slices.Equal(bounds, n.Bounds) {
			return Stat{}, fmt.Errorf("load balancer instances %s and %s use different latency buckets (%v, %v): their statistics cannot be summed; render every instance with the same switchyard version", boundsFrom, in.Name, bounds, n.Bounds)
		}
		for _, r := range routes {
			for _, idx := range n.lookup(r) {
				s := &n.Series[idx]
				if platform != AllPlatforms && s.Platform != platform {
					continue
				}
				if len(s.Buckets) != len(buckets) {
					return Stat{}, fmt.Errorf("load balancer instance %s: route %q platform %q has %d latency buckets, want %d", in.Name, s.Route, s.Platform, len(s.Buckets), len(buckets))
				}
				var p *Series
				if !restarted {
					p = o.Find(r, s.Platform)
				}
				if p != nil && (s.Requests < p.Requests || s.Errors5xx < p.Errors5xx || len(p.Buckets) != len(s.Buckets)) {
					p = nil // the counters went down: they began again
				}
				if p == nil {
					req += s.Requests
					errs5xx += s.Errors5xx
					for k, c := range s.Buckets {
						buckets[k] += c
					}
					continue
				}
				req += s.Requests - p.Requests
				errs5xx += s.Errors5xx - p.Errors5xx
				for k, c := range s.Buckets {
					if d := c - p.Buckets[k]; d > 0 {
						buckets[k] += d
					}
				}
			}
		}
	}
	st := Stat{Requests: int(req), Errors5xx: int(errs5xx)}
	if req > 0 {
		st.ErrorRate = float64(errs5xx) / float64(req)
		st.P50 = HistogramQuantile(0.50, bounds, buckets)
		st.P99 = HistogramQuantile(0.99, bounds, buckets)
	}
	return st, nil
}

// HistogramQuantile estimates the q-quantile (0 < q <= 1) of a latency
// histogram: bounds are the buckets' upper bounds in seconds, counts the
// per-bucket counts (len(bounds)+1, the last above the highest bound). It
// interpolates linearly within the bucket holding the rank q*total, like
// Prometheus' histogram_quantile (see Delta). 0 without requests.
func HistogramQuantile(q float64, bounds []float64, counts []int64) time.Duration {
	var total int64
	for _, c := range counts {
		total += c
	}
	if total == 0 || q <= 0 || len(counts) == 0 {
		return 0
	}
	if q > 1 {
		q = 1
	}
	rank := q * float64(total)
	var cum int64
	for i, c := range counts {
		if c == 0 || float64(cum+c) < rank {
			cum += c
			continue
		}
		if i >= len(bounds) {
			if len(bounds) == 0 {
				return 0
			}
			return seconds(bounds[len(bounds)-1])
		}
		lower := 0.0
		if i > 0 {
			lower = bounds[i-1]
		}
		return seconds(lower + (bounds[i]-lower)*(rank-float64(cum))/float64(c))
	}
	if len(bounds) == 0 {
		return 0
	}
	return seconds(bounds[len(bounds)-1])
}

func seconds(s float64) time.Duration { return time.Duration(math.Round(s * 1e9)) }
