package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/switchyard/switchyard/convert"
	"github.com/switchyard/switchyard/marathon"
)

// ConvertOptions holds the flags and arguments of `switchyard convert`.
type ConvertOptions struct {
	// Source is a file, a directory of *.json files, or marathon://APP_ID.
	Source string
	// Output is manifests (YAML on stdout) or chart (--out DIR).
	Output string
	// Out is the chart directory for -o chart.
	Out string
	// ReportFile receives the fidelity report as JSON.
	ReportFile string
	// Namespace is set on every object (manifests only; Helm sets it for charts).
	Namespace string
	// LimitPolicy is equal, no-cpu-limit or factor:F.
	LimitPolicy string
	// HostAddress is pod-ip or host-ip ($HOST).
	HostAddress string
	// BaseImage and FetcherImage override the converter's images.
	BaseImage, FetcherImage string

	opts   convert.Options
	stderr io.Writer
}

func newConvertCmd() *cobra.Command {
	o := &ConvertOptions{}
	cmd := &cobra.Command{
		Use:   "convert SOURCE",
		Short: "Convert Marathon apps, groups and pods to Kubernetes manifests or a Helm chart",
		Long: `Convert Marathon definitions to Kubernetes objects with a fidelity report.

SOURCE is a Marathon app, group or pod JSON file, a directory of them (*.json),
or marathon://APP_ID to read the app live from $MARATHON_URL.

By default the objects are written to standard output as multi-document YAML
(the same input always gives the same bytes). With -o chart --out DIR a Helm
chart is written instead (one chart per app or pod; several go to DIR/NAME/).

The fidelity report (per source field: converted, approximated, unsupported)
goes to standard error as text, and with --report-file as JSON.

Exit status: 0 when the conversion succeeded, even with unsupported fields;
1 for invalid input (the error names the file, the JSON path and the fix).`,
		Example: `  switchyard convert examples/marathon/web.json
  switchyard convert examples/marathon/ -o chart --out charts/
  switchyard convert marathon:///demo/web --report-file report.json`,
		Args: cobra.ExactArgs(1),
		RunE: runE(o),
	}
	f := cmd.Flags()
	f.StringVarP(&o.Output, "output", "o", "manifests", "output: manifests (YAML on stdout) or chart (needs --out)")
	f.StringVar(&o.Out, "out", "", "directory for -o chart")
	f.StringVar(&o.ReportFile, "report-file", "", "also write the fidelity report as JSON to this file")
	f.StringVarP(&o.Namespace, "namespace", "n", "", "namespace of the objects (manifests)")
	f.StringVar(&o.LimitPolicy, "limit-policy", convert.LimitNoCPU, "resource limits: equal, no-cpu-limit or factor:F")
	f.StringVar(&o.HostAddress, "host-address", convert.HostPodIP, "what $HOST becomes: pod-ip or host-ip")
	f.StringVar(&o.BaseImage, "base-image", "", "image for apps with a cmd and no image (default "+convert.DefaultOptions().BaseImage+")")
	f.StringVar(&o.FetcherImage, "fetcher-image", "", "image of the init container that fetches uris (default "+convert.DefaultOptions().FetcherImage+")")
	return cmd
}

// Complete takes SOURCE and builds the converter options from the flags
// (a --limit-policy Validate refuses is left out).
func (o *ConvertOptions) Complete(cmd *cobra.Command, args []string) error {
	o.Source, o.stderr = args[0], cmd.ErrOrStderr()
	lp, _ := convert.ParseLimitPolicy(o.LimitPolicy)
	o.opts = convert.Options{Namespace: o.Namespace, Limits: lp, HostAddress: o.HostAddress, BaseImage: o.BaseImage, FetcherImage: o.FetcherImage}
	return nil
}

// Validate checks --limit-policy and the flag combinations.
func (o *ConvertOptions) Validate() error {
	if _, err := convert.ParseLimitPolicy(o.LimitPolicy); err != nil {
		return fmt.Errorf("--limit-policy: %w", err)
	}
	switch o.Output {
	case "manifests", "yaml":
		if o.Out != "" {
			return errors.New("--out is for -o chart; manifests go to standard output (redirect it to a file)")
		}
	case "chart":
		if o.Out == "" {
			return errors.New("-o chart needs --out DIR")
		}
		if o.Namespace != "" {
			return errors.New("--namespace is for manifests; a chart is installed into the release namespace (helm -n)")
		}
	default:
		return fmt.Errorf("-o %q: want manifests or chart", o.Output)
	}
	if o.HostAddress != convert.HostPodIP && o.HostAddress != convert.HostNodeIP {
		return fmt.Errorf("--host-address %q: want %s or %s", o.HostAddress, convert.HostPodIP, convert.HostNodeIP)
	}
	return nil
}

