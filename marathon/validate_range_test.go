package marathon

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestValidateRanges: numbers that would overflow Kubernetes counts and
// quantities are errors at their JSON path and position (they used to pass
// and wrap: instances 1e12 became replicas -727379968).
func TestValidateRanges(t *testing.T) {
	tests := []struct {
		name, field, value, path, msg string
	}{
		{"instances over int32", "instances", "1e12", "instances", "instances is 1000000000000; it must be at most 2147483647"},
		{"instances just over int32", "instances", "2147483648", "instances", "must be at most 2147483647"},
		{"mem overflows bytes", "mem", "1.7e308", "mem", "mem is 1.7e+308; it must be at most 1e+12"},
		{"disk overflows bytes", "disk", "2e12", "disk", "must be at most 1e+12"},
		{"cpus overflows millicores", "cpus", "1e308", "cpus", "cpus is 1e+308; it must be at most 1e+06"},
		{"gpus", "gpus", "10000000", "gpus", "must be at most 1000000"},
		{"limit", "resourceLimits", `{"cpus": 1e300}`, "resourceLimits.cpus", "must be at most 1e+06"},
		{"executor", "executorResources", `{"mem": 1e300}`, "executorResources.mem", "must be at most 1e+12"},
		{"health check interval", "healthChecks", `[{"protocol": "COMMAND", "command": {"value": "true"}, "intervalSeconds": 1e12}]`, "healthChecks[0].intervalSeconds", "must be at most 1073741823"},
		{"health check failures", "healthChecks", `[{"protocol": "COMMAND", "command": {"value": "true"}, "maxConsecutiveFailures": 4294967296}]`, "healthChecks[0].maxConsecutiveFailures", "must be at most 1073741823"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := "{\n  \"id\": \"/a\",\n  \"cmd\": \"x\",\n  \"" + tc.field + "\": " + tc.value + "\n}"
			def, err := Decode([]byte(in))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			issues := Validate(def)
			found := false
			for _, is := range issues {
				if is.Path == tc.path && is.Severity == SeverityError && is.Category == CategoryRange && strings.Contains(is.Message, tc.msg) {
					found = true
					if is.Line != 4 || is.Column == 0 {
						t.Errorf("%s at %d:%d, want line 4", is.Path, is.Line, is.Column)
					}
				}
			}
			if !found {
				t.Errorf("no range error at %s containing %q:\n%s", tc.path, tc.msg, formatIssues(issues))
			}
		})
	}
	// The bounds themselves are accepted.
	def, err := Decode([]byte(`{"id": "/a", "cmd": "x", "instances": 2147483647, "cpus": 1e6, "mem": 1e12, "disk": 1e12, "gpus": 1000000}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, is := range Validate(def) {
		if is.Severity == SeverityError {
			t.Errorf("at the bounds: %s: %s", is.Path, is.Message)
		}
	}
}

// TestValidatePodRanges checks the bounds of a pod's instances and
// container resources.
func TestValidatePodRanges(t *testing.T) {
	in := `{"id": "/p", "scaling": {"kind": "fixed", "instances": 3000000000}, "containers": [{"name": "c", "resources": {"cpus": 2e6, "mem": 64, "disk": 1e13}, "exec": {"command": {"shell": "x"}}}]}`
	def, err := Decode([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"scaling.instances": false, "containers[0].resources.cpus": false, "containers[0].resources.disk": false}
	for _, is := range Validate(def) {
		if is.Category == CategoryRange && is.Severity == SeverityError {
			want[is.Path] = true
		}
	}
	for p, ok := range want {
		if !ok {
			t.Errorf("no range error at %s:\n%s", p, formatIssues(Validate(def)))
		}
	}
}

// TestValidateUnusableIDs: an id with a control or space character is an
// error (not a warning, strict or not): no name can hold it.
func TestValidateUnusableIDs(t *testing.T) {
	for _, id := range []string{"/a\nb", "/a b", "/a\tb", "/a\u2028b", "/a\x7fb"} {
		js := `{"id": ` + quoteJSON(id) + `, "cmd": "x"}`
		def, err := Decode([]byte(js))
		if err != nil {
			t.Fatalf("%q: decode: %v", id, err)
		}
		found := false
		for _, is := range Validate(def) {
			if is.Path == "id" && is.Severity == SeverityError && is.Category == CategoryID {
				found = true
			}
		}
		if !found {
			t.Errorf("%q: no id error:\n%s", id, formatIssues(Validate(def)))
		}
	}
}

func quoteJSON(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
