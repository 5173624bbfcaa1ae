package cli

import (
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
