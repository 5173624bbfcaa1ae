package cli

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/internal/shareddata"
	"github.com/switchyard/switchyard/internal/testfs"
)

func runValidate(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := NewRoot()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(append([]string{"marathon", "validate"}, args...))
	err := cmd.Execute()
	return out.String(), err
}

// writeFile writes a test file (testfs.Write).
var writeFile = testfs.Write

func TestMarathonValidateText(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "good.json", `{"id": "/web", "cmd": "serve", "cpus": 0.1, "mem": 64, "uris": ["http://x/a.tgz"], "colour": "blue"}`)
	bad := writeFile(t, dir, "bad.json", "{\n  \"id\": \"/db\",\n  \"cmd\": \"run\",\n  \"instances\": \"many\"\n}")

	out, err := runValidate(t, good)
	if err != nil {
		t.Fatalf("valid file: err = %v\n%s", err, out)
	}
	for _, want := range []string{"ok      " + good + " (app /web): 0 errors, 2 warnings", "uris: uris is deprecated", `colour: unknown field "colour"`, "1 file checked: 1 valid, 0 invalid"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	out, err = runValidate(t, good, bad)
	if ExitCode(err) != 1 {
		t.Fatalf("exit code %d (err %v), want 1\n%s", ExitCode(err), err, out)
	}
	for _, want := range []string{"INVALID " + bad + ": 1 error, 0 warnings", `4:16     error   instances: expected an integer, got string "many"`, "2 files checked: 1 valid, 1 invalid"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(err.Error(), "1 of 2 file(s) invalid") {
		t.Errorf("error = %v", err)
	}

	// --quiet hides warnings; --strict turns API rejections into errors.
	strict := writeFile(t, dir, "strict.json", `{"id": "/Upper", "cmd": "x"}`)
	out, err = runValidate(t, "-q", strict)
	if err != nil || strings.Contains(out, "invalid app id") || !strings.Contains(out, "0 errors, 1 warning") {
		t.Errorf("quiet lenient run: err %v\n%s", err, out)
	}
	out, err = runValidate(t, "--strict", strict)
	if ExitCode(err) != 1 || !strings.Contains(out, `error   id: invalid app id "/Upper"`) {
		t.Errorf("strict run: err %v\n%s", err, out)
	}
}

func TestMarathonValidateJSON(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a/app.json", `{"id": "/web", "cmd": "serve", "container": {"docker": {"image": "nginx", "network": "BRIDGE"}}}`)
	writeFile(t, dir, "a/pod.json", `{"id": "/p", "containers": []}`)
	writeFile(t, dir, "a/notes.txt", `not json, not looked at`)
	out, err := runValidate(t, "-o", "json", filepath.Join(dir, "a"), filepath.Join(dir, "missing.json"))
	if ExitCode(err) != 1 {
		t.Fatalf("exit code %d, want 1", ExitCode(err))
	}
	var rep ValidateReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if rep.Summary != (ValidateSummary{Files: 3, Valid: 1, Invalid: 2, Errors: 2, Warnings: 1}) {
		t.Errorf("summary = %+v", rep.Summary)
	}
	byName := map[string]int{}
	for i, f := range rep.Files {
		byName[filepath.Base(f.File)] = i
	}
	app := rep.Files[byName["app.json"]]
	if !app.Valid || app.Kind != "app" || len(app.DeprecatedFields) != 1 || app.DeprecatedFields[0] != "container.docker.network" {
		t.Errorf("app report = %+v", app)
	}
	pod := rep.Files[byName["pod.json"]]
	if pod.Valid || pod.Issues[0].Path != "containers" || pod.Issues[0].Line != 1 {
		t.Errorf("pod report = %+v", pod)
	}
	missing := rep.Files[byName["missing.json"]]
	if missing.Valid || !strings.Contains(missing.Issues[0].Message, "no such file") {
		t.Errorf("missing report = %+v", missing)
	}
	// Stable: the same input gives byte-identical output.
	again, _ := runValidate(t, "-o", "json", filepath.Join(dir, "a"), filepath.Join(dir, "missing.json"))
	if again != out {
		t.Errorf("json output is not stable")
	}
}

func TestMarathonValidateCorpus(t *testing.T) {
	d := shareddata.RequireDir(t)
	out, err := runValidate(t, "-q", filepath.Join(d, "corpus", "marathon"))
	if err != nil {
		t.Fatalf("corpus does not validate: %v\n%s", err, out)
	}
	if !strings.Contains(out, "110 files checked: 110 valid, 0 invalid; 0 errors") {
		t.Errorf("unexpected summary:\n%s", out[max(0, len(out)-300):])
	}
}

func TestMarathonValidateStdin(t *testing.T) {
	cmd := NewRoot()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetIn(strings.NewReader(`{"id": "/a", "cmd": "x", "cpus": -1}`))
	cmd.SetArgs([]string{"marathon", "validate", "-"})
	err := cmd.Execute()
	if ExitCode(err) != 1 || !strings.Contains(out.String(), "cpus: cpus is -1; it must not be negative") {
		t.Errorf("err %v\n%s", err, out.String())
	}
}

func TestMarathonValidateBadFlags(t *testing.T) {
	if _, err := runValidate(t); err == nil {
		t.Error("no arguments: want an error")
	}
	if _, err := runValidate(t, "-o", "xml", "x.json"); err == nil || !strings.Contains(err.Error(), `unknown output format "xml"`) {
		t.Errorf("bad -o: err = %v", err)
	}
}
