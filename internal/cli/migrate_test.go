package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/internal/testfs"
	"github.com/switchyard/switchyard/migrate"
	"github.com/switchyard/switchyard/plan"
)

// TestMigrateWaveWithoutPlanFileFollowsPlan: `migrate --wave N` without
// --plan migrates wave N of the plan `switchyard plan` makes (its
// defaults; here from a saved inventory), and refuses an unsatisfiable one.
func TestMigrateWaveWithoutPlanFileFollowsPlan(t *testing.T) {
	po := newPlanOptions(nil)
	po.inventoryFile = writeInventory(t, planInventory(1))
	o := &migrateOptions{appsDir: t.TempDir(), wave: 2}
	w, err := o.planner(context.Background(), po)
	if err != nil {
		t.Fatal(err)
	}
	out, err := runPlan("--inventory", po.inventoryFile, "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Decode([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	for n := 1; n <= 3; n++ {
		got, gerr := w.Wave(n)
		want, werr := p.Wave(n)
		if strings.Join(got, " ") != strings.Join(want, " ") || (gerr == nil) != (werr == nil) {
			t.Errorf("wave %d: migrate %v %v, plan %v %v", n, got, gerr, want, werr)
		}
	}
	if got, _ := w.Wave(2); strings.Join(got, " ") != "web" {
		t.Errorf("wave 2 = %v, want web (priority and dependsOn are the planner's)", got)
	}

	po = newPlanOptions(nil)
	po.inventoryFile = writeInventory(t, planInventory(3))
	if _, err := o.planner(context.Background(), po); err == nil || !strings.Contains(err.Error(), "cannot be carried out") || !strings.Contains(err.Error(), "app web needs") {
		t.Fatalf("unsatisfiable plan: %v", err)
	}
}

func TestMigratePlanFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "plan.json")
	if err := os.WriteFile(bad, []byte(`{"version": 999, "waves": []}`), 0o644); err != nil {
		t.Fatal(err)
	}
	o := &migrateOptions{planFile: bad}
	if _, err := o.planner(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "--plan "+bad) {
		t.Fatalf("bad plan: %v", err)
	}
	o.planFile = filepath.Join(dir, "missing.json")
	if _, err := o.planner(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "--plan") {
		t.Fatalf("missing plan: %v", err)
	}
}

func TestMigrateValidate(t *testing.T) {
	ok := func(o migrateCmdOptions) migrateCmdOptions {
		if o.onRestart == "" {
			o.onRestart = string(migrate.ResumeContinue)
		}
		return o
	}
	tests := []struct {
		name string
		o    migrateCmdOptions
		want string // "" when valid
	}{
		{"apps", ok(migrateCmdOptions{names: []string{"web"}}), ""},
		{"wave", ok(migrateCmdOptions{migrateOptions: migrateOptions{wave: 2}}), ""},
		{"rollback on restart", ok(migrateCmdOptions{names: []string{"web"}, migrateOptions: migrateOptions{onRestart: "rollback"}}), ""},
		{"apps and wave", ok(migrateCmdOptions{names: []string{"web"}, migrateOptions: migrateOptions{wave: 1}}), "give apps or --wave, not both"},
		{"nothing", ok(migrateCmdOptions{}), "name the apps to migrate (or --wave N)"},
		{"negative wave", ok(migrateCmdOptions{migrateOptions: migrateOptions{wave: -1}}), "name the apps to migrate"},
		{"bad on-restart", ok(migrateCmdOptions{names: []string{"web"}, migrateOptions: migrateOptions{onRestart: "retry"}}), `--on-restart "retry": use continue or rollback`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkValidate(t, tt.o.Validate(), tt.want)
		})
	}
}

// TestOutputFormatCheckedFirst: an unknown -o is refused before any work
// (here before a journal or a platform is even opened), naming the flag.
func TestOutputFormatCheckedFirst(t *testing.T) {
	isolateConfig(t)
	t.Setenv("SWITCHYARD_JOURNAL", filepath.Join(t.TempDir(), "journal.db"))
	apps := t.TempDir()
	testfs.Write(t, apps, "web/web.json", `{"id": "/web", "cmd": "sleep 1000", "instances": 1}`)
	testfs.Write(t, apps, "web/app.yaml", "name: web\ntype: marathon\nmarathon:\n  path: web.json\nroute:\n  path: /web\n")
	for _, args := range [][]string{
		{"status", "-o", "xml"},
		{"migrate", "web", "--apps", apps, "-o", "xml"},
		{"rollback", "web", "--apps", apps, "-o", "xml"},
	} {
		out, err := runRoot(t, args...)
		if err == nil || !strings.Contains(err.Error(), `-o "xml": use table, json or yaml`) {
			t.Errorf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}
