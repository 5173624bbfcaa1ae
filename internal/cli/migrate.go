package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/switchyard/switchyard/appspec"
	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/internal/connect"
	"github.com/switchyard/switchyard/journal"
	"github.com/switchyard/switchyard/migrate"
	"github.com/switchyard/switchyard/migrate/control"
	"github.com/switchyard/switchyard/migrate/edge"
	"github.com/switchyard/switchyard/plan"
	"github.com/switchyard/switchyard/serve"
	"github.com/switchyard/switchyard/serve/client"
)

// afterJournalOpen, when set, adjusts the journal a migration command
// opened. Only test builds set it (testhooks.go, build tag testhooks: the
// crash tests' SIGKILL after the Nth append); the product has no hook.
var afterJournalOpen func(*journal.Bolt)

// WavePlanner names the apps of wave n (1-based): the *plan.Plan of a
// --plan file (`switchyard plan -o json`), else of planning now.
type WavePlanner interface {
	Wave(n int) ([]string, error)
}

// migrateOptions are the flags of migrate, rollback and status.
type migrateOptions struct {
	labDir, appsDir, journalPath, namespace, output, onRestart, planFile string
	wave, parallel                                                       int
	timeout                                                              time.Duration

	ctx   config.Context
	specs []*appspec.Spec
	plan  *plan.Plan
	// etcd is true when the context's journal lives in etcd (journal:
	// etcd) and no --journal file replaces it.
	etcd bool
	// remote is set by the commands that go to the context's server when
	// it names one (migrate, rollback, pause, resume, abort, status);
	// server is then its client, and nothing local is opened.
	remote bool
	server *client.Client
	// detach returns once the server accepted a migrate or rollback.
	detach bool
}

func (o *migrateOptions) bind(cmd *cobra.Command, withApps bool) {
	f := cmd.Flags()
	f.StringVar(&o.labDir, "lab-dir", "", "work on the lab in this directory (its context) instead of the current context")
	f.StringVar(&o.journalPath, "journal", "", "migration journal (default the context's journal.path)")
	if withApps {
		f.StringVar(&o.appsDir, "apps", ".", "directory searched for app.yaml files")
		f.StringVar(&o.namespace, "namespace", "", "Kubernetes namespace of apps whose app.yaml names none (default the context's)")
		f.DurationVar(&o.timeout, "action-timeout", 3*time.Minute, "bound on one action (install, readiness, scaling); a timeout rolls back")
	}
}

// complete resolves the context (--lab-dir: the lab's own context) and,
// when needed, loads the app specs.
func (o *migrateOptions) complete(cmd *cobra.Command, withApps bool) error {
	c, err := o.context(cmd)
	if err != nil {
		return err
	}
	o.ctx = c
	if o.remote && c.Server.URL != "" {
		if err := refuseExecutorFlags(cmd, c); err != nil {
			return err
		}
		o.server, err = serverClient(c)
		return err
	}
	if o.detach {
		return fmt.Errorf("--detach leaves the migration to the context's server, and context %q names none (server: in the config file)", c.Name)
	}
	if o.journalPath == "" {
		o.journalPath = c.JournalPath()
	}
	o.etcd = o.journalPath == "" && c.JournalType() == config.JournalEtcd
	if o.journalPath == "" && !o.etcd {
		return fmt.Errorf("context %s: no journal path (journal.path, --journal or SWITCHYARD_JOURNAL)", c.Name)
	}
	if o.namespace == "" {
		o.namespace = c.Namespace()
	}
	if withApps {
		if o.specs, err = appspec.LoadDir(o.appsDir); err != nil {
			return err
		}
	}
	return nil
}

// journalCmdOptions are the options of the commands that work on the
// context's journal without app specs (status, journal, migrate
// pause|resume|abort): Complete resolves the journal; no flag needs a check.
type journalCmdOptions struct {
	migrateOptions
}

// Complete resolves the context and its journal.
func (o *journalCmdOptions) Complete(cmd *cobra.Command, _ []string) error {
	return o.complete(cmd, false)
}

// Validate checks -o.
func (o *journalCmdOptions) Validate() error { return ValidateFormat(o.output) }

// context is the context a migration command works on: the lab's in
// --lab-dir, else the resolved one (--context, flags, environment).
func (o *migrateOptions) context(cmd *cobra.Command) (config.Context, error) {
	return contextOrLab(cmd, o.labDir)
}

