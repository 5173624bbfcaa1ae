package cli

import (
	"strings"
	"testing"
)

// checkValidate fails t unless err matches want: nil for "", else an
// error containing want.
func checkValidate(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("Validate: %v, want no error", err)
	case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
		t.Errorf("Validate: %v, want an error containing %q", err, want)
	}
}
