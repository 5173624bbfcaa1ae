package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/journal"
	"github.com/switchyard/switchyard/migrate"
	"github.com/switchyard/switchyard/serve"
)

// scriptedEngine is the leader's engine of a serve API under test: it
// journals a short migration (or rollback) for each app it starts and
// applies pause/resume/abort to the journal, so that the CLI, which only
// sees the API, follows real journal entries through a real server.
type scriptedEngine struct {
	j       journal.Journal
	mu      sync.Mutex
	started []string // "app" or "app rollback", in order
	wg      sync.WaitGroup
}

func (e *scriptedEngine) put(t testing.TB, st migrate.State) {
	data, err := json.Marshal(st)
	if err != nil {
		t.Error(err)
		return
	}
	if err := e.j.Append(context.Background(), &journal.Entry{App: st.App, To: migrate.Label(st), Event: "test", Time: time.Now(), Reason: st.Reason, State: data}); err != nil {
		t.Error(err)
	}
}

// Start journals, for "bad", a migration that rolls back on a failed gate;
// for any other app, one that finalizes; with EvRollback, a rollback.
func (e *scriptedEngine) Start(apps []string, first ...migrate.Event) error {
	for _, a := range apps {
		if a == "unknown" {
			return fmt.Errorf("unknown: no app.yaml with that name")
		}
	}
	rollback := len(first) > 0 && first[0].Kind == migrate.EvRollback
	e.mu.Lock()
	for _, a := range apps {
		if rollback {
			a += " rollback"
		}
		e.started = append(e.started, a)
	}
	e.mu.Unlock()
	for _, a := range apps {
		steps := []migrate.State{{Phase: migrate.Installing}, {Phase: migrate.Shifting, KubePercent: 25, Applied: true},
			{Phase: migrate.Shifting, KubePercent: 100, Applied: true}, {Phase: migrate.Finalized, KubePercent: 100}}
		switch {
		case rollback:
			steps = []migrate.State{{Phase: migrate.RollingBack, KubePercent: 100, Stage: migrate.StageWeights}, {Phase: migrate.RolledBack, Reason: "operator: rollback"}}
		case a == "bad":
			steps = []migrate.State{{Phase: migrate.Installing}, {Phase: migrate.Shifting, KubePercent: 25, Applied: true},
				{Phase: migrate.RollingBack, KubePercent: 25, Stage: migrate.StageWeights}, {Phase: migrate.RolledBack, Reason: "gate: error rate 4.00% > 1.00%"}}
		}
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			for _, st := range steps {
				st.App = a
				e.put(nil, st)
				time.Sleep(30 * time.Millisecond)
			}
		}()
	}
	return nil
}

func (e *scriptedEngine) Wave(_ context.Context, n int) ([]string, error) {
	if n == 1 {
		return []string{"api", "web"}, nil
	}
	return nil, fmt.Errorf("the plan has no wave %d", n)
}

// Send applies pause (and resume) to the app's latest journaled state.
func (e *scriptedEngine) Send(app string, ev migrate.Event) bool {
	st, _, err := migrate.Latest(e.j, app)
	if err != nil {
		return false
	}
	st.Paused = ev.Kind == migrate.EvPause
	st.Reason = ev.Reason
	e.put(nil, st)
	return true
}

type leading struct{ e serve.Engine }

func (l leading) Engine() serve.Engine                         { return l.e }
func (l leading) Leader(context.Context) (string, bool, error) { return "http://leader", true, nil }

const (
	remoteOperator = "operator-token-remote-0123"
	remoteViewer   = "viewer-token-remote-0123"
)

