package control

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchyard/switchyard/journal"
	"github.com/switchyard/switchyard/migrate"
)

// recorder is a Sender that records what it delivered; apps it does not
// run are refused as by an executor.
type recorder struct {
	mu      sync.Mutex
	running map[string]bool
	got     []migrate.Event
}

func (r *recorder) Send(app string, ev migrate.Event) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.running[app] {
		return false
	}
	r.got = append(r.got, ev)
	return true
}

func journalWith(t *testing.T, states ...migrate.State) *journal.Bolt {
	t.Helper()
	j, err := journal.Open(filepath.Join(t.TempDir(), "journal.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	for _, s := range states {
		data, _ := json.Marshal(s)
		if err := j.Append(context.Background(), &journal.Entry{App: s.App, To: migrate.Label(s), Reason: s.Reason, State: data}); err != nil {
			t.Fatal(err)
		}
	}
	return j
}

func TestCommands(t *testing.T) {
	j := journalWith(t,
		migrate.State{App: "installing", Phase: migrate.Installing},
		migrate.State{App: "shifting", Phase: migrate.Shifting, KubePercent: 25, Applied: true},
		migrate.State{App: "paused", Phase: migrate.Shifting, KubePercent: 50, Applied: true, Paused: true},
		migrate.State{App: "done", Phase: migrate.Finalized},
		migrate.State{App: "rolling", Phase: migrate.RollingBack, Stage: migrate.StageWeights},
		migrate.State{App: "elsewhere", Phase: migrate.Shifting, Applied: true},
		migrate.State{App: "held", Phase: migrate.Shifting, KubePercent: 25, Held: true, Reason: "set weights kubernetes=25%: nginx b at version 6, want 7: held"},
		migrate.State{App: "back", Phase: migrate.ShiftingBack, KubePercent: 50, Applied: true},
		migrate.State{App: "returning", Phase: migrate.ReturningToKubernetes, Stage: migrate.StageWeights},
		migrate.State{App: "removing", Phase: migrate.RemovingKubernetes},
	)
	rec := &recorder{running: map[string]bool{"installing": true, "shifting": true, "paused": true, "done": true, "rolling": true,
		"held": true, "back": true, "returning": true, "removing": true}}
	sock := filepath.Join(t.TempDir(), "control.sock")
	if err := os.WriteFile(sock, nil, 0o600); err != nil { // a stale file left by a killed executor
		t.Fatal(err)
	}
	srv, err := Serve(sock, rec, j)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()
	for _, tc := range []struct {
		req     Request
		wantErr string // "" accepted
		want    migrate.Event
	}{
		{Request{Op: OpPause, App: "shifting"}, "", migrate.Event{Kind: migrate.EvPause, Reason: "operator: pause"}},
		{Request{Op: OpPause, App: "installing"}, "pauses while shifting weights or soaking; it is Installing", migrate.Event{}},
		{Request{Op: OpPause, App: "paused"}, "already paused", migrate.Event{}},
		{Request{Op: OpResume, App: "paused", Reason: "ticket 42"}, "", migrate.Event{Kind: migrate.EvResume, Reason: "ticket 42"}},
		{Request{Op: OpResume, App: "shifting"}, "not paused", migrate.Event{}},
		{Request{Op: OpAbort, App: "installing"}, "", migrate.Event{Kind: migrate.EvAbort, Reason: "operator: abort"}},
		{Request{Op: OpAbort, App: "rolling"}, "already rolling back", migrate.Event{}},
		{Request{Op: OpAbort, App: "done"}, "already ended (Finalized)", migrate.Event{}},
		{Request{Op: OpAbort, App: "ghost"}, "ghost: no migration of this app in the journal", migrate.Event{}},
		{Request{Op: OpPause, App: "elsewhere"}, "this executor is not migrating the app", migrate.Event{}},
		{Request{Op: OpPause}, "name the app", migrate.Event{}},
		{Request{Op: "finalise", App: "shifting"}, `unknown operation "finalise"`, migrate.Event{}},
		{Request{Op: OpPause, App: "held"}, "", migrate.Event{Kind: migrate.EvPause, Reason: "operator: pause"}},
		{Request{Op: OpAbort, App: "held"}, "", migrate.Event{Kind: migrate.EvAbort, Reason: "operator: abort"}},
		{Request{Op: OpPause, App: "back"}, "", migrate.Event{Kind: migrate.EvPause, Reason: "operator: pause"}},
		{Request{Op: OpAbort, App: "back"}, "", migrate.Event{Kind: migrate.EvAbort, Reason: "operator: abort"}},
		{Request{Op: OpAbort, App: "returning"}, "already returning to Kubernetes", migrate.Event{}},
		{Request{Op: OpAbort, App: "removing"}, "can no longer be aborted", migrate.Event{}},
		{Request{Op: OpPause, App: "removing"}, "it is RemovingKubernetes", migrate.Event{}},
	} {
		rec.got = nil
		_, err := Call(ctx, sock, tc.req)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%+v: %v", tc.req, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%+v: error %v, want %q", tc.req, err, tc.wantErr)
		case tc.wantErr == "" && (len(rec.got) != 1 || rec.got[0] != tc.want):
			t.Errorf("%+v: delivered %+v, want %+v", tc.req, rec.got, tc.want)
		case tc.wantErr != "" && len(rec.got) != 0:
			t.Errorf("%+v: refused but delivered %+v", tc.req, rec.got)
		}
	}

	resp, err := Call(ctx, sock, Request{Op: OpStatus})
	if err != nil || len(resp.Entries) != 10 {
		t.Fatalf("status: %v %+v", err, resp)
	}
	for _, e := range resp.Entries {
		s, err := migrate.StateOf(e)
		if err != nil || s.App != e.App {
			t.Fatalf("status entry %+v: %v", e, err)
		}
		// A held migration shows as held, with what it waits for.
		if e.App == "held" && (e.To != "Shifting[25% held]" || !s.Held || !strings.Contains(e.Reason, "nginx b at version 6")) {
			t.Fatalf("held status entry %+v", e)
		}
	}

	srv.Close()
	if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket left after Close: %v", err)
	}
	if _, err := Call(ctx, sock, Request{Op: OpStatus}); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("call with no server: %v, want ErrNotRunning", err)
	}
}

