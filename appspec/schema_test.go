package appspec

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "schema", "app.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource("app.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("app.schema.json")
	if err != nil {
		t.Fatalf("schema does not compile: %v", err)
	}
	return sch
}

// schemaValidate validates a YAML document against the schema the way an
// editor does (YAML read as JSON data).
func schemaValidate(t *testing.T, sch *jsonschema.Schema, doc string) error {
	t.Helper()
	var v any
	if err := yaml.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatalf("not YAML: %v", err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("not JSON data: %v", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return sch.Validate(inst)
}

func TestSchemaAcceptsExamples(t *testing.T) {
	sch := compileSchema(t)
	files, _ := filepath.Glob(filepath.Join("..", "examples", "*", "*", "app.yaml"))
	if len(files) < 2 {
		t.Fatalf("expected the example app.yaml files, found %v", files)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := schemaValidate(t, sch, string(b)); err != nil {
			t.Errorf("%s does not validate against the schema: %v", f, err)
		}
		if _, err := Load(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// goOnly are bad cases the schema cannot see, and why.
var goOnly = map[string]string{
	"invalid yaml":                  "YAML syntax, before any schema",
	"two documents":                 "YAML stream, before any schema",
	"empty":                         "no document",
	"repeated key":                  "YAML decoders keep the last key",
	"steps decreasing":              "order of items is not expressible",
	"limit below request":           "compares two quantities",
	"depends on itself":             "compares two fields",
	"inline marathon unknown field": "the Marathon definition is checked by package marathon",
	"inline marathon group":         "the Marathon definition is checked by package marathon",
}

// TestSchemaAgreesWithParser: every document the parser accepts the schema
// accepts, and every bad case the parser refuses the schema refuses too
// (except the goOnly ones).
func TestSchemaAgreesWithParser(t *testing.T) {
	sch := compileSchema(t)
	valid := []string{
		validMarathon,
		"name: shop\ntype: helm\nhelm:\n  path: chart\n  values: {replicas: 2}\n",
		"name: shop\ntype: helm\nhelm: {repository: \"https://charts.example.com\", chart: shop, version: \"1.2.3\", release: shop-prod, namespace: shop}\n",
		"name: shop\ntype: helm\nhelm: {chart: \"oci://registry.example.com/charts/shop\", version: \"1.0.0\"}\n",
		"name: api\ntype: helm\nmarathon: {id: /api, cmd: sleep 1}\nresources:\n  requests: {cpu: 0.5, memory: 1Gi}\nroute: {port: 8080}\n",
		"name: api\ntype: marathon\nmarathon: {path: api.json}\nmigration: {steps: [100], maxP99Latency: 1.5s}\n",
	}
	for i, doc := range valid {
		if _, err := Parse("app.yaml", []byte(doc)); err != nil {
			t.Errorf("valid[%d]: parser refuses: %v", i, err)
		}
		if err := schemaValidate(t, sch, doc); err != nil {
			t.Errorf("valid[%d]: schema refuses: %v", i, err)
		}
	}
	extra := []struct{ name, doc string }{
		{"null value", "name: web\nowner:\ntype: marathon\nmarathon: {path: web.json}\n"},
		{"helm repository without chart", "name: web\ntype: helm\nhelm: {repository: \"https://x\", version: \"1\"}\n"},
		{"bad repository url", "name: web\ntype: helm\nhelm: {repository: charts.example.com, chart: c, version: \"1\"}\n"},
		{"negative minRequests", "name: web\ntype: marathon\nmarathon: {path: web.json}\nmigration: {minRequests: -1}\n"},
		{"empty steps", "name: web\ntype: marathon\nmarathon: {path: web.json}\nmigration: {steps: []}\n"},
	}
	cases := append([]struct{ name, doc string }{}, extra...)
	for _, bc := range badCases {
		cases = append(cases, struct{ name, doc string }{bc.name, bc.doc})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse("app.yaml", []byte(tc.doc)); err == nil {
				t.Fatal("parser accepts")
			}
			if why, ok := goOnly[tc.name]; ok {
				t.Skipf("schema cannot check this: %s", why)
			}
			if err := schemaValidate(t, sch, tc.doc); err == nil {
				t.Errorf("schema accepts what the parser refuses:\n%s", strings.TrimSpace(tc.doc))
			}
		})
	}
}
