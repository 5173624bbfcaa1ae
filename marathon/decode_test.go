package marathon

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		// want are substrings of the error, one per expected FieldError, in order.
		want []string
	}{
		{"empty", "  \n", []string{"line 1, column 1: empty document"}},
		{"malformed missing comma", "{\n  \"id\": \"/a\"\n  \"cmd\": \"x\"\n}", []string{`line 3, column 3: invalid JSON: invalid character '"' after object member "id": expected ',' or '}'`}},
		{"malformed trailing comma", `{"id": "/a", "cmd": "x",}`, []string{`line 1, column 25: invalid JSON: invalid character '}' looking for the beginning of an object key`}},
		{"malformed single quotes", `{'id': 1}`, []string{`line 1, column 2: invalid JSON: invalid character '''`}},
		{"malformed bare word", `{"id": /a}`, []string{`line 1, column 8: id: invalid JSON: invalid character '/' looking for the beginning of a value`}},
		{"truncated object", "{\n  \"id\": \"/a\",\n  \"container\": {\"docker\": {\"image\": \"nginx\"", []string{`line 3, column 44: container.docker: invalid JSON: unexpected end of input inside an object (missing '}'?) (the JSON is truncated)`}},
		{"truncated string", `{"id": "/a`, []string{`line 1, column 11: id: invalid JSON: unexpected end of input inside a string`}},
		{"truncated array", `[{"id": "/a"}, `, []string{`line 1, column 16: [1]: invalid JSON: unexpected end of input while looking for a value (the JSON is truncated)`}},
		{"trailing garbage", `{"id": "/a"} x`, []string{`line 1, column 14: invalid JSON: unexpected 'x' after the end of the top-level value`}},
		{"bad escape", `{"id": "\q"}`, []string{`id: invalid JSON: invalid escape character 'q'`}},
		{"control char in string", "{\"id\": \"a\tb\"}", []string{`invalid control character byte 0x9 in a string`}},
		{"bad number", `{"cpus": 01}`, []string{`line 1, column 11: invalid JSON: invalid character '1' after object member "cpus"`}},
		{"top-level scalar", `42`, []string{`line 1, column 1: expected a JSON object (app, group or pod) or an array of apps, got number 42`}},
		{"wrong type instances", "{\n  \"apps\": [\n    {\"id\": \"/a\", \"instances\": \"two\"}\n  ]\n}", []string{`line 3, column 31: apps[0].instances: expected an integer, got string "two"`}},
		{"wrong type fraction", `{"id": "/a", "instances": 1.5}`, []string{`line 1, column 27: instances: expected an integer, got number 1.5`}},
		{"wrong type cpus", `{"id": "/a", "cpus": true}`, []string{`cpus: expected a number, got boolean true`}},
		{"wrong type string", `{"id": 7}`, []string{`line 1, column 8: id: expected a string, got number 7`}},
		{"wrong type nested", `{"id": "/a", "container": {"docker": {"image": "x", "privileged": "yes"}}}`, []string{`container.docker.privileged: expected a boolean (true or false), got string "yes"`}},
		{"wrong type array", `{"id": "/a", "args": "sleep 1"}`, []string{`args: expected an array, got string "sleep 1"`}},
		{"wrong type object", `{"id": "/a", "labels": ["a"]}`, []string{`labels: expected an object, got an array`}},
		{"label value not string", `{"id": "/a", "labels": {"x": 1}}`, []string{`labels.x: expected a string, got number 1`}},
		{"env value number", `{"id": "/a", "env": {"PORT": 8080}}`, []string{`env.PORT: expected a string or a secret reference {"secret": "name"}, got number 8080`}},
		{"constraint element number", `{"id": "/a", "constraints": [["rack", "MAX_PER", 2]]}`, []string{`constraints[0][2]: expected a string in a constraint, got number 2`}},
		{"constraint object", `{"id": "/a", "constraints": [{"field": "x"}]}`, []string{`constraints[0]: expected a constraint ["field", "OPERATOR"(, "value")] or "field:OPERATOR:value", got an object`}},
		{"unreachable other string", `{"id": "/a", "unreachableStrategy": "off"}`, []string{`unreachableStrategy: expected "disabled" or an object`}},
		{"resource limit string", `{"id": "/a", "resourceLimits": {"cpus": "lots"}}`, []string{`resourceLimits.cpus: expected a number or "unlimited", got string "lots"`}},
		{"integer overflow", `{"id": "/a", "instances": 99999999999999999999}`, []string{`instances: expected an integer, got number 99999999999999999999`}},
		{"float overflow", `{"id": "/a", "mem": 1e999}`, []string{`mem: number 1e999 is out of range`}},
		{"null app in list", `[null]`, []string{`[0]: expected an app definition (an object), got null`}},
		{"several errors", `{"id": 1, "instances": "x", "mem": "y"}`, []string{`id: expected a string`, `instances: expected an integer`, `mem: expected a number`}},
		{"pod container type", `{"id": "/p", "containers": [{"name": "c", "resources": {"cpus": "a lot"}}]}`, []string{`containers[0].resources.cpus: expected a number, got string "a lot"`}},
		{"deep nesting", strings.Repeat("[", 600) + strings.Repeat("]", 600), []string{`nesting deeper than 512 levels`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			def, err := Decode([]byte(tc.in))
			if err == nil {
				t.Fatalf("Decode succeeded (%s), want errors %q", def.Kind, tc.want)
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %T is not a *DecodeError: %v", err, err)
			}
			if len(de.Errors) != len(tc.want) {
				t.Fatalf("got %d errors, want %d:\n%v", len(de.Errors), len(tc.want), err)
			}
			for i, w := range tc.want {
				if got := de.Errors[i].Error(); !strings.Contains(got, w) {
					t.Errorf("error %d = %q, want it to contain %q", i, got, w)
				}
				if de.Errors[i].Line < 1 || de.Errors[i].Column < 1 {
					t.Errorf("error %d has no position: %+v", i, de.Errors[i])
				}
			}
		})
	}
}

