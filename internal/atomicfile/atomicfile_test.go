package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		path string
		data string
		mode os.FileMode
		err  bool
	}{
		{"new file", filepath.Join(dir, "a"), "one", 0o600, false},
		{"replaces", filepath.Join(dir, "a"), "two", 0o644, false},
		{"missing directory", filepath.Join(dir, "no", "b"), "x", 0o644, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Write(tc.path, []byte(tc.data), tc.mode)
			if (err != nil) != tc.err {
				t.Fatalf("Write: %v, want error %v", err, tc.err)
			}
			if tc.err {
				return
			}
			b, err := os.ReadFile(tc.path)
			if err != nil || string(b) != tc.data {
				t.Fatalf("content %q %v, want %q", b, err, tc.data)
			}
			st, _ := os.Stat(tc.path)
			if st.Mode().Perm() != tc.mode {
				t.Fatalf("mode %v, want %v", st.Mode().Perm(), tc.mode)
			}
		})
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("temp files left: %v", ents)
	}
}
