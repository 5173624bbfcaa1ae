package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/marathon"
)

// marathonConnOptions are the connection flags of the Marathon API commands.
// Unset flags fall back to the environment (MARATHON_URL, DCOS_URL,
// DCOS_ACS_TOKEN, DCOS_SSL_VERIFY), as the DC/OS tooling does, then to the
// Marathon settings of the switchyard context (--context, else the config
// file's current context; see config.Resolve).
type marathonConnOptions struct {
	url      string
	token    string
	bearer   bool
	caFile   string
	insecure bool
	timeout  time.Duration
	output   string
}

func (o *marathonConnOptions) addFlags(cmd *cobra.Command, withOutput bool) {
	f := cmd.Flags()
	f.StringVar(&o.url, "url", "", "Marathon URL (default $MARATHON_URL, else the context's; user:password@ in it enables basic auth)")
	f.StringVar(&o.token, "token", "", "authentication token (default $DCOS_ACS_TOKEN with $MARATHON_URL or $DCOS_URL, never with --url; else the context's auth), sent as 'Authorization: token=...'")
	f.BoolVar(&o.bearer, "bearer", false, "send the token as 'Authorization: Bearer ...'")
	f.StringVar(&o.caFile, "ca-file", "", "PEM CA bundle to trust for https")
	f.BoolVar(&o.insecure, "insecure", false, "skip TLS certificate verification")
	f.DurationVar(&o.timeout, "timeout", 30*time.Second, "timeout of each request attempt")
	if withOutput {
		f.StringVarP(&o.output, "output", "o", "table", "output format: table|json|yaml")
	}
}

// context resolves the context with the connection flags over it.
func (o *marathonConnOptions) context(cmd *cobra.Command) (config.Context, error) {
	return resolveContextWith(cmd, config.Overrides{MarathonURL: o.url, MarathonToken: o.token, MarathonCAFile: o.caFile, MarathonInsecure: o.insecure})
}

// client builds the Marathon client from the resolved context c.
func (o *marathonConnOptions) client(ctx context.Context, c config.Context) (*marathon.Client, error) {
	cfg, err := c.MarathonConfigContext(ctx)
	if err != nil {
		if c.Marathon.URL == "" {
			return nil, fmt.Errorf("%w, or pass --url", err)
		}
		return nil, err
	}
	if o.bearer {
		cfg.TokenScheme = marathon.TokenSchemeBearer
	}
	cfg.Timeout = o.timeout
	return marathon.NewClient(cfg)
}

// newMarathonAPICmds returns the `switchyard marathon` sub-commands that talk
// to a running Marathon: ping, info, apps, app, tasks, deployments, queue,
// scale, restart, kill, rollback and events.
func newMarathonAPICmds() []*cobra.Command {
	return []*cobra.Command{
		newMarathonPingCmd(), newMarathonInfoCmd(), newMarathonAppsCmd(), newMarathonAppCmd(),
		newMarathonTasksCmd(), newMarathonDeploymentsCmd(), newMarathonQueueCmd(),
		newMarathonScaleCmd(), newMarathonRestartCmd(), newMarathonKillCmd(), newMarathonRollbackCmd(),
		newMarathonEventsCmd(),
	}
}

// marathonBody is the work of a Marathon API command, with its client and
// arguments.
type marathonBody func(ctx context.Context, c *marathon.Client, args []string, w io.Writer) error

// marathonAPIOptions are the options of a Marathon API command: its
// connection flags, its arguments and its body.
type marathonAPIOptions struct {
	*marathonConnOptions
	// checkArgs, when set, checks the arguments (pure; Validate calls it).
	checkArgs func(args []string) error
	body      marathonBody

	// Filled by Complete.
	args     []string
	resolved config.Context
}

// Complete takes the arguments and resolves the context (--url and the
// other connection flags override it, then the environment).
func (o *marathonAPIOptions) Complete(cmd *cobra.Command, args []string) error {
	o.args = args
	var err error
	o.resolved, err = o.marathonConnOptions.context(cmd)
	return err
}

// Validate checks the arguments, then -o.
func (o *marathonAPIOptions) Validate() error {
	if o.checkArgs != nil {
		if err := o.checkArgs(o.args); err != nil {
			return err
		}
	}
	switch o.output {
	case "", "table", "text", "json", "yaml":
		return nil
	}
	return fmt.Errorf("unknown output format %q: use table, json or yaml", o.output)
}

