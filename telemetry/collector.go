// Package telemetry owns Switchyard's shared Prometheus metrics, what
// `switchyard serve` exports on /metrics: the load balancers' requests,
// 5xx and latency per route and platform summed over every nginx instance,
// each node's capacity split, the congestion alerts, each migration's phase
// and weights, and the gate failures. The names and labels are documented in
// docs/telemetry.md; telemetry/grafana holds the dashboard and
// telemetry/prometheus the alert rules, both tested against what Collector
// describes.
//
// Collector reads its sources when it is scraped (nothing runs in the
// background): serve plugs in the live ones (the fleet's /stats, the
// capacity inventory, the congestion monitor, the journal), tests real ones.
// Metrics holds the counters that count events as they happen (a gate that
// failed). The package reads and serves; it changes nothing it reads.
package telemetry

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchyard/switchyard/capacity"
	"github.com/switchyard/switchyard/capacity/monitor"
	"github.com/switchyard/switchyard/journal"
	"github.com/switchyard/switchyard/migrate"
	"github.com/switchyard/switchyard/traffic"
)

// StatsSource returns the current /stats of every load-balancer instance:
// traffic.Fleet's Snapshot method is one. The snapshot lists every instance,
// with the error of those that did not answer; an error wrapping
// traffic.ErrIncomplete says some did not, and the others still count.
type StatsSource func(ctx context.Context) (traffic.Snapshot, error)

// AlertSource returns the active congestion alerts: monitor.Monitor's
// Active method is one.
type AlertSource func() monitor.State

// MigrationSource returns the current state of every app's migration (the
// latest journaled state of each, as `switchyard status` shows them).
type MigrationSource func(ctx context.Context) ([]migrate.State, error)

// JournalMigrations reads the migrations' current states from a journal:
// the latest entry of every app (LoadAll), decoded.
func JournalMigrations(j journal.Reader) MigrationSource {
	return func(ctx context.Context) ([]migrate.State, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		es, err := j.LoadAll()
		if err != nil {
			return nil, fmt.Errorf("read the migrations from the journal: %w", err)
		}
		out := make([]migrate.State, 0, len(es))
		for _, e := range es {
			s, err := migrate.StateOf(e)
			if err != nil {
				return nil, fmt.Errorf("read the migrations from the journal: %w", err)
			}
			out = append(out, s)
		}
		return out, nil
	}
}

// Options are a Collector's sources. A nil source is not read and its
// metrics are not exported.
type Options struct {
	// LoadBalancers gives every instance's /stats.
	LoadBalancers StatsSource
	// Capacity reads the nodes' capacity model (the inventory reader the
	// congestion monitor uses is one; a cached one is kinder to Mesos and
	// the Kubernetes API, since it is read on every scrape).
	Capacity monitor.Source
	// Alerts gives the active congestion alerts.
	Alerts AlertSource
	// Migrations gives every migration's current state.
	Migrations MigrationSource
	// Timeout bounds each source's read during a scrape (default 5 s).
	Timeout time.Duration
	// Logger receives one record per failed source read (default
	// slog.Default).
	Logger *slog.Logger
}

// The names of the sources in switchyard_telemetry_source_up.
const (
	SourceLoadBalancers = "load_balancers"
	SourceCapacity      = "capacity"
	SourceAlerts        = "alerts"
	SourceMigrations    = "migrations"
)

// The parts of a node in switchyard_node_cpus and switchyard_node_memory_bytes:
// the fields of the same meaning in `switchyard capacity -o json`
// (capacity.NodeReport). MesosAllocated + KubernetesShare + MesosFree is
// the node's total; pods request PodRequests of KubernetesAllocatable, which
// lies inside the share.
const (
	PartTotal                 = "total"
	PartMesosAllocated        = "mesos_allocated"
	PartKubernetesShare       = "kubernetes_share"
	PartKubernetesAllocatable = "kubernetes_allocatable"
	PartPodRequests           = "pod_requests"
	PartMesosFree             = "mesos_free"
	PartKubernetesFree        = "kubernetes_free"
)

// mib is the number of bytes in the model's memory unit.
const mib = 1 << 20

// Collector is a prometheus.Collector of Switchyard's shared state, read
// from its sources on every scrape. It keeps, per load-balancer instance,
// the counters it saw last, so that the sums it exports never go backwards
// when an instance restarts or stops answering (see docs/telemetry.md). It
// is safe for concurrent use.
type Collector struct {
	o Options

	lbMu sync.Mutex // serializes the load balancers' read and sums
	lb   lbTotals

	requests, errors5xx, duration, instanceUp, stateVersion *prometheus.Desc
	nodeCPUs, nodeMemory, congestion                        *prometheus.Desc
	phase, weight, sourceUp                                 *prometheus.Desc
}

