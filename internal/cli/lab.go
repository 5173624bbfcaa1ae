package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/lab"
	"github.com/switchyard/switchyard/lab/component"
	"github.com/switchyard/switchyard/lab/labconfig"
)

// labOptions are the flags every `lab` sub-command shares.
type labOptions struct {
	labDir     string
	configFile string

	// Filled by load.
	cfg        labconfig.Config
	configPath string
	self       string
}

func newLabCmd() *cobra.Command {
	o := &labOptions{}
	cmd := &cobra.Command{
		Use:   "lab",
		Short: "Run the local lab: Marathon, Mesos view, Kubernetes and nginx on loopback",
		Long: `Run the local lab on this machine, on loopback addresses: the lab's Marathon (with its Mesos master view),
a Kubernetes control plane whose nodes are the lab's nodes, and the shared nginx in front of both.

The lab lives in a directory (--lab-dir, else $SWITCHYARD_LAB_DIR, else ./.lab) that holds its config (lab.yaml,
written with defaults on the first ` + "`lab up`" + `), logs (logs/<component>.log) and state.

` + "`lab up`" + ` writes a switchyard context named after the lab's id into the switchyard config ($SWITCHYARD_CONFIG, else
~/.config/switchyard/config.yaml) and makes it current, so switchyard commands work on the lab (docs/contexts.md).`,
	}
	cmd.PersistentFlags().StringVar(&o.labDir, "lab-dir", "", "lab directory (default $SWITCHYARD_LAB_DIR or ./.lab)")
	cmd.PersistentFlags().StringVar(&o.configFile, "config", "", "lab config file (default <lab-dir>/lab.yaml)")
	cmd.AddCommand(newLabUpCmd(o), newLabStatusCmd(o), newLabDownCmd(o), newLabLogsCmd(o), newLabEnvCmd(o), newLabRunCmd())
	return cmd
}

// newLabRunCmd is the hidden parent of the lab's daemons (`lab run marathon`,
// `lab run node-agent`...), which the supervisor starts as components.
func newLabRunCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:    "run",
		Short:  "Run one lab daemon in the foreground (started by `lab up`)",
		Hidden: true,
	}
	cmd.AddCommand(labRunCommands()...)
	return cmd
}

// dir resolves the lab directory from the flag, the environment or the default.
func (o *labOptions) dir() (string, error) {
	d := o.labDir
	if d == "" {
		d = os.Getenv("SWITCHYARD_LAB_DIR")
	}
	if d == "" {
		d = ".lab"
	}
	abs, err := filepath.Abs(d)
	if err != nil {
		return "", fmt.Errorf("lab directory %s: %w", d, err)
	}
	return abs, nil
}

// load reads the lab config; with create, a missing <dir>/lab.yaml is
// written from labconfig.NewLab() first (token auth for the lab Marathon).
func (o *labOptions) load(create bool, out io.Writer) error {
	dir, err := o.dir()
	if err != nil {
		return err
	}
	path := o.configFile
	if path == "" {
		path = filepath.Join(dir, "lab.yaml")
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if !create || o.configFile != "" {
			return fmt.Errorf("no lab config %s: start a lab with `switchyard lab up` (or pass --lab-dir/--config)", path)
		}
		if err := lab.WriteNewConfig(dir, path); err != nil {
			return err
		}
		fmt.Fprintf(out, "wrote the default lab config to %s (edit it and run `lab down`/`lab up` to change the lab)\n", path)
	}
	cfg, err := labconfig.Load(path)
	if err != nil {
		return err
	}
	if o.labDir != "" && o.configFile != "" {
		cfg.Dir = dir
	}
	if create && path != cfg.Path("lab.yaml") {
		// The components read <lab-dir>/lab.yaml: keep the lab's copy there.
		if err := writeLabConfig(cfg, cfg.Path("lab.yaml")); err != nil {
			return err
		}
		fmt.Fprintf(out, "copied %s to %s (the lab's components read it there)\n", path, cfg.Path("lab.yaml"))
		path = cfg.Path("lab.yaml")
		o.configFile, o.labDir = "", cfg.Dir
	}
	o.cfg, o.configPath = cfg, path
	if o.self, err = os.Executable(); err != nil {
		return fmt.Errorf("locate the switchyard binary: %w", err)
	}
	return nil
}