// Run builds the Marathon client (a DC/OS login happens here) and runs the
// body until it ends or SIGINT/SIGTERM.
func (o *marathonAPIOptions) Run(ctx context.Context, out io.Writer) error {
	c, err := o.client(ctx, o.resolved)
	if err != nil {
		return err
	}
	ctx, cancel := signalContext(ctx)
	defer cancel()
	return o.body(ctx, c, o.args, out)
}

// runMarathon is the RunE of a Marathon API command with connection
// options o and the given body.
func runMarathon(o *marathonConnOptions, body marathonBody) func(*cobra.Command, []string) error {
	return runE(&marathonAPIOptions{marathonConnOptions: o, body: body})
}

func newMarathonPingCmd() *cobra.Command {
	o := &marathonConnOptions{}
	cmd := &cobra.Command{
		Use:   "ping",
		Short: "Check that Marathon answers",
		Args:  cobra.NoArgs,
	}
	cmd.RunE = runMarathon(o, func(ctx context.Context, c *marathon.Client, _ []string, w io.Writer) error {
		start := time.Now()
		if err := c.Ping(ctx); err != nil {
			return err
		}
		_, err := fmt.Fprintf(w, "pong from %s in %s\n", c.URL(), time.Since(start).Round(time.Millisecond))
		return err
	})
	o.addFlags(cmd, false)
	return cmd
}

func newMarathonInfoCmd() *cobra.Command {
	o := &marathonConnOptions{}
	cmd := &cobra.Command{
		Use:   "info",
		Short: "Show Marathon's version, leader and configuration (/v2/info)",
		Args:  cobra.NoArgs,
	}
	cmd.RunE = runMarathon(o, func(ctx context.Context, c *marathon.Client, _ []string, w io.Writer) error {
		info, err := c.Info(ctx)
		if err != nil {
			return err
		}
		return Print(w, o.output, info, func(w io.Writer) error {
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "URL\t%s\n", c.URL())
			fmt.Fprintf(tw, "NAME\t%s\n", info.Name)
			fmt.Fprintf(tw, "VERSION\t%s\n", info.Version)
			fmt.Fprintf(tw, "LEADER\t%s\n", info.Leader)
			fmt.Fprintf(tw, "ELECTED\t%t\n", info.Elected)
			fmt.Fprintf(tw, "FRAMEWORK ID\t%s\n", info.FrameworkID)
			fmt.Fprintf(tw, "MESOS MASTER\t%s\n", info.MarathonConfig.Master)
			fmt.Fprintf(tw, "FEATURES\t%s\n", strings.Join(info.MarathonConfig.Features, ","))
			return tw.Flush()
		})
	})
	o.addFlags(cmd, true)
	return cmd
}

func newMarathonAppsCmd() *cobra.Command {
	o := &marathonConnOptions{}
	var opts marathon.AppsOptions
	cmd := &cobra.Command{
		Use:   "apps",
		Short: "List apps with their instance counts (/v2/apps)",
		Args:  cobra.NoArgs,
	}
	cmd.RunE = runMarathon(o, func(ctx context.Context, c *marathon.Client, _ []string, w io.Writer) error {
		if len(opts.Embed) == 0 {
			opts.Embed = []string{marathon.EmbedAppsCounts, marathon.EmbedAppsDeployments}
		}
		apps, err := c.Apps(ctx, opts)
		if err != nil {
			return err
		}
		return Print(w, o.output, apps, func(w io.Writer) error {
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tINSTANCES\tRUNNING\tHEALTHY\tSTAGED\tCPUS\tMEM\tDEPLOYING\tVERSION")
			for _, a := range apps {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%t\t%s\n", a.ID, mIntp(a.Instances), mIntp(a.TasksRunning),
					mIntp(a.TasksHealthy), mIntp(a.TasksStaged), mFloatp(a.CPUs), mFloatp(a.Mem), len(a.Deployments) > 0, mStrp(a.Version))
			}
			return tw.Flush()
		})
	})
	o.addFlags(cmd, true)
	cmd.Flags().StringVar(&opts.Cmd, "cmd", "", "only apps whose cmd contains this")
	cmd.Flags().StringVar(&opts.ID, "id", "", "only apps whose id contains this")
	cmd.Flags().StringVarP(&opts.Label, "label", "l", "", "label selector, e.g. 'env==prod,tier!=web'")
	cmd.Flags().StringSliceVar(&opts.Embed, "embed", nil, "resources to embed (apps.tasks, apps.counts, apps.deployments, apps.lastTaskFailure...)")
	return cmd
}

