package convert_test

import (
	"os"
	"testing"

	"github.com/switchyard/switchyard/convert"
	"github.com/switchyard/switchyard/marathon"
)

// FuzzConvert feeds arbitrary documents through decode -> convert -> YAML
// and chart rendering: it must never panic, and every object it produces
// must pass the client-side checks.
func FuzzConvert(f *testing.F) {
	files, err := corpusFiles()
	if err == nil {
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	f.Add([]byte(`{"id":"/a","cmd":"x $PORT0","constraints":[["hostname","LIKE","a|b"]]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		def, err := marathon.Decode(data)
		if err != nil {
			return
		}
		res, err := convert.Definition(def, convert.Options{})
		if err != nil {
			return
		}
		if _, err := convert.YAML(res.Objects()); err != nil {
			t.Fatal(err)
		}
		for _, rel := range res.Releases {
			if _, err := convert.Chart(rel); err != nil {
				t.Fatal(err)
			}
			for _, err := range validateRelease(rel) {
				t.Errorf("%s\n%s", err, data)
			}
		}
	})
}

// BenchmarkConvertCorpus converts every corpus definition per iteration
// and reports definitions converted per second.
func BenchmarkConvertCorpus(b *testing.B) {
	files, err := corpusFiles()
	if err != nil {
		b.Fatal(err)
	}
	var defs []*marathon.Definition
	for _, p := range files {
		d, err := marathon.DecodeFile(p)
		if err != nil {
			b.Fatal(err)
		}
		defs = append(defs, d)
	}
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		for _, d := range defs {
			if _, err := convert.Definition(d, convert.Options{}); err != nil {
				b.Fatal(err)
			}
			n++
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "defs/s")
}
