// Package shareddata locates the shared data directory (../shared next to
// the repository root, or $SWITCHYARD_SHARED) that holds the Marathon corpus
// and other test data. A user's clone has no ../shared beside it: the
// Require functions skip there and fail under CI (package testenv).
package shareddata

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/internal/testenv"
)

// Dir returns the absolute path of the shared directory: $SWITCHYARD_SHARED
// when set, else the "shared" directory next to the module root.
func Dir() (string, error) {
	if d := os.Getenv("SWITCHYARD_SHARED"); d != "" {
		abs, err := filepath.Abs(d)
		if err != nil {
			return "", err
		}
		if _, err := os.Stat(abs); err != nil {
			return "", fmt.Errorf("shared data directory %s ($SWITCHYARD_SHARED): %w", abs, err)
		}
		return abs, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			s := filepath.Join(filepath.Dir(d), "shared")
			if _, err := os.Stat(s); err != nil {
				return "", fmt.Errorf("shared data directory %s: %w (set SWITCHYARD_SHARED)", s, err)
			}
			return s, nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("no go.mod above the working directory: cannot locate ../shared (set SWITCHYARD_SHARED)")
		}
	}
}

// MarathonCorpus returns the paths of the JSON files in shared/corpus/marathon, sorted.
func MarathonCorpus() ([]string, error) {
	d, err := Dir()
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(filepath.Join(d, "corpus", "marathon"))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".json") {
			out = append(out, filepath.Join(d, "corpus", "marathon", e.Name()))
		}
	}
	sort.Strings(out)
	return out, nil
}

// RequireDir returns Dir for a test, or skips it with a one-line note when
// the shared directory is absent (a user's clone has no ../shared beside
// it); under CI (CI set) an absent directory fails the test instead.
func RequireDir(t testing.TB) string {
	t.Helper()
	d, err := Dir()
	testenv.Prerequisite(t, err)
	return d
}

// RequireCorpus returns MarathonCorpus for a test, skipping or failing
// like RequireDir when the shared directory is absent.
func RequireCorpus(t testing.TB) []string {
	t.Helper()
	RequireDir(t)
	files, err := MarathonCorpus()
	if err != nil {
		t.Fatalf("shared corpus: %v", err)
	}
	return files
}