func newMarathonAppCmd() *cobra.Command {
	o := &marathonConnOptions{}
	var embed []string
	cmd := &cobra.Command{
		Use:   "app APP_ID",
		Short: "Show one app with its tasks (/v2/apps/{id})",
		Args:  cobra.ExactArgs(1),
	}
	cmd.RunE = runMarathon(o, func(ctx context.Context, c *marathon.Client, args []string, w io.Writer) error {
		if len(embed) == 0 {
			embed = []string{marathon.EmbedAppTasks, marathon.EmbedAppCounts, marathon.EmbedAppDeployments, marathon.EmbedAppLastTaskFailure}
		}
		app, err := c.App(ctx, args[0], embed...)
		if err != nil {
			return err
		}
		return Print(w, o.output, app, func(w io.Writer) error {
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "ID\t%s\n", app.ID)
			fmt.Fprintf(tw, "CMD\t%s\n", mStrp(app.Cmd))
			fmt.Fprintf(tw, "INSTANCES\t%s (running %s, healthy %s, staged %s)\n", mIntp(app.Instances), mIntp(app.TasksRunning), mIntp(app.TasksHealthy), mIntp(app.TasksStaged))
			fmt.Fprintf(tw, "RESOURCES\tcpus %s, mem %s\n", mFloatp(app.CPUs), mFloatp(app.Mem))
			fmt.Fprintf(tw, "VERSION\t%s\n", mStrp(app.Version))
			for _, d := range app.Deployments {
				fmt.Fprintf(tw, "DEPLOYMENT\t%s\n", d.ID)
			}
			if f := app.LastTaskFailure; f != nil {
				fmt.Fprintf(tw, "LAST FAILURE\t%s %s: %s\n", mStrp(f.Timestamp), mStrp(f.State), mStrp(f.Message))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if len(app.Tasks) == 0 {
				return nil
			}
			fmt.Fprintln(w)
			tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TASK\tHOST\tPORTS\tSTATE\tSTARTED")
			for _, t := range app.Tasks {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.ID, mStrp(t.Host), mInts(t.Ports), mStrp(t.State), mStrp(t.StartedAt))
			}
			return tw.Flush()
		})
	})
	o.addFlags(cmd, true)
	cmd.Flags().StringSliceVar(&embed, "embed", nil, "resources to embed (app.tasks, app.counts, app.deployments, app.lastTaskFailure...)")
	return cmd
}

func newMarathonTasksCmd() *cobra.Command {
	o := &marathonConnOptions{}
	var status []string
	cmd := &cobra.Command{
		Use:   "tasks [APP_ID]",
		Short: "List tasks of all apps or of one app",
		Args:  cobra.MaximumNArgs(1),
	}
	cmd.RunE = runMarathon(o, func(ctx context.Context, c *marathon.Client, args []string, w io.Writer) error {
		var tasks []marathon.Task
		var err error
		if len(args) == 1 {
			tasks, err = c.AppTasks(ctx, args[0])
		} else {
			tasks, err = c.Tasks(ctx, marathon.TasksOptions{Status: status})
		}
		if err != nil {
			return err
		}
		return Print(w, o.output, tasks, func(w io.Writer) error {
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tAPP\tHOST\tPORTS\tSTATE\tHEALTH\tSTARTED")
			for _, t := range tasks {
				health := "-"
				if len(t.HealthCheckResults) > 0 {
					health = map[bool]string{true: "healthy", false: "unhealthy"}[t.Healthy()]
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.AppID, t.Host, mInts(t.Ports), t.State, health, t.StartedAt)
			}
			return tw.Flush()
		})
	})
	o.addFlags(cmd, true)
	cmd.Flags().StringSliceVar(&status, "status", nil, "only tasks in these conditions: running, staging")
	return cmd
}

