package telemetry_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchyard/switchyard/capacity"
	"github.com/switchyard/switchyard/capacity/monitor"
	"github.com/switchyard/switchyard/journal"
	"github.com/switchyard/switchyard/migrate"
	"github.com/switchyard/switchyard/telemetry"
)

// testCluster is two shared nodes: n1 joined Kubernetes with a 2-core,
// 4 GiB share and its Mesos side at 90% of its cores; n2 has not joined.
func testCluster() capacity.Cluster {
	return capacity.Cluster{Nodes: []capacity.Node{
		{Name: "n1", Joined: true, Total: capacity.Resources{CPUs: 4, Mem: 8192},
			MesosAllocated: capacity.Resources{CPUs: 1.6, Mem: 1024}, KubernetesShare: capacity.Resources{CPUs: 2, Mem: 4096},
			Allocatable: capacity.Resources{CPUs: 1.9, Mem: 3740}, PodRequests: capacity.Resources{CPUs: 0.5, Mem: 512}},
		{Name: "n2", Total: capacity.Resources{CPUs: 8, Mem: 16384}, MesosAllocated: capacity.Resources{CPUs: 2, Mem: 2048}},
	}}
}

func TestCapacity(t *testing.T) {
	const gib = 1 << 30
	for _, tc := range []struct {
		name   string
		source monitor.Source
		want   map[string]float64
	}{
		{"every part of every node", func(context.Context) (capacity.Cluster, error) { return testCluster(), nil }, map[string]float64{
			`switchyard_node_cpus{node="n1",part="total"}`:                  4,
			`switchyard_node_cpus{node="n1",part="mesos_allocated"}`:        1.6,
			`switchyard_node_cpus{node="n1",part="kubernetes_share"}`:       2,
			`switchyard_node_cpus{node="n1",part="kubernetes_allocatable"}`: 1.9,
			`switchyard_node_cpus{node="n1",part="pod_requests"}`:           0.5,
			`switchyard_node_cpus{node="n1",part="mesos_free"}`:             0.4,
			`switchyard_node_cpus{node="n1",part="kubernetes_free"}`:        1.4,
			`switchyard_node_cpus{node="n2",part="total"}`:                  8,
			`switchyard_node_cpus{node="n2",part="mesos_allocated"}`:        2,
			`switchyard_node_cpus{node="n2",part="kubernetes_share"}`:       0,
			`switchyard_node_cpus{node="n2",part="kubernetes_allocatable"}`: 0,
			`switchyard_node_cpus{node="n2",part="pod_requests"}`:           0,
			`switchyard_node_cpus{node="n2",part="mesos_free"}`:             6,
			`switchyard_node_cpus{node="n2",part="kubernetes_free"}`:        0,

			`switchyard_node_memory_bytes{node="n1",part="total"}`:                  8 * gib,
			`switchyard_node_memory_bytes{node="n1",part="mesos_allocated"}`:        1 * gib,
			`switchyard_node_memory_bytes{node="n1",part="kubernetes_share"}`:       4 * gib,
			`switchyard_node_memory_bytes{node="n1",part="kubernetes_allocatable"}`: 3740 << 20,
			`switchyard_node_memory_bytes{node="n1",part="pod_requests"}`:           512 << 20,
			`switchyard_node_memory_bytes{node="n1",part="mesos_free"}`:             3 * gib,
			`switchyard_node_memory_bytes{node="n1",part="kubernetes_free"}`:        (3740 - 512) << 20,
			`switchyard_node_memory_bytes{node="n2",part="total"}`:                  16 * gib,
			`switchyard_node_memory_bytes{node="n2",part="mesos_allocated"}`:        2 * gib,
			`switchyard_node_memory_bytes{node="n2",part="kubernetes_share"}`:       0,
			`switchyard_node_memory_bytes{node="n2",part="kubernetes_allocatable"}`: 0,
			`switchyard_node_memory_bytes{node="n2",part="pod_requests"}`:           0,
			`switchyard_node_memory_bytes{node="n2",part="mesos_free"}`:             14 * gib,
			`switchyard_node_memory_bytes{node="n2",part="kubernetes_free"}`:        0,
			`switchyard_telemetry_source_up{source="capacity"}`:                     1,
		}},
		{"an inventory that cannot be read", func(context.Context) (capacity.Cluster, error) {
			return capacity.Cluster{}, errors.New("mesos master: connection refused")
		}, map[string]float64{`switchyard_telemetry_source_up{source="capacity"}`: 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewPedanticRegistry()
			reg.MustRegister(telemetry.NewCollector(telemetry.Options{Capacity: tc.source, Logger: quiet()}))
			if d := diff(gather(t, reg), tc.want); d != "" {
				t.Error(d)
			}
		})
	}
}

