package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/switchyard/switchyard/capacity"
	"github.com/switchyard/switchyard/capacity/monitor"
	"github.com/switchyard/switchyard/capacity/rollout"
	"github.com/switchyard/switchyard/marathon"
)

// capacityWatchOptions binds `capacity watch` flags.
type capacityWatchOptions struct {
	interval      time.Duration
	raise, clear  float64
	webhook       string
	metricsListen string
	once          bool

	// co are the inventory flags of `capacity`.
	co *capacityOptions
	// errOut receives the alert log and the metrics address (Complete).
	errOut io.Writer
}

// Complete resolves the context the inventory is read with.
func (o *capacityWatchOptions) Complete(cmd *cobra.Command, args []string) error {
	o.errOut = cmd.ErrOrStderr()
	return o.co.Complete(cmd, args)
}

// Validate checks --raise/--clear and the inventory flags.
func (o *capacityWatchOptions) Validate() error {
	if err := o.thresholds().Validate(); err != nil {
		return fmt.Errorf("--raise/--clear: %w", err)
	}
	return o.co.Validate()
}

func (o *capacityWatchOptions) thresholds() monitor.Thresholds {
	return monitor.Thresholds{Raise: o.raise, Clear: o.clear}
}

// Run watches the inventory (once with --once) until interrupted.
func (o *capacityWatchOptions) Run(ctx context.Context, _ io.Writer) error {
	reg := prometheus.NewRegistry()
	var src monitor.Source = o.co.cluster
	// The monitor logs and reports the webhook as scheme://host/… only.
	m, err := monitor.New(monitor.Options{
		Source: src, Thresholds: o.thresholds(), Interval: o.interval,
		Logger: slog.New(slog.NewJSONHandler(o.errOut, nil)), Registerer: reg, Webhook: o.webhook,
	})
	if err != nil {
		return fmt.Errorf("--webhook: %w", err)
	}
	if o.once {
		_, err := m.Step(ctx)
		return err
	}
	ctx, stop := signalContext(ctx)
	defer stop()
	if o.metricsListen != "" {
		ln, err := net.Listen("tcp", o.metricsListen)
		if err != nil {
			return fmt.Errorf("--metrics-listen %s: %w", o.metricsListen, err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}()
		fmt.Fprintf(o.errOut, "metrics on http://%s/metrics\n", ln.Addr())
	}
	return m.Run(ctx)
}

func newCapacityWatchCmd(co *capacityOptions) *cobra.Command {
	o := &capacityWatchOptions{co: co}
	cmd := &cobra.Command{
		Use:   "watch",
		Short: "Watch both sides of every node and raise congestion alerts (log, metrics, webhook)",
		Long: `Read the inventory every --interval and raise an alert when one side of a node or of the cluster (Mesos:
allocations incl. the kubelet wrapper / total; Kubernetes: pod requests / allocatable) reaches --raise, clearing it
only below --clear (hysteresis, no flapping). Alerts are logged as structured JSON lines on stderr, exported as
Prometheus metrics (switchyard_node_*, switchyard_cluster_*) on --metrics-listen /metrics, and POSTed as JSON to
--webhook when set.`,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
	f := cmd.Flags()
	th := monitor.DefaultThresholds()
	f.DurationVar(&o.interval, "interval", 15*time.Second, "time between inventory reads")
	f.Float64Var(&o.raise, "raise", th.Raise, "raise an alert at this utilization (0-1)")
	f.Float64Var(&o.clear, "clear", th.Clear, "clear it below this utilization (0-1, <= --raise)")
	f.StringVar(&o.webhook, "webhook", "", "POST each alert as JSON to this URL")
	f.StringVar(&o.metricsListen, "metrics-listen", "", "serve Prometheus metrics on this address (e.g. 127.0.0.1:9464)")
	f.BoolVar(&o.once, "once", false, "read and evaluate once, then exit")
	return cmd
}

// applyPlan performs the plan through Marathon (capacity/rollout).
func (o *capacityPlanOptions) applyPlan(ctx context.Context, w io.Writer, out PlanOutput) error {
	var cfg marathon.Config
	if o.marathonURL != "" {
		cfg.URL = o.marathonURL
	} else {
		env, err := marathon.ConfigFromEnv()
		if err != nil {
			return fmt.Errorf("--apply: %w, or pass --marathon-url", err)
		}
		cfg = env
	}
	mc, err := marathon.NewClient(cfg)
	if err != nil {
		return fmt.Errorf("--apply: %w", err)
	}
	err = rollout.Apply(ctx, mc, out.Resize, rollout.Options{
		Spec:      o.spec(o.co.wrapperPrefix),
		Inventory: o.co.cluster,
		Progress:  func(i int, s capacity.Step) { fmt.Fprintf(w, "applying step %d: %s\n", i+1, s.Description) },
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "plan applied")
	return nil
}
