package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/plan"
)

func writeInventory(t *testing.T, inv plan.Inventory) string {
	t.Helper()
	b, err := json.Marshal(inv)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "inventory.json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func runPlan(args ...string) (string, error) {
	root := NewRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append([]string{"plan"}, args...))
	err := root.Execute()
	return out.String(), err
}

func planInventory(webCPUs float64) plan.Inventory {
	r := func(c, m float64) plan.Resources { return plan.Resources{CPUs: c, Mem: m} }
	return plan.Inventory{
		Nodes: []plan.Node{{Name: "node-1", Total: r(4, 8192), Share: r(1.1, 1380), Allocatable: r(1, 1024), MesosAllocated: r(1.5, 512), Joined: true,
			Tasks: []plan.Task{{ID: "api.1", App: "/api", Resources: r(0.5, 256)}, {ID: "web.1", App: "/web", Resources: r(1, 256)}}}},
		Apps: []plan.App{
			{Name: "api", MarathonID: "/api", Instances: 1, Marathon: r(0.5, 256), Route: plan.Route{Path: "/api"}, Gates: plan.Gates{Steps: []int{5, 100}}},
			{Name: "web", MarathonID: "/web", Priority: 3, Instances: 1, Marathon: r(webCPUs, 256), DependsOn: []string{"api"}, Route: plan.Route{Path: "/web"}},
		},
	}
}

func TestPlanCommand(t *testing.T) {
	t.Run("text: waves, share changes", func(t *testing.T) {
		out, err := runPlan("--inventory", writeInventory(t, planInventory(1)))
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		for _, want := range []string{"Plan: 2 app(s) in 2 wave(s): OK", "Wave 1\n", "  api  ", "Wave 2\n", "  web  ", "0→3",
			"node-1 grow share 1.1 cpu 1.3Gi → 1.6 cpu 1.3Gi (allocatable 1.5 cpu 1Gi) for web"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("json round-trips through plan.Decode", func(t *testing.T) {
		out, err := runPlan("--inventory", writeInventory(t, planInventory(1)), "-o", "json")
		if err != nil {
			t.Fatal(err)
		}
		p, err := plan.Decode([]byte(out))
		if err != nil {
			t.Fatal(err)
		}
		if names, err := p.Wave(2); err != nil || len(names) != 1 || names[0] != "web" {
			t.Fatalf("wave 2 = %v %v", names, err)
		}
	})
	t.Run("unsatisfiable: printed with reasons, exit code 2", func(t *testing.T) {
		out, err := runPlan("--inventory", writeInventory(t, planInventory(3)))
		var ee *ExitError
		if !errors.As(err, &ee) || ee.Code != ExitUnsatisfiable {
			t.Fatalf("err = %v, want exit %d", err, ExitUnsatisfiable)
		}
		want := "wave 2: app web needs 2.5 cpus more on the Kubernetes side; node-1 can give 1.4 without breaking the Marathon rollback room for app api"
		if !strings.Contains(out, "UNSATISFIABLE (1 blocker(s))") || !strings.Contains(out, "BLOCKED: "+want) || !strings.Contains(err.Error(), want) {
			t.Fatalf("err %v\noutput:\n%s", err, out)
		}
		if !strings.Contains(out, "to unblock: lower web's requests to ≤ 1.9 cpus") {
			t.Fatalf("no unblock hint:\n%s", out)
		}
	})
	t.Run("bad flags", func(t *testing.T) {
		for args, want := range map[string]string{
			"--order=sideways":   `order "sideways"`,
			"-o=xml":             `-o "xml"`,
			"--max-wave-size=-1": "max wave size -1",
		} {
			_, err := runPlan("--inventory", writeInventory(t, planInventory(1)), args)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s: err = %v, want %q", args, err, want)
			}
		}
	})
}

// The executor's `migrate --wave N` reads waves through WavePlanner.
var _ WavePlanner = (*plan.Plan)(nil)

func TestPlanValidate(t *testing.T) {
	tests := []struct {
		name string
		set  func(o *planOptions)
		want string // "" when valid
	}{
		{"defaults", func(*planOptions) {}, ""},
		{"json", func(o *planOptions) { o.output = "json" }, ""},
		{"dependents first", func(o *planOptions) { o.order = "dependents-first" }, ""},
		{"whole-plan rollback window", func(o *planOptions) { o.opts.RollbackWindow = -1 }, ""},
		{"bad output", func(o *planOptions) { o.output = "xml" }, `-o "xml": use text, json or yaml`},
		{"bad order", func(o *planOptions) { o.order = "sideways" }, `order "sideways"`},
		{"bad wave size", func(o *planOptions) { o.opts.MaxWaveSize = -1 }, "max wave size -1"},
		{"bad rollback window", func(o *planOptions) { o.opts.RollbackWindow = -2 }, "rollback window -2"},
		{"bad headroom", func(o *planOptions) { o.opts.Headroom = 0.5 }, "headroom 0.5"},
		{"dump ignores planning options", func(o *planOptions) { o.dumpInventory, o.order = true, "sideways" }, ""},
		{"dump still checks output", func(o *planOptions) { o.dumpInventory, o.output = true, "xml" }, `-o "xml"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newPlanOptions(nil)
			tt.set(o)
			checkValidate(t, o.Validate(), tt.want)
		})
	}
}
