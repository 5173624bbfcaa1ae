package monitor

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/switchyard/switchyard/capacity"
	"github.com/switchyard/switchyard/internal/wanterr"
)

var k1 = Key{ScopeNode, "n1", capacity.SideMesos, "cpus"}

func rd(k Key, used float64) Reading { return Reading{Key: k, Used: used, Capacity: 100} }

func TestEvaluate(t *testing.T) {
	th := DefaultThresholds()
	for _, tc := range []struct {
		name       string
		active     bool
		readings   []Reading
		wantActive bool
		wantEvent  string
	}{
		{"below raise stays quiet", false, []Reading{rd(k1, 84)}, false, ""},
		{"at raise fires", false, []Reading{rd(k1, 85)}, true, Raised},
		{"between thresholds holds an alert", true, []Reading{rd(k1, 80)}, true, ""},
		{"between thresholds keeps quiet (no flap)", false, []Reading{rd(k1, 80)}, false, ""},
		{"at clear holds", true, []Reading{rd(k1, 75)}, true, ""},
		{"below clear clears", true, []Reading{rd(k1, 74.9)}, false, Cleared},
		{"a node that left clears", true, nil, false, Cleared},
		{"something used of nothing fires", false, []Reading{{Key: k1, Used: 1, Capacity: 0}}, true, Raised},
		{"nothing of nothing is quiet", false, []Reading{{Key: k1}}, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prev := State{}
			if tc.active {
				prev[k1] = true
			}
			next, ev := Evaluate(prev, tc.readings, th)
			if next[k1] != tc.wantActive {
				t.Errorf("active = %v, want %v", next[k1], tc.wantActive)
			}
			got := ""
			if len(ev) > 1 {
				t.Fatalf("events = %+v", ev)
			}
			if len(ev) == 1 {
				got = ev[0].Kind
				if ev[0].Key != k1 {
					t.Errorf("event key = %v", ev[0].Key)
				}
			}
			if got != tc.wantEvent {
				t.Errorf("event = %q, want %q", got, tc.wantEvent)
			}
		})
	}
}

// TestEvaluateNoFlap feeds a series oscillating around the raise threshold:
// one raise, and one clear only when it drops below the clear threshold.
func TestEvaluateNoFlap(t *testing.T) {
	series := []float64{70, 86, 84, 86, 80, 76, 86, 74, 80, 84, 85}
	want := []string{"", Raised, "", "", "", "", "", Cleared, "", "", Raised}
	st := State{}
	for i, v := range series {
		var ev []Event
		st, ev = Evaluate(st, []Reading{rd(k1, v)}, DefaultThresholds())
		got := ""
		if len(ev) == 1 {
			got = ev[0].Kind
		}
		if got != want[i] {
			t.Fatalf("sample %d (%v%%): event %q, want %q", i, v, got, want[i])
		}
	}
}

func TestThresholdsValidate(t *testing.T) {
	for _, th := range []Thresholds{{Raise: 0.5, Clear: 0.6}, {Raise: 0.8, Clear: 0}} {
		if th.Validate() == nil {
			t.Errorf("%+v accepted", th)
		}
	}
}

