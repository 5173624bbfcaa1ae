package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/switchyard/switchyard/bundle"
	"github.com/switchyard/switchyard/bundle/minisign"
	"github.com/switchyard/switchyard/capacity"
	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/internal/version"
	"github.com/switchyard/switchyard/lb"
)

// BundleCreateOptions are the flags of `switchyard bundle create`.
type BundleCreateOptions struct {
	// Out is the bundle file; AppsDir the apps' directory.
	Out, AppsDir string
	// Sign is the minisign secret key file; SignPasswordFile holds the
	// password of a password-protected one.
	Sign, SignPasswordFile string
	// Binary and Platform choose the switchyard binary (default: this one).
	Binary, Platform string
	// Mirrors are --registry-mirror FROM=TO.
	Mirrors []string
	// RegistryCA and PlainHTTP configure the source registries.
	RegistryCA string
	PlainHTTP  bool
	// LB are the load-balancer module's options (--lb-*); LBBackends
	// defaults to the context's loadBalancer.backendsCIDRs.
	LB lb.Options
	// CapacityTarget plans a capacity target against the context's
	// inventory; CapacityPlan takes an emitted plan's directory instead.
	CapacityTarget, CapacityPlan string

	context config.Context
	cmd     *cobra.Command
	signer  *minisign.PrivateKey
	mirrors map[string]string
}