// Complete loads the lab's config (its messages go to the command's
// standard output).
func (o *labOptions) Complete(cmd *cobra.Command, _ []string) error {
	return o.load(false, cmd.OutOrStdout())
}

// Validate has nothing to check.
func (o *labOptions) Validate() error { return nil }

// loadLabFromFlags loads the lab a `lab run` daemon serves, from its
// --config or --lab-dir flag.
func loadLabFromFlags(cmd *cobra.Command) (*labOptions, error) {
	lo := &labOptions{}
	if f := cmd.Flags().Lookup("config"); f != nil {
		lo.configFile = f.Value.String()
	}
	if f := cmd.Flags().Lookup("lab-dir"); f != nil {
		lo.labDir = f.Value.String()
	}
	if err := lo.load(false, cmd.ErrOrStderr()); err != nil {
		return nil, err
	}
	return lo, nil
}

func (o *labOptions) specs() ([]component.Spec, error) {
	specs, err := lab.Components(o.cfg, o.self)
	if err != nil {
		return nil, fmt.Errorf("lab components: %w", err)
	}
	return specs, nil
}

// signalContext is cancelled on Ctrl-C or SIGTERM.
func signalContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
}

type labUpOptions struct {
	*labOptions
	demo      bool
	kwokNodes int
	examples  string
	wrappers  bool

	// Filled by Complete: --kwok-nodes was given; when lab up started.
	kwokChanged bool
	start       time.Time
}

// Complete loads the lab's config, writing the default one for a new lab.
func (o *labUpOptions) Complete(cmd *cobra.Command, _ []string) error {
	o.kwokChanged, o.start = cmd.Flags().Changed("kwok-nodes"), time.Now()
	return o.load(true, cmd.OutOrStdout())
}

// Validate checks --kwok-nodes, and --wrappers against the lab's config.
func (o *labUpOptions) Validate() error {
	if o.kwokChanged && o.kwokNodes != o.cfg.Kubernetes.KwokNodes && o.kwokNodes < 0 {
		return fmt.Errorf("--kwok-nodes: %d: must be 0 or more", o.kwokNodes)
	}
	if o.wrappers && !o.cfg.WrapperMode() && !o.cfg.Kubernetes.Enabled {
		return fmt.Errorf("--wrappers: the lab in %s runs no Kubernetes (kubernetes.enabled is false)", o.configPath)
	}
	return nil
}

func newLabUpCmd(g *labOptions) *cobra.Command {
	o := &labUpOptions{labOptions: g}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start the lab (idempotent) and print what runs where",
		Args:  cobra.NoArgs,
		RunE:  runE(o),
	}
	cmd.Flags().BoolVar(&o.demo, "demo", false, "deploy the sample apps from examples/ once the lab is up and print where they answer")
	cmd.Flags().IntVar(&o.kwokNodes, "kwok-nodes", 0, "add N kwok (simulated) nodes to the lab's Kubernetes for scale tests (saved in lab.yaml)")
	cmd.Flags().StringVar(&o.examples, "examples", "", "directory of sample apps for --demo (default ./examples, else next to the binary)")
	cmd.Flags().BoolVar(&o.wrappers, "wrappers", false, "run the node agents as production runs kubelet: through the kubelet wrapper, one Marathon app per node holding its kubernetesShare (saved in lab.yaml as kubernetes.nodeAgents: wrapper)")
	return cmd
}

