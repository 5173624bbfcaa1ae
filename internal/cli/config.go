package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/internal/redact"
)

// newConfigCmd is `switchyard config`: the contexts of the switchyard config file.
func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Contexts: which Marathon, Kubernetes and load balancers a command works on",
		Long: `Manage the switchyard config file ($SWITCHYARD_CONFIG, else ~/.config/switchyard/config.yaml; --config names
another), in the style of kubectl's kubeconfig. It holds named contexts; each says which Marathon (and how to
authenticate: dcos-token, dcos-login, basic, none), which Mesos master, which Kubernetes cluster (kubeconfig, context,
namespace), which load-balancer instances (admin URL and token file) and which migration journal a command uses.
The file holds paths to secrets, never secrets.

A command uses --context NAME, else the file's currentContext. Flags override the context, and so do the usual
environment variables: MARATHON_URL (or DCOS_URL) with DCOS_ACS_TOKEN, MESOS_MASTER_URL, KUBECONFIG,
SWITCHYARD_LB_ADMIN with SWITCHYARD_LB_TOKEN_FILE, SWITCHYARD_JOURNAL. A Marathon URL from the environment replaces the
context's Marathon settings entirely, and DCOS_ACS_TOKEN is only sent to the environment's own URL, never to a
context's nor to one given by a flag (--url, --marathon-url). ` + "`switchyard lab up`" + ` writes a context for the lab and makes it current.`,
	}
	cmd.AddCommand(newConfigViewCmd(), newConfigGetContextsCmd(), newConfigCurrentContextCmd(), newConfigUseContextCmd(),
		newConfigSetContextCmd(), newConfigDeleteContextCmd())
	return cmd
}

// configFileOptions are the options of the config commands that read the
// config file: Complete loads it.
type configFileOptions struct {
	path string
	file *config.File
	// contextName is --context (config view --minify).
	contextName string
}

// Complete loads the config file the command works on.
func (o *configFileOptions) Complete(cmd *cobra.Command, _ []string) error {
	path, err := configPath(cmd)
	if err != nil {
		return err
	}
	o.path, o.contextName = path, rootFlag(cmd, flagContext)
	o.file, err = config.Load(path)
	return err
}

// Validate has nothing to check.
func (o *configFileOptions) Validate() error { return nil }

// configViewOptions are the options of `config view`.
type configViewOptions struct {
	configFileOptions
	output string
	minify bool
}

// Validate checks -o.
func (o *configViewOptions) Validate() error {
	if o.output != "yaml" && o.output != "json" {
		return fmt.Errorf("-o %s: use yaml or json", o.output)
	}
	return nil
}

// Run prints the config file (only the current context with --minify).
func (o *configViewOptions) Run(_ context.Context, out io.Writer) error {
	f, path := o.file, o.path
	if o.minify {
		name := o.contextName
		if name == "" {
			name = f.CurrentContext
		}
		if name == "" {
			return fmt.Errorf("--minify: %s has no current context: pass --context NAME or run `switchyard config use-context NAME`", path)
		}
		c, err := f.Get(name)
		if err != nil {
			return fmt.Errorf("config %s: %w", path, err)
		}
		f = &config.File{CurrentContext: name, Contexts: []config.Context{c}}
	}
	f.APIVersion, f.Kind = config.APIVersion, config.Kind
	if f.Contexts == nil {
		f.Contexts = []config.Context{}
	}
	if o.output == "yaml" {
		b, err := f.Marshal()
		if err != nil {
			return err
		}
		_, err = out.Write(b)
		return err
	}
	return Print(out, o.output, f, nil)
}

