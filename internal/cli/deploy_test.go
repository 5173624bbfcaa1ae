package cli

import (
	"strings"
	"testing"
)

func TestDeployAndDiffValidate(t *testing.T) {
	tests := []struct {
		output string
		want   string // "" when valid
	}{
		{"text", ""},
		{"json", ""},
		{"yaml", `unknown output format "yaml": use text or json`},
		{"", `unknown output format ""`},
	}
	for _, tt := range tests {
		t.Run(tt.output, func(t *testing.T) {
			d := &DeployOptions{Output: tt.output}
			err := d.Validate()
			checkValidate(t, err, tt.want)
			if err != nil && !strings.HasSuffix(err.Error(), "\nnothing was applied") {
				t.Errorf("deploy: %q does not say that nothing was applied", err)
			}
			df := &DiffOptions{DeployOptions{Output: tt.output}}
			err = df.Validate()
			checkValidate(t, err, tt.want)
			if err != nil && strings.Contains(err.Error(), "nothing was applied") {
				t.Errorf("diff: %q speaks of applying", err)
			}
		})
	}
}
