package cli

import (
	"encoding/json"
	"fmt"
	"io"

	"sigs.k8s.io/yaml"
)

// ValidateFormat checks an -o value before any work is done (Print says
// the same after it, when the work is lost).
func ValidateFormat(format string) error {
	switch format {
	case "json", "yaml", "table", "text", "":
		return nil
	}
	return fmt.Errorf("-o %q: use table, json or yaml", format)
}

// Print writes v to w in the given format: "json", "yaml", or "table"/"text"
// through the table function (which may be nil when v has no table form).
func Print(w io.Writer, format string, v any, table func(io.Writer) error) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case "yaml":
		b, err := yaml.Marshal(v)
		if err != nil {
			return fmt.Errorf("render yaml: %w", err)
		}
		_, err = w.Write(b)
		return err
	case "table", "text", "":
		if table == nil {
			return fmt.Errorf("output format %q is not supported here: use -o json or -o yaml", format)
		}
		return table(w)
	default:
		return fmt.Errorf("unknown output format %q: use table, json or yaml", format)
	}
}