func newMarathonDeploymentsCmd() *cobra.Command {
	o := &marathonConnOptions{}
	cmd := &cobra.Command{
		Use:   "deployments",
		Short: "List running deployments (/v2/deployments)",
		Args:  cobra.NoArgs,
	}
	cmd.RunE = runMarathon(o, func(ctx context.Context, c *marathon.Client, _ []string, w io.Writer) error {
		deps, err := c.Deployments(ctx)
		if err != nil {
			return err
		}
		return Print(w, o.output, deps, func(w io.Writer) error {
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tAFFECTED\tSTEP\tCURRENT ACTIONS\tVERSION")
			for _, d := range deps {
				var acts []string
				for _, a := range d.CurrentActions {
					acts = append(acts, a.Action+" "+a.App+a.Pod)
				}
				fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%s\t%s\n", d.ID, strings.Join(append(d.AffectedApps, d.AffectedPods...), ","),
					d.CurrentStep, d.TotalSteps, strings.Join(acts, "; "), d.Version)
			}
			return tw.Flush()
		})
	})
	o.addFlags(cmd, true)
	return cmd
}

func newMarathonQueueCmd() *cobra.Command {
	o := &marathonConnOptions{}
	cmd := &cobra.Command{
		Use:   "queue",
		Short: "List apps waiting for instances to launch, and why offers were declined (/v2/queue)",
		Args:  cobra.NoArgs,
	}
	cmd.RunE = runMarathon(o, func(ctx context.Context, c *marathon.Client, _ []string, w io.Writer) error {
		items, err := c.Queue(ctx, marathon.QueueOptions{LastUnusedOffers: o.output != "table"})
		if err != nil {
			return err
		}
		return Print(w, o.output, items, func(w io.Writer) error {
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tWAITING\tDELAY\tSINCE\tDECLINED BECAUSE")
			for _, q := range items {
				id := ""
				switch {
				case q.App != nil:
					id = q.App.ID
				case q.Pod != nil:
					id = q.Pod.ID
				}
				delay := "overdue"
				if !q.Delay.Overdue {
					delay = strconv.FormatInt(q.Delay.TimeLeftSeconds, 10) + "s"
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", id, q.Count, delay, q.Since, strings.Join(q.DeclineReasons(), ","))
			}
			return tw.Flush()
		})
	})
	o.addFlags(cmd, true)
	return cmd
}

// changeOptions are the flags of commands that start a deployment.
type changeOptions struct {
	force bool
	wait  bool
}

func (o *changeOptions) addFlags(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&o.force, "force", false, "cancel a deployment that holds the app (Marathon's force=true)")
	cmd.Flags().BoolVar(&o.wait, "wait", false, "wait until the deployment finishes")
}

// finish prints the deployment a change started and waits for it if asked.
func (o *changeOptions) finish(ctx context.Context, c *marathon.Client, w io.Writer, what string, res *marathon.DeploymentResult) error {
	if res == nil {
		_, err := fmt.Fprintf(w, "%s: done\n", what)
		return err
	}
	fmt.Fprintf(w, "%s: deployment %s (version %s)\n", what, res.DeploymentID, res.Version)
	if !o.wait {
		return nil
	}
	start := time.Now()
	if err := c.WaitForDeployment(ctx, res.DeploymentID, time.Second); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	_, err := fmt.Fprintf(w, "deployment %s finished in %s\n", res.DeploymentID, time.Since(start).Round(100*time.Millisecond))
	return err
}

// scaleInstances parses scale's INSTANCES: a whole number, 0 or more.
func scaleInstances(arg string) (int, error) {
	n, err := strconv.Atoi(arg)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("INSTANCES %q: want a whole number >= 0", arg)
	}
	return n, nil
}

func newMarathonScaleCmd() *cobra.Command {
	o := &marathonConnOptions{}
	ch := &changeOptions{}
	cmd := &cobra.Command{
		Use:   "scale APP_ID INSTANCES",
		Short: "Set the number of instances of an app",
		Args:  cobra.ExactArgs(2),
	}
	cmd.RunE = runE(&marathonAPIOptions{marathonConnOptions: o, checkArgs: func(args []string) error {
		_, err := scaleInstances(args[1])
		return err
	}, body: func(ctx context.Context, c *marathon.Client, args []string, w io.Writer) error {
		n, _ := scaleInstances(args[1])
		res, err := c.ScaleApp(ctx, args[0], n, ch.force)
		if err != nil {
			return err
		}
		return ch.finish(ctx, c, w, fmt.Sprintf("scale %s to %d", args[0], n), res)
	}})
	o.addFlags(cmd, false)
	ch.addFlags(cmd)
	return cmd
}