// Run saves --kwok-nodes and --wrappers in the lab's config, starts the
// lab (and with --demo its sample apps) and says what runs where.
func (o *labUpOptions) Run(ctx context.Context, out io.Writer) error {
	ctx, cancel := signalContext(ctx)
	defer cancel()
	if o.kwokChanged && o.kwokNodes != o.cfg.Kubernetes.KwokNodes {
		if err := setKwokNodes(o.configPath, o.kwokNodes); err != nil {
			return err
		}
		if err := o.load(false, out); err != nil {
			return err
		}
		fmt.Fprintf(out, "set kubernetes.kwokNodes to %d in %s\n", o.kwokNodes, o.configPath)
	}
	if o.wrappers && !o.cfg.WrapperMode() {
		if err := setNodeAgents(o.configPath, labconfig.NodeAgentsWrapper); err != nil {
			return err
		}
		if err := o.load(false, out); err != nil {
			return err
		}
		fmt.Fprintf(out, "set kubernetes.nodeAgents to %s in %s\n", labconfig.NodeAgentsWrapper, o.configPath)
	}
	specs, err := o.specs()
	if err != nil {
		return err
	}
	if err := lab.Up(ctx, o.cfg, specs, out, lab.WithConfigPath(o.configPath)); err != nil {
		return err
	}
	if o.cfg.WrapperMode() {
		fmt.Fprintln(out, "kubelet wrappers (kubernetes.nodeAgents: wrapper):")
		if err := lab.StartWrappers(ctx, o.cfg, o.self, out); err != nil {
			return fmt.Errorf("%w\nthe rest of the lab runs; fix the cause and run lab up again, or lab down", err)
		}
	}
	fmt.Fprintf(out, "lab up took %s\n", time.Since(o.start).Round(10*time.Millisecond))
	o.writeContext(out)
	if o.demo {
		dir, err := examplesDir(o.examples, o.self)
		if err != nil {
			return err
		}
		eps, err := lab.DeployExamples(ctx, o.cfg, dir, out)
		if err != nil {
			return err
		}
		lab.PrintEndpoints(out, eps)
	}
	fmt.Fprintf(out, "\nuse it from a shell:  eval \"$(%s lab env --lab-dir %s)\"\nstop it:              %s lab down --lab-dir %s\n",
		o.self, o.cfg.Dir, o.self, o.cfg.Dir)
	return nil
}

// writeContext writes the lab's context into the switchyard config
// ($SWITCHYARD_CONFIG, else ~/.config/switchyard/config.yaml: under `lab`,
// --config names the lab config) and makes it current. A failure is only a
// warning: the lab runs, and `lab env` still points tools at it.
func (o *labUpOptions) writeContext(out io.Writer) {
	path, err := config.Path(os.Getenv)
	if err == nil {
		_, err = lab.SaveContext(path, o.cfg)
	}
	if err != nil {
		fmt.Fprintf(out, "warning: the lab's context was not written: %v (use `eval \"$(switchyard lab env)\"` instead)\n", err)
		return
	}
	fmt.Fprintf(out, "wrote context %s to %s and made it current (switchyard commands now use this lab; `switchyard config get-contexts`)\n", o.cfg.ID, path)
}

// setNodeAgents rewrites kubernetes.nodeAgents in the config file.
func setNodeAgents(path, mode string) error {
	cfg, err := labconfig.Load(path)
	if err != nil {
		return err
	}
	cfg.Kubernetes.NodeAgents = mode
	return writeLabConfig(cfg, path)
}

// setKwokNodes rewrites kubernetes.kwokNodes in the config file.
func setKwokNodes(path string, n int) error {
	cfg, err := labconfig.Load(path)
	if err != nil {
		return err
	}
	cfg.Kubernetes.KwokNodes = n
	return writeLabConfig(cfg, path)
}