// NewCollector returns a collector reading the given sources.
func NewCollector(o Options) *Collector {
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	rp := []string{"route", "platform"}
	return &Collector{o: o, lb: lbTotals{instances: map[string]*lbInstance{}},
		requests: prometheus.NewDesc("switchyard_lb_requests_total",
			`Requests per route and platform, summed over every load-balancer instance (platform "none": no backend).`, rp, nil),
		errors5xx: prometheus.NewDesc("switchyard_lb_responses_5xx_total",
			"Responses with a 5xx status per route and platform, summed over every load-balancer instance.", rp, nil),
		duration: prometheus.NewDesc("switchyard_lb_request_duration_seconds",
			"Request time (nginx's $request_time) per route and platform, summed over every load-balancer instance.", rp, nil),
		instanceUp: prometheus.NewDesc("switchyard_lb_instance_up",
			"1 when the load-balancer instance answered /stats at this scrape, else 0.", []string{"lb_instance"}, nil),
		stateVersion: prometheus.NewDesc("switchyard_lb_routing_state_version",
			"Version of the routing state the load-balancer instance holds.", []string{"lb_instance"}, nil),
		nodeCPUs: prometheus.NewDesc("switchyard_node_cpus",
			"Cores of one part of a shared node (total, mesos_allocated, kubernetes_share, kubernetes_allocatable, pod_requests, mesos_free, kubernetes_free).", []string{"node", "part"}, nil),
		nodeMemory: prometheus.NewDesc("switchyard_node_memory_bytes",
			"Memory of one part of a shared node, in bytes (parts as in switchyard_node_cpus).", []string{"node", "part"}, nil),
		congestion: prometheus.NewDesc("switchyard_congestion_alert",
			"1 while the capacity monitor's congestion alert of a node's (scope node) or the cluster's (scope cluster) side and resource is active.", []string{"scope", "node", "side", "resource"}, nil),
		phase: prometheus.NewDesc("switchyard_migration_phase",
			"1 for the phase an app's migration is in (one series per app).", []string{"app", "phase"}, nil),
		weight: prometheus.NewDesc("switchyard_migration_weight_percent",
			"Percentage of the migrated app's route traffic given to each platform.", []string{"app", "platform"}, nil),
		sourceUp: prometheus.NewDesc("switchyard_telemetry_source_up",
			"1 when the telemetry source was read at this scrape, else 0.", []string{"source"}, nil),
	}
}

// Describe sends the descriptions of every metric the collector may export.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.requests, c.errors5xx, c.duration, c.instanceUp, c.stateVersion,
		c.nodeCPUs, c.nodeMemory, c.congestion, c.phase, c.weight, c.sourceUp} {
		ch <- d
	}
}

// Collect reads every source (in parallel, each bounded by Timeout) and
// sends the metrics. A source that fails is logged and exported as
// switchyard_telemetry_source_up 0; the others' metrics are still sent.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	var wg sync.WaitGroup
	read := func(name string, set bool, f func(ctx context.Context) error) {
		if !set {
			return
		}
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), c.o.Timeout)
			defer cancel()
			up := 1.0
			if err := f(ctx); err != nil {
				up = 0
				c.o.Logger.Warn("telemetry: source not read", "source", name, "err", err)
			}
			ch <- prometheus.MustNewConstMetric(c.sourceUp, prometheus.GaugeValue, up, name)
		})
	}
	read(SourceLoadBalancers, c.o.LoadBalancers != nil, func(ctx context.Context) error { return c.collectLB(ctx, ch) })
	read(SourceCapacity, c.o.Capacity != nil, func(ctx context.Context) error { return c.collectCapacity(ctx, ch) })
	read(SourceAlerts, c.o.Alerts != nil, func(context.Context) error { c.collectAlerts(ch); return nil })
	read(SourceMigrations, c.o.Migrations != nil, func(ctx context.Context) error { return c.collectMigrations(ctx, ch) })
	wg.Wait()
}

// collectCapacity exports every node's parts.
func (c *Collector) collectCapacity(ctx context.Context, ch chan<- prometheus.Metric) error {
	cl, err := c.o.Capacity(ctx)
	if err != nil {
		return fmt.Errorf("read the capacity inventory: %w", err)
	}
	for _, n := range cl.Nodes {
		for _, p := range nodeParts(n) {
			ch <- prometheus.MustNewConstMetric(c.nodeCPUs, prometheus.GaugeValue, p.r.CPUs, n.Name, p.name)
			ch <- prometheus.MustNewConstMetric(c.nodeMemory, prometheus.GaugeValue, p.r.Mem*mib, n.Name, p.name)
		}
	}
	return nil
}

type part struct {
	name string
	r    capacity.Resources
}

// nodeParts are a node's parts, from the capacity model's own fields and
// rules (MesosFree, KubernetesFree).
func nodeParts(n capacity.Node) []part {
	return []part{
		{PartTotal, n.Total},
		{PartMesosAllocated, n.MesosAllocated},
		{PartKubernetesShare, n.KubernetesShare},
		{PartKubernetesAllocatable, n.Allocatable},
		{PartPodRequests, n.PodRequests},
		{PartMesosFree, n.MesosFree()},
		{PartKubernetesFree, n.KubernetesFree()},
	}
}

// collectAlerts exports the active congestion alerts.
func (c *Collector) collectAlerts(ch chan<- prometheus.Metric) {
	for k, on := range c.o.Alerts() {
		if on {
			ch <- prometheus.MustNewConstMetric(c.congestion, prometheus.GaugeValue, 1, k.Scope, k.Node, k.Side, k.Resource)
		}
	}
}

// collectMigrations exports each migration's phase and weights.
func (c *Collector) collectMigrations(ctx context.Context, ch chan<- prometheus.Metric) error {
	states, err := c.o.Migrations(ctx)
	if err != nil {
		return err
	}
	states = slices.Clone(states) // the source's, sorted here
	sort.Slice(states, func(i, j int) bool { return states[i].App < states[j].App })
	for i, s := range states {
		if i > 0 && states[i-1].App == s.App {
			continue // one state per app: a source listing an app twice is not a scrape error
		}
		ch <- prometheus.MustNewConstMetric(c.phase, prometheus.GaugeValue, 1, s.App, string(s.Phase))
		ch <- prometheus.MustNewConstMetric(c.weight, prometheus.GaugeValue, float64(s.KubePercent), s.App, traffic.Kubernetes)
		ch <- prometheus.MustNewConstMetric(c.weight, prometheus.GaugeValue, float64(100-s.KubePercent), s.App, traffic.Marathon)
	}
	return nil
}