func newConfigViewCmd() *cobra.Command {
	o := &configViewOptions{}
	cmd := &cobra.Command{
		Use:   "view",
		Short: "Show the config file (paths of token and password files, never secrets)",
		Args:  cobra.NoArgs,
		RunE:  runE(o),
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", "yaml", "output format: yaml|json")
	cmd.Flags().BoolVar(&o.minify, "minify", false, "show only the current context (or --context)")
	return cmd
}

// contextRow is one line of `config get-contexts`.
type contextRow struct {
	Current       bool   `json:"current"`
	Name          string `json:"name"`
	Marathon      string `json:"marathon,omitempty"`
	Auth          string `json:"auth,omitempty"`
	Kubernetes    string `json:"kubernetes,omitempty"`
	Namespace     string `json:"namespace,omitempty"`
	LoadBalancers int    `json:"loadBalancers"`
}

// getContextsOptions are the options of `config get-contexts`.
type getContextsOptions struct {
	configFileOptions
	output string
}

// Run lists the contexts.
func (o *getContextsOptions) Run(_ context.Context, out io.Writer) error {
	f, path := o.file, o.path
	var rows []contextRow
	for _, c := range f.Contexts {
		kube := c.Kubernetes.Context
		if kube == "" && c.Kubernetes.Kubeconfig != "" {
			kube = c.Kubernetes.Kubeconfig
		}
		rows = append(rows, contextRow{Current: c.Name == f.CurrentContext, Name: c.Name, Marathon: redact.URL(c.Marathon.URL),
			Auth: c.Marathon.Auth.Type, Kubernetes: kube, Namespace: c.Kubernetes.Namespace, LoadBalancers: len(c.LoadBalancer.Instances)})
	}
	if o.output == "name" {
		for _, r := range rows {
			fmt.Fprintln(out, r.Name)
		}
		return nil
	}
	return Print(out, o.output, rows, func(w io.Writer) error {
		if len(rows) == 0 {
			_, err := fmt.Fprintf(w, "no contexts in %s: create one with `switchyard config set-context NAME --marathon-url URL ...` (or `switchyard lab up`)\n", path)
			return err
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "CURRENT\tNAME\tMARATHON\tAUTH\tKUBERNETES\tNAMESPACE\tLOAD BALANCERS")
		for _, r := range rows {
			cur := ""
			if r.Current {
				cur = "*"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\n", cur, r.Name, r.Marathon, r.Auth, r.Kubernetes, r.Namespace, r.LoadBalancers)
		}
		return tw.Flush()
	})
}

func newConfigGetContextsCmd() *cobra.Command {
	o := &getContextsOptions{}
	cmd := &cobra.Command{
		Use:   "get-contexts",
		Short: "List the contexts (* marks the current one)",
		Args:  cobra.NoArgs,
		RunE:  runE(o),
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", "table", "output format: table|name|json|yaml")
	return cmd
}

// currentContextOptions are the options of `config current-context`.
type currentContextOptions struct {
	configFileOptions
}

// Run prints the current context's name.
func (o *currentContextOptions) Run(_ context.Context, out io.Writer) error {
	if o.file.CurrentContext == "" {
		return fmt.Errorf("no current context in %s: run `switchyard config use-context NAME`", o.path)
	}
	_, err := fmt.Fprintln(out, o.file.CurrentContext)
	return err
}

func newConfigCurrentContextCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "current-context",
		Short: "Print the current context's name",
		Args:  cobra.NoArgs,
		RunE:  runE(&currentContextOptions{}),
	}
}

// contextNameOptions are the options of the config commands that change
// the context NAME in the config file: Complete finds the file.
type contextNameOptions struct {
	path, name string
}

// Complete finds the config file and takes NAME.
func (o *contextNameOptions) Complete(cmd *cobra.Command, args []string) error {
	o.name = args[0]
	var err error
	o.path, err = configPath(cmd)
	return err
}

// Validate has nothing to check.
func (o *contextNameOptions) Validate() error { return nil }

// useContextOptions are the options of `config use-context NAME`.
type useContextOptions struct {
	contextNameOptions
}

// Run makes NAME the current context.
func (o *useContextOptions) Run(_ context.Context, out io.Writer) error {
	if err := config.Update(o.path, func(f *config.File) error { return f.Use(o.name) }); err != nil {
		return err
	}
	_, err := fmt.Fprintf(out, "switched to context %q (%s)\n", o.name, o.path)
	return err
}

func newConfigUseContextCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "use-context NAME",
		Short: "Make NAME the current context",
		Args:  cobra.ExactArgs(1),
		RunE:  runE(&useContextOptions{}),
	}
}