// writeLabConfig writes cfg to path with its dir relative to the file.
func writeLabConfig(cfg labconfig.Config, path string) error {
	if rel, err := filepath.Rel(filepath.Dir(path), cfg.Dir); err == nil {
		cfg.Dir = rel
	}
	b, err := cfg.Marshal()
	if err != nil {
		return fmt.Errorf("render lab config: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write lab config: %w", err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("write lab config: %w", err)
	}
	return nil
}

// examplesDir finds the sample apps: the flag, ./examples, or examples/ next
// to the binary's directory (bin/switchyard -> examples/).
func examplesDir(flag, self string) (string, error) {
	cands := []string{flag}
	if flag == "" {
		cands = []string{"examples", filepath.Join(filepath.Dir(filepath.Dir(self)), "examples")}
	}
	for _, c := range cands {
		if st, err := os.Stat(filepath.Join(c, "marathon")); err == nil && st.IsDir() {
			return filepath.Abs(c)
		}
	}
	return "", fmt.Errorf("lab up --demo: no sample apps found in %s (expected a marathon/ directory): run from the repository or pass --examples DIR", strings.Join(cands, " or "))
}

type labStatusOptions struct {
	*labOptions
	output string
}

// Run prints each component's health (exit 3 when one is crashed or
// unhealthy).
func (o *labStatusOptions) Run(ctx context.Context, out io.Writer) error {
	specs, err := o.specs()
	if err != nil {
		return err
	}
	sts, err := lab.Status(ctx, o.cfg, specs)
	if err != nil {
		return err
	}
	if err := Print(out, o.output, sts, func(w io.Writer) error { return lab.PrintStatus(w, sts) }); err != nil {
		return err
	}
	for _, s := range sts {
		if s.State == lab.StateCrashed || s.State == lab.StateUnhealthy {
			return &ExitError{Code: 3, Err: fmt.Errorf("lab status: %s is %s", s.Name, s.State)}
		}
	}
	return nil
}

func newLabStatusCmd(g *labOptions) *cobra.Command {
	o := &labStatusOptions{labOptions: g}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show each lab component's health (healthy, unhealthy, crashed with its last log lines, not started)",
		Args:  cobra.NoArgs,
		RunE:  runE(o),
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", "table", "output format: table|json|yaml")
	return cmd
}

// labDownOptions are the options of `lab down`.
type labDownOptions struct {
	*labOptions
}

// Run stops the lab.
func (o *labDownOptions) Run(ctx context.Context, out io.Writer) error {
	specs, err := o.specs()
	if err != nil {
		return err
	}
	return lab.Down(ctx, o.cfg, specs, out, lab.WithConfigPath(o.configPath))
}

func newLabDownCmd(g *labOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "down",
		Short: "Stop the lab: its components, Marathon tasks and pods; verify no process or port is left",
		Long: `Stop the lab: its components, Marathon tasks and pods; verify that no process or port is left.

The lab's context, which ` + "`lab up`" + ` wrote into the switchyard config, is left as it is (and stays current if it
was): the next ` + "`lab up`" + ` of the same lab directory uses it again. Remove it with
` + "`switchyard config delete-context <lab id>`" + `.`,
		Args: cobra.NoArgs,
		RunE: runE(&labDownOptions{labOptions: g}),
	}
}

type labLogsOptions struct {
	*labOptions
	follow    bool
	tail      int
	component string
}

// Complete loads the lab's config and takes COMPONENT.
func (o *labLogsOptions) Complete(cmd *cobra.Command, args []string) error {
	o.component = args[0]
	return o.labOptions.Complete(cmd, args)
}

// Run prints the component's log (following it with -f until Ctrl-C).
func (o *labLogsOptions) Run(ctx context.Context, out io.Writer) error {
	specs, err := o.specs()
	if err != nil {
		return err
	}
	ctx, cancel := signalContext(ctx)
	defer cancel()
	return lab.Logs(ctx, o.cfg, specs, o.component, lab.LogOptions{Tail: o.tail, Follow: o.follow}, out)
}

func newLabLogsCmd(g *labOptions) *cobra.Command {
	o := &labLogsOptions{labOptions: g}
	cmd := &cobra.Command{
		Use:   "logs COMPONENT",
		Short: "Show a lab component's log",
		Args:  cobra.ExactArgs(1),
		RunE:  runE(o),
	}
	cmd.Flags().BoolVarP(&o.follow, "follow", "f", false, "keep printing new output (Ctrl-C to stop)")
	cmd.Flags().IntVar(&o.tail, "tail", -1, "show only the last N lines (-1: all)")
	return cmd
}

type labEnvOptions struct {
	*labOptions
	output string
}

// Run prints the lab's environment as export lines (or -o json|yaml).
func (o *labEnvOptions) Run(_ context.Context, out io.Writer) error {
	vars := lab.Env(o.cfg)
	if o.output == "sh" {
		_, err := io.WriteString(out, lab.Exports(vars))
		return err
	}
	return Print(out, o.output, vars, nil)
}

func newLabEnvCmd(g *labOptions) *cobra.Command {
	o := &labEnvOptions{labOptions: g}
	cmd := &cobra.Command{
		Use:   "env",
		Short: "Print shell export lines for the lab (use: eval \"$(switchyard lab env)\")",
		Args:  cobra.NoArgs,
		RunE:  runE(o),
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", "sh", "output format: sh|json|yaml")
	return cmd
}
