package monitor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchyard/switchyard/capacity"
	"github.com/switchyard/switchyard/internal/redact"
)

// Source reads the current capacity model.
type Source func(ctx context.Context) (capacity.Cluster, error)

// Options configure a Monitor.
type Options struct {
	// Source reads the cluster (required).
	Source Source
	// Thresholds default to DefaultThresholds.
	Thresholds Thresholds
	// Interval between reads (default 15s).
	Interval time.Duration
	// Logger receives one structured record per event (default slog.Default).
	Logger *slog.Logger
	// Registerer gets the metrics (nil: not registered).
	Registerer prometheus.Registerer
	// Webhook, when set, receives each event as a JSON POST (WebhookPayload).
	// It must be an http or https URL. Logs and errors show it as
	// scheme://host/… only: its userinfo, path and query often hold a token.
	Webhook string
	// HTTPClient posts webhooks (default: 10 s timeout).
	HTTPClient *http.Client
}

// WebhookPayload is the JSON body POSTed for each event.
type WebhookPayload struct {
	// Event is the alert.
	Event
	// Message is its one-line text.
	Message string `json:"message"`
	// Time is when it was evaluated (RFC 3339).
	Time time.Time `json:"time"`
}

// Monitor evaluates readings on each Step and publishes alerts.
type Monitor struct {
	o       Options
	webhook string // Options.Webhook as logs and errors show it (redact.Webhook)
	mu      sync.Mutex
	state   State
	last    map[Key]bool // keys with metric series

	nodeUtil, nodeAlert, clusterUtil, clusterAlert *prometheus.GaugeVec
	nodeFree                                       *prometheus.GaugeVec
	events                                         *prometheus.CounterVec
	readErrors                                     prometheus.Counter
}

// New builds a monitor and registers its metrics:
//
//	switchyard_node_utilization_ratio{node,side,resource}
//	switchyard_node_free{node,side,resource}        (cores or MiB)
//	switchyard_node_congested{node,side,resource}   (1 while alerting)
//	switchyard_cluster_utilization_ratio{side,resource}
//	switchyard_cluster_congested{side,resource}
//	switchyard_cluster_congestion_events_total{kind}
//	switchyard_cluster_inventory_errors_total
func New(o Options) (*Monitor, error) {
	if o.Source == nil {
		return nil, fmt.Errorf("monitor: no inventory source")
	}
	if o.Thresholds == (Thresholds{}) {
		o.Thresholds = DefaultThresholds()
	}
	if err := o.Thresholds.Validate(); err != nil {
		return nil, err
	}
	if o.Interval <= 0 {
		o.Interval = 15 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	var webhook string
	if o.Webhook != "" {
		webhook = redact.Webhook(o.Webhook)
		u, err := url.Parse(o.Webhook)
		if err != nil {
			return nil, fmt.Errorf("monitor: webhook %s: %w", webhook, redact.Cause(err))
		}
		if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
			return nil, fmt.Errorf("monitor: webhook %s: want an http:// or https:// URL", webhook)
		}
	}
	nl := []string{"node", "side", "resource"}
	cl := []string{"side", "resource"}
	m := &Monitor{o: o, webhook: webhook, state: State{}, last: map[Key]bool{},
		nodeUtil:     prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "switchyard_node_utilization_ratio", Help: "Used / capacity of one side of a node (Mesos: allocations incl. the kubelet wrapper / total; Kubernetes: pod requests / allocatable)."}, nl),
		nodeFree:     prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "switchyard_node_free", Help: "Free room of one side of a node (cores or MiB)."}, nl),
		nodeAlert:    prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "switchyard_node_congested", Help: "1 while a congestion alert is active for one side of a node."}, nl),
		clusterUtil:  prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "switchyard_cluster_utilization_ratio", Help: "Used / capacity of one side of the cluster."}, cl),
		clusterAlert: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "switchyard_cluster_congested", Help: "1 while a congestion alert is active for one side of the cluster."}, cl),
		events:       prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchyard_cluster_congestion_events_total", Help: "Congestion alerts raised and cleared."}, []string{"kind"}),
		readErrors:   prometheus.NewCounter(prometheus.CounterOpts{Name: "switchyard_cluster_inventory_errors_total", Help: "Failed inventory reads."}),
	}
	if o.Registerer != nil {
		for _, c := range []prometheus.Collector{m.nodeUtil, m.nodeFree, m.nodeAlert, m.clusterUtil, m.clusterAlert, m.events, m.readErrors} {
			if err := o.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("monitor: register metrics: %w", err)
			}
		}
	}
	return m, nil
}