// deleteContextOptions are the options of `config delete-context NAME`.
type deleteContextOptions struct {
	contextNameOptions
}

// Run deletes the context NAME.
func (o *deleteContextOptions) Run(_ context.Context, out io.Writer) error {
	wasCurrent := false
	if err := config.Update(o.path, func(f *config.File) error {
		wasCurrent = f.CurrentContext == o.name
		return f.Delete(o.name)
	}); err != nil {
		return err
	}
	fmt.Fprintf(out, "deleted context %q from %s\n", o.name, o.path)
	if wasCurrent {
		fmt.Fprintln(out, "it was the current context: no context is current now (`switchyard config use-context NAME`)")
	}
	return nil
}

func newConfigDeleteContextCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete-context NAME",
		Short: "Delete the context NAME",
		Args:  cobra.ExactArgs(1),
		RunE:  runE(&deleteContextOptions{}),
	}
}

// setContextOptions are the flags of `config set-context`; only the flags
// given change the context.
type setContextOptions struct {
	name string

	marathonURL, marathonAuth, marathonTokenFile, marathonCAFile     string
	marathonUsername, marathonPasswordFile, marathonUID, marathonKey string
	marathonLoginURL, mesosURL, kubeconfig, kubeContext, namespace   string
	journal, serverURL, serverTokenFile, serverCAFile                string
	marathonInsecure, current                                        bool
	lbInstances                                                      []string
	lbBackendsCIDRs                                                  []string

	// Filled by Complete.
	path      string
	parsedLBs []config.LBInstance
	changed   func(string) bool
}

func newConfigSetContextCmd() *cobra.Command {
	o := &setContextOptions{}
	cmd := &cobra.Command{
		Use:   "set-context NAME [flags]",
		Short: "Create the context NAME, or change the fields given on the command line",
		Long: `Create the context NAME, or change the fields given as flags (a flag given as "" clears its field). Paths are
made absolute. --marathon-token-file, --marathon-username/--marathon-password-file and --marathon-uid/
--marathon-private-key-file imply the auth type (dcos-token, basic, dcos-login) unless --marathon-auth says otherwise;
a new --marathon-auth clears the fields of the previous type. --lb-instance replaces the context's instance list.

  switchyard config set-context prod --marathon-url https://dcos.example/service/marathon \
      --marathon-auth dcos-token --marathon-token-file /etc/switchyard/dcos.token --marathon-ca-file /etc/ssl/dcos-ca.pem \
      --mesos-url http://leader.mesos:5050 --kubeconfig ~/.kube/config --kube-context prod-admin --namespace apps \
      --lb-instance lb-1=https://10.0.0.5:8443,tokenFile=/etc/switchyard/lb.token,caFile=/etc/ssl/lb-ca.pem`,
		Args: cobra.ExactArgs(1),
		RunE: runE(o),
	}
	f := cmd.Flags()
	f.StringVar(&o.marathonURL, "marathon-url", "", "Marathon URL (comma-separated for several)")
	f.StringVar(&o.marathonAuth, "marathon-auth", "", "Marathon auth type: dcos-token|dcos-login|basic|none")
	f.StringVar(&o.marathonTokenFile, "marathon-token-file", "", "file holding the Marathon (DC/OS) token")
	f.StringVar(&o.marathonCAFile, "marathon-ca-file", "", "PEM CA bundle trusted for an https Marathon")
	f.BoolVar(&o.marathonInsecure, "marathon-insecure-skip-verify", false, "skip TLS verification towards Marathon")
	f.StringVar(&o.marathonUsername, "marathon-username", "", "basic-auth user name")
	f.StringVar(&o.marathonPasswordFile, "marathon-password-file", "", "file holding the basic-auth password")
	f.StringVar(&o.marathonUID, "marathon-uid", "", "DC/OS service account uid (dcos-login)")
	f.StringVar(&o.marathonKey, "marathon-private-key-file", "", "DC/OS service account RSA private key, PEM (dcos-login)")
	f.StringVar(&o.marathonLoginURL, "marathon-login-url", "", "DC/OS login URL (default <DC/OS>/acs/api/v1/auth/login from a .../service/marathon URL)")
	f.StringVar(&o.mesosURL, "mesos-url", "", "Mesos master URL")
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file")
	f.StringVar(&o.kubeContext, "kube-context", "", "kubeconfig context")
	f.StringVar(&o.namespace, "namespace", "", "Kubernetes namespace of apps whose app.yaml names none")
	f.StringSliceVar(&o.lbBackendsCIDRs, "lb-backends-cidr", nil, "networks backends may be in (the instances' --backends-cidr; repeatable; replaces the list)")
	f.StringArrayVar(&o.lbInstances, "lb-instance", nil, "load-balancer instance NAME=ADMIN_URL[,tokenFile=F][,caFile=F] (repeatable; replaces the list)")
	f.StringVar(&o.journal, "journal", "", "migration journal file")
	f.StringVar(&o.serverURL, "server-url", "", "the `switchyard serve` that runs this context's migrations (migrate, rollback, pause, resume, abort and status go to it)")
	f.StringVar(&o.serverTokenFile, "server-token-file", "", "file holding a bearer token of the server")
	f.StringVar(&o.serverCAFile, "server-ca-file", "", "PEM CA bundle trusted for an https server")
	f.BoolVar(&o.current, "current", false, "also make it the current context")
	return cmd
}