func newBundleCreateCmd() *cobra.Command {
	o := &BundleCreateOptions{}
	cmd := &cobra.Command{
		Use:   "create --apps DIR --out FILE [--sign KEY]",
		Short: "Collect everything a migration needs into one signed bundle file",
		Long: `Collects into one tar file: the switchyard binary (this one, or --binary for --platform), the
load-balancer module files (rendered from the --lb-* flags, as lb render does), the capacity plan's kubelet-wrapper
Marathon apps and kubelet configs (--capacity-target, planned on the context's inventory, or --capacity-plan DIR
from capacity plan --emit), every app of --apps with its chart (its own, fetched when it is in a repository, or
its Marathon definition converted) and Marathon definition, and every image they reference, copied from its
registry (or --registry-mirror) into an OCI image layout, tags resolved to digests. The manifest lists every
file with its SHA-256 and size, and is signed with --sign (minisign). The bundle is written to FILE.partial and
renamed when complete.`,
		Example: `  switchyard bundle keygen --secret-key bundle.key --public-key bundle.pub
  switchyard bundle create --context prod --apps ./apps --out site.bundle --sign bundle.key \
      --lb-admin-listen 10.0.0.5:8443 --lb-admin-token-file /etc/switchyard/lb.token \
      --lb-state-dir /var/lib/switchyard-lb --capacity-target target.yaml`,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
	f := cmd.Flags()
	f.StringVar(&o.Out, "out", "", "bundle file to write (required)")
	f.StringVar(&o.AppsDir, "apps", "", "directory of the apps (app.yaml files) (required)")
	f.StringVar(&o.Sign, "sign", "", "minisign secret key to sign the manifest with (bundle keygen, or minisign -G)")
	f.StringVar(&o.SignPasswordFile, "sign-password-file", "", "file holding the password of a password-protected --sign key")
	f.StringVar(&o.Binary, "binary", "", "switchyard binary to include (default: this one; required with another --platform)")
	f.StringVar(&o.Platform, "platform", runtime.GOOS+"/"+runtime.GOARCH, "OS/ARCH of the site (the binary's)")
	f.StringArrayVar(&o.Mirrors, "registry-mirror", nil, "copy the images of registry FROM from registry TO instead (FROM=TO, repeatable; e.g. docker.io=mirror.example:5000)")
	f.StringVar(&o.RegistryCA, "registry-ca-file", "", "CA certificate of the source registries' TLS certificates (default: the system's)")
	f.BoolVar(&o.PlainHTTP, "plain-http", false, "read the registries over http (loopback and private addresses already are)")
	f.StringVar(&o.LB.AdminListen, "lb-admin-listen", "", "load-balancer module: admin API address (as lb render --admin-listen); without it no lb files are bundled")
	f.StringVar(&o.LB.AdminTokenFile, "lb-admin-token-file", "", "load-balancer module: admin token file on the nginx host")
	f.StringVar(&o.LB.StateDir, "lb-state-dir", "", "load-balancer module: state directory on the nginx host")
	f.StringArrayVar(&o.LB.BackendsCIDRs, "lb-backends-cidr", nil, "load-balancer module: backend network (repeat; default: the context's loadBalancer.backendsCIDRs)")
	f.StringVar(&o.LB.ModuleDir, "lb-module-dir", "/etc/nginx/switchyard", "load-balancer module: directory of the files on the nginx host (bundle install --lb-dir defaults to it)")
	f.StringVar(&o.CapacityTarget, "capacity-target", "", "capacity target file: plan it on the context's inventory and bundle the wrapper apps and kubelet configs")
	f.StringVar(&o.CapacityPlan, "capacity-plan", "", "directory written by capacity plan --emit, bundled as it is (instead of --capacity-target)")
	return cmd
}

// Complete resolves the context, reads the signing key and parses the
// mirrors.
func (o *BundleCreateOptions) Complete(cmd *cobra.Command, _ []string) error {
	o.cmd = cmd
	c, err := resolveContext(cmd)
	if err != nil {
		return err
	}
	o.context = c
	if len(o.LB.BackendsCIDRs) == 0 {
		o.LB.BackendsCIDRs = c.LoadBalancer.BackendsCIDRs
	}
	if o.Binary == "" && o.Platform == runtime.GOOS+"/"+runtime.GOARCH {
		if o.Binary, err = os.Executable(); err != nil {
			return fmt.Errorf("--binary: this binary: %w", err)
		}
	}
	o.mirrors = map[string]string{}
	for _, m := range o.Mirrors {
		from, to, ok := strings.Cut(m, "=")
		if !ok || from == "" || to == "" {
			return fmt.Errorf("--registry-mirror %q: want FROM=TO (e.g. docker.io=127.0.0.1:5000)", m)
		}
		o.mirrors[from] = to
	}
	if o.Sign != "" {
		data, err := os.ReadFile(o.Sign)
		if err != nil {
			return fmt.Errorf("--sign: %w", err)
		}
		password := func() (string, error) {
			if o.SignPasswordFile == "" {
				return "", errors.New("the key is password-protected: give --sign-password-file")
			}
			pw, err := os.ReadFile(o.SignPasswordFile)
			return strings.TrimRight(string(pw), "\r\n"), err
		}
		if o.signer, err = minisign.ParsePrivateKey(data, password); err != nil {
			return fmt.Errorf("--sign %s: %w", o.Sign, err)
		}
	}
	return nil
}

// Validate checks the required flags and their combinations.
func (o *BundleCreateOptions) Validate() error {
	switch {
	case o.Out == "":
		return errors.New("--out: required (the bundle file to write)")
	case o.AppsDir == "":
		return errors.New("--apps: required (the directory of the apps' app.yaml files)")
	case o.Binary == "":
		return fmt.Errorf("--binary: required with --platform %s (this binary is for %s/%s)", o.Platform, runtime.GOOS, runtime.GOARCH)
	case o.CapacityTarget != "" && o.CapacityPlan != "":
		return errors.New("--capacity-target and --capacity-plan: give one")
	}
	if o.LB.AdminListen != "" {
		if _, err := lb.Render(o.LB); err != nil {
			return fmt.Errorf("load-balancer module (--lb-* flags): %w", err)
		}
	}
	return nil
}

// Run plans the capacity target when given, creates the bundle and prints
// a summary.
func (o *BundleCreateOptions) Run(ctx context.Context, out io.Writer) error {
	capDir := o.CapacityPlan
	if o.CapacityTarget != "" {
		tmp, err := os.MkdirTemp("", "switchyard-bundle-capacity-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		if err := o.emitCapacityPlan(ctx, tmp); err != nil {
			return err
		}
		capDir = tmp
	}
	reg, err := registryOptions(o.RegistryCA)
	if err != nil {
		return err
	}
	co := bundle.CreateOptions{Out: o.Out, Context: o.context.Name, Binary: o.Binary, Platform: o.Platform,
		Version: version.Get().Version, CapacityDir: capDir, AppsDir: o.AppsDir, Signer: o.signer, Log: out,
		Registries: &bundle.Registries{Mirrors: o.mirrors, Options: reg, PlainHTTP: o.PlainHTTP},
		Progress:   progressBar(os.Stderr, "create ")}
	if o.LB.AdminListen != "" {
		co.LB = &o.LB
	}
	res, err := bundle.Create(ctx, co)
	if err != nil {
		return fmt.Errorf("bundle create: %w", err)
	}
	m := res.Manifest
	sig := "NOT signed (--sign KEY signs it; install refuses it without --insecure-skip-verify)"
	if o.signer != nil {
		sig = "signed with key " + o.signer.Public().ID()
	}
	abs, _ := filepath.Abs(o.Out)
	fmt.Fprintf(out, "wrote %s: %d files, %d images, %d apps, %s, %s\n  read the apps and resolved the images in %s, wrote the bundle in %s (%s)\n",
		abs, len(m.Files), len(m.Images), len(m.Apps), bundle.FormatBytes(res.Size), sig,
		res.Resolve.Round(time.Millisecond), res.Duration.Round(time.Millisecond), rate(res.Size, res.Duration))
	return nil
}

// emitCapacityPlan plans --capacity-target on the context's inventory as
// `capacity plan --emit DIR` does, into dir.
func (o *BundleCreateOptions) emitCapacityPlan(ctx context.Context, dir string) error {
	data, err := readFileArg(o.CapacityTarget)
	if err != nil {
		return fmt.Errorf("--capacity-target: %w", err)
	}
	tg, err := capacity.ParseTarget(data)
	if err != nil {
		return fmt.Errorf("--capacity-target %s: %w", o.CapacityTarget, err)
	}
	co := &capacityOptions{wrapperPrefix: capacity.DefaultWrapperAppPrefix, nodeNameFrom: capacity.NodeNameAuto,
		timeout: 30 * time.Second, context: o.context}
	po := &capacityPlanOptions{co: co, wrapperCmd: "switchyard kubelet-wrapper", drain: 120, tg: tg}
	c, err := co.cluster(ctx)
	if err != nil {
		return fmt.Errorf("--capacity-target: read the inventory of context %q: %w", o.context.Name, err)
	}
	p, err := capacity.PlanResize(c, tg)
	if err != nil {
		return fmt.Errorf("--capacity-target %s: %w", o.CapacityTarget, err)
	}
	return emitPlan(dir, po.render(p, co.wrapperPrefix))
}
