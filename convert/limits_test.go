package convert_test

import (
	"strings"
	"testing"

	"github.com/switchyard/switchyard/convert"
	"github.com/switchyard/switchyard/marathon"
)

// TestConvertRefusesUnrepresentable: numbers that would wrap (instances
// 1e12 became replicas -727379968, mem 1.7e308 memory
// -9223372036854775808, cpus 1e308 cpu 1m) and ids with control or space
// characters (a newline reached values.yaml as a raw line) are errors
// naming the field and its position, from Definition and App alike.
func TestConvertRefusesUnrepresentable(t *testing.T) {
	tests := []struct{ name, json, want string }{
		{"instances", "{\"id\": \"/a\", \"cmd\": \"x\",\n \"instances\": 1e12}", "instances (line 2, column 2): instances is 1000000000000; it must be at most 2147483647"},
		{"mem", `{"id": "/a", "cmd": "x", "mem": 1.7e308}`, "mem (line 1, column 26): mem is 1.7e+308"},
		{"cpus", `{"id": "/a", "cmd": "x", "cpus": 1e308}`, "cpus (line 1, column 26): cpus is 1e+308"},
		{"disk", `{"id": "/a", "cmd": "x", "disk": 1e300}`, "disk"},
		{"group app", `{"id": "/g", "apps": [{"id": "a", "cmd": "x", "instances": 3000000000}]}`, "apps[0].instances"},
		{"pod", `{"id": "/p", "containers": [{"name": "c", "resources": {"cpus": 1e9, "mem": 64}, "exec": {"command": {"shell": "x"}}}]}`, "containers[0].resources.cpus"},
		{"probe period", `{"id": "/a", "cmd": "x", "healthChecks": [{"protocol": "COMMAND", "command": {"value": "true"}, "intervalSeconds": 4294967297}]}`, "healthChecks[0].intervalSeconds (line 1, column 97): intervalSeconds is 4294967297"},
		{"newline id", `{"id": "/a\nb", "cmd": "x"}`, `id (line 1, column 2): invalid app id "/a\nb": it contains U+000A`},
		{"space id", `{"id": "/a b", "cmd": "x"}`, `invalid app id "/a b"`},
		{"group id", `{"id": "/g\r", "apps": [{"id": "a", "cmd": "x"}]}`, `invalid group id`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			def, err := marathon.Decode([]byte(tt.json))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			_, err = convert.Definition(def, convert.Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			if def.App != nil {
				// App has no source positions: the message without them.
				want := tt.want
				if i := strings.Index(want, "): "); i >= 0 {
					want = want[i+3:]
				}
				if _, err := convert.App(def.App, convert.Options{}); err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("App: error %v, want %q", err, want)
				}
			}
		})
	}
	// The bounds convert without wrapping.
	res := conv(t, `{"id": "/a", "cmd": "x", "instances": 2147483647, "cpus": 1e6, "mem": 1e12, "disk": 1e12}`, convert.Options{})
	d := res.Releases[0].Deployment
	if got := *d.Spec.Replicas; got != 2147483647 {
		t.Errorf("replicas %d", got)
	}
	r := d.Spec.Template.Spec.Containers[0].Resources.Requests
	if r.Cpu().MilliValue() != 1e9 || r.Memory().Value() != 1e12*(1<<20) {
		t.Errorf("requests %v %v", r.Cpu(), r.Memory())
	}
}
