// Package shared locates the shared data directory (../shared next to the
// repository root) that holds the Marathon corpus and other test data.
package shared

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Dir returns the absolute path of the shared directory: $SWITCHYARD_SHARED
// when set, else the "shared" directory next to the module root.
func Dir() (string, error) {
	if d := os.Getenv("SWITCHYARD_SHARED"); d != "" {
		return filepath.Abs(d)
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
