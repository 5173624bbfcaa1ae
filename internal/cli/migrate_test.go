package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/appspec"
)

func TestDependencyWaves(t *testing.T) {
	specs := []*appspec.Spec{
		{Name: "api", DependsOn: []string{"db"}},
		{Name: "db"},
		{Name: "web", DependsOn: []string{"api", "cache"}},
		{Name: "cache"},
		{Name: "batch", DependsOn: []string{"db"}},
	}
	w := dependencyWaves(specs)
	for n, want := range map[int]string{1: "cache db", 2: "api batch", 3: "web"} {
		got, err := w.Wave(n)
		if err != nil || strings.Join(got, " ") != want {
			t.Errorf("wave %d: %v %v, want %s", n, got, err, want)
		}
	}
	if _, err := w.Wave(4); err == nil || !strings.Contains(err.Error(), "there are 3 wave(s)") {
		t.Errorf("wave 4: %v", err)
	}
	bad := dependencyWaves([]*appspec.Spec{{Name: "a", DependsOn: []string{"missing"}}})
	if _, err := bad.Wave(1); err == nil || !strings.Contains(err.Error(), `no app named "missing"`) {
		t.Errorf("missing dependency: %v", err)
	}
}

func TestMigratePlanFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "plan.json")
	if err := os.WriteFile(bad, []byte(`{"version": 999, "waves": []}`), 0o644); err != nil {
		t.Fatal(err)
	}
	o := &migrateOptions{planFile: bad}
	if _, err := o.planner(); err == nil || !strings.Contains(err.Error(), "--plan "+bad) {
		t.Fatalf("bad plan: %v", err)
	}
	o.planFile = filepath.Join(dir, "missing.json")
	if _, err := o.planner(); err == nil || !strings.Contains(err.Error(), "--plan") {
		t.Fatalf("missing plan: %v", err)
	}
}