// Active returns a copy of the active alerts.
func (m *Monitor) Active() State {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(State, len(m.state))
	for k, v := range m.state {
		out[k] = v
	}
	return out
}

// Step reads the cluster once, evaluates, updates metrics, logs and posts
// the events, and returns them.
func (m *Monitor) Step(ctx context.Context) ([]Event, error) {
	c, err := m.o.Source(ctx)
	if err != nil {
		m.readErrors.Inc()
		m.o.Logger.Error("capacity monitor: inventory read failed", "err", err)
		return nil, err
	}
	readings := Readings(c)
	m.mu.Lock()
	next, events := Evaluate(m.state, readings, m.o.Thresholds)
	m.state = next
	seen := map[Key]bool{}
	for _, r := range readings {
		seen[r.Key] = true
		ratio := r.Ratio()
		if math.IsInf(ratio, 1) {
			ratio = math.MaxFloat64
		}
		on := 0.0
		if next[r.Key] {
			on = 1
		}
		if r.Scope == ScopeCluster {
			m.clusterUtil.WithLabelValues(r.Side, r.Resource).Set(ratio)
			m.clusterAlert.WithLabelValues(r.Side, r.Resource).Set(on)
		} else {
			m.nodeUtil.WithLabelValues(r.Node, r.Side, r.Resource).Set(ratio)
			m.nodeFree.WithLabelValues(r.Node, r.Side, r.Resource).Set(r.Capacity - r.Used)
			m.nodeAlert.WithLabelValues(r.Node, r.Side, r.Resource).Set(on)
		}
	}
	for k := range m.last {
		if !seen[k] {
			if k.Scope == ScopeCluster {
				m.clusterUtil.DeleteLabelValues(k.Side, k.Resource)
				m.clusterAlert.DeleteLabelValues(k.Side, k.Resource)
			} else {
				m.nodeUtil.DeleteLabelValues(k.Node, k.Side, k.Resource)
				m.nodeFree.DeleteLabelValues(k.Node, k.Side, k.Resource)
				m.nodeAlert.DeleteLabelValues(k.Node, k.Side, k.Resource)
			}
		}
	}
	m.last = seen
	m.mu.Unlock()
	now := time.Now()
	var errs []error
	for _, e := range events {
		m.events.WithLabelValues(e.Kind).Inc()
		lvl := slog.LevelWarn
		if e.Kind == Cleared {
			lvl = slog.LevelInfo
		}
		m.o.Logger.Log(ctx, lvl, e.Message(), "alert", e.Kind, "scope", e.Scope, "node", e.Node, "side", e.Side,
			"resource", e.Resource, "utilization", e.Utilization, "used", e.Used, "capacity", e.Capacity, "threshold", e.Threshold)
		if m.o.Webhook != "" {
			if err := m.post(ctx, WebhookPayload{Event: e, Message: e.Message(), Time: now}); err != nil {
				m.o.Logger.Error("capacity monitor: webhook failed", "url", m.webhook, "err", err)
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return events, fmt.Errorf("monitor: %d webhook post(s) failed: %w", len(errs), errs[0])
	}
	return events, nil
}

func (m *Monitor) post(ctx context.Context, p WebhookPayload) error {
	if math.IsInf(p.Utilization, 0) {
		p.Utilization = math.MaxFloat64
	}
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("webhook payload: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.o.Webhook, bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("webhook %s: %w", m.webhook, redact.Cause(err))
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := m.o.HTTPClient.Do(req)
	if err != nil {
		// A *url.Error quotes the whole URL (net/http hides the password,
		// not the path): keep only its cause.
		return fmt.Errorf("webhook POST %s: %w", m.webhook, redact.Cause(err))
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook %s answered %s", m.webhook, resp.Status)
	}
	return nil
}

// Run steps every Interval until ctx ends (read errors are logged and counted).
func (m *Monitor) Run(ctx context.Context) error {
	t := time.NewTicker(m.o.Interval)
	defer t.Stop()
	for {
		_, _ = m.Step(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
