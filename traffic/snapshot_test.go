package traffic_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/wanterr"
	"github.com/switchyard/switchyard/traffic"
	"github.com/switchyard/switchyard/traffic/internal/admintest"
)

func TestHistogramQuantile(t *testing.T) {
	b := []float64{0.1, 0.2, 0.4}
	ms := time.Millisecond
	tests := []struct {
		name   string
		q      float64
		counts []int64
		want   time.Duration
	}{
		{"empty", 0.99, []int64{0, 0, 0, 0}, 0},
		{"middle of a bucket", 0.5, []int64{0, 100, 0, 0}, 150 * ms},
		{"p99 near the top of the bucket", 0.99, []int64{0, 100, 0, 0}, 199 * ms},
		{"first bucket starts at 0", 0.5, []int64{10, 0, 0, 0}, 50 * ms},
		{"across buckets", 0.99, []int64{90, 9, 1, 0}, 200 * ms},                  // rank 99 = end of bucket 2
		{"into the third bucket", 0.995, []int64{90, 9, 1, 0}, 300 * ms},          // rank 99.5: half of bucket 3
		{"above the highest bound", 0.99, []int64{1, 0, 0, 99}, 400 * ms},         // +Inf bucket: the highest bound
		{"empty buckets before the rank", 0.5, []int64{0, 0, 4, 0}, 300 * ms},     // rank 2 of 4 in (0.2, 0.4]
		{"rank on a bucket edge", 0.5, []int64{50, 50, 0, 0}, 100 * ms},           // rank 50 = end of the first bucket
		{"p50 of many", 0.5, []int64{900, 400, 150, 50}, time.Duration(83333333)}, // rank 750 of 1500 total, in (0, 0.1]: 0.1*750/900
		{"q beyond 1 is the maximum", 1.5, []int64{0, 10, 0, 0}, 200 * ms},        // clamped to 1
		{"no bounds", 0.5, []int64{3}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bounds := b
			if len(tt.counts) == 1 {
				bounds = nil
			}
			got := traffic.HistogramQuantile(tt.q, bounds, tt.counts)
			if d := got - tt.want; d < -time.Microsecond || d > time.Microsecond {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// series builds one series whose requests all fell in bucket k of the
// admintest bounds.
func series(route, platform string, requests, errs int64, k int) traffic.Series {
	b := make([]int64, len(admintest.Bounds)+1)
	b[k] = requests
	return traffic.Series{Route: route, Platform: platform, Requests: requests, Errors5xx: errs, Buckets: b}
}

func inst(name, id string, ss ...traffic.Series) traffic.InstanceSnapshot {
	return traffic.InstanceSnapshot{Name: name, Stats: &traffic.InstanceStats{Instance: id, Bounds: admintest.Bounds, Series: ss}}
}

func snap(at int, is ...traffic.InstanceSnapshot) traffic.Snapshot {
	return traffic.Snapshot{Time: time.Unix(int64(1_700_000_000+at), 0), Instances: is}
}

func TestDelta(t *testing.T) {
	k, m := traffic.Kubernetes, traffic.Marathon
	older := snap(0,
		inst("a", "id-a", series("web", k, 100, 1, 4), series("web", m, 1000, 0, 2), series("api", k, 50, 0, 2)),
		inst("b", "id-b", series("web", k, 200, 2, 4)),
	)
	tests := []struct {
		name     string
		newer    traffic.Snapshot
		older    traffic.Snapshot
		routes   []string
		platform string
		want     traffic.Stat
		wantErr  []string
	}{
		{"sum over instances", snap(10,
			inst("a", "id-a", series("web", k, 160, 4, 4), series("web", m, 1500, 0, 2), series("api", k, 80, 0, 2)),
			inst("b", "id-b", series("web", k, 240, 2, 4)),
		), older, []string{"web"}, k, traffic.Stat{Requests: 100, Errors5xx: 3, ErrorRate: 0.03}, nil},
		{"several routes", snap(10,
			inst("a", "id-a", series("web", k, 160, 4, 4), series("api", k, 80, 0, 2)),
			inst("b", "id-b", series("web", k, 240, 2, 4)),
		), older, []string{"web", "api"}, k, traffic.Stat{Requests: 130, Errors5xx: 3, ErrorRate: 3.0 / 130}, nil},
		{"all platforms", snap(10,
			inst("a", "id-a", series("web", k, 160, 4, 4), series("web", m, 1500, 0, 2)),
			inst("b", "id-b", series("web", k, 240, 2, 4), series("web", traffic.NoBackend, 7, 7, 0)),
		), older, []string{"web"}, traffic.AllPlatforms, traffic.Stat{Requests: 607, Errors5xx: 10, ErrorRate: 10.0 / 607}, nil},
		{"restarted instance counts from zero", snap(10,
			inst("a", "id-a", series("web", k, 160, 4, 4)),
			inst("b", "id-b2", series("web", k, 30, 0, 4)),
		), older, []string{"web"}, k, traffic.Stat{Requests: 90, Errors5xx: 3, ErrorRate: 3.0 / 90}, nil},
		{"counters that went down began again", snap(10,
			inst("a", "id-a", series("web", k, 20, 0, 4)),
			inst("b", "id-b", series("web", k, 200, 2, 4)),
		), older, []string{"web"}, k, traffic.Stat{Requests: 20}, nil},
		{"no requests", older, older, []string{"web"}, k, traffic.Stat{}, nil},
		{"unknown route", older, older, []string{"nope"}, k, traffic.Stat{}, nil},
		{"instance unreachable in the newer snapshot", snap(10,
			inst("a", "id-a", series("web", k, 160, 4, 4)),
			traffic.InstanceSnapshot{Name: "b", Err: errors.New("nginx instance b: unreachable")},
		), older, []string{"web"}, k, traffic.Stat{}, []string{"statistics incomplete", "instance b", "nginx instance b: unreachable", "not judged on part of the fleet"}},
		{"instance absent from the older snapshot", snap(10,
			inst("a", "id-a", series("web", k, 160, 4, 4)),
			inst("b", "id-b", series("web", k, 240, 2, 4)),
			inst("c", "id-c", series("web", k, 240, 2, 4)),
		), older, []string{"web"}, k, traffic.Stat{}, []string{"statistics incomplete", "instance c"}},
		{"instance absent from the newer snapshot", snap(10,
			inst("a", "id-a", series("web", k, 160, 4, 4)),
		), older, []string{"web"}, k, traffic.Stat{}, []string{"statistics incomplete", "instance b"}},
		{"different bounds", snap(10,
			inst("a", "id-a", series("web", k, 160, 4, 4)),
			traffic.InstanceSnapshot{Name: "b", Stats: &traffic.InstanceStats{Instance: "id-b", Bounds: []float64{1}, Series: []traffic.Series{{Route: "web", Platform: k, Requests: 1, Buckets: []int64{1, 0}}}}},
		), older, []string{"web"}, k, traffic.Stat{}, []string{"instances a and b use different latency buckets"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := traffic.Delta(tt.older, tt.newer, tt.routes, tt.platform)
			if wanterr.Check(t, err, tt.wantErr...) {
				if strings.Contains(tt.wantErr[0], "incomplete") && !errors.Is(err, traffic.ErrIncomplete) {
					t.Errorf("error %v does not wrap ErrIncomplete", err)
				}
				return
			}
			got.P50, got.P99 = 0, 0 // checked below
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	// Latency: all of web's kubernetes requests fell in (0.05, 0.1].
	got, err := traffic.Delta(older, tests[0].newer, []string{"web"}, k)
	if err != nil || got.P50 != 75*time.Millisecond || got.P99 != 99500*time.Microsecond {
		t.Fatalf("latency: %+v %v", got, err)
	}
}

func TestDecodeStats(t *testing.T) {
	st, err := traffic.DecodeStats([]byte(`{"instance": "9f1c2a7be04d1e33", "version": 12, "extra": 1,
 "bounds": [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
 "series": [{"route": "web", "platform": "kubernetes", "requests": 1520, "errors5xx": 3, "sumSeconds": 4.12,
             "buckets": [900, 400, 150, 50, 15, 3, 1, 1, 0, 0, 0, 0]}]}`))
	if err != nil || st.Instance != "9f1c2a7be04d1e33" || st.Find("web", traffic.Kubernetes).Requests != 1520 || st.Find("web", traffic.Marathon) != nil {
		t.Fatalf("%+v %v", st, err)
	}
	for body, want := range map[string]string{
		`{"bounds":[0.1],"series":[{"route":"a","buckets":[1]}]}`: "series[0] (route \"a\", platform \"\"): 1 buckets, want 2",
		`{"bounds":[0.2,0.1]}`: "bounds[1]",
		`{"series":[`:          "invalid statistics JSON",
	} {
		if _, err := traffic.DecodeStats([]byte(body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", body, err, want)
		}
	}
}

// TestSampler: the window sums every instance's requests, across a restart,
// and refuses to judge when an instance is missing.
func TestSampler(t *testing.T) {
	f, srvs := fleetOf(t, 3)
	ctx := context.Background()
	s := &traffic.Sampler{Fleet: f}
	for _, sv := range srvs {
		sv.Observe("web", traffic.Kubernetes, 1000, 200, 20*time.Millisecond) // before the window
	}
	first, err := s.Sample(ctx)
	if err != nil {
		t.Fatal(err)
	}
	from := first.Time
	srvs[0].Observe("web", traffic.Kubernetes, 90, 200, 20*time.Millisecond)
	srvs[0].Observe("web", traffic.Kubernetes, 10, 503, 3*time.Second)
	srvs[1].Observe("web", traffic.Marathon, 500, 200, time.Millisecond)
	srvs[2].Restart(srvs[2].State())
	srvs[2].Observe("web", traffic.Kubernetes, 100, 200, 20*time.Millisecond)
	srvs[2].Observe("api", traffic.Kubernetes, 100, 500, 20*time.Millisecond)

	st, err := s.Window(ctx, from, time.Now(), []string{"web"}, traffic.Kubernetes)
	if err != nil {
		t.Fatal(err)
	}
	if st.Requests != 200 || st.Errors5xx != 10 || st.ErrorRate != 0.05 {
		t.Fatalf("window %v", st)
	}
	// 190 of 200 in (0.01, 0.025]; p99 (rank 198) is in (2.5, 5].
	if st.P50 < 10*time.Millisecond || st.P50 > 25*time.Millisecond || st.P99 <= 2500*time.Millisecond || st.P99 > 5*time.Second {
		t.Fatalf("latency %v", st)
	}
	// The same window again answers from the kept snapshots.
	to := time.Now()
	if _, err := s.Sample(ctx); err != nil {
		t.Fatal(err)
	}
	again, err := s.Window(ctx, from, to, []string{"web"}, traffic.Kubernetes)
	if err != nil || again.Requests != 200 {
		t.Fatalf("again %v %v", again, err)
	}
	// An instance down: no verdict on part of the fleet.
	srvs[1].SetDown(true)
	_, err = s.Window(ctx, from, time.Now(), []string{"web"}, traffic.Kubernetes)
	if !errors.Is(err, traffic.ErrIncomplete) || !strings.Contains(err.Error(), "instance b") {
		t.Fatalf("with b down: %v", err)
	}
	if _, err := s.Window(ctx, time.Now().Add(time.Hour), time.Now().Add(2*time.Hour), []string{"web"}, traffic.Kubernetes); err == nil {
		t.Fatal("a window in the future")
	}
}

// TestSamplerWindowCoversFrom: a step that starts between two snapshots is
// judged on all its requests: the window starts at the snapshot before
// from, not the one after (which would drop what came in between).
func TestSamplerWindowCoversFrom(t *testing.T) {
	f, srvs := fleetOf(t, 2)
	ctx := context.Background()
	s := &traffic.Sampler{Fleet: f}
	snap, err := s.Sample(ctx)
	if err != nil {
		t.Fatal(err)
	}
	from := snap.Time.Add(time.Millisecond) // the step starts just after the snapshot
	for _, sv := range srvs {
		sv.Observe("web", traffic.Kubernetes, 25, 200, 5*time.Millisecond)
	}
	time.Sleep(10 * time.Millisecond) // the step's pause
	st, err := s.Window(ctx, from, time.Now(), []string{"web"}, traffic.Kubernetes)
	if err != nil || st.Requests != 50 {
		t.Fatalf("window from just after a snapshot = %v, %v; want the 50 requests of the step", st, err)
	}
}