// Run converts the source and writes the output, and the report to stderr.
func (o *ConvertOptions) Run(ctx context.Context, stdout io.Writer) error {
	stderr := o.stderr
	res, err := o.load(ctx)
	if err != nil {
		return err
	}
	switch o.Output {
	case "chart":
		if err := o.writeCharts(res, stderr); err != nil {
			return err
		}
	default:
		y, err := convert.YAML(res.Objects())
		if err != nil {
			return err
		}
		if _, err := stdout.Write(y); err != nil {
			return err
		}
	}
	if err := res.Report.WriteText(stderr); err != nil {
		return err
	}
	if o.ReportFile != "" {
		b, err := json.MarshalIndent(res.Report, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(o.ReportFile, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("--report-file: %w", err)
		}
	}
	return nil
}

// load reads and converts the source: a file, a directory or marathon://ID.
func (o *ConvertOptions) load(ctx context.Context) (*convert.Result, error) {
	if id, ok := strings.CutPrefix(o.Source, "marathon://"); ok {
		if id == "" || id == "/" {
			return nil, fmt.Errorf("%s: give an app id, e.g. marathon:///group/app", o.Source)
		}
		cfg, err := marathon.ConfigFromEnv()
		if err != nil {
			return nil, err
		}
		c, err := marathon.NewClient(cfg)
		if err != nil {
			return nil, err
		}
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		app, err := c.App(cctx, "/"+strings.TrimPrefix(id, "/"))
		if err != nil {
			return nil, fmt.Errorf("read %s from Marathon: %w", o.Source, err)
		}
		res, err := convert.App(app, o.opts)
		if err != nil {
			return nil, fmt.Errorf("convert %s: %w", o.Source, err)
		}
		res.Report.File = o.Source
		return res, nil
	}
	st, err := os.Stat(o.Source)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w (give a JSON file, a directory or marathon://APP_ID)", o.Source, err)
	}
	files := []string{o.Source}
	if st.IsDir() {
		files = nil
		err := filepath.WalkDir(o.Source, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.HasSuffix(d.Name(), ".json") {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("source %s: %w", o.Source, err)
		}
		sort.Strings(files)
		if len(files) == 0 {
			return nil, fmt.Errorf("source %s: no *.json files in the directory", o.Source)
		}
	}
	all := &convert.Result{}
	seen := map[string]string{}
	for _, f := range files {
		res, err := convertFile(f, o.opts)
		if err != nil {
			return nil, err
		}
		for _, r := range res.Releases {
			if prev, dup := seen[r.Name]; dup {
				return nil, fmt.Errorf("%s: %s becomes %s, as an app of %s does; fix: give the apps distinct ids", f, r.ID, r.Name, prev)
			}
			seen[r.Name] = f
		}
		all.Releases = append(all.Releases, res.Releases...)
		all.Report.Merge(&res.Report)
	}
	if len(files) == 1 {
		all.Report.File = files[0]
	}
	return all, nil
}

// convertFile decodes, validates and converts one file. Invalid input is
// an error naming the file, the line, the JSON path and the fix.
func convertFile(path string, opts convert.Options) (*convert.Result, error) {
	def, err := marathon.DecodeFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w\nfix the JSON and run `switchyard marathon validate %s`", err, path)
	}
	var msgs []string
	for _, is := range marathon.Validate(def) {
		if is.Severity != marathon.SeverityError {
			continue
		}
		m := fmt.Sprintf("%s: line %d, column %d: %s: %s", path, is.Line, is.Column, is.Path, is.Message)
		if is.Hint != "" {
			m += " (fix: " + is.Hint + ")"
		}
		msgs = append(msgs, m)
	}
	if len(msgs) > 0 {
		return nil, fmt.Errorf("invalid Marathon definition:\n%s\nfix: correct these fields (`switchyard marathon validate %s` lists every issue)", strings.Join(msgs, "\n"), path)
	}
	res, err := convert.Definition(def, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return res, nil
}

// writeCharts writes one chart per release: into --out when there is one,
// else into --out/NAME, with --out/releases.yaml giving the install order.
func (o *ConvertOptions) writeCharts(res *convert.Result, stderr io.Writer) error {
	var order strings.Builder
	order.WriteString("# install order (dependencies first)\nreleases:\n")
	for _, rel := range res.Releases {
		files, err := convert.Chart(rel)
		if err != nil {
			return err
		}
		dir := o.Out
		if len(res.Releases) > 1 {
			dir = filepath.Join(o.Out, rel.Name)
		}
		for _, f := range files {
			p := filepath.Join(dir, filepath.FromSlash(f.Name))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(p, f.Data, 0o644); err != nil {
				return err
			}
		}
		fmt.Fprintf(&order, "  - name: %s\n    chart: %s\n    marathonId: %q\n", rel.Name, rel.Name, rel.ID)
		if len(rel.DependsOn) > 0 {
			fmt.Fprintf(&order, "    dependsOn: [%s]\n", strings.Join(rel.DependsOn, ", "))
		}
		fmt.Fprintf(stderr, "chart %s written to %s\n", rel.Name, dir)
	}
	if len(res.Releases) > 1 {
		if err := os.WriteFile(filepath.Join(o.Out, "releases.yaml"), []byte(order.String()), 0o644); err != nil {
			return err
		}
	}
	return nil
}
