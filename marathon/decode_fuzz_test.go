package marathon

import (
	"encoding/json"
	"os"
	"reflect"
	"testing"
)

// canonical re-encodes a definition and reads it back as generic JSON, so
// that two definitions can be compared by meaning.
func canonical(t *testing.T, def *Definition) any {
	t.Helper()
	b, err := json.Marshal(def)
	if err != nil {
		t.Fatalf("marshal decoded definition: %v", err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("marshalled definition is not JSON: %v\n%s", err, b)
	}
	return v
}

// FuzzDecode checks that Decode never panics, that whatever it accepts it
// can encode, and that decode(encode(decode(x))) means the same as
// decode(x). Validate and UnknownFields must not panic either. The seed
// corpus is the shared Marathon corpus plus this package's testdata.
func FuzzDecode(f *testing.F) {
	for _, file := range corpusFiles(f) {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{`{}`, `[]`, `{"app": {}}`, `{"apps": []}`, `{"id": "/g", "pods": [{"id": "/g/p", "spec": {"id": "/g/p", "containers": []}}]}`, `{"id":"/a","constraints":["a:b:c:d"],"unreachableStrategy":"disabled","env":{"A":{"secret":"s"}}}`} {
		f.Add([]byte(s))
	}
	for _, s := range roundTripEdgeCases {
		f.Add([]byte(s))
	}
	f.Fuzz(checkRoundTrip)
}

// roundTripEdgeCases are inputs whose shape once made (or could make) the
// decoder change its mind about a document on re-encoding.
var roundTripEdgeCases = []string{
	`{"app": {"id": "/a"}, "apps": [{"id": "/b"}]}`,
	`{"apps": [], "app": 1, "x": null}`,
	`{"id": "/a", "containers": null}`,
	`{"containers": null, "apps": null, "groups": null}`,
	`{"id": "/g", "apps": [null, {"id": "a"}]}`,
	`{"id": "/a", "cmd": "x", "cmd": null}`,
	`{"id": "/a", "constraints": ["", "a", "a:b:c:d", [], ["x"]]}`,
	`{"id": "/a", "container": {"volumes": [{"external": {"options": {"pluginName": null}}}, {"external": {"options": {}}}]}}`,
	`{"id": "/a", "env": {"A": {"secret": "s", "more": [1, {"b": null}]}}}`,
	`{"id": "/a", "instances": "1e2", "cpus": "-0", "mem": -0, "disk": 1E+2}`,
	"{\"id\": \"/\xff\xfe\", \"\xff\": {\"\xfe\": \"\xff\"}}",
	`{"id": "/a", "labels": {"a": null}, "secrets": {"s": null}}`,
	`{"id": "/p", "containers": [], "scheduling": {"unreachableStrategy": "disabled"}}`,
	`{"id": "/a", "resourceLimits": {"cpus": "unlimited", "mem": 0}}`,
	`[]`,
	`{}`,
	`{"id": "", "apps": []}`,
	`{"id": "", "app": {"id": "/a"}}`,
	`{"id": "", "groups": []}`,
}

func TestRoundTripEdgeCases(t *testing.T) {
	for _, s := range roundTripEdgeCases {
		t.Run(s, func(t *testing.T) { checkRoundTrip(t, []byte(s)) })
	}
}

// checkRoundTrip is the fuzz property: Decode does not panic, and what it
// accepts it encodes into something that decodes to the same meaning.
func checkRoundTrip(t *testing.T, data []byte) {
	def, err := Decode(data)
	if err != nil {
		if _, ok := err.(*DecodeError); !ok {
			t.Fatalf("error is %T, want *DecodeError: %v", err, err)
		}
		return
	}
	_ = Validate(def)
	_ = UnknownFields(def)
	first := canonical(t, def)
	enc, _ := json.Marshal(def)
	again, err := Decode(enc)
	if err != nil {
		t.Fatalf("re-decoding the encoded definition failed: %v\nencoded: %s", err, enc)
	}
	if again.Kind != def.Kind || again.Envelope != def.Envelope {
		t.Fatalf("kind changed from %s/%s to %s/%s\nencoded: %s", def.Kind, def.Envelope, again.Kind, again.Envelope, enc)
	}
	if second := canonical(t, again); !reflect.DeepEqual(first, second) {
		t.Fatalf("decode(encode(decode(x))) != decode(x)\nfirst:  %s\nsecond: %s", mustJSON(first), mustJSON(second))
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// BenchmarkDecode decodes every corpus document and reports definitions
// decoded per second (a group counts as one definition).
func BenchmarkDecode(b *testing.B) {
	var docs [][]byte
	var bytes int64
	for _, file := range corpusFiles(b) {
		data, err := os.ReadFile(file)
		if err != nil {
			b.Fatal(err)
		}
		docs = append(docs, data)
		bytes += int64(len(data))
	}
	b.SetBytes(bytes / int64(len(docs)))
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		if _, err := Decode(docs[i%len(docs)]); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "defs/sec")
}

// BenchmarkDecodeValidate is BenchmarkDecode plus Validate.
func BenchmarkDecodeValidate(b *testing.B) {
	var docs [][]byte
	for _, file := range corpusFiles(b) {
		data, err := os.ReadFile(file)
		if err != nil {
			b.Fatal(err)
		}
		docs = append(docs, data)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		def, err := Decode(docs[i%len(docs)])
		if err != nil {
			b.Fatal(err)
		}
		_ = Validate(def)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "defs/sec")
}
