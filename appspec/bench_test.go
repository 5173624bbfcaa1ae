package appspec

import (
	"path/filepath"
	"testing"
)

// BenchmarkParse parses a full app.yaml with an inline Marathon definition.
func BenchmarkParse(b *testing.B) {
	data := []byte(validMarathon)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("app.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadDir loads and orders the example apps (files included).
func BenchmarkLoadDir(b *testing.B) {
	dir := filepath.Join("..", "examples", "apps")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := LoadDir(dir); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzParse: any input gives a spec or an ErrorList whose every error names
// the file, never a panic.
func FuzzParse(f *testing.F) {
	f.Add([]byte(validMarathon))
	for _, c := range badCases {
		f.Add([]byte(c.doc))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("f/app.yaml", data)
		if err == nil {
			if s == nil || s.Name == "" || (s.Type != TypeMarathon && s.Type != TypeHelm) {
				t.Fatalf("accepted an incomplete spec: %+v", s)
			}
			return
		}
		l, ok := err.(ErrorList)
		if !ok || len(l) == 0 {
			t.Fatalf("error is not a non-empty ErrorList: %T %v", err, err)
		}
		for _, e := range l {
			if e.File != "f/app.yaml" || e.Message == "" {
				t.Fatalf("error without file or message: %+v", e)
			}
		}
	})
}