// Complete takes NAME, finds the config file and makes the paths given
// absolute (a --lb-instance Validate refuses is left out).
func (o *setContextOptions) Complete(cmd *cobra.Command, args []string) error {
	o.name = args[0]
	o.changed = cmd.Flags().Changed
	abs := func(p *string) error {
		if *p == "" || strings.HasPrefix(*p, "~") {
			return nil
		}
		a, err := filepath.Abs(*p)
		*p = a
		return err
	}
	for _, p := range []*string{&o.marathonTokenFile, &o.marathonCAFile, &o.marathonPasswordFile, &o.marathonKey, &o.kubeconfig, &o.journal, &o.serverTokenFile, &o.serverCAFile} {
		if err := abs(p); err != nil {
			return err
		}
	}
	o.parsedLBs = nil
	for _, spec := range o.lbInstances {
		in, err := parseLBInstance(spec)
		if err != nil {
			continue
		}
		if err := abs(&in.TokenFile); err != nil {
			return err
		}
		if err := abs(&in.CAFile); err != nil {
			return err
		}
		o.parsedLBs = append(o.parsedLBs, in)
	}
	var err error
	o.path, err = configPath(cmd)
	return err
}

// Validate checks --marathon-auth and each --lb-instance.
func (o *setContextOptions) Validate() error {
	switch o.marathonAuth {
	case "", config.AuthNone, config.AuthDCOSToken, config.AuthDCOSLogin, config.AuthBasic:
	default:
		return fmt.Errorf("--marathon-auth %q: use %s, %s, %s or %s", o.marathonAuth, config.AuthDCOSToken, config.AuthDCOSLogin, config.AuthBasic, config.AuthNone)
	}
	for _, spec := range o.lbInstances {
		if _, err := parseLBInstance(spec); err != nil {
			return err
		}
	}
	return nil
}

