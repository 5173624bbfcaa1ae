package cli

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/journal"
	"github.com/switchyard/switchyard/journal/etcdjournal"
	"github.com/switchyard/switchyard/journal/etcdjournal/etcdtest"
	"github.com/switchyard/switchyard/lab/kube"
	"github.com/switchyard/switchyard/migrate"
)

// TestEtcdJournalContext: with `journal: etcd` in the context, status reads
// the journal from etcd, migrate campaigns for its leadership (and names
// the leader when another process holds it), and the file-only journal
// commands say the journal is in etcd.
func TestEtcdJournalContext(t *testing.T) {
	srv := etcdtest.Need(t, func() (string, error) { return kube.Binary(kube.PinnedVersion, "etcd") })
	cfgPath := isolateConfig(t)
	c := config.Context{Name: "ha", Marathon: config.Marathon{URL: "http://127.0.0.1:9"},
		Journal: config.Journal{Type: config.JournalEtcd, Endpoints: []string{srv.Endpoint}, Prefix: "/switchyard/ha",
			CAFile: srv.CAFile, CertFile: srv.CertFile, KeyFile: srv.KeyFile}}
	if err := config.Update(cfgPath, func(f *config.File) error { f.Set(c); return f.Use(c.Name) }); err != nil {
		t.Fatal(err)
	}

	out, err := runRoot(t, "status")
	if err != nil || !strings.Contains(out, "no migration in etcd "+srv.Endpoint+" /switchyard/ha") {
		t.Fatalf("status of an empty etcd journal: %v\n%s", err, out)
	}

	// Another process leads and journals a transition.
	ctx := context.Background()
	cli, err := etcdjournal.Dial(ctx, etcdjournal.Config{Endpoints: c.Journal.Endpoints, CAFile: srv.CAFile, CertFile: srv.CertFile, KeyFile: srv.KeyFile})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	l := etcdjournal.NewLeadership(cli, c.Journal.Prefix, "serve-a", 0)
	if err := l.Campaign(ctx); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	j, err := l.Journal()
	if err != nil {
		t.Fatal(err)
	}
	st, err := json.Marshal(migrate.State{App: "web", Phase: migrate.Installing})
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Append(ctx, &journal.Entry{App: "web", From: "Pending", To: "Installing", Event: "start", Time: time.Now(), State: st}); err != nil {
		t.Fatal(err)
	}
	out, err = runRoot(t, "status", "-o", "json")
	if err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	var rows []statusRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 1 || rows[0].App != "web" {
		t.Fatalf("status -o json = %v %s, want web's entry", err, out)
	}

	// migrate does not run beside the leader: it names it.
	old := leaderWait
	leaderWait = time.Second
	defer func() { leaderWait = old }()
	apps := t.TempDir()
	if err := os.MkdirAll(filepath.Join(apps, "web"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(apps, "web", "web.json"), []byte(`{"id": "/web", "cmd": "sleep 1000", "instances": 1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(apps, "web", "app.yaml"), []byte("name: web\ntype: marathon\nmarathon:\n  path: web.json\nroute:\n  path: /web\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = runRoot(t, "migrate", "web", "--apps", apps)
	if err == nil || !strings.Contains(err.Error(), "serve-a leads") {
		t.Fatalf("migrate while serve-a leads: %v\n%s", err, out)
	}

	for _, args := range [][]string{{"journal", "check"}, {"journal", "backup", filepath.Join(t.TempDir(), "b.db")}} {
		if out, err := runRoot(t, args...); err == nil || !strings.Contains(err.Error(), "is in etcd") {
			t.Errorf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestLeaderWithoutEngineKeepsLeading: a replica elected while its context
// cannot run migrations (here: no load balancer) keeps leading, refuses
// each migration with the reason and keeps trying, instead of resigning
// in a loop that leaves the election without a stable leader.
func TestLeaderWithoutEngineKeepsLeading(t *testing.T) {
	srv := etcdtest.Need(t, func() (string, error) { return kube.Binary(kube.PinnedVersion, "etcd") })
	old := engineRetry
	engineRetry = 20 * time.Millisecond
	defer func() { engineRetry = old }()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cli, err := etcdjournal.Dial(ctx, etcdjournal.Config{Endpoints: []string{srv.Endpoint}, CAFile: srv.CAFile, CertFile: srv.CertFile, KeyFile: srv.KeyFile})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	l := etcdjournal.NewLeadership(cli, "/switchyard/no-lb", "serve-a", 0)
	defer l.Close()
	el := &electedLeadership{l: l, self: "serve-a"}
	o := &serveOptions{log: slog.New(slog.DiscardHandler)}
	o.ctx = config.Context{Name: "no-lb", Marathon: config.Marathon{URL: "http://127.0.0.1:9"}}
	gauge := prometheus.NewGauge(prometheus.GaugeOpts{Name: "leading"})
	done := make(chan struct{})
	go func() { defer close(done); el.campaign(ctx, o, gauge) }()
	deadline := time.Now().Add(20 * time.Second)
	for el.Engine() == nil {
		if time.Now().After(deadline) {
			t.Fatal("the replica never led")
		}
		time.Sleep(10 * time.Millisecond)
	}
	term := l.Term().Key
	for range 10 { // ten retries later: the same term, still refusing with the reason
		time.Sleep(engineRetry)
		e := el.Engine()
		if e == nil || !l.IsLeader() || l.Term().Key != term {
			t.Fatalf("the replica stopped leading (engine %v, term %s → %s)", e, term, l.Term().Key)
		}
		if err := e.Start([]string{"web"}); err == nil || !strings.Contains(err.Error(), "the leader cannot run migrations") {
			t.Fatalf("Start = %v, want the reason the leader cannot run migrations", err)
		}
	}
	var m dto.Metric
	if err := gauge.Write(&m); err != nil || m.GetGauge().GetValue() != 1 {
		t.Errorf("the leading gauge = %v (%v), want 1", m.GetGauge().GetValue(), err)
	}
	cancel()
	<-done
}
