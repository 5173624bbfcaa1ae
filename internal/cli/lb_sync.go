package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/switchyard/switchyard/appspec"
	"github.com/switchyard/switchyard/internal/kubeclient"
	"github.com/switchyard/switchyard/lbsync"
	"github.com/switchyard/switchyard/marathon"
	"github.com/switchyard/switchyard/traffic"
)

// lbSyncOptions are the flags of `switchyard lb sync`.
type lbSyncOptions struct {
	apps         string
	group        string
	resync       time.Duration
	marathonURL  string
	kubeconfig   string
	lbAdmin      string
	lbTokenFile  string
	lbStateFile  string
	backendsCIDR []string
	statusFile   string
	once         bool
	tmpDir       string
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
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signalContext(cmd.Context())
			defer stop()
			return o.run(ctx, cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.apps, "apps", "", "directory of app.yaml files whose routes are kept")
	f.StringVar(&o.group, "group", lbsync.DefaultGroup, "marathon-lb group served (HAPROXY_GROUP)")
	f.DurationVar(&o.resync, "resync", 5*time.Second, "period of a full re-read of the platforms")
	f.StringVar(&o.marathonURL, "marathon-url", "", "Marathon's URL (default: $MARATHON_URL; \"none\": Marathon is not followed)")
	f.StringVar(&o.kubeconfig, "kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig of the Kubernetes cluster (empty: Kubernetes is not followed)")
	f.StringVar(&o.lbAdmin, "lb-admin", os.Getenv("SWITCHYARD_LB_ADMIN"), "the load balancer's admin API URL (default $SWITCHYARD_LB_ADMIN)")
	f.StringVar(&o.lbTokenFile, "lb-token-file", "", "file holding the admin API's bearer token")
	f.StringVar(&o.lbStateFile, "lb-state-file", "", "routing state file written before each push (the lab's nginx routes.json, until nginx persists its own)")
	f.StringSliceVar(&o.backendsCIDR, "backends-cidr", nil, "non-loopback networks backends may be in (checked before pushing; nginx's allow-list decides too)")
	f.StringVar(&o.statusFile, "status-file", "", "write the sync's status (JSON) here after every sync (for a supervisor's readiness probe)")
	f.BoolVar(&o.once, "once", false, "sync once and exit")
	return cmd
}

// complete builds the syncer from the flags.
func (o *lbSyncOptions) complete(ctx context.Context, logf func(string, ...any)) (*lbsync.Syncer, error) {
	if o.lbAdmin == "" {
		return nil, errors.New("--lb-admin: the load balancer's admin API URL is required (or SWITCHYARD_LB_ADMIN)")
	}
	if o.resync <= 0 {
		return nil, fmt.Errorf("--resync: %s must be positive", o.resync)
	}
	client := &traffic.Client{AdminURL: strings.TrimSuffix(o.lbAdmin, "/"), StateFile: o.lbStateFile}
	if o.lbStateFile == "" {
		// traffic.Client writes its state file before each push; without
		// one, a private file stands in (nginx persists its own state).
		dir, err := os.MkdirTemp("", "switchyard-lb-sync-")
		if err != nil {
			return nil, err
		}
		o.tmpDir, client.StateFile = dir, dir+"/routes.json"
	}
	for _, c := range o.backendsCIDR {
		p, err := netip.ParsePrefix(c)
		if err != nil || !p.Addr().Is4() {
			return nil, fmt.Errorf("--backends-cidr: %q is not an IPv4 CIDR", c)
		}
		client.PodNetworks = append(client.PodNetworks, p.Masked())
	}
	if o.lbTokenFile != "" {
		b, err := os.ReadFile(o.lbTokenFile)
		if err != nil {
			return nil, fmt.Errorf("--lb-token-file: %w", err)
		}
		tok := strings.TrimSpace(string(b))
		if tok == "" {
			return nil, fmt.Errorf("--lb-token-file: %s is empty", o.lbTokenFile)
		}
		client.HTTP = &http.Client{Timeout: 10 * time.Second, Transport: bearer{token: tok, next: http.DefaultTransport}}
	}
	s := &lbsync.Syncer{Pusher: client, Group: o.group, Resync: o.resync, Logf: logf}
	if o.apps != "" {
		specs, err := appspec.LoadDir(o.apps)
		if err != nil {
			return nil, fmt.Errorf("--apps: %w", err)
		}
		s.Apps = specs
	}
	if o.marathonURL != "none" {
		mcfg := marathon.Config{URL: o.marathonURL}
		if o.marathonURL == "" {
			var err error
			if mcfg, err = marathon.ConfigFromEnv(); err != nil {
				return nil, fmt.Errorf("marathon: %w (or --marathon-url none)", err)
			}
		}
		mc, err := marathon.NewClient(mcfg)
		if err != nil {
			return nil, err
		}
		s.Marathon = &lbsync.MarathonSource{Client: mc}
	}
	if o.kubeconfig != "" {
		kc, err := kubeclient.FromKubeconfig(o.kubeconfig, 0, 0)
		if err != nil {
			return nil, err
		}
		ks, err := lbsync.NewKubernetesSource(kc.Clientset, s.Kick, ctx.Done())
		if err != nil {
			return nil, fmt.Errorf("kubernetes informers: %w", err)
		}
		s.Kubernetes = ks
	}
	if s.Marathon == nil && s.Kubernetes == nil {
		return nil, errors.New("nothing to follow: give Marathon (MARATHON_URL or --marathon-url) and/or Kubernetes (--kubeconfig)")
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

func (o *lbSyncOptions) run(ctx context.Context, out io.Writer) error {
	lg := log.New(out, "lb sync: ", log.LstdFlags)
	s, err := o.complete(ctx, lg.Printf)
	if o.tmpDir != "" {
		defer os.RemoveAll(o.tmpDir)
	}
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
	lg.Printf("following %s for group %q; load balancer %s; resync every %s", strings.Join(follows, ", "), o.group, o.lbAdmin, o.resync)
	if o.once {
		st, err := s.Sync(ctx)
		if err != nil {
			return fmt.Errorf("lb sync: %w", err)
		}
		lg.Printf("in step: %d route(s) kept, state version %d", st.Routes, st.Version)
		return nil
	}
	return s.Run(ctx)
}

// bearer adds the admin API's bearer token to every request.
type bearer struct {
	token string
	next  http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}
