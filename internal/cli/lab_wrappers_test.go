package cli

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/switchyard/switchyard/lab/labconfig"
)

// TestSetNodeAgentsPersistsWrapperMode: `lab up --wrappers` saves
// kubernetes.nodeAgents: wrapper in lab.yaml, so later commands (and the
// lab's Marathon and node agents) see wrapper mode.
func TestSetNodeAgentsPersistsWrapperMode(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "lab")
	o := &labOptions{labDir: dir}
	if err := o.load(true, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if o.cfg.WrapperMode() {
		t.Fatal("the default lab is in wrapper mode")
	}
	if err := setNodeAgents(o.configPath, labconfig.NodeAgentsWrapper); err != nil {
		t.Fatal(err)
	}
	if err := o.load(false, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if !o.cfg.WrapperMode() || o.cfg.Dir != dir {
		t.Errorf("after setNodeAgents: nodeAgents %q dir %q", o.cfg.Kubernetes.NodeAgents, o.cfg.Dir)
	}
}
