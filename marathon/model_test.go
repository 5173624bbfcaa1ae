package marathon

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/internal/shareddata"
)

// corpusFiles returns the shared corpus plus this package's own testdata
// definitions (testdata/valid/*.json).
func corpusFiles(t testing.TB) []string {
	t.Helper()
	files := shareddata.RequireCorpus(t)
	if len(files) < 100 {
		t.Fatalf("shared corpus has %d files, want at least 100", len(files))
	}
	own, err := filepath.Glob(filepath.Join("testdata", "valid", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	return append(files, own...)
}

// semanticDiff compares two JSON documents and returns the first difference
// ("" when equal). An object member whose value is null is the same as an
// absent one (Marathon reads null as absent), and a quoted number in want
// equals the same number in got (the decoder reads quoted numbers with a
// warning and writes them unquoted).
func semanticDiff(want, got []byte) string {
	var w, g any
	if err := json.Unmarshal(want, &w); err != nil {
		return "want: " + err.Error()
	}
	if err := json.Unmarshal(got, &g); err != nil {
		return "got: " + err.Error()
	}
	return diffValue("", w, g)
}

func diffValue(path string, w, g any) string {
	switch wv := w.(type) {
	case map[string]any:
		gv, ok := g.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: want object, got %T", path, g)
		}
		keys := map[string]bool{}
		for k := range wv {
			keys[k] = true
		}
		for k := range gv {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			if d := diffValue(joinKey(path, k), wv[k], gv[k]); d != "" {
				return d
			}
		}
		return ""
	case []any:
		gv, ok := g.([]any)
		if !ok {
			return fmt.Sprintf("%s: want array, got %T", path, g)
		}
		if len(wv) != len(gv) {
			return fmt.Sprintf("%s: want %d elements, got %d", path, len(wv), len(gv))
		}
		for i := range wv {
			if d := diffValue(joinIndex(path, i), wv[i], gv[i]); d != "" {
				return d
			}
		}
		return ""
	case string:
		if gf, ok := g.(float64); ok {
			if f, err := strconv.ParseFloat(strings.TrimSpace(wv), 64); err == nil && f == gf {
				return ""
			}
		}
	}
	if w == nil && g == nil {
		return ""
	}
	if fmt.Sprint(w) != fmt.Sprint(g) || fmt.Sprintf("%T", w) != fmt.Sprintf("%T", g) {
		return fmt.Sprintf("%s: want %#v, got %#v", path, w, g)
	}
	return ""
}

func TestCorpusRoundTrip(t *testing.T) {
	for _, f := range corpusFiles(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			def, err := Decode(data)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			out, err := json.Marshal(def)
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			if d := semanticDiff(data, out); d != "" {
				t.Errorf("round trip lost data at %s", d)
			}
		})
	}
}
