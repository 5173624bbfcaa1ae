package cli

import (
	"os"
	"path/filepath"
	"testing"
)

// TestMain keeps the package's tests off the developer's own switchyard
// config (a `make lab` makes its context current there): every test starts
// with $SWITCHYARD_CONFIG naming a file that does not exist; tests that
// need a config set their own.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "switchyard-cli-test-")
	if err != nil {
		panic(err)
	}
	os.Setenv("SWITCHYARD_CONFIG", filepath.Join(dir, "config.yaml"))
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