func TestSocketPath(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	t.Setenv("XDG_RUNTIME_DIR", "")
	if got, err := SocketPath("/var/lib/sy/journal.db"); err != nil || got != "/var/lib/sy/control.sock" {
		t.Fatalf("short path: %s %v", got, err)
	}
	long := "/" + strings.Repeat("d", 120) + "/journal.db"
	a, err := SocketPath(long)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := SocketPath(long)
	if a != b || len(a) >= 100 {
		t.Fatalf("long path: %s / %s", a, b)
	}
	other, _ := SocketPath("/" + strings.Repeat("e", 120) + "/journal.db")
	if other == a {
		t.Fatal("two journals share a socket")
	}
	// The fallback is in a directory of ours that only we can reach, not
	// in the shared temporary directory itself.
	dir := filepath.Dir(a)
	if dir == tmp || dir != filepath.Join(tmp, "switchyard-"+strconv.Itoa(os.Getuid())) {
		t.Fatalf("fallback %s: want it in %s/switchyard-<uid>", a, tmp)
	}
	fi, err := os.Lstat(dir)
	if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 || fi.Sys().(*syscall.Stat_t).Uid != uint32(os.Getuid()) {
		t.Fatalf("fallback directory %s: %v %v", dir, fi.Mode(), err)
	}
}

