package telemetry_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/switchyard/switchyard/traffic"
)

// readStats decodes testdata/stats/NAME, a real /stats body
// (TestStatsSamples).
func readStats(t *testing.T, name string) *traffic.InstanceStats {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "stats", name))
	if err != nil {
		t.Fatal(err)
	}
	st, err := traffic.DecodeStats(b)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return st
}