// remoteSetup starts a serve API on a real journal with api mid-shift and
// writes a context "prod" (current) naming it as the server with token.
func remoteSetup(t *testing.T, token string) (*scriptedEngine, string) {
	t.Helper()
	cfgPath := isolateConfig(t)
	home := t.TempDir()
	t.Setenv("HOME", home)
	j, err := journal.Open(filepath.Join(t.TempDir(), "server.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	eng := &scriptedEngine{j: j}
	t.Cleanup(func() { eng.wg.Wait(); j.Close() })
	eng.put(t, migrate.State{App: "api", Phase: migrate.Shifting, KubePercent: 25, Applied: true})
	toks, err := serve.ParseTokens([]byte(fmt.Sprintf("tokens:\n- {name: alice, role: operator, token: %s}\n- {name: grafana, role: viewer, token: %s}\n", remoteOperator, remoteViewer)))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := serve.New(serve.Options{Auth: toks, Journal: j, Leadership: leading{eng}, Self: "replica-a", EventPeriod: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := config.New()
	f.Set(config.Context{Name: "prod", Server: config.Server{URL: ts.URL, TokenFile: tokenFile}})
	f.CurrentContext = "prod"
	if err := f.Save(cfgPath); err != nil {
		t.Fatal(err)
	}
	return eng, home
}

// TestCommandsGoToTheServer: with a context naming a server, migrate,
// rollback, pause, resume and status are the server's (the engine behind
// it receives them, the CLI follows the journal it writes), and the CLI
// opens no journal of its own.
func TestCommandsGoToTheServer(t *testing.T) {
	eng, home := remoteSetup(t, remoteOperator)
	steps := []struct {
		args    []string
		want    []string
		wantErr string
		started []string // what the engine has started after the step
	}{
		{args: []string{"migrate", "web"}, want: []string{"migrate web: accepted by replica-a", "web: Installing, 0% on Kubernetes", "web: Finalized, 100% on Kubernetes", "web                  Finalized", "1 app(s) in", "0 not migrated"},
			started: []string{"web"}},
		{args: []string{"migrate", "bad"}, want: []string{"bad: RolledBack", "gate: error rate 4.00%", "1 not migrated"}, wantErr: "1 of 1 app(s) not migrated",
			started: []string{"web", "bad"}},
		{args: []string{"rollback", "web"}, want: []string{"rollback web: accepted", "web: RolledBack", "0 not migrated"},
			started: []string{"web", "bad", "web rollback"}},
		{args: []string{"migrate", "--wave", "1", "--detach"}, want: []string{"migrate api, web: accepted by replica-a", "follow with `switchyard status --context prod`"},
			started: []string{"web", "bad", "web rollback", "api", "web"}},
		{args: []string{"migrate", "unknown"}, wantErr: "answered POST /api/v1/migrations: 409 Conflict: unknown: no app.yaml"},
		{args: []string{"migrate", "web", "--apps", "."}, wantErr: "context prod runs migrations on its server http://127.0.0.1"},
		{args: []string{"rollback", "web", "--journal", "/tmp/j.db"}, wantErr: "--journal is the server's setting"},
	}
	for _, st := range steps {
		out, err := runRoot(t, st.args...)
		if st.wantErr == "" && err != nil || st.wantErr != "" && (err == nil || !strings.Contains(err.Error(), st.wantErr)) {
			t.Fatalf("%v: error %v, want %q\n%s", st.args, err, st.wantErr, out)
		}
		for _, w := range st.want {
			if !strings.Contains(out, w) {
				t.Errorf("%v: output lacks %q:\n%s", st.args, w, out)
			}
		}
		if st.started != nil {
			eng.mu.Lock()
			got := slices.Clone(eng.started)
			eng.mu.Unlock()
			if !slices.Equal(got, st.started) {
				t.Errorf("%v: the engine started %q, want %q", st.args, got, st.started)
			}
		}
	}
	eng.wg.Wait()

	if _, err := runRoot(t, "migrate", "pause", "api"); err == nil || !strings.Contains(err.Error(), "409 Conflict: pause api: the migration already ended (Finalized)") {
		t.Fatalf("pause of a finalized app: %v", err)
	}
	out, err := runRoot(t, "status", "-o", "json")
	if err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	var rows []statusRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("status -o json: %v\n%s", err, out)
	}
	phases := map[string]string{}
	for _, r := range rows {
		if !r.Live {
			t.Errorf("status row %s not marked live", r.App)
		}
		phases[r.App] = r.Phase
	}
	if phases["web"] != "Finalized" || phases["bad"] != "RolledBack" {
		t.Errorf("status from the server: %v", phases)
	}
	if _, err := os.Stat(filepath.Join(home, ".local")); !os.IsNotExist(err) {
		t.Errorf("the CLI made local state beside the server (%v)", err)
	}
}

// TestServerPauseResume: pause and resume wait until the server's journal
// shows their effect.
func TestServerPauseResume(t *testing.T) {
	remoteSetup(t, remoteOperator)
	out, err := runRoot(t, "migrate", "pause", "api", "--reason", "lunch")
	if err != nil || !strings.Contains(out, "api: Shifting[25% applied paused]") || !strings.Contains(out, ": lunch") {
		t.Fatalf("pause: %v\n%s", err, out)
	}
	out, err = runRoot(t, "migrate", "resume", "api")
	if err != nil || !strings.Contains(out, "api: Shifting[25% applied]") {
		t.Fatalf("resume: %v\n%s", err, out)
	}
}

// TestServerRefusals: a viewer token, an unreachable server and --detach
// without a server each fail with the context and the fix named.
func TestServerRefusals(t *testing.T) {
	t.Run("viewer", func(t *testing.T) {
		eng, _ := remoteSetup(t, remoteViewer)
		for _, args := range [][]string{{"migrate", "web"}, {"migrate", "pause", "api"}, {"rollback", "api"}} {
			_, err := runRoot(t, args...)
			if err == nil || !strings.Contains(err.Error(), "403 Forbidden: grafana is a viewer; this needs the operator role (ask for an operator token)") {
				t.Errorf("%v: %v", args, err)
			}
		}
		if len(eng.started) != 0 {
			t.Errorf("a viewer started %v", eng.started)
		}
		if out, err := runRoot(t, "status"); err != nil || !strings.Contains(out, "api") {
			t.Errorf("a viewer's status: %v\n%s", err, out)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		cfgPath := isolateConfig(t)
		tokenFile := filepath.Join(t.TempDir(), "token")
		if err := os.WriteFile(tokenFile, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		f := config.New()
		f.Set(config.Context{Name: "prod", Server: config.Server{URL: "http://127.0.0.1:1", TokenFile: tokenFile}})
		f.CurrentContext = "prod"
		if err := f.Save(cfgPath); err != nil {
			t.Fatal(err)
		}
		_, err := runRoot(t, "migrate", "web")
		if err == nil || !strings.Contains(err.Error(), "status: context prod's server http://127.0.0.1:1: GET /api/v1/status") || !strings.Contains(err.Error(), "is `switchyard serve` running there?") {
			t.Errorf("migrate: %v", err)
		}
	})
	t.Run("detach without server", func(t *testing.T) {
		isolateConfig(t)
		t.Setenv("SWITCHYARD_JOURNAL", filepath.Join(t.TempDir(), "j.db"))
		_, err := runRoot(t, "migrate", "web", "--detach", "--apps", t.TempDir())
		if err == nil || !strings.Contains(err.Error(), "--detach leaves the migration to the context's server, and context \"\" names none") {
			t.Errorf("migrate --detach: %v", err)
		}
	})
}