func TestDecodeFileNamesFile(t *testing.T) {
	_, err := DecodeFile("testdata/invalid/truncated.json")
	if err == nil || !strings.HasPrefix(err.Error(), "testdata/invalid/truncated.json: line ") {
		t.Fatalf("error = %v, want it prefixed with the file name and position", err)
	}
	_, err = DecodeFile("testdata/does-not-exist.json")
	if err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("error = %v, want a not-found error", err)
	}
}

func TestDecodeKinds(t *testing.T) {
	tests := []struct {
		in       string
		kind     Kind
		envelope Envelope
		ids      []string
	}{
		{`{"id": "/a", "cmd": "x"}`, KindApp, EnvelopeNone, []string{"/a"}},
		{`[{"id": "/a", "cmd": "x"}, {"id": "/b", "cmd": "y"}]`, KindAppList, EnvelopeNone, []string{"/a", "/b"}},
		{`{"apps": [{"id": "/a", "cmd": "x"}]}`, KindAppList, EnvelopeApps, []string{"/a"}},
		{`{"app": {"id": "/a", "cmd": "x"}}`, KindApp, EnvelopeApp, []string{"/a"}},
		{`{"id": "/g", "apps": [{"id": "a", "cmd": "x"}], "groups": [{"id": "h", "apps": [{"id": "b", "cmd": "y"}]}]}`, KindGroup, EnvelopeNone, []string{"a", "b"}},
		{`{"id": "/", "groups": []}`, KindGroup, EnvelopeNone, nil},
		{`{"id": "/p", "containers": [{"name": "c", "resources": {"cpus": 1, "mem": 32}}]}`, KindPod, EnvelopeNone, nil},
	}
	for _, tc := range tests {
		def, err := Decode([]byte(tc.in))
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if def.Kind != tc.kind || def.Envelope != tc.envelope {
			t.Errorf("%s: kind %q envelope %q, want %q %q", tc.in, def.Kind, def.Envelope, tc.kind, tc.envelope)
		}
		var ids []string
		for _, pa := range def.AllApps() {
			ids = append(ids, pa.App.ID)
		}
		if !reflect.DeepEqual(ids, tc.ids) {
			t.Errorf("%s: app ids %q, want %q", tc.in, ids, tc.ids)
		}
		out, err := json.Marshal(def)
		if err != nil {
			t.Fatal(err)
		}
		if d := semanticDiff([]byte(tc.in), out); d != "" {
			t.Errorf("%s: round trip differs at %s: %s", tc.in, d, out)
		}
	}
}

