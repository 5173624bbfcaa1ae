package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/switchyard/switchyard/demoapp"
)

// demoAppOptions binds the demo-app flags; each flag overrides its env variable.
type demoAppOptions struct {
	listen, version, app, failRate, failAfter, slow, crashAfter, readyDelay string
	unhealthy                                                               bool
	grace                                                                   time.Duration

	// Filled by Complete.
	cfg    demoapp.Config
	stderr io.Writer
}

// Complete builds the workload's config: the environment, then the flags
// given (each parsed as it is applied; a bad one is named).
func (o *demoAppOptions) Complete(cmd *cobra.Command, _ []string) error {
	o.stderr = cmd.ErrOrStderr()
	var err error
	o.cfg, err = o.config(cmd)
	return err
}

// Validate has nothing left to check: Complete parsed every flag.
func (o *demoAppOptions) Validate() error { return nil }

// Run serves until SIGTERM or Ctrl-C (a crash on demand exits with
// demoapp.CrashExitCode).
func (o *demoAppOptions) Run(ctx context.Context, _ io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()
	err := demoapp.Run(ctx, o.cfg, o.stderr, nil)
	if errors.Is(err, demoapp.ErrCrashed) {
		return &ExitError{Code: demoapp.CrashExitCode, Err: err}
	}
	return err
}

func newDemoAppCmd() *cobra.Command {
	o := &demoAppOptions{}
	cmd := &cobra.Command{
		Use:   "demo-app",
		Short: "Run the demo HTTP workload (answers with its version and instance id; can fail, slow down or crash on demand)",
		Long: `Run the demo HTTP workload used by the lab and the migration tests.

Endpoints: GET / (JSON: app, version, instanceId, host, taskId, platform), POST / and POST /echo (echo the body),
GET /health, /healthz, /ready, GET /admin/state, and POST /admin/fail?rate=F[&all=true|false],
/admin/healthy?v=BOOL, /admin/ready?v=BOOL, /admin/slow?d=DURATION, /admin/crash.

Listen address: --listen, else $DEMO_LISTEN, else $HOST:$PORT0 (Marathon), else $POD_IP:$PORT or :$PORT
(Kubernetes), else 127.0.0.1:8080. Every flag below has an env variable (in brackets) and the flag wins.
SIGTERM stops accepting connections and lets in-flight requests finish.`,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
	f := cmd.Flags()
	f.StringVar(&o.listen, "listen", "", "host:port to serve on [DEMO_LISTEN]")
	f.StringVar(&o.version, "version", "", "version reported in answers [DEMO_VERSION] (default v1)")
	f.StringVar(&o.app, "app", "", "app name reported in answers [DEMO_APP] (default $MARATHON_APP_ID or demo-app)")
	f.StringVar(&o.failRate, "fail-rate", "", "fraction of requests to / answered with 500, 0..1 [DEMO_FAIL_RATE]")
	f.StringVar(&o.failAfter, "fail-after", "", "fail every request after N requests or a duration [DEMO_FAIL_AFTER]")
	f.StringVar(&o.slow, "slow", "", "latency added to each request, e.g. 200ms [DEMO_SLOW]")
	f.StringVar(&o.crashAfter, "crash-after", "", "exit with status 3 after N requests or a duration [DEMO_CRASH_AFTER]")
	f.BoolVar(&o.unhealthy, "unhealthy", false, "health and readiness answer 503 [DEMO_UNHEALTHY]")
	f.StringVar(&o.readyDelay, "ready-delay", "", "/ready answers 503 for this long after start [DEMO_READY_DELAY]")
	f.DurationVar(&o.grace, "shutdown-grace", 10*time.Second, "how long in-flight requests may finish after SIGTERM")
	return cmd
}

// config reads the environment, then applies the flags that were given.
func (o *demoAppOptions) config(cmd *cobra.Command) (demoapp.Config, error) {
	cfg, err := demoapp.FromEnv(os.Getenv)
	if err != nil {
		return cfg, fmt.Errorf("demo-app: %w", err)
	}
	f := cmd.Flags()
	set := func(name string, apply func() error) error {
		if !f.Changed(name) {
			return nil
		}
		if err := apply(); err != nil {
			return fmt.Errorf("demo-app: --%s: %w", name, err)
		}
		return nil
	}
	var errs []error
	errs = append(errs,
		set("listen", func() error { cfg.Listen = o.listen; return nil }),
		set("version", func() error { cfg.Version = o.version; return nil }),
		set("app", func() error { cfg.App = o.app; return nil }),
		set("fail-rate", func() (err error) { cfg.FailRate, err = demoapp.ParseRate(o.failRate); return }),
		set("fail-after", func() (err error) { cfg.FailAfter, err = demoapp.ParseTrigger(o.failAfter); return }),
		set("crash-after", func() (err error) { cfg.CrashAfter, err = demoapp.ParseTrigger(o.crashAfter); return }),
		set("slow", func() (err error) { cfg.Slow, err = time.ParseDuration(o.slow); return }),
		set("ready-delay", func() (err error) { cfg.ReadyDelay, err = time.ParseDuration(o.readyDelay); return }),
		set("unhealthy", func() error { cfg.Unhealthy = o.unhealthy; return nil }),
	)
	cfg.ShutdownGrace = o.grace
	return cfg, errors.Join(errs...)
}
