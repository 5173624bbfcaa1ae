package cli

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/switchyard/switchyard/appspec"
	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/internal/connect"
	"github.com/switchyard/switchyard/lbsync"
	"github.com/switchyard/switchyard/traffic"
)

// lbSyncOptions are the flags of `switchyard lb sync`.
type lbSyncOptions struct {
	apps         string
	group        string
	resync       time.Duration
	marathonURL  string
	kubeconfig   string
	lbAdmin      []string
	lbTokenFile  string
	backendsCIDR []string
	statusFile   string
	once         bool

	// Filled by Complete.
	context    config.Context
	noMarathon bool // --marathon-url none
	noKube     bool // --kubeconfig ""
	specs      []*appspec.Spec
	errOut     io.Writer

	// Filled by Run.
	fleet *traffic.Fleet
	where string
}

// newLBSyncCmd is `switchyard lb sync`.
func newLBSyncCmd() *cobra.Command {
	o := &lbSyncOptions{}
	cmd := &cobra.Command{
		Use:   "sync [--apps DIR] [--group external] [--resync 5s] --lb-admin URL",
		Short: "Keep every route's pool in step with the platforms",
		Long: `Run until stopped, keeping the shared nginx's routes equal to what the platforms run (like marathon-lb):

  - Marathon apps labelled HAPROXY_GROUP=<group> with HAPROXY_{n}_PATH (path prefix) and/or HAPROXY_{n}_VHOST
    (host; of a comma list only the first is routed) get a route named after the app id (plus "_n" for port index
    n > 0) with the app's ready tasks (running, healthy when it has health checks) on port index n;
  - Kubernetes Services annotated switchyard.io/haproxy-group=<group> with switchyard.io/haproxy-path /
    switchyard.io/haproxy-vhost (haproxy-{n}-path/-vhost for port n: what 'switchyard convert' writes) get a route
    named after switchyard.io/marathon-id (else /<namespace>/<service>) with the Service's ready endpoints;
  - app.yaml files under --apps with a route: type marathon from the app's tasks, type helm from the release's Service.

A route with backends on both platforms (same name) gets both, weight 1 each. Routes are written with owner "sync";
routes held by a migration (owner "migrate/APP") and hand-made routes are never changed; "sync" routes whose source
is gone are removed. It syncs at start, on every Marathon event and Kubernetes change, and every --resync; it pushes
only when nginx differs and logs one line per change. When Marathon or Kubernetes cannot be reached, the routes keep
their last known backends.

Marathon comes from --marathon-url, else MARATHON_URL (DCOS_URL...); Kubernetes from --kubeconfig (default
$KUBECONFIG; empty: Kubernetes is not followed); the load balancer from --lb-admin (+ --lb-token-file).`,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
	f := cmd.Flags()
	f.StringVar(&o.apps, "apps", "", "directory of app.yaml files whose routes are kept")
	f.StringVar(&o.group, "group", lbsync.DefaultGroup, "marathon-lb group served (HAPROXY_GROUP)")
	f.DurationVar(&o.resync, "resync", 5*time.Second, "period of a full re-read of the platforms")
	f.StringVar(&o.marathonURL, "marathon-url", "", "Marathon's URL, overrides the context's (\"none\": Marathon is not followed)")
	f.String("marathon-token-file", "", "file holding Marathon's DC/OS token (with --marathon-url)")
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig of the Kubernetes cluster, overrides the context's (\"\": Kubernetes is not followed)")
	f.StringSliceVar(&o.lbAdmin, "lb-admin", nil, "load-balancer admin API URLs, override the context's instances")
	f.StringVar(&o.lbTokenFile, "lb-token-file", "", "file holding the admin API's bearer token (with --lb-admin)")
	f.StringSliceVar(&o.backendsCIDR, "backends-cidr", nil, "networks backends may be in (overrides the context's loadBalancer.backendsCIDRs)")
	f.StringVar(&o.statusFile, "status-file", "", "write the sync's status (JSON) here after every sync (for a supervisor's readiness probe)")
	f.BoolVar(&o.once, "once", false, "sync once and exit")
	return cmd
}

// Complete resolves the context (flags and environment override it; a
// --marathon-url of "none" and a --kubeconfig of "" turn the platform off)
// and loads --apps.
func (o *lbSyncOptions) Complete(cmd *cobra.Command, _ []string) error {
	o.errOut = cmd.ErrOrStderr()
	ov := overridesFromFlags(cmd)
	o.noMarathon = ov.MarathonURL == "none"
	if o.noMarathon {
		ov.MarathonURL = ""
	}
	c, err := resolveContextWith(cmd, ov)
	if err != nil {
		return fmt.Errorf("lb sync: %w", err)
	}
	if len(o.backendsCIDR) > 0 {
		c.LoadBalancer.BackendsCIDRs = o.backendsCIDR
	}
	o.context = c
	o.noKube = cmd.Flags().Changed("kubeconfig") && o.kubeconfig == ""
	if o.apps != "" {
		if o.specs, err = appspec.LoadDir(o.apps); err != nil {
			return fmt.Errorf("lb sync: --apps: %w", err)
		}
	}
	return nil
}

// Validate checks --resync.
func (o *lbSyncOptions) Validate() error {
	if o.resync <= 0 {
		return fmt.Errorf("lb sync: --resync: %s must be positive", o.resync)
	}
	return nil
}

// syncer builds the syncer from the completed context.
func (o *lbSyncOptions) syncer(ctx context.Context, logf func(string, ...any)) (*lbsync.Syncer, error) {
	c := o.context
	fleet, err := connect.Fleet(c)
	if err != nil {
		return nil, err
	}
	fleet.OnEvent = func(s string) { logf("%s", s) }
	fleet.OnError = func(err error) { logf("%v", err) }
	o.fleet, o.where = fleet, "context "+c.Name
	if c.Name == "" {
		o.where = "no context (flags and environment)"
	}
	s := &lbsync.Syncer{Pusher: fleet, Group: o.group, Resync: o.resync, Logf: logf, Apps: o.specs}
	if !o.noMarathon && c.Marathon.URL != "" {
		mc, err := connect.Marathon(ctx, c)
		if err != nil {
			return nil, err
		}
		s.Marathon = &lbsync.MarathonSource{Client: mc}
	}
	// --kubeconfig "" says: do not follow Kubernetes (whatever the context says).
	if !o.noKube && c.KubeconfigPath() != "" {
		kc, err := connect.Kubernetes(c, 0, 0)
		if err != nil {
			return nil, err
		}
		ks, err := lbsync.NewKubernetesSource(kc.Clientset, s.Kick, ctx.Done())
		if err != nil {
			return nil, fmt.Errorf("context %s: kubernetes informers: %w", c.Name, err)
		}
		s.Kubernetes = ks
		o.kubeconfig = c.KubeconfigPath()
	}
	if s.Marathon == nil && s.Kubernetes == nil {
		return nil, fmt.Errorf("context %s: nothing to follow: give Marathon (marathon.url, MARATHON_URL or --marathon-url) and/or Kubernetes (kubernetes.kubeconfig, KUBECONFIG or --kubeconfig)", c.Name)
	}
	if o.statusFile != "" {
		_ = os.Remove(o.statusFile) // a previous run's status says nothing about this one
		path := o.statusFile
		s.OnSync = func(st lbsync.Status) {
			if err := lbsync.WriteStatusFile(path, st); err != nil {
				logf("status file: %v", err)
			}
		}
	}
	return s, nil
}

// Run syncs once (--once) or until interrupted, logging to stderr.
func (o *lbSyncOptions) Run(ctx context.Context, _ io.Writer) error {
	ctx, stop := signalContext(ctx)
	defer stop()
	lg := log.New(o.errOut, "lb sync: ", log.LstdFlags)
	s, err := o.syncer(ctx, lg.Printf)
	if err != nil {
		return fmt.Errorf("lb sync: %w", err)
	}
	var follows []string
	if s.Marathon != nil {
		follows = append(follows, "Marathon "+s.Marathon.(*lbsync.MarathonSource).Client.URL())
	}
	if s.Kubernetes != nil {
		follows = append(follows, "Kubernetes ("+o.kubeconfig+")")
	}
	if len(s.Apps) > 0 {
		follows = append(follows, fmt.Sprintf("%d app.yaml", len(s.Apps)))
	}
	var lbs []string
	for _, in := range o.fleet.Instances {
		lbs = append(lbs, in.String())
	}
	lg.Printf("%s: following %s for group %q; load balancer %s; resync every %s", o.where, strings.Join(follows, ", "), o.group, strings.Join(lbs, ", "), o.resync)
	if o.once {
		st, err := s.Sync(ctx)
		if err != nil {
			return fmt.Errorf("lb sync: %w", err)
		}
		lg.Printf("in step: %d route(s) kept, state version %d", st.Routes, st.Version)
		return nil
	}
	go func() { _ = o.fleet.Run(ctx) }()
	return s.Run(ctx)
}