func TestDecodeUnionForms(t *testing.T) {
	in := `{
  "id": "/u",
  "cmd": "run",
  "env": {"PLAIN": "v", "SECRET": {"secret": "s1"}},
  "secrets": {"s1": {"source": "path/s1"}},
  "constraints": [["hostname", "UNIQUE"], "rack:GROUP_BY:3", "zone:LIKE:a:b"],
  "unreachableStrategy": "disabled",
  "resourceLimits": {"cpus": "unlimited", "mem": 256}
}`
	def, err := Decode([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	a := def.App
	if a.Env["PLAIN"].Value != "v" || a.Env["PLAIN"].IsSecret() {
		t.Errorf("PLAIN = %+v", a.Env["PLAIN"])
	}
	if !a.Env["SECRET"].IsSecret() || a.Env["SECRET"].Secret.Secret != "s1" {
		t.Errorf("SECRET = %+v", a.Env["SECRET"])
	}
	c := a.Constraints
	if c[0].Legacy || c[0].Field() != "hostname" || c[0].Operator() != OpUnique {
		t.Errorf("constraint 0 = %+v", c[0])
	}
	if v, ok := c[1].Value(); !c[1].Legacy || c[1].Field() != "rack" || c[1].Operator() != OpGroupBy || !ok || v != "3" {
		t.Errorf("legacy constraint 1 = %+v", c[1])
	}
	if v, _ := c[2].Value(); v != "a:b" {
		t.Errorf("legacy constraint value with colon = %q, want a:b", v)
	}
	if a.UnreachableStrategy == nil || !a.UnreachableStrategy.Disabled {
		t.Errorf("unreachableStrategy = %+v, want disabled", a.UnreachableStrategy)
	}
	if !a.ResourceLimits.CPUs.Unlimited || a.ResourceLimits.Mem.Value != 256 {
		t.Errorf("resourceLimits = %+v %+v", a.ResourceLimits.CPUs, a.ResourceLimits.Mem)
	}
	out, err := json.Marshal(def)
	if err != nil {
		t.Fatal(err)
	}
	if d := semanticDiff([]byte(in), out); d != "" {
		t.Errorf("round trip differs at %s:\n%s", d, out)
	}
	// The legacy form is written back as it was read.
	if !strings.Contains(string(out), `"rack:GROUP_BY:3"`) || !strings.Contains(string(out), `"unreachableStrategy":"disabled"`) {
		t.Errorf("legacy forms not preserved: %s", out)
	}
}

func TestUnknownFieldsKeptAndListed(t *testing.T) {
	in := `{
  "id": "/u",
  "cmd": "run",
  "cpu": 1,
  "description": {"text": "kept as is", "n": [1, 2]},
  "container": {"type": "DOCKER", "docker": {"image": "x", "foo": true, "portMappings": [{"containerPort": 80, "bar": 1}]}},
  "env": {"S": {"secret": "s", "extra": 1}},
  "secrets": {"s": {"source": "p"}},
  "healthChecks": [{"protocol": "HTTP", "portType": "x"}],
  "unreachableStrategy": {"inactiveAfterSeconds": 1, "future": "y"},
  "labels": {"free-form": "labels are never unknown"}
}`
	def, err := Decode([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"container.docker.foo",
		"container.docker.portMappings[0].bar",
		"cpu",
		"description",
		"env.S.extra",
		"healthChecks[0].portType",
		"unreachableStrategy.future",
	}
	if got := UnknownFields(def); !reflect.DeepEqual(got, want) {
		t.Errorf("UnknownFields = %q\nwant %q", got, want)
	}
	if got := def.App.UnknownFields(); !reflect.DeepEqual(got, want) {
		t.Errorf("App.UnknownFields = %q", got)
	}
	out, err := json.Marshal(def)
	if err != nil {
		t.Fatal(err)
	}
	if d := semanticDiff([]byte(in), out); d != "" {
		t.Errorf("unknown fields lost at %s:\n%s", d, out)
	}
	// Each unknown field is reported as a warning with its position, and a
	// near-miss of a known name gets a suggestion.
	issues := Validate(def)
	byPath := map[string]Issue{}
	for _, is := range issues {
		if is.Category == CategoryUnknown {
			byPath[is.Path] = is
		}
	}
	if len(byPath) != len(want) {
		t.Errorf("got %d unknown-field issues, want %d: %+v", len(byPath), len(want), issues)
	}
	cpu := byPath["cpu"]
	if cpu.Severity != SeverityWarning || cpu.Line != 4 || cpu.Column != 3 || !strings.Contains(cpu.Hint, `"cpus"`) {
		t.Errorf("cpu issue = %+v, want a warning at 4:3 suggesting cpus", cpu)
	}
}

func TestJSONUnmarshalUsesModelDecoder(t *testing.T) {
	var a App
	if err := json.Unmarshal([]byte(`{"id": "/x", "Cmd": "upper", "cmd": "lower", "zzz": [1]}`), &a); err != nil {
		t.Fatal(err)
	}
	if a.Cmd == nil || *a.Cmd != "lower" {
		t.Errorf("cmd = %v, want exact-case match \"lower\"", a.Cmd)
	}
	if _, ok := a.Unknown["Cmd"]; !ok {
		t.Errorf("member \"Cmd\" (wrong case) should be unknown, Unknown = %v", a.Unknown)
	}
	out, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `"zzz":[1]`) {
		t.Errorf("unknown member not re-emitted: %s", out)
	}
	err = json.Unmarshal([]byte(`{"id": "/x", "instances": "two"}`), &a)
	if err == nil || !strings.Contains(err.Error(), `instances: expected an integer, got string "two"`) {
		t.Errorf("error = %v", err)
	}
	var g Group
	if err := json.Unmarshal([]byte(`{"id": "/g", "apps": [{"id": "a", "cmd": "x", "q": 1}]}`), &g); err != nil {
		t.Fatal(err)
	}
	if got := g.UnknownFields(); !reflect.DeepEqual(got, []string{"apps[0].q"}) {
		t.Errorf("Group.UnknownFields = %q", got)
	}
}

func TestDecodeLenientNotes(t *testing.T) {
	in := `{"id": "/a", "cmd": "x", "instances": "2", "cpus": " 0.5", "labels": {"A": null, "B": "b"}, "mem": 64, "mem": 128}`
	def, err := Decode([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	a := def.App
	if *a.Instances != 2 || *a.CPUs != 0.5 || *a.Mem != 128 {
		t.Errorf("instances %v cpus %v mem %v", *a.Instances, *a.CPUs, *a.Mem)
	}
	if _, ok := a.Labels["A"]; ok || a.Labels["B"] != "b" {
		t.Errorf("labels = %v, want the null entry dropped", a.Labels)
	}
	var msgs []string
	for _, is := range Validate(def) {
		if is.Severity != SeverityWarning {
			t.Errorf("unexpected error %+v", is)
		}
		msgs = append(msgs, is.Path+": "+is.Message)
	}
	for _, w := range []string{`instances: expected an integer, got string "2": read as 2`, `cpus: expected a number, got string " 0.5": read as 0.5`, `labels.A: value is null`, `mem: duplicate key "mem"`} {
		found := false
		for _, m := range msgs {
			found = found || strings.HasPrefix(m, w)
		}
		if !found {
			t.Errorf("no warning %q in %q", w, msgs)
		}
	}
}

func TestDecodeStringsLikeEncodingJSON(t *testing.T) {
	// Escapes, surrogate pairs, lone surrogates and invalid UTF-8 decode as
	// encoding/json decodes them.
	for _, s := range []string{`"a\"b\\c\/d\b\f\n\r\t"`, `"\u00e9\u20ac\ud83d\ude00"`, `"\ud800x"`, `"\ud800\u0041"`, "\"\xff\xfe ok\"", `"plain é"`} {
		root, serr := parseJSON([]byte(s))
		if serr != nil {
			t.Fatalf("%s: %v", s, serr.msg)
		}
		var want string
		if err := json.Unmarshal([]byte(s), &want); err != nil {
			t.Fatal(err)
		}
		if root.str != want {
			t.Errorf("%s: got %q, want %q", s, root.str, want)
		}
	}
}