func TestRuntimeDir(t *testing.T) {
	uid := os.Getuid()
	t.Run("private XDG_RUNTIME_DIR", func(t *testing.T) {
		x := t.TempDir()
		must(t, os.Chmod(x, 0o700))
		t.Setenv("XDG_RUNTIME_DIR", x)
		if d, err := RuntimeDir(); err != nil || d != x {
			t.Fatalf("%s %v, want %s", d, err, x)
		}
	})
	t.Run("shared XDG_RUNTIME_DIR is not used", func(t *testing.T) {
		x := t.TempDir()
		must(t, os.Chmod(x, 0o755))
		t.Setenv("XDG_RUNTIME_DIR", x)
		tmp := t.TempDir()
		t.Setenv("TMPDIR", tmp)
		if d, err := RuntimeDir(); err != nil || d != filepath.Join(tmp, "switchyard-"+strconv.Itoa(uid)) {
			t.Fatalf("%s %v, want the directory in TMPDIR", d, err)
		}
	})
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, d string)
		want  string
	}{
		{"group- and world-accessible", func(t *testing.T, d string) { must(t, os.Mkdir(d, 0o777)); must(t, os.Chmod(d, 0o777)) }, "mode 0777"},
		{"group-readable", func(t *testing.T, d string) { must(t, os.Mkdir(d, 0o750)) }, "mode 0750"},
		{"a symbolic link", func(t *testing.T, d string) { must(t, os.Symlink(t.TempDir(), d)) }, "not a directory"},
		{"a file", func(t *testing.T, d string) { must(t, os.WriteFile(d, nil, 0o600)) }, "not a directory"},
		{"another user's", func(t *testing.T, d string) {
			if uid != 0 {
				t.Skip("cannot give a directory away without root (checkPrivateDir is tested with another uid below)")
			}
			must(t, os.Mkdir(d, 0o700))
			must(t, os.Chown(d, 65534, 65534))
		}, "belongs to uid 65534"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			t.Setenv("TMPDIR", tmp)
			t.Setenv("XDG_RUNTIME_DIR", "")
			tc.setup(t, filepath.Join(tmp, "switchyard-"+strconv.Itoa(uid)))
			if d, err := RuntimeDir(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%s %v, want refused: %s", d, err, tc.want)
			}
			if _, err := SocketPath("/" + strings.Repeat("d", 120) + "/journal.db"); err == nil {
				t.Fatal("SocketPath used a refused directory")
			}
		})
	}
	d := t.TempDir()
	must(t, os.Chmod(d, 0o700))
	if err := checkPrivateDir(d, uid+1); err == nil || !strings.Contains(err.Error(), "belongs to uid") {
		t.Fatalf("another user's directory: %v", err)
	}
}

func TestCheckPeerUID(t *testing.T) {
	for _, tc := range []struct {
		uid, self uint32
		ok        bool
	}{
		{1000, 1000, true},
		{0, 1000, true},
		{65534, 1000, false},
		{1001, 1000, false},
		{1000, 0, false},
		{0, 0, true},
	} {
		if err := checkPeerUID(tc.uid, tc.self); (err == nil) != tc.ok {
			t.Errorf("peer %d, self %d: %v", tc.uid, tc.self, err)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestBackupOverSocket(t *testing.T) {
	j := journalWith(t, migrate.State{App: "web", Phase: migrate.Shifting, KubePercent: 25, Applied: true})
	sock := filepath.Join(t.TempDir(), "control.sock")
	srv, err := Serve(sock, nil, j)
	must(t, err)
	defer srv.Close()
	dest := filepath.Join(t.TempDir(), "backup.db")
	if _, err := Call(context.Background(), sock, Request{Op: OpBackup, Path: "relative.db"}); err == nil || !strings.Contains(err.Error(), "not an absolute path") {
		t.Fatalf("relative path: %v", err)
	}
	if _, err := Call(context.Background(), sock, Request{Op: OpBackup, Path: dest}); err != nil {
		t.Fatal(err)
	}
	b, err := journal.OpenReadOnly(dest, time.Second)
	must(t, err)
	defer b.Close()
	if es, err := b.LoadAll(); err != nil || len(es) != 1 || es[0].App != "web" {
		t.Fatalf("backup holds %+v %v", es, err)
	}
}
