// Package testfs writes the files a test needs, creating their
// directories: one helper instead of the MkdirAll + WriteFile pair each
// test package wrote again. Only tests import it.
package testfs

import (
	"os"
	"path/filepath"
	"testing"
)

// Write writes content to dir/name (name may hold slashes; the
// directories are created) and returns the file's path. Any error fails
// the test.
func Write(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// WriteAll writes every name → content of files under dir.
func WriteAll(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		Write(t, dir, name, content)
	}
}
