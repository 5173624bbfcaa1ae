package telemetry

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/switchyard/switchyard/journal"
	"github.com/switchyard/switchyard/migrate"
)

// Metrics are the counters of events as they happen, updated by whoever
// sees them (the migration executor's journal, serve); it is the
// prometheus.Collector of those counters. Its methods are safe for
// concurrent use.
type Metrics struct {
	gateFailures *prometheus.CounterVec
}

// NewMetrics returns the event counters, registered with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		gateFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchyard_gate_failures_total",
			Help: "Migration steps whose gates failed (too many 5xx, p99 too high, too few requests to judge), per app."}, []string{"app"}),
	}
	if err := reg.Register(m); err != nil {
		return nil, fmt.Errorf("telemetry: register the event counters: %w", err)
	}
	return m, nil
}

// Describe sends the counters' descriptions.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) { m.gateFailures.Describe(ch) }

// Collect sends the counters.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) { m.gateFailures.Collect(ch) }

// Track makes app's counters exist (at zero) before anything happens to it,
// so that its first gate failure is an increase Prometheus sees.
func (m *Metrics) Track(app string) { m.gateFailures.WithLabelValues(app) }

// GateFailed counts a failed gate of app's migration.
func (m *Metrics) GateFailed(app string) { m.gateFailures.WithLabelValues(app).Inc() }

// ObserveEntry counts what a journaled transition says happened: it tracks
// the entry's app and counts a gate failure when the transition judged a
// step (event observed) and the step failed (GateFailed reports it).
func (m *Metrics) ObserveEntry(e journal.Entry) {
	m.Track(e.App)
	if e.Event != string(migrate.EvObserved) {
		return
	}
	s, err := migrate.StateOf(e)
	if err != nil {
		return // not a state this version reads: nothing to count
	}
	if gateFailed(s) {
		m.GateFailed(e.App)
	}
}

// gateFailed reports whether s, the state a step's observation led to
// (event observed), is a failed gate: the migration rolls back
// (RollingBack), a rollback of a finalized app returns to Kubernetes
// (ReturningToKubernetes), or a plan with manualRollback holds it paused
// for an operator (an observation is never judged while paused, so a
// paused state after one is its failure).
func gateFailed(s migrate.State) bool {
	return s.Phase == migrate.RollingBack || s.Phase == migrate.ReturningToKubernetes || s.Paused
}

// Journal returns j, whose successful appends are also observed
// (ObserveEntry): serve hands it to the migration executor, which journals
// every transition before acting on it, so every gate failure is counted
// once, by the process that decided it. Every app j already holds is
// tracked first (a migration resumed by a restarted serve may fail its
// next gate before it journals anything else); a journal that cannot be
// read is left to the executor to report.
func (m *Metrics) Journal(j journal.Journal) journal.Journal {
	if es, err := j.LoadAll(); err == nil {
		for _, e := range es {
			m.Track(e.App)
		}
	}
	return observedJournal{j, m}
}

// observedJournal is a journal whose appends are observed.
type observedJournal struct {
	journal.Journal
	m *Metrics
}

// Append implements journal.Journal.
func (j observedJournal) Append(ctx context.Context, e *journal.Entry) error {
	if err := j.Journal.Append(ctx, e); err != nil {
		return err
	}
	j.m.ObserveEntry(*e)
	return nil
}

// Handler serves the metrics g gathers in Prometheus' text format (what
// `switchyard serve` mounts on /metrics). A collector's error is logged
// (slog.Default, warning) and the rest is still served.
func Handler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      slog.NewLogLogger(slog.Default().Handler(), slog.LevelWarn),
	})
}
