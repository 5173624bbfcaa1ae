package cli

import (
	"strings"
	"testing"
)

// TestValidateAndConvertRefuseUnrepresentable: numbers that would wrap in
// Kubernetes objects and ids with control characters are errors of
// `marathon validate` and `convert`, naming the JSON path and line:column.
func TestValidateAndConvertRefuseUnrepresentable(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, json string
		validate   string // in `marathon validate` output
		convert    string // in `convert`'s error
	}{
		{"instances", "{\n  \"id\": \"/a\",\n  \"cmd\": \"x\",\n  \"instances\": 1e12\n}",
			"4:3      error   instances: instances is 1000000000000; it must be at most 2147483647", "line 4, column 3: instances: instances is 1000000000000; it must be at most 2147483647"},
		{"mem", "{\n  \"id\": \"/a\",\n  \"cmd\": \"x\",\n  \"mem\": 1.7e308\n}",
			"4:3      error   mem: mem is 1.7e+308; it must be at most 1e+12", "line 4, column 3: mem: mem is 1.7e+308"},
		{"cpus", "{\n  \"id\": \"/a\",\n  \"cmd\": \"x\",\n  \"cpus\": 1e308\n}",
			"4:3      error   cpus: cpus is 1e+308; it must be at most 1e+06", "line 4, column 3: cpus: cpus is 1e+308"},
		{"newline id", "{\n  \"id\": \"/a\\nb\",\n  \"cmd\": \"x\"\n}",
			`2:3      error   id: invalid app id "/a\nb": it contains U+000A`, `line 2, column 3: id: invalid app id "/a\nb"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeFile(t, dir, strings.ReplaceAll(tt.name, " ", "-")+".json", tt.json)
			out, err := runValidate(t, p)
			if ExitCode(err) != 1 || !strings.Contains(out, tt.validate) {
				t.Errorf("validate: exit %d, output lacks %q:\n%s", ExitCode(err), tt.validate, out)
			}
			cout, _, err := runConvert(t, p)
			if err == nil || !strings.Contains(err.Error(), tt.convert) {
				t.Errorf("convert: error %v, want %q", err, tt.convert)
			}
			if cout != "" {
				t.Errorf("convert wrote output:\n%s", cout)
			}
		})
	}
}