// parseLBInstance parses NAME=ADMIN_URL[,tokenFile=F][,caFile=F].
func parseLBInstance(spec string) (config.LBInstance, error) {
	parts := strings.Split(spec, ",")
	name, u, ok := strings.Cut(parts[0], "=")
	if !ok || name == "" || u == "" {
		return config.LBInstance{}, fmt.Errorf("--lb-instance %q: want NAME=ADMIN_URL[,tokenFile=F][,caFile=F]", spec)
	}
	in := config.LBInstance{Name: name, AdminURL: u}
	for _, kv := range parts[1:] {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "tokenFile":
			in.TokenFile = v
		case "caFile":
			in.CAFile = v
		default:
			return config.LBInstance{}, fmt.Errorf("--lb-instance %q: unknown key %q: use tokenFile or caFile", spec, k)
		}
	}
	return in, nil
}

// Run creates or changes the context.
func (o *setContextOptions) Run(_ context.Context, out io.Writer) error {
	path := o.path
	created := false
	err := config.Update(path, func(f *config.File) error {
		c, err := f.Get(o.name)
		var uc *config.UnknownContextError
		if errors.As(err, &uc) {
			c, created = config.Context{Name: o.name}, true
		}
		o.apply(&c)
		if err := c.Validate(); err != nil {
			return fmt.Errorf("set-context %s: %w", o.name, err)
		}
		f.Set(c)
		if o.current {
			return f.Use(o.name)
		}
		return nil
	})
	if err != nil {
		return err
	}
	verb := "modified"
	if created {
		verb = "created"
	}
	fmt.Fprintf(out, "%s context %q in %s\n", verb, o.name, path)
	return nil
}

// apply sets the fields whose flags were given.
func (o *setContextOptions) apply(c *config.Context) {
	set := func(flag string, dst *string, v string) {
		if o.changed(flag) {
			*dst = v
		}
	}
	m := &c.Marathon
	set("marathon-url", &m.URL, o.marathonURL)
	set("marathon-ca-file", &m.CAFile, o.marathonCAFile)
	if o.changed("marathon-insecure-skip-verify") {
		m.InsecureSkipVerify = o.marathonInsecure
	}
	a := &m.Auth
	authType := a.Type
	if o.changed("marathon-auth") {
		authType = o.marathonAuth
		if authType != a.Type {
			*a = config.MarathonAuth{}
		}
	} else if authType == "" || authType == config.AuthNone {
		switch {
		case o.changed("marathon-token-file"):
			authType = config.AuthDCOSToken
		case o.changed("marathon-uid") || o.changed("marathon-private-key-file"):
			authType = config.AuthDCOSLogin
		case o.changed("marathon-username") || o.changed("marathon-password-file"):
			authType = config.AuthBasic
		}
	}
	a.Type = authType
	if a.Type == config.AuthNone {
		a.Type = ""
	}
	set("marathon-token-file", &a.TokenFile, o.marathonTokenFile)
	set("marathon-username", &a.Username, o.marathonUsername)
	set("marathon-password-file", &a.PasswordFile, o.marathonPasswordFile)
	set("marathon-uid", &a.UID, o.marathonUID)
	set("marathon-private-key-file", &a.PrivateKeyFile, o.marathonKey)
	set("marathon-login-url", &a.LoginURL, o.marathonLoginURL)
	set("mesos-url", &c.Mesos.URL, o.mesosURL)
	set("kubeconfig", &c.Kubernetes.Kubeconfig, o.kubeconfig)
	set("kube-context", &c.Kubernetes.Context, o.kubeContext)
	set("namespace", &c.Kubernetes.Namespace, o.namespace)
	set("journal", &c.Journal.Path, o.journal)
	set("server-url", &c.Server.URL, o.serverURL)
	set("server-token-file", &c.Server.TokenFile, o.serverTokenFile)
	set("server-ca-file", &c.Server.CAFile, o.serverCAFile)
	if o.changed("lb-instance") {
		c.LoadBalancer.Instances = o.parsedLBs
	}
	if o.changed("lb-backends-cidr") {
		c.LoadBalancer.BackendsCIDRs = o.lbBackendsCIDRs
	}
}