func TestReadings(t *testing.T) {
	c := capacity.Cluster{Nodes: []capacity.Node{
		{Name: "a", Joined: true, Total: capacity.Resources{CPUs: 4, Mem: 1000}, MesosAllocated: capacity.Resources{CPUs: 1}, KubernetesShare: capacity.Resources{CPUs: 2, Mem: 500},
			Allocatable: capacity.Resources{CPUs: 1.9, Mem: 400}, PodRequests: capacity.Resources{CPUs: 1.9}},
		{Name: "b", Total: capacity.Resources{CPUs: 4, Mem: 1000}},
	}}
	got := map[string]float64{}
	for _, r := range Readings(c) {
		got[r.Key.String()] = r.Ratio()
	}
	want := map[string]float64{
		"node a mesos cpus": 0.75, "node a mesos mem": 0.5, "node a kubernetes cpus": 1, "node a kubernetes mem": 0,
		"node b mesos cpus": 0, "node b mesos mem": 0,
		"cluster mesos cpus": 3.0 / 8, "cluster mesos mem": 0.25, "cluster kubernetes cpus": 1, "cluster kubernetes mem": 0,
	}
	if len(got) != len(want) {
		t.Errorf("readings = %v", got)
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
}

// TestMonitorFiresAndClears runs the monitor over a node whose Mesos side
// fills up and drains again: the alert is logged, counted, exported as a
// metric and posted to a real HTTP webhook, then cleared the same ways.
func TestMonitorFiresAndClears(t *testing.T) {
	var mu sync.Mutex
	var posted []WebhookPayload
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p WebhookPayload
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		mu.Lock()
		posted = append(posted, p)
		mu.Unlock()
	}))
	defer hook.Close()
	alloc := 0.0
	src := func(context.Context) (capacity.Cluster, error) {
		return capacity.Cluster{Nodes: []capacity.Node{{Name: "n1", Total: capacity.Resources{CPUs: 4, Mem: 1000}, MesosAllocated: capacity.Resources{CPUs: alloc}}}}, nil
	}
	var logs bytes.Buffer
	reg := prometheus.NewRegistry()
	m, err := New(Options{Source: src, Registerer: reg, Webhook: hook.URL, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	congested := func() float64 { return gauge(t, reg, "switchyard_node_congested", "n1") }
	steps := []struct {
		alloc float64
		want  string
	}{{1, ""}, {3.6, Raised}, {3.1, ""}, {2.9, Cleared}, {3.2, ""}}
	for i, s := range steps {
		alloc = s.alloc
		ev, err := m.Step(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		for _, e := range ev {
			if e.Key.Scope == ScopeNode {
				got = e.Kind
			}
		}
		if got != s.want {
			t.Fatalf("step %d (alloc %v): node event %q, want %q (%+v)", i, s.alloc, got, s.want, ev)
		}
		wantOn := 0.0
		if i == 1 || i == 2 {
			wantOn = 1
		}
		if congested() != wantOn {
			t.Errorf("step %d: switchyard_node_congested = %v, want %v", i, congested(), wantOn)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	var kinds []string
	for _, p := range posted {
		kinds = append(kinds, p.Kind+":"+p.Key.String())
	}
	if strings.Join(kinds, ",") != "raised:cluster mesos cpus,raised:node n1 mesos cpus,cleared:cluster mesos cpus,cleared:node n1 mesos cpus" {
		t.Errorf("webhook got %v", kinds)
	}
	if !strings.Contains(posted[1].Message, "congestion: node n1 mesos cpus at 90%") {
		t.Errorf("message = %q", posted[1].Message)
	}
	if !strings.Contains(logs.String(), `"alert":"raised","scope":"node","node":"n1","side":"mesos","resource":"cpus"`) {
		t.Errorf("log lacks the structured alert:\n%s", logs.String())
	}
	if n := gauge(t, reg, "switchyard_cluster_congestion_events_total", Raised); n != 2 {
		t.Errorf("raised events = %v", n)
	}
	if n := series(t, reg, "switchyard_node_utilization_ratio") + series(t, reg, "switchyard_cluster_utilization_ratio"); n != 4 {
		t.Errorf("utilization series = %d, want 4 (node and cluster, cpus and mem)", n)
	}
}

func TestMonitorWebhookFailureIsReported(t *testing.T) {
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", 500) }))
	defer hook.Close()
	src := func(context.Context) (capacity.Cluster, error) {
		return capacity.Cluster{Nodes: []capacity.Node{{Name: "n1", Total: capacity.Resources{CPUs: 1}, MesosAllocated: capacity.Resources{CPUs: 1}}}}, nil
	}
	m, err := New(Options{Source: src, Webhook: hook.URL, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Step(context.Background()); err == nil || !strings.Contains(err.Error(), "500") {
		t.Fatalf("err = %v", err)
	}
}

// find returns the metric family name's series whose first label is first
// ("" for any) and, for node metrics, side mesos and resource cpus.
func find(t *testing.T, reg *prometheus.Registry, name string) []*dto.Metric {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()
		}
	}
	return nil
}

func series(t *testing.T, reg *prometheus.Registry, name string) int { return len(find(t, reg, name)) }

// gauge reads the series of name whose labels include value first and
// (if present) side=mesos, resource=cpus; 0 when absent.
func gauge(t *testing.T, reg *prometheus.Registry, name, first string) float64 {
	t.Helper()
	for _, m := range find(t, reg, name) {
		ok := false
		for _, l := range m.GetLabel() {
			if l.GetValue() == first {
				ok = true
			}
			if (l.GetName() == "side" && l.GetValue() != "mesos") || (l.GetName() == "resource" && l.GetValue() != "cpus") {
				ok = false
				break
			}
		}
		if ok {
			if m.Gauge != nil {
				return m.GetGauge().GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// TestMonitorWebhookSecretsNotShown: a webhook URL's password and path
// (which often is the hook's token) must not appear in the monitor's logs
// nor in its errors, whatever the failure.
func TestMonitorWebhookSecretsNotShown(t *testing.T) {
	const secret = "s3cr3t"
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", 500) }))
	defer failing.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	withSecrets := func(base string) string {
		return strings.Replace(base, "://", "://alerts:"+secret+"@", 1) + "/hooks/T000/" + secret + "?token=" + secret
	}
	hostOf := func(base string) string { return strings.TrimPrefix(base, "http://") }
	for _, tc := range []struct {
		name, webhook, want string
	}{
		{"answer 500", withSecrets(failing.URL), "webhook " + failing.URL + "/… answered 500"},
		{"connection refused", withSecrets(closed.URL), "webhook POST " + closed.URL + "/…: "},
		{"invalid URL", "http://alerts:" + secret + "@" + hostOf(failing.URL) + "/hooks/%zz/" + secret, "webhook (invalid URL): "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := func(context.Context) (capacity.Cluster, error) {
				return capacity.Cluster{Nodes: []capacity.Node{{Name: "n1", Total: capacity.Resources{CPUs: 1}, MesosAllocated: capacity.Resources{CPUs: 1}}}}, nil
			}
			var logs bytes.Buffer
			m, err := New(Options{Source: src, Webhook: tc.webhook, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
			if err == nil {
				_, err = m.Step(context.Background())
			}
			wanterr.Check(t, err, tc.want)
			for what, text := range map[string]string{"error": err.Error(), "log": logs.String()} {
				if strings.Contains(text, secret) || strings.Contains(text, "/hooks/") {
					t.Errorf("the %s shows the webhook's secret or path:\n%s", what, text)
				}
			}
		})
	}
}
