package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/lab"
	"github.com/switchyard/switchyard/lab/labconfig"
)

// Root persistent flags that choose the client config (config.go documents them).
const (
	flagContext    = "context"
	flagConfigFile = "config"
)

// addContextFlags adds the global --context and --config flags to the root.
// Under `lab`, --config is the lab's own config file (lab.yaml) and shadows
// this one: point lab commands at another switchyard config with
// $SWITCHYARD_CONFIG.
func addContextFlags(root *cobra.Command) {
	f := root.PersistentFlags()
	f.String(flagContext, "", "context of the switchyard config to use (default its currentContext; see `switchyard config`)")
	f.String(flagConfigFile, "", "switchyard config file (default $SWITCHYARD_CONFIG, else ~/.config/switchyard/config.yaml)")
}

// rootFlag is the value of one of the root's persistent flags ("" when unset
// or shadowed by a sub-command's flag of the same name).
func rootFlag(cmd *cobra.Command, name string) string {
	if f := cmd.Root().PersistentFlags().Lookup(name); f != nil {
		return f.Value.String()
	}
	return ""
}

// configPath is the switchyard config file a command reads and writes:
// --config, else $SWITCHYARD_CONFIG, else ~/.config/switchyard/config.yaml.
func configPath(cmd *cobra.Command) (string, error) {
	if p := rootFlag(cmd, flagConfigFile); p != "" {
		return p, nil
	}
	return config.Path(os.Getenv)
}

// resolveContext returns the context cmd runs with: --context (else the
// config file's currentContext), overridden by the environment and by the
// command's own connection flags when it has them and they were given
// (--marathon-url, --mesos-url, --kubeconfig, --kube-context, --namespace,
// --lb-admin, --lb-token-file, --journal). See config.Resolve for the rules.
func resolveContext(cmd *cobra.Command) (config.Context, error) {
	return resolveContextWith(cmd, overridesFromFlags(cmd))
}

// resolveContextWith is resolveContext with the overrides given by the
// caller. It prints the context's warnings (environment variables it did
// not apply) to the command's stderr.
func resolveContextWith(cmd *cobra.Command, o config.Overrides) (config.Context, error) {
	file, err := configPath(cmd)
	if err != nil {
		return config.Context{}, err
	}
	c, err := config.Resolve(file, rootFlag(cmd, flagContext), os.Getenv, o)
	if err != nil {
		return c, err
	}
	for _, w := range c.Warnings {
		fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w)
	}
	return c, nil
}

// overridesFromFlags collects the connection flags a command defines and
// that were set on its command line.
func overridesFromFlags(cmd *cobra.Command) config.Overrides {
	fs := cmd.Flags()
	get := func(name string) string {
		if f := fs.Lookup(name); f != nil && f.Changed {
			return f.Value.String()
		}
		return ""
	}
	o := config.Overrides{
		MarathonURL:       get("marathon-url"),
		MarathonTokenFile: get("marathon-token-file"),
		MesosURL:          get("mesos-url"),
		Kubeconfig:        get("kubeconfig"),
		KubeContext:       get("kube-context"),
		Namespace:         get("namespace"),
		LBTokenFile:       get("lb-token-file"),
		Journal:           get("journal"),
	}
	if f := fs.Lookup("lb-admin"); f != nil && f.Changed {
		if sv, ok := f.Value.(interface{ GetSlice() []string }); ok {
			o.LBAdmin = sv.GetSlice()
		} else {
			for _, u := range strings.Split(f.Value.String(), ",") {
				if u = strings.TrimSpace(u); u != "" {
					o.LBAdmin = append(o.LBAdmin, u)
				}
			}
		}
	}
	return o
}

// contextOrLab is the context of the lab in labDir when given (its
// lab.yaml; the same context `lab up` writes), else resolveContext.
func contextOrLab(cmd *cobra.Command, labDir string) (config.Context, error) {
	if labDir == "" {
		return resolveContext(cmd)
	}
	abs, err := filepath.Abs(labDir)
	if err != nil {
		return config.Context{}, err
	}
	cfg, err := labconfig.Load(filepath.Join(abs, "lab.yaml"))
	if err != nil {
		return config.Context{}, fmt.Errorf("--lab-dir: %w (start a lab with `switchyard lab up`)", err)
	}
	cfg.Dir = abs
	return config.Apply(lab.ContextFor(cfg), os.Getenv, overridesFromFlags(cmd))
}
