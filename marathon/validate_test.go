package marathon

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestCorpusValidates(t *testing.T) {
	var files, apps, groups, pods, lists, warnings, unknown int
	for _, f := range corpusFiles(t) {
		def, err := DecodeFile(f)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
			continue
		}
		files++
		switch def.Kind {
		case KindApp:
			apps++
		case KindAppList:
			lists++
		case KindGroup:
			groups++
		case KindPod:
			pods++
		}
		unknown += len(UnknownFields(def))
		for _, is := range Validate(def) {
			if is.Severity == SeverityError {
				t.Errorf("%s: line %d: %s: %s (%s)", filepath.Base(f), is.Line, is.Path, is.Message, is.Hint)
			} else {
				warnings++
			}
		}
	}
	t.Logf("corpus: %d files (%d apps, %d app lists, %d groups, %d pods), %d warnings, %d unknown fields", files, apps, lists, groups, pods, warnings, unknown)
}

func TestValidateRules(t *testing.T) {
	type want struct {
		path string
		sev  Severity
		msg  string
	}
	E, W := SeverityError, SeverityWarning
	tests := []struct {
		name string
		in   string
		want []want
	}{
		{"missing id", `{"cmd": "x"}`, []want{{"id", E, "app id is required"}}},
		{"root id", `{"id": "/", "cmd": "x"}`, []want{{"id", W, `must not be the root`}}},
		{"upper-case id", `{"id": "/Web", "cmd": "x"}`, []want{{"id", W, `invalid app id "/Web"`}}},
		{"reserved id", `{"id": "/web/tasks", "cmd": "x"}`, []want{{"id", W, `reserved word "tasks"`}}},
		{"template id", `{"id": "/${ENV}/web", "cmd": "x"}`, []want{{"id", W, "template placeholder"}}},
		{"nothing to run", `{"id": "/a"}`, []want{{"", E, "nothing to run"}}},
		{"cmd and args", `{"id": "/a", "cmd": "x", "args": ["y"]}`, []want{{"args", W, "cmd and args are mutually exclusive"}}},
		{"negative cpus", `{"id": "/a", "cmd": "x", "cpus": -1}`, []want{{"cpus", E, "cpus is -1; it must not be negative"}}},
		{"negative mem", `{"id": "/a", "cmd": "x", "mem": -5}`, []want{{"mem", E, "must not be negative"}}},
		{"negative instances", `{"id": "/a", "cmd": "x", "instances": -2}`, []want{{"instances", E, "instances is -2"}}},
		{"impossible mem", `{"id": "/a", "cmd": "x", "mem": 9000000}`, []want{{"mem", W, "no agent can offer this"}}},
		{"zero cpus", `{"id": "/a", "cmd": "x", "cpus": 0}`, []want{{"cpus", W, "no CPU share"}}},
		{"backoff factor", `{"id": "/a", "cmd": "x", "backoffFactor": 0.5}`, []want{{"backoffFactor", W, "at least 1"}}},
		{"upgrade fraction", `{"id": "/a", "cmd": "x", "upgradeStrategy": {"minimumHealthCapacity": 1.5}}`, []want{{"upgradeStrategy.minimumHealthCapacity", E, "between 0 and 1"}}},
		{"gpus docker", `{"id": "/a", "cmd": "x", "gpus": 1, "container": {"type": "DOCKER", "docker": {"image": "x"}}}`, []want{{"gpus", W, "Mesos containerizer"}}},
		{"constraint arity", `{"id": "/a", "cmd": "x", "constraints": [["hostname"]]}`, []want{{"constraints[0]", E, "2 or 3 elements, got 1"}}},
		{"constraint operator", `{"id": "/a", "cmd": "x", "constraints": [["hostname", "SPREAD"]]}`, []want{{"constraints[0]", E, `unknown constraint operator "SPREAD"`}}},
		{"constraint lower-case", `{"id": "/a", "cmd": "x", "constraints": [["hostname", "unique"]]}`, []want{{"constraints[0]", W, "not upper case"}}},
		{"unique with value", `{"id": "/a", "cmd": "x", "constraints": [["hostname", "UNIQUE", "x"]]}`, []want{{"constraints[0]", W, "UNIQUE does not take a value"}}},
		{"max_per no value", `{"id": "/a", "cmd": "x", "constraints": [["rack", "MAX_PER"]]}`, []want{{"constraints[0]", E, "MAX_PER requires an integer value"}}},
		{"max_per not int", `{"id": "/a", "cmd": "x", "constraints": [["rack", "MAX_PER", "two"]]}`, []want{{"constraints[0]", E, `got "two"`}}},
		{"max_per zero", `{"id": "/a", "cmd": "x", "constraints": [["rack", "MAX_PER", "0"]]}`, []want{{"constraints[0]", E, "can never be met"}}},
		{"like no value", `{"id": "/a", "cmd": "x", "constraints": [["rack", "LIKE"]]}`, []want{{"constraints[0]", E, "LIKE requires a regular expression"}}},
		{"unlike bad regex", `{"id": "/a", "cmd": "x", "constraints": [["rack", "UNLIKE", "r[0-"]]}`, []want{{"constraints[0]", E, "invalid regular expression"}}},
		{"group_by not int", `{"id": "/a", "cmd": "x", "constraints": [["rack", "GROUP_BY", "all"]]}`, []want{{"constraints[0]", W, "GROUP_BY takes no value or an integer"}}},
		{"is bad value", `{"id": "/a", "cmd": "x", "constraints": [["rack", "IS", "a b"]]}`, []want{{"constraints[0]", E, "IS requires a text or number value"}}},
		{"legacy constraint", `{"id": "/a", "cmd": "x", "constraints": ["hostname:UNIQUE"]}`, []want{{"constraints[0]", W, "legacy constraint string"}}},
		{"hc protocol", `{"id": "/a", "cmd": "x", "healthChecks": [{"protocol": "GRPC"}]}`, []want{{"healthChecks[0].protocol", E, `invalid health check protocol "GRPC"`}}},
		{"hc portIndex", `{"id": "/a", "cmd": "x", "portDefinitions": [{"port": 0}], "healthChecks": [{"protocol": "HTTP", "portIndex": 1}]}`, []want{{"healthChecks[0].portIndex", E, "portIndex 1 does not address one of the app's 1 port(s)"}}},
		{"hc portIndex mappings", `{"id": "/a", "container": {"docker": {"image": "x"}, "portMappings": [{"containerPort": 80}, {"containerPort": 81}]}, "networks": [{"mode": "container/bridge"}], "healthChecks": [{"protocol": "TCP", "portIndex": 2}]}`, []want{{"healthChecks[0].portIndex", E, "of the app's 2 port(s)"}}},
		{"hc no ports", `{"id": "/a", "cmd": "x", "portDefinitions": [], "healthChecks": [{"protocol": "TCP"}]}`, []want{{"healthChecks[0]", E, "the app has no ports"}}},
		{"hc command missing", `{"id": "/a", "cmd": "x", "healthChecks": [{"protocol": "COMMAND"}]}`, []want{{"healthChecks[0].command", E, "needs command.value"}}},
		{"hc two mesos", `{"id": "/a", "cmd": "x", "healthChecks": [{"protocol": "MESOS_HTTP"}, {"protocol": "MESOS_TCP"}]}`, []want{{"healthChecks", W, "at most one Mesos health check"}}},
		{"ports and portDefinitions", `{"id": "/a", "cmd": "x", "ports": [1], "portDefinitions": [{"port": 2}]}`, []want{{"ports", W, "deprecated"}, {"ports", W, "cannot specify both ports and portDefinitions"}}},
		{"port out of range", `{"id": "/a", "cmd": "x", "portDefinitions": [{"port": 70000}]}`, []want{{"portDefinitions[0].port", E, "port 70000 is out of range"}}},
		{"docker no image", `{"id": "/a", "container": {"type": "DOCKER", "docker": {"image": ""}}}`, []want{{"container.docker.image", W, "docker image is empty"}}},
		{"docker missing", `{"id": "/a", "cmd": "x", "container": {"type": "DOCKER"}}`, []want{{"container", E, "needs container.docker"}}},
		{"deprecated docker fields", `{"id": "/a", "container": {"docker": {"image": "x", "network": "BRIDGE", "portMappings": [{"containerPort": 80}]}}}`, []want{{"container.docker.network", W, "network is deprecated"}, {"container.docker.portMappings", W, "portMappings is deprecated"}}},
		{"uris and ipAddress", `{"id": "/a", "cmd": "x", "uris": ["http://x"], "ipAddress": {"networkName": "n"}}`, []want{{"uris", W, "deprecated"}, {"ipAddress", W, "deprecated"}}},
		{"persistent size", `{"id": "/a", "container": {"type": "MESOS", "volumes": [{"containerPath": "data", "mode": "RW", "persistent": {"size": 0}}]}}`, []want{{"container.volumes[0].persistent.size", E, "greater than 0"}}},
		{"persistent slash", `{"id": "/a", "container": {"type": "MESOS", "volumes": [{"containerPath": "/data", "mode": "RW", "persistent": {"size": 10}}]}}`, []want{{"container.volumes[0].containerPath", W, `must not contain "/"`}}},
		{"volume kind missing", `{"id": "/a", "container": {"type": "MESOS", "volumes": [{"containerPath": "x", "mode": "RW"}]}}`, []want{{"container.volumes[0]", E, "neither a host, persistent, external nor secret"}}},
		{"external no driver", `{"id": "/a", "container": {"type": "MESOS", "volumes": [{"containerPath": "x", "mode": "RW", "external": {"name": "v", "provider": "dvdi"}}]}}`, []want{{"container.volumes[0].external.options", W, "dvdi/driver"}}},
		{"secret undeclared", `{"id": "/a", "cmd": "x", "env": {"P": {"secret": "nope"}}}`, []want{{"env.P.secret", W, `refers to secret "nope"`}}},
		{"secret volume undeclared", `{"id": "/a", "container": {"type": "MESOS", "volumes": [{"containerPath": "x", "secret": "s"}]}}`, []want{{"container.volumes[0].secret", W, `secret "s"`}}},
		{"resident upgrade", `{"id": "/a", "container": {"type": "MESOS", "volumes": [{"containerPath": "d", "mode": "RW", "persistent": {"size": 1}}]}, "upgradeStrategy": {"maximumOverCapacity": 0.5}}`, []want{{"upgradeStrategy.maximumOverCapacity", W, "maximumOverCapacity 0"}}},
		{"unreachable negative", `{"id": "/a", "cmd": "x", "unreachableStrategy": {"inactiveAfterSeconds": -1}}`, []want{{"unreachableStrategy.inactiveAfterSeconds", E, "must not be negative"}}},
		{"readiness port", `{"id": "/a", "cmd": "x", "readinessChecks": [{"portName": "web"}]}`, []want{{"readinessChecks[0].portName", E, `no port named "web"`}}},
		{"network mode", `{"id": "/a", "cmd": "x", "networks": [{"mode": "overlay"}]}`, []want{{"networks[0].mode", W, `invalid network mode "overlay"`}}},
		{"kill selection", `{"id": "/a", "cmd": "x", "killSelection": "RANDOM"}`, []want{{"killSelection", W, "invalid killSelection"}}},
		{"resource limit below request", `{"id": "/a", "cmd": "x", "mem": 256, "resourceLimits": {"mem": 128}}`, []want{{"resourceLimits.mem", E, "below the requested mem 256"}}},
		{"duplicate ids in list", `[{"id": "/a", "cmd": "x"}, {"id": "a", "cmd": "y"}]`, []want{{"[1].id", E, "duplicate id /a"}}},
		{"group child outside", `{"id": "/g", "apps": [{"id": "/other/a", "cmd": "x"}]}`, []want{{"apps[0].id", W, "is not a child of group /g"}}},
		{"group missing id", `{"groups": [{"id": "h"}]}`, []want{{"id", E, "group id is required"}}},
		{"group nested error", `{"id": "/g", "groups": [{"id": "h", "apps": [{"id": "a", "cmd": "x", "cpus": -1}]}]}`, []want{{"groups[0].apps[0].cpus", E, "must not be negative"}}},
		{"pod no containers", `{"id": "/p", "containers": []}`, []want{{"containers", E, "at least one container"}}},
		{"pod no resources", `{"id": "/p", "containers": [{"name": "c"}]}`, []want{{"containers[0].resources", E, "no resources"}}},
		{"pod bad mount", `{"id": "/p", "containers": [{"name": "c", "resources": {"cpus": 1, "mem": 32}, "volumeMounts": [{"name": "v", "mountPath": "/v"}]}]}`, []want{{"containers[0].volumeMounts[0].name", E, `volume "v"`}}},
		{"pod hc endpoint", `{"id": "/p", "containers": [{"name": "c", "resources": {"cpus": 1, "mem": 32}, "healthCheck": {"http": {"endpoint": "web"}}}]}`, []want{{"containers[0].healthCheck.http.endpoint", E, `endpoint "web"`}}},
		{"pod constraint", `{"id": "/p", "containers": [{"name": "c", "resources": {"cpus": 1, "mem": 32}}], "scheduling": {"placement": {"constraints": [{"fieldName": "hostname", "operator": "MAX_PER"}]}}}`, []want{{"scheduling.placement.constraints[0]", E, "MAX_PER requires an integer value"}}},
		{"pod duplicate names", `{"id": "/p", "containers": [{"name": "c", "resources": {"cpus": 1, "mem": 32}}, {"name": "c", "resources": {"cpus": 1, "mem": 32}}]}`, []want{{"containers[1].name", W, "used twice"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			def, err := Decode([]byte(tc.in))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			issues := Validate(def)
			for _, w := range tc.want {
				found := false
				for _, is := range issues {
					if is.Path == w.path && is.Severity == w.sev && strings.Contains(is.Message, w.msg) {
						found = true
						if is.Line == 0 {
							t.Errorf("issue %q has no line", is.Message)
						}
					}
				}
				if !found {
					t.Errorf("no %s at %q containing %q; got:\n%s", w.sev, w.path, w.msg, formatIssues(issues))
				}
			}
			wantErr := false
			for _, w := range tc.want {
				wantErr = wantErr || w.sev == E
			}
			if HasErrors(issues) != wantErr {
				t.Errorf("HasErrors = %v, want %v:\n%s", !wantErr, wantErr, formatIssues(issues))
			}
			// Strict mode turns every Marathon API rejection into an error.
			for _, is := range ValidateWith(def, Options{Strict: true}) {
				if is.MarathonRejects && is.Severity != SeverityError {
					t.Errorf("strict: %q is a %s", is.Message, is.Severity)
				}
			}
		})
	}
}

func formatIssues(issues []Issue) string {
	var b strings.Builder
	for _, is := range issues {
		b.WriteString("  " + string(is.Severity) + " " + is.Path + ": " + is.Message + "\n")
	}
	return b.String()
}

func TestValidatePositions(t *testing.T) {
	in := "{\n  \"id\": \"/a\",\n  \"cmd\": \"x\",\n  \"constraints\": [\n    [\"hostname\", \"MAX_PER\"]\n  ],\n  \"env\": {\"a.b\": {\"secret\": \"missing\"}}\n}"
	def, err := Decode([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][2]int{}
	for _, is := range Validate(def) {
		got[is.Path] = [2]int{is.Line, is.Column}
	}
	want := map[string][2]int{
		"constraints[0]":    {5, 5},
		`env["a.b"].secret`: {7, 19},
	}
	for p, pos := range want {
		if got[p] != pos {
			t.Errorf("%s at %v, want %v (all: %v)", p, got[p], pos, got)
		}
	}
}

func TestCheckReport(t *testing.T) {
	r := Check("x.json", []byte(`{"id": "/a", "cmd": "x", "uris": [], "bogus": 1, "cpus": -1}`), Options{})
	if r.Valid || r.Errors != 1 || r.Kind != KindApp || len(r.IDs) != 1 || r.IDs[0] != "/a" {
		t.Errorf("report = %+v", r)
	}
	if len(r.UnknownFields) != 1 || r.UnknownFields[0] != "bogus" || len(r.DeprecatedFields) != 1 || r.DeprecatedFields[0] != "uris" {
		t.Errorf("unknown %q deprecated %q", r.UnknownFields, r.DeprecatedFields)
	}
	r = Check("y.json", []byte(`{"id": "/a",`), Options{})
	if r.Valid || r.Errors != 1 || r.Issues[0].Category != CategorySyntax || r.Issues[0].Line != 1 {
		t.Errorf("syntax report = %+v", r)
	}
}
