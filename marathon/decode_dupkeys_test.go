package marathon

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// envDocument returns an app whose env object has n members; every
// dupEvery-th key repeats the one before it (0: no repeats).
func envDocument(n, dupEvery int) []byte {
	var b strings.Builder
	b.Grow(n * 24)
	b.WriteString(`{"id": "/big", "cmd": "x", "env": {`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(",\n")
		}
		k := i
		if dupEvery > 0 && i%dupEvery == dupEvery-1 {
			k = i - 1
		}
		b.WriteString(`"K`)
		b.WriteString(strconv.Itoa(k))
		b.WriteString(`": "v"`)
	}
	b.WriteString("}}")
	return []byte(b.String())
}

// TestDuplicateKeyCheckIsLinear counts the key comparisons and set look-ups
// the duplicate-key check makes (decoder.keyProbes) rather than timing it:
// the count is exact and does not depend on the machine or its load. A
// quadratic scan makes n(n-1)/2 comparisons for n distinct keys (50M for
// 10k); a linear check makes at most a few per key.
func TestDuplicateKeyCheckIsLinear(t *testing.T) {
	for _, n := range []int{100, 10_000} {
		for _, dupEvery := range []int{0, 3} {
			t.Run(fmt.Sprintf("keys=%d/dupEvery=%d", n, dupEvery), func(t *testing.T) {
				data := envDocument(n, dupEvery)
				root, serr := parseJSON(data)
				if serr != nil {
					t.Fatal(newSyntaxError(data, serr))
				}
				d := &decoder{src: data}
				var app App
				d.bind(&root, reflect.ValueOf(&app).Elem())
				if len(d.errs) > 0 {
					t.Fatalf("errors: %v", d.errs)
				}
				members := n + 3 // env's members and the root's
				if limit := 8 * members; d.keyProbes > limit {
					t.Errorf("duplicate check made %d key comparisons for %d members, want at most %d (8 per member)", d.keyProbes, members, limit)
				}
				wantNotes := 0
				if dupEvery > 0 {
					wantNotes = min(n/dupEvery, maxNotes)
				}
				if len(d.notes) != wantNotes {
					t.Errorf("%d notes, want %d duplicate-key notes", len(d.notes), wantNotes)
				}
			})
		}
	}
}

// TestDuplicateKeyNotes pins the duplicate-key warning (path, line, column)
// for small objects (scanned) and large ones (checked with a set).
func TestDuplicateKeyNotes(t *testing.T) {
	t.Run("small", func(t *testing.T) {
		def, err := Decode([]byte("{\"id\": \"/a\", \"cmd\": \"x\",\n  \"labels\": {\"A\": \"1\", \"B\": \"2\", \"A\": \"3\"},\n  \"cmd\": \"y\"}"))
		if err != nil {
			t.Fatal(err)
		}
		got := issueStrings(def.notes)
		want := []string{
			`2:39 labels.A: duplicate key "A": the last value wins`,
			`3:10 cmd: duplicate key "cmd": the last value wins`,
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("notes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if def.App.Labels["A"] != "3" || *def.App.Cmd != "y" {
			t.Errorf("labels.A = %q, cmd = %q: the last value must win", def.App.Labels["A"], *def.App.Cmd)
		}
	})
	t.Run("large", func(t *testing.T) {
		def, err := Decode(envDocument(20, 10)) // K8 repeated at lines 10 and 20
		if err != nil {
			t.Fatal(err)
		}
		got := issueStrings(def.notes)
		want := []string{
			`10:7 env.K8: duplicate key "K8": the last value wins`,
			`20:8 env.K18: duplicate key "K18": the last value wins`,
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("notes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

func issueStrings(is []Issue) []string {
	var out []string
	for _, i := range is {
		out = append(out, fmt.Sprintf("%d:%d %s: %s", i.Line, i.Column, i.Path, i.Message))
	}
	return out
}

// BenchmarkDecodeDuplicateKeys decodes apps whose env has 1k, 10k and 100k
// keys and reports ns/key. A linear duplicate-key check keeps ns/key flat;
// the last sub-benchmark reports the 100k/1k ratio of ns/key measured in the
// same run (about 1 when linear, about 100 when quadratic).
func BenchmarkDecodeDuplicateKeys(b *testing.B) {
	sizes := []int{1_000, 10_000, 100_000}
	perKey := map[int]float64{}
	for _, n := range sizes {
		data := envDocument(n, 0)
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for i := 0; i < b.N; i++ {
				if _, err := Decode(data); err != nil {
					b.Fatal(err)
				}
			}
			ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / float64(n)
			b.ReportMetric(ns, "ns/key")
			perKey[n] = ns
		})
	}
	b.Run("ratio", func(b *testing.B) {
		lo, hi := perKey[sizes[0]], perKey[sizes[len(sizes)-1]]
		if lo == 0 || hi == 0 {
			b.Skip("run all sizes to get the ratio")
		}
		b.ReportMetric(hi/lo, "100k/1k-ns/key")
		b.ReportMetric(0, "ns/op") // nothing is timed here
	})
}
