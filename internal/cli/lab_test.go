package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/lab"
	"github.com/switchyard/switchyard/lab/labconfig"
	"github.com/switchyard/switchyard/lab/nodeagent"
)

// TestLoadWritesDefaultConfigOnce: the first load for `up` writes lab.yaml
// with an id derived from the directory; other commands refuse a missing lab.
func TestLoadWritesDefaultConfigOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "lab")
	o := &labOptions{labDir: dir}
	if err := o.load(false, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "start a lab with `switchyard lab up`") {
		t.Fatalf("load without a lab = %v", err)
	}
	var out bytes.Buffer
	if err := o.load(true, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "wrote the default lab config to "+filepath.Join(dir, "lab.yaml")) {
		t.Errorf("output %q", out.String())
	}
	if o.cfg.ID != lab.IDFor(dir) || o.cfg.Dir != dir || o.configPath != filepath.Join(dir, "lab.yaml") {
		t.Errorf("cfg id %q dir %q path %q", o.cfg.ID, o.cfg.Dir, o.configPath)
	}
	// A new lab's Marathon requires its token (issue 13).
	if !o.cfg.MarathonAuthEnabled() {
		t.Errorf("a new lab's config has marathon.auth %q, want %q", o.cfg.Marathon.Auth, labconfig.MarathonAuthToken)
	}
	// Edits survive: a second load does not rewrite the file.
	cfg := o.cfg
	cfg.Marathon.Listen = "127.0.0.1:18080"
	if err := writeLabConfig(cfg, o.configPath); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := o.load(true, &out); err != nil || o.cfg.Marathon.Listen != "127.0.0.1:18080" || out.Len() != 0 {
		t.Errorf("second load: %v, listen %q, output %q", err, o.cfg.Marathon.Listen, out.String())
	}
	b, _ := os.ReadFile(o.configPath)
	if !strings.Contains(string(b), "dir: .\n") {
		t.Errorf("lab.yaml must keep dir relative:\n%s", b)
	}
}

func TestLoadCopiesAnOutsideConfigIntoTheLab(t *testing.T) {
	src := filepath.Join(t.TempDir(), "my-lab.yaml")
	cfg := labconfig.Default()
	cfg.ID = "custom"
	cfg.Dir = filepath.Join(filepath.Dir(src), "state") // written as "dir: state"
	if err := writeLabConfig(cfg, src); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(src); !strings.Contains(string(b), "dir: state\n") {
		t.Fatalf("written config:\n%s", b)
	}
	o := &labOptions{configFile: src}
	var out bytes.Buffer
	if err := o.load(true, &out); err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(filepath.Dir(src), "state", "lab.yaml")
	if o.configPath != want || !strings.Contains(out.String(), "copied "+src+" to "+want) {
		t.Fatalf("config path %q, output %q", o.configPath, out.String())
	}
	got, err := labconfig.Load(want)
	if err != nil || got.ID != "custom" || got.Dir != filepath.Dir(want) {
		t.Fatalf("copy: %+v, %v", got, err)
	}
}

func TestExamplesDir(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "examples", "marathon"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := examplesDir("", filepath.Join(root, "bin", "switchyard"))
	if err != nil || got != filepath.Join(root, "examples") {
		t.Errorf("next to the binary: %q, %v", got, err)
	}
	if _, err := examplesDir(filepath.Join(root, "nope"), ""); err == nil || !strings.Contains(err.Error(), "no sample apps found in") {
		t.Errorf("missing dir: %v", err)
	}
}

func TestLabValidate(t *testing.T) {
	lab := func(kube bool, kwok int) *labOptions {
		share := &labconfig.Resources{}
		return &labOptions{configPath: "/lab/lab.yaml", cfg: labconfig.Config{
			Kubernetes: labconfig.Kubernetes{Enabled: kube, KwokNodes: kwok},
			Nodes:      []labconfig.Node{{Name: "node-1", KubernetesShare: share}, {Name: "mesos-only"}},
		}}
	}
	up := func(l *labOptions, set func(o *labUpOptions)) *labUpOptions {
		o := &labUpOptions{labOptions: l}
		set(o)
		return o
	}
	agent := func(node string, res *nodeagent.Reservation) *labRunNodeAgentOptions {
		return &labRunNodeAgentOptions{node: node, lab: lab(true, 0), res: res}
	}
	tests := []struct {
		name string
		o    commandOptions
		want string // "" when valid
	}{
		{"up", up(lab(true, 0), func(*labUpOptions) {}), ""},
		{"up kwok nodes", up(lab(true, 0), func(o *labUpOptions) { o.kwokChanged, o.kwokNodes = true, 3 }), ""},
		{"up negative kwok nodes", up(lab(true, 0), func(o *labUpOptions) { o.kwokChanged, o.kwokNodes = true, -1 }), "--kwok-nodes: -1: must be 0 or more"},
		{"up wrappers", up(lab(true, 0), func(o *labUpOptions) { o.wrappers = true }), ""},
		{"up wrappers without kubernetes", up(lab(false, 0), func(o *labUpOptions) { o.wrappers = true }),
			"--wrappers: the lab in /lab/lab.yaml runs no Kubernetes"},
		{"node-agent", agent("node-1", nil), ""},
		{"node-agent without --node", agent("", nil), "--node is required"},
		{"node-agent unknown node", agent("node-9", nil), "--node node-9: no such node in /lab/lab.yaml"},
		{"node-agent no share", agent("mesos-only", nil), "--node mesos-only: the node has no kubernetesShare"},
		{"node-agent no share, reservation", agent("mesos-only", &nodeagent.Reservation{}), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkValidate(t, tt.o.Validate(), tt.want)
		})
	}
}