func newMarathonRestartCmd() *cobra.Command {
	o := &marathonConnOptions{}
	ch := &changeOptions{}
	cmd := &cobra.Command{
		Use:   "restart APP_ID",
		Short: "Restart all tasks of an app (a rolling restart under its upgradeStrategy)",
		Args:  cobra.ExactArgs(1),
	}
	cmd.RunE = runMarathon(o, func(ctx context.Context, c *marathon.Client, args []string, w io.Writer) error {
		res, err := c.RestartApp(ctx, args[0], ch.force)
		if err != nil {
			return err
		}
		return ch.finish(ctx, c, w, "restart "+args[0], res)
	})
	o.addFlags(cmd, false)
	ch.addFlags(cmd)
	return cmd
}

func newMarathonKillCmd() *cobra.Command {
	o := &marathonConnOptions{}
	ch := &changeOptions{}
	var kill marathon.KillOptions
	cmd := &cobra.Command{
		Use:   "kill TASK_ID...",
		Short: "Kill tasks (Marathon replaces them unless --scale)",
		Args:  cobra.MinimumNArgs(1),
	}
	cmd.RunE = runMarathon(o, func(ctx context.Context, c *marathon.Client, args []string, w io.Writer) error {
		kill.Force = ch.force
		res, err := c.KillTasks(ctx, args, kill)
		if err != nil {
			return err
		}
		if res.Deployment != nil {
			return ch.finish(ctx, c, w, fmt.Sprintf("kill %d task(s) and scale down", len(args)), res.Deployment)
		}
		for _, t := range res.Tasks {
			fmt.Fprintf(w, "killed %s (%s on %s)\n", t.ID, t.AppID, t.Host)
		}
		return nil
	})
	o.addFlags(cmd, false)
	ch.addFlags(cmd)
	cmd.Flags().BoolVar(&kill.Scale, "scale", false, "scale the apps down by the number of killed tasks")
	cmd.Flags().BoolVar(&kill.Wipe, "wipe", false, "also destroy the tasks' local persistent volumes")
	return cmd
}

func newMarathonRollbackCmd() *cobra.Command {
	o := &marathonConnOptions{}
	ch := &changeOptions{}
	cmd := &cobra.Command{
		Use:   "rollback DEPLOYMENT_ID",
		Short: "Cancel a running deployment and roll its change back (--force: cancel without rollback)",
		Args:  cobra.ExactArgs(1),
	}
	cmd.RunE = runMarathon(o, func(ctx context.Context, c *marathon.Client, args []string, w io.Writer) error {
		res, err := c.DeleteDeployment(ctx, args[0], ch.force)
		if err != nil {
			return err
		}
		return ch.finish(ctx, c, w, "cancel deployment "+args[0], res)
	})
	o.addFlags(cmd, false)
	ch.addFlags(cmd)
	return cmd
}

func newMarathonEventsCmd() *cobra.Command {
	o := &marathonConnOptions{}
	var types []string
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Follow Marathon's event stream (/v2/events), one JSON event per line, until interrupted",
		Args:  cobra.NoArgs,
	}
	cmd.RunE = runMarathon(o, func(ctx context.Context, c *marathon.Client, _ []string, w io.Writer) error {
		events, err := c.Events(ctx, marathon.EventOptions{
			Types:   types,
			OnError: func(err error) { fmt.Fprintln(cmd.ErrOrStderr(), "warning:", err) },
		})
		if err != nil {
			return err
		}
		for ev := range events {
			line := struct {
				Type string          `json:"type"`
				Data json.RawMessage `json:"data,omitempty"`
			}{ev.Type, ev.Data}
			b, err := json.Marshal(line)
			if err != nil {
				// Data is not JSON: print it as a string.
				b, _ = json.Marshal(struct {
					Type string `json:"type"`
					Data string `json:"data"`
				}{ev.Type, string(ev.Data)})
			}
			if _, err := fmt.Fprintln(w, string(b)); err != nil {
				return err
			}
		}
		return nil
	})
	o.addFlags(cmd, false)
	cmd.Flags().StringSliceVar(&types, "type", nil, "only these event types (e.g. deployment_success,status_update_event)")
	return cmd
}

func mIntp(p *int) string {
	if p == nil {
		return "-"
	}
	return strconv.Itoa(*p)
}

func mFloatp(p *float64) string {
	if p == nil {
		return "-"
	}
	return strconv.FormatFloat(*p, 'g', -1, 64)
}

func mStrp(p *string) string {
	if p == nil {
		return "-"
	}
	return *p
}

func mInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}