// journalName names the journal in messages: its file, or its etcd prefix.
func (o *migrateOptions) journalName() string {
	if o.etcd {
		return "etcd " + strings.Join(o.ctx.Journal.Endpoints, ",") + " " + o.ctx.Journal.Prefix
	}
	return o.journalPath
}

// socketPath is the control socket of the executor holding the journal.
func (o *migrateOptions) socketPath() (string, error) {
	if o.etcd {
		return control.SocketPathForKey(o.journalName())
	}
	return control.SocketPath(o.journalPath)
}

// leaderWait bounds how long migrate campaigns for an etcd journal's
// leadership before it names the leader and gives up.
var leaderWait = 15 * time.Second

// openJournal opens the journal to write: the bbolt file (locked), or the
// etcd journal once this process leads (its appends fenced by its term).
func (o *migrateOptions) openJournal(ctx context.Context) (journal.Journal, error) {
	if o.etcd {
		host, _ := os.Hostname()
		cctx, cancel := context.WithTimeout(ctx, leaderWait)
		defer cancel()
		return connect.Journal(cctx, o.ctx, fmt.Sprintf("migrate@%s/%d", host, os.Getpid()))
	}
	if err := os.MkdirAll(filepath.Dir(o.journalPath), 0o755); err != nil {
		return nil, fmt.Errorf("journal directory: %w", err)
	}
	j, err := journal.Open(o.journalPath, 2*time.Second)
	if err != nil {
		return nil, err
	}
	if afterJournalOpen != nil {
		afterJournalOpen(j)
	}
	return j, nil
}

func (o *migrateOptions) spec(name string) (*appspec.Spec, error) {
	for _, s := range o.specs {
		if s.Name == name {
			return s, nil
		}
	}
	return nil, fmt.Errorf("app %s: no app.yaml with that name under %s (pass --apps DIR)", name, o.appsDir)
}

// run drives the named apps (with first as their first event) on the lab.
func (o *migrateOptions) run(ctx context.Context, out io.Writer, names []string, first ...migrate.Event) ([]migrate.Result, error) {
	j, err := o.openJournal(ctx)
	if err != nil {
		return nil, err
	}
	defer j.Close()
	// Operators reach this executor (which holds the journal's lock)
	// through its control socket: status at once, pause/resume/abort once
	// the executor is attached below.
	sock, err := o.socketPath()
	var srv *control.Server
	if err == nil {
		srv, err = control.Serve(sock, nil, j)
	}
	if err != nil {
		fmt.Fprintf(out, "operator channel unavailable (pause/resume/abort/status from another terminal will not work): %v\n", err)
	} else {
		defer srv.Close()
	}
	var targets []edge.Target
	for _, n := range names {
		s, err := o.spec(n)
		if err != nil {
			return nil, err
		}
		planned, err := o.plannedResources(n)
		if err != nil {
			return nil, err
		}
		t, err := edge.TargetFromSpec(s, o.namespace, planned)
		if err != nil {
			return nil, err
		}
		targets = append(targets, t)
	}
	l, err := connect.Migration(ctx, o.ctx)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	l.OnError = func(err error) { fmt.Fprintf(out, "load balancer: %v\n", err) }
	var apps []migrate.App
	for _, t := range targets {
		if _, err := l.Add(ctx, t, j); err != nil {
			return nil, err
		}
		apps = append(apps, t.App)
	}
	x := l.Executor(j)
	x.Progress, x.ActionTimeout = out, o.timeout
	x.Resume = migrate.ResumePolicy(o.onRestart)
	if srv != nil {
		srv.Attach(x)
	}
	var rs []migrate.Result
	if len(first) > 0 {
		for _, a := range apps {
			rs = append(rs, x.Migrate(ctx, a, first...))
		}
	} else {
		rs = x.Wave(ctx, apps, o.parallel)
	}
	// A migration that ended hands its routes back (a running `lb sync`
	// adopts those it derives); one that stopped midway keeps them.
	for _, r := range rs {
		if r.State.Phase.Terminal() {
			if err := l.Release(context.WithoutCancel(ctx), r.App); err != nil {
				fmt.Fprintf(out, "%s: routes not handed back: %v\n", r.App, err)
			}
		}
	}
	return rs, nil
}

