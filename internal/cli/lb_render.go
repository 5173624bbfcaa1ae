package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/switchyard/switchyard/lb"
)

// LBRenderOptions are the flags of `switchyard lb render`.
type LBRenderOptions struct {
	// Out is the directory the files are written to.
	Out string
	// Opts are the module's options (package lb validates them).
	Opts lb.Options
}

// newLBRenderCmd is `switchyard lb render`.
func newLBRenderCmd() *cobra.Command {
	o := &LBRenderOptions{}
	cmd := &cobra.Command{
		Use:   "render",
		Short: "Write the load-balancer module files for your nginx",
		Long: `Writes switchyard.lua, switchyard-http.conf and switchyard-locations.conf into --out
(see docs/load-balancer.md). Include switchyard-http.conf inside your http {} block and
switchyard-locations.conf inside each server {} block that should route; switchyard.lua
must be at --module-dir (default: --out) on the nginx host. Every value is validated
before anything is written.`,
		Example: `  switchyard lb render --out /etc/nginx/switchyard --admin-listen 127.0.0.1:8001 \
      --admin-token-file /etc/nginx/switchyard/admin.token --state-dir /var/lib/switchyard \
      --backends-cidr 10.244.0.0/16 --backends-cidr 10.0.0.0/16`,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
	f := cmd.Flags()
	f.StringVar(&o.Out, "out", "", "directory to write the files to (required)")
	f.StringVar(&o.Opts.AdminListen, "admin-listen", "", "admin API address: IP:port or unix:/path (required)")
	f.StringVar(&o.Opts.AdminTokenFile, "admin-token-file", "", "absolute path of the admin bearer token file nginx reads at start (required)")
	f.StringVar(&o.Opts.StateDir, "state-dir", "", "absolute directory of routes.json, writable by nginx's worker user (required)")
	f.StringArrayVar(&o.Opts.BackendsCIDRs, "backends-cidr", nil, "IPv4 network backends may be in (repeat; at least one)")
	f.StringVar(&o.Opts.AdminTLSCert, "admin-tls-cert", "", "certificate for a TLS admin listener (with --admin-tls-key)")
	f.StringVar(&o.Opts.AdminTLSKey, "admin-tls-key", "", "key for a TLS admin listener (with --admin-tls-cert)")
	f.StringVar(&o.Opts.Location, "location", lb.DefaultLocation, "path prefix of the routing location")
	f.StringVar(&o.Opts.ModuleDir, "module-dir", "", "absolute directory switchyard.lua is in on the nginx host (default: --out)")
	f.StringVar(&o.Opts.AccessLog, "access-log", "", "absolute path of a JSON access log for routed requests (default: the server's access_log)")
	f.StringVar(&o.Opts.SharedDictSize, "shared-dict-size", lb.DefaultSharedDictSize, "size of the switchyard shared dict")
	f.IntVar(&o.Opts.NextUpstreamTries, "next-upstream-tries", lb.DefaultNextUpstreamTries, "tries per request on different backends of the pool")
	return cmd
}

// Complete makes --out absolute and defaults --module-dir to it.
func (o *LBRenderOptions) Complete(_ *cobra.Command, _ []string) error {
	if o.Out == "" {
		return nil // Validate says it is required
	}
	out, err := filepath.Abs(o.Out)
	if err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	o.Out = out
	if o.Opts.ModuleDir == "" {
		o.Opts.ModuleDir = out
	}
	return nil
}

// Validate checks that --out is given, and every other flag as package lb
// does (rendering in memory: every problem is reported, each naming its
// flag).
func (o *LBRenderOptions) Validate() error {
	if o.Out == "" {
		return errors.New("--out: required (the directory to write the files to)")
	}
	_, err := lb.Render(o.Opts)
	return err
}

// Run renders the files, writes them and says where they go.
func (o *LBRenderOptions) Run(_ context.Context, stdout io.Writer) error {
	files, err := lb.Render(o.Opts)
	if err != nil {
		return err
	}
	if err := files.WriteFiles(o.Out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, `wrote %s, %s and %s to %s
  http {} block:          include %s;
  each routing server {}: include %s;
  switchyard.lua must be at %s on the nginx host
  before starting nginx: the token file %s must exist (e.g. openssl rand -hex 32 > it; chmod 600)
                         and %s must be writable by nginx's worker user
then check with nginx -t and reload.
`, lb.ModuleName, lb.HTTPConfName, lb.LocationsConfName, o.Out,
		filepath.Join(o.Out, lb.HTTPConfName), filepath.Join(o.Out, lb.LocationsConfName),
		filepath.Join(o.Opts.ModuleDir, lb.ModuleName), o.Opts.AdminTokenFile, o.Opts.StateDir)
	return nil
}
