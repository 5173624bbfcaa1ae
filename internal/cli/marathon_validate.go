package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/switchyard/switchyard/marathon"
)

// MarathonValidateOptions holds the flags and arguments of `marathon validate`.
type MarathonValidateOptions struct {
	// Paths are the files and directories to check.
	Paths []string
	// Output is text or json (yaml also works).
	Output string
	// Strict turns every rule Marathon's API enforces into an error.
	Strict bool
	// Quiet hides warnings in text output.
	Quiet bool

	files []string
	stdin io.Reader
	// missing are arguments that could not be read, with the reason.
	missing []marathon.FileReport
}

// ValidateReport is the machine-readable answer of `marathon validate -o json`.
type ValidateReport struct {
	Files   []marathon.FileReport `json:"files"`
	Summary ValidateSummary       `json:"summary"`
}

// ValidateSummary counts files and issues over all files.
type ValidateSummary struct {
	Files    int `json:"files"`
	Valid    int `json:"valid"`
	Invalid  int `json:"invalid"`
	Errors   int `json:"errors"`
	Warnings int `json:"warnings"`
}

func newMarathonValidateCmd() *cobra.Command {
	o := &MarathonValidateOptions{}
	cmd := &cobra.Command{
		Use:   "validate FILE|DIR|-...",
		Short: "Check Marathon app, group and pod definitions (JSON)",
		Long: `Check Marathon definitions: an app, a group, a pod, a JSON array of apps, or a
saved /v2/apps or /v2/groups response. Directories are searched for *.json files;
"-" reads standard input.

For each file it prints the errors (with line, column and JSON path), and the
unknown and deprecated fields as warnings. Rules that Marathon's API enforces
but that leave the definition understandable (for example an upper-case id)
are warnings unless --strict is given.

Exit status: 0 when every file is valid, 1 when any file is invalid.`,
		Example: `  switchyard marathon validate app.json
  switchyard marathon validate deploy/marathon/ -o json`,
		Args: cobra.MinimumNArgs(1),
		RunE: runE(o),
	}
	cmd.Flags().StringVarP(&o.Output, "output", "o", "text", "output format: text|json|yaml")
	cmd.Flags().BoolVar(&o.Strict, "strict", false, "report every rule Marathon's API enforces as an error")
	cmd.Flags().BoolVarP(&o.Quiet, "quiet", "q", false, "text output: show errors only")
	return cmd
}

// Complete takes the paths and expands directories into the JSON files
// they hold ("-" is the command's standard input).
func (o *MarathonValidateOptions) Complete(cmd *cobra.Command, args []string) error {
	o.Paths, o.stdin = args, cmd.InOrStdin()
	o.files, o.missing = nil, nil
	for _, p := range o.Paths {
		if p == "-" {
			o.files = append(o.files, p)
			continue
		}
		st, err := os.Stat(p)
		if err != nil {
			o.missing = append(o.missing, unreadable(p, err))
			continue
		}
		if !st.IsDir() {
			o.files = append(o.files, p)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && path != p && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			if !d.IsDir() && strings.EqualFold(filepath.Ext(path), ".json") {
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			o.missing = append(o.missing, unreadable(p, err))
			continue
		}
		if len(found) == 0 {
			o.missing = append(o.missing, unreadable(p, errors.New("directory holds no *.json files")))
		}
		sort.Strings(found)
		o.files = append(o.files, found...)
	}
	return nil
}

func unreadable(path string, err error) marathon.FileReport {
	return marathon.FileReport{
		File: path, Errors: 1, IDs: []string{},
		Issues: []marathon.Issue{{Severity: marathon.SeverityError, Message: err.Error(),
			Hint: "give an existing JSON file or a directory holding *.json files"}},
		UnknownFields: []string{}, DeprecatedFields: []string{},
	}
}

// Validate checks the flags.
func (o *MarathonValidateOptions) Validate() error {
	switch o.Output {
	case "text", "json", "yaml":
		return nil
	}
	return fmt.Errorf("unknown output format %q: use text, json or yaml", o.Output)
}

// Run checks every file, prints the report and returns an *ExitError with
// code 1 when any file is invalid.
func (o *MarathonValidateOptions) Run(_ context.Context, w io.Writer) error {
	rep := ValidateReport{Files: append([]marathon.FileReport{}, o.missing...)}
	for _, f := range o.files {
		var data []byte
		var err error
		if f == "-" && o.stdin != nil {
			data, err = io.ReadAll(o.stdin)
		} else {
			data, err = os.ReadFile(f)
		}
		if err != nil {
			rep.Files = append(rep.Files, unreadable(f, err))
			continue
		}
		rep.Files = append(rep.Files, marathon.Check(f, data, marathon.Options{Strict: o.Strict}))
	}
	for _, f := range rep.Files {
		rep.Summary.Files++
		if f.Errors == 0 {
			rep.Summary.Valid++
		} else {
			rep.Summary.Invalid++
		}
		rep.Summary.Errors += f.Errors
		rep.Summary.Warnings += f.Warnings
	}
	if err := Print(w, o.Output, rep, func(w io.Writer) error { return writeValidateText(w, rep, o.Quiet) }); err != nil {
		return err
	}
	if rep.Summary.Invalid > 0 {
		return &ExitError{Code: 1, Err: fmt.Errorf("%d of %d file(s) invalid", rep.Summary.Invalid, rep.Summary.Files)}
	}
	return nil
}

func writeValidateText(w io.Writer, rep ValidateReport, quiet bool) error {
	var b strings.Builder
	for _, f := range rep.Files {
		status := "ok"
		if f.Errors > 0 {
			status = "INVALID"
		}
		what := string(f.Kind)
		if len(f.IDs) == 1 {
			what += " " + f.IDs[0]
		} else if len(f.IDs) > 1 {
			what += fmt.Sprintf(" with %d apps", len(f.IDs))
		}
		if what != "" {
			what = " (" + strings.TrimSpace(what) + ")"
		}
		fmt.Fprintf(&b, "%-7s %s%s: %s\n", status, f.File, what, plural(f.Errors, "error")+", "+plural(f.Warnings, "warning"))
		for _, is := range f.Issues {
			if quiet && is.Severity != marathon.SeverityError {
				continue
			}
			pos := ""
			if is.Line > 0 {
				pos = fmt.Sprintf("%d:%d", is.Line, is.Column)
			}
			path := is.Path
			if path == "" {
				path = "(document)"
			}
			fmt.Fprintf(&b, "  %-8s %-7s %s: %s\n", pos, is.Severity, path, is.Message)
			if is.Hint != "" {
				fmt.Fprintf(&b, "  %-8s %-7s   -> %s\n", "", "", is.Hint)
			}
		}
	}
	s := rep.Summary
	fmt.Fprintf(&b, "\n%s checked: %d valid, %d invalid; %s, %s\n", plural(s.Files, "file"), s.Valid, s.Invalid, plural(s.Errors, "error"), plural(s.Warnings, "warning"))
	_, err := io.WriteString(w, b.String())
	return err
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