// TestCongestionAlerts exports the alerts a real capacity monitor raised.
func TestCongestionAlerts(t *testing.T) {
	cluster := testCluster()
	m, err := monitor.New(monitor.Options{Source: func(context.Context) (capacity.Cluster, error) { return cluster, nil }, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(telemetry.NewCollector(telemetry.Options{Alerts: m.Active}))
	for _, tc := range []struct {
		name  string
		mesos float64 // n1's Mesos allocations (cores)
		want  map[string]float64
	}{
		{"none before the first reading", -1, nil},
		{"n1's Mesos cores at 90%", 1.6, map[string]float64{`switchyard_congestion_alert{node="n1",resource="cpus",scope="node",side="mesos"}`: 1}},
		{"80% holds the alert (hysteresis)", 1.2, map[string]float64{`switchyard_congestion_alert{node="n1",resource="cpus",scope="node",side="mesos"}`: 1}},
		{"the whole cluster too", 7.8, map[string]float64{
			`switchyard_congestion_alert{node="n1",resource="cpus",scope="node",side="mesos"}`:  1,
			`switchyard_congestion_alert{node="n2",resource="cpus",scope="node",side="mesos"}`:  1,
			`switchyard_congestion_alert{node="",resource="cpus",scope="cluster",side="mesos"}`: 1,
		}},
		{"cleared below 75%", 0.5, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.mesos >= 0 {
				cluster.Nodes[0].MesosAllocated.CPUs = tc.mesos
				cluster.Nodes[1].MesosAllocated.CPUs = max(2, tc.mesos)
				if _, err := m.Step(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			want := map[string]float64{`switchyard_telemetry_source_up{source="alerts"}`: 1}
			for k, v := range tc.want {
				want[k] = v
			}
			if d := diff(gather(t, reg), want); d != "" {
				t.Error(d)
			}
		})
	}
}

// TestMigrations drives migrations through the real state machine,
// journals every transition as the executor does (through
// Metrics.Journal, into a real journal), and reads them back as serve
// does: each app's phase and weights, and the gates that failed.
func TestMigrations(t *testing.T) {
	j, err := journal.Open(filepath.Join(t.TempDir(), "journal.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	reg := prometheus.NewPedanticRegistry()
	m, err := telemetry.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := telemetry.NewMetrics(reg); err == nil {
		t.Error("the event counters registered twice with one registry")
	}
	reg.MustRegister(telemetry.NewCollector(telemetry.Options{Migrations: telemetry.JournalMigrations(j)}))
	jm := m.Journal(j)

	good := migrate.Observation{Requests: 100}
	bad := migrate.Observation{Requests: 100, Errors: 20, ErrorRate: 0.2}
	few := migrate.Observation{Requests: 3}
	done, observed := migrate.Event{Kind: migrate.EvDone}, func(o migrate.Observation) migrate.Event {
		return migrate.Event{Kind: migrate.EvObserved, Obs: o}
	}
	toShifting := []migrate.Event{{Kind: migrate.EvStart}, done, done, done} // installed, ready, 5% applied
	for _, tc := range []struct {
		app        string
		plan       func(*migrate.Spec)
		events     []migrate.Event
		phase      migrate.Phase
		kube       float64
		gateFailed float64
	}{
		{"web", func(p *migrate.Spec) { p.MinRequests = 10 }, append(toShifting, observed(good), done, observed(few)), migrate.Shifting, 25, 0},
		{"shop", nil, append(toShifting, observed(good), done, observed(bad)), migrate.RollingBack, 25, 1},
		{"api", func(p *migrate.Spec) { p.ManualRollback = true }, append(toShifting, observed(bad)), migrate.Shifting, 5, 1},
		{"db", func(p *migrate.Spec) { p.MinRequests = 50; p.MaxObservations = 2 }, append(toShifting, observed(few), observed(few)), migrate.RollingBack, 5, 1},
		{"cart", nil, []migrate.Event{{Kind: migrate.EvStart}}, migrate.Installing, 0, 0},
	} {
		spec := migrate.Spec{Steps: []int{5, 25, 100}, MaxErrorRate: 0.01, MarathonInstances: 2}
		if tc.plan != nil {
			tc.plan(&spec)
		}
		s, err := migrate.Start(tc.app, spec)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range tc.events {
			n, _, err := migrate.Next(s, ev)
			if err != nil {
				t.Fatalf("%s: %s: %v", tc.app, ev.Kind, err)
			}
			appendState(t, jm, s, n, ev.Kind)
			s = n
		}
		if s.Phase != tc.phase || float64(s.KubePercent) != tc.kube {
			t.Fatalf("%s: the machine is in %s at %d%%, the test expects %s at %v%%", tc.app, s.Phase, s.KubePercent, tc.phase, tc.kube)
		}
		t.Run(tc.app, func(t *testing.T) {
			got := gather(t, reg)
			want := map[string]float64{
				fmt.Sprintf("switchyard_migration_phase{app=%q,phase=%q}", tc.app, tc.phase):               1,
				fmt.Sprintf("switchyard_migration_weight_percent{app=%q,platform=\"kubernetes\"}", tc.app): tc.kube,
				fmt.Sprintf("switchyard_migration_weight_percent{app=%q,platform=\"marathon\"}", tc.app):   100 - tc.kube,
				fmt.Sprintf("switchyard_gate_failures_total{app=%q}", tc.app):                              tc.gateFailed,
			}
			for k, v := range want {
				if g, ok := got[k]; !ok || g != v {
					t.Errorf("%s = %v (exported: %v), want %v", k, g, ok, v)
				}
			}
		})
	}
	got := gather(t, reg)
	if n := len(only(got, "switchyard_migration_phase")); n != 5 {
		t.Errorf("%d phase series, want one per app: %v", n, only(got, "switchyard_migration_phase"))
	}
	if k := `switchyard_telemetry_source_up{source="migrations"}`; got[k] != 1 {
		t.Errorf("%s = %v", k, got[k])
	}
}

// appendState journals the transition from s to n as the executor does.
func appendState(t *testing.T, j journal.Journal, s, n migrate.State, ev migrate.EventKind) {
	t.Helper()
	data, err := json.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	e := &journal.Entry{App: n.App, From: migrate.Label(s), To: migrate.Label(n), Event: string(ev), Reason: n.Reason, State: data}
	if err := j.Append(context.Background(), e); err != nil {
		t.Fatal(err)
	}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