// migrateCmdOptions are the options of `switchyard migrate`.
type migrateCmdOptions struct {
	migrateOptions
	// names are the apps named on the command line.
	names []string
	// po plans the apps for --wave without --plan.
	po *planOptions
}

// errNoApps refuses a migrate with no app to move.
var errNoApps = errors.New("name the apps to migrate (or --wave N)")

// Complete resolves the context and loads the app specs.
func (o *migrateCmdOptions) Complete(cmd *cobra.Command, args []string) error {
	if err := o.complete(cmd, true); err != nil {
		return err
	}
	o.names, o.po = args, newPlanOptions(cmd)
	return nil
}

// Validate checks that apps or --wave (not both) say what to migrate, and
// --on-restart.
func (o *migrateCmdOptions) Validate() error {
	if o.wave > 0 && len(o.names) > 0 {
		return errors.New("give apps or --wave, not both")
	}
	if o.wave <= 0 && len(o.names) == 0 {
		return errNoApps
	}
	if o.onRestart != string(migrate.ResumeContinue) && o.onRestart != string(migrate.ResumeRollback) {
		return fmt.Errorf("--on-restart %q: use continue or rollback", o.onRestart)
	}
	return ValidateFormat(o.output)
}

// Run migrates the named apps, or those of --wave, and reports each one.
func (o *migrateCmdOptions) Run(ctx context.Context, out io.Writer) error {
	if o.server != nil {
		return remoteRun(ctx, out, o.ctx, o.server, o.output, o.detach, func(ctx context.Context) (serve.Accepted, error) {
			return o.server.Migrate(ctx, serve.MigrateRequest{Apps: o.names, Wave: o.wave})
		}, migrate.Finalized)
	}
	names := o.names
	if o.wave > 0 {
		planner, err := o.planner(ctx, o.po)
		if err != nil {
			return err
		}
		if names, err = planner.Wave(o.wave); err != nil {
			return err
		}
		if len(names) == 0 {
			return errNoApps
		}
	}
	sctx, cancel := signalContext(context.Background())
	defer cancel()
	start := time.Now()
	rs, err := o.run(sctx, out, names)
	if err != nil {
		return err
	}
	return report(out, o.output, rs, time.Since(start))
}

func newMigrateCmd() *cobra.Command {
	o := &migrateCmdOptions{migrateOptions: migrateOptions{remote: true}}
	cmd := &cobra.Command{
		Use:   "migrate APP... | --wave N",
		Short: "Move apps from Marathon to Kubernetes under live traffic, with automatic rollback",
		Long: `Migrate moves each app (an app.yaml under --apps) from the context's Marathon to its Kubernetes while it
serves traffic through the context's load balancers (every instance gets every change; a step counts once all
acknowledged it, and the migration holds while one does not): install on Kubernetes, wait until ready, shift the route's weights in
steps (app.yaml migration.steps, default 5, 25, 50, 100 %), judging each step's Kubernetes error rate and p99, summed over every
load-balancer instance's statistics, against the app's gates, scale Marathon to 0 (backends leave nginx first, drain, then stop),
soak, then remove the Marathon app. A failed gate or a timeout rolls back: weights to Marathon, Marathon healthy,
Kubernetes removed. Every transition is journaled (fsync'd) before it is acted on; run migrate again after a
crash and it resumes (--on-restart=continue) or rolls back (--on-restart=rollback) what was in flight.
Ctrl-C stops after journaling where each app stands. From another terminal, while it runs: ` + "`switchyard status`" + `
shows each app's live state and ` + "`switchyard migrate pause|resume|abort APP`" + ` holds, continues or rolls back a
migration (through control.sock next to the journal). When the context names a server (server: in the
context), the migration runs there instead (` + "`switchyard serve`" + `, with its --apps, --plan and journal): this command
asks the server, follows the apps to the end (Ctrl-C stops following, not the migration; --detach does not
follow) and reports them the same way. The Kubernetes side is a Helm release of the chart converted
from the app's Marathon definition, with the app.yaml's resources, else the --plan file's requests and limits.`,
		RunE: runE(o),
	}
	o.bind(cmd, true)
	for _, op := range []string{control.OpPause, control.OpResume, control.OpAbort} {
		cmd.AddCommand(newMigrateControlCmd(op))
	}
	cmd.Flags().IntVar(&o.wave, "wave", 0, "migrate the apps of wave N (of --plan, else of the plan `switchyard plan` makes now with its defaults)")
	cmd.Flags().StringVar(&o.planFile, "plan", "", "plan written by `switchyard plan -o json` that names the waves and sets each app's requests/limits (app.yaml resources win)")
	cmd.Flags().IntVar(&o.parallel, "parallel", 4, "migrations running at once")
	cmd.Flags().StringVar(&o.onRestart, "on-restart", string(migrate.ResumeContinue), "what to do with a migration found in flight in the journal: continue or rollback")
	cmd.Flags().StringVarP(&o.output, "output", "o", "table", "result format: table, json or yaml")
	cmd.Flags().BoolVar(&o.detach, "detach", false, "with a context's server: return once the server accepted the migration")
	return cmd
}

