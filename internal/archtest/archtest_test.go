// Package archtest checks the module's architecture rules: the product never
// depends on the lab (the lab is one context among others, reached through
// the same code as production).
package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

// productPackages are the product's packages: none may import lab/.
var productPackages = []string{
	"./appspec/...", "./capacity/...", "./config/...", "./convert/...", "./deploy/...", "./journal/...",
	"./lb/...", "./lbsync/...", "./marathon/...", "./mesos/...", "./migrate/...", "./plan/...",
	"./telemetry/...", "./traffic/...", "./wrapper/...",
}

func TestProductDoesNotImportLab(t *testing.T) {
	for _, p := range productPackages {
		t.Run(p, func(t *testing.T) {
			cmd := exec.Command("go", "list", "-e", "-deps", "-f", "{{.ImportPath}} {{if .Error}}{{.Error}}{{end}}", p)
			cmd.Dir = "../.."
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("go list -deps %s: %v\n%s", p, err, out)
			}
			var bad []string
			for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				path, _, _ := strings.Cut(line, " ")
				if strings.HasPrefix(path, "github.com/switchyard/switchyard/lab") {
					bad = append(bad, path)
				}
			}
			if len(bad) > 0 {
				t.Fatalf("%s depends on the lab: %s (the lab must stay one context among others; move what the product needs out of lab/)", p, strings.Join(bad, ", "))
			}
		})
	}
}