// planner returns the waves: the plan file's, else the plan po makes of
// the apps now (from the live platforms, as `switchyard plan --apps` does);
// a plan that cannot be carried out is refused with its blockers.
func (o *migrateOptions) planner(ctx context.Context, po *planOptions) (WavePlanner, error) {
	if o.planFile == "" {
		if ctx == nil {
			ctx = context.Background()
		}
		po.resolved = &o.ctx
		if o.namespace != "" {
			po.namespace = o.namespace
		}
		p, err := po.make(ctx, o.appsDir)
		if err != nil {
			return nil, fmt.Errorf("--wave %d: plan the apps under %s: %w", o.wave, o.appsDir, err)
		}
		if err := unsatisfiable(p); err != nil {
			return nil, fmt.Errorf("--wave %d: %w (see switchyard plan %s)", o.wave, err, o.appsDir)
		}
		return p, nil
	}
	data, err := os.ReadFile(o.planFile)
	if err != nil {
		return nil, fmt.Errorf("--plan: %w", err)
	}
	p, err := plan.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("--plan %s: %w", o.planFile, err)
	}
	return p, nil
}

// plannedResources are the requests and limits the --plan file sets for
// app (nil without a plan; the app.yaml's resources win over them).
func (o *migrateOptions) plannedResources(app string) (*appspec.Resources, error) {
	if o.planFile == "" {
		return nil, nil
	}
	if o.plan == nil {
		data, err := os.ReadFile(o.planFile)
		if err != nil {
			return nil, fmt.Errorf("--plan: %w", err)
		}
		if o.plan, err = plan.Decode(data); err != nil {
			return nil, fmt.Errorf("--plan %s: %w", o.planFile, err)
		}
	}
	ap, _, ok := o.plan.App(app)
	if !ok {
		return nil, fmt.Errorf("--plan %s: app %s is not in the plan (plan it again with its app.yaml)", o.planFile, app)
	}
	return edge.PlannedResources(ap.Requests, ap.Limits), nil
}

// resultRow is one app's outcome as printed.
type resultRow struct {
	App      string  `json:"app"`
	Phase    string  `json:"phase"`
	Seconds  float64 `json:"seconds"`
	Error    string  `json:"error,omitempty"`
	KubePct  int     `json:"kubernetesPercent"`
	Requests int     `json:"lastStepRequests"`
}

func report(w io.Writer, format string, rs []migrate.Result, total time.Duration) error {
	var rows []resultRow
	failed := 0
	for _, r := range rs {
		row := resultRow{App: r.App, Phase: string(r.State.Phase), Seconds: r.Duration.Seconds(), KubePct: r.State.KubePercent, Requests: r.State.Last.Requests}
		if r.Err != nil {
			row.Error = r.Err.Error()
			failed++
		}
		rows = append(rows, row)
	}
	err := Print(w, format, rows, func(w io.Writer) error {
		fmt.Fprintf(w, "%-20s %-12s %8s  %s\n", "APP", "PHASE", "TIME", "RESULT")
		for _, r := range rows {
			res := "ok"
			if r.Error != "" {
				res = r.Error
			}
			fmt.Fprintf(w, "%-20s %-12s %7.1fs  %s\n", r.App, r.Phase, r.Seconds, res)
		}
		fmt.Fprintf(w, "%d app(s) in %.1fs, %d not migrated\n", len(rows), total.Seconds(), failed)
		return nil
	})
	if err != nil {
		return err
	}
	if failed > 0 {
		return &ExitError{Code: 1, Err: fmt.Errorf("%d of %d app(s) not migrated", failed, len(rows))}
	}
	return nil
}
