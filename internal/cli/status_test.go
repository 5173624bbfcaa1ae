package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/journal"
	"github.com/switchyard/switchyard/migrate"
	"github.com/switchyard/switchyard/migrate/control"
)

// journalFile writes a closed journal with one migration.
func journalFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "journal.db")
	j, err := journal.Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(migrate.State{App: "web", Phase: migrate.Shifting, KubePercent: 25, Applied: true})
	for i := 0; i < 50; i++ {
		if err := j.Append(context.Background(), &journal.Entry{App: "web", To: "Shifting[25%]", Reason: strings.Repeat("r", 300), State: data}); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestStatusJournal(t *testing.T) {
	path := journalFile(t)
	out, err := runRoot(t, "status", "--journal", path)
	if err != nil || !strings.Contains(out, "web") || !strings.Contains(out, "Shifting[25%]") {
		t.Fatalf("status: %v\n%s", err, out)
	}
}

// TestStatusMissingJournal: no journal is no migration, and status creates
// neither the file nor its directory.
func TestStatusMissingJournal(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "not", "there")
	path := filepath.Join(dir, "journal.db")
	out, err := runRoot(t, "status", "--journal", path)
	if err != nil || !strings.Contains(out, "no migration in "+path) {
		t.Fatalf("status: %v\n%s", err, out)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("status created the journal's directory (%v)", err)
	}
}

// TestStatusCorruptJournal: a corrupt journal (an empty file included) is
// answered at once with the corruption, not after retrying as if a migrate
// held it, and the file is left as it was.
func TestStatusCorruptJournal(t *testing.T) {
	for name, damage := range map[string]func(t *testing.T, path string){
		"empty file": func(t *testing.T, path string) { noErr(t, os.Truncate(path, 0)) },
		"truncated":  func(t *testing.T, path string) { noErr(t, os.Truncate(path, 3*4096+10)) },
		"page in the middle overwritten": func(t *testing.T, path string) {
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			noErr(t, err)
			b := make([]byte, 4096)
			rand.New(rand.NewSource(1)).Read(b)
			_, err = f.WriteAt(b, 4*4096)
			noErr(t, err)
			noErr(t, f.Close())
		},
	} {
		t.Run(name, func(t *testing.T) {
			path := journalFile(t)
			damage(t, path)
			before, err := os.ReadFile(path)
			noErr(t, err)
			start := time.Now()
			out, err := runRoot(t, "status", "--journal", path)
			if err == nil || !strings.Contains(err.Error(), "journal corrupt: restore from backup ("+path+")") {
				t.Fatalf("status: %v\n%s", err, out)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("status took %s: it retried a corrupt journal", d)
			}
			after, err := os.ReadFile(path)
			noErr(t, err)
			if !bytes.Equal(before, after) {
				t.Fatal("status modified the journal")
			}
		})
	}
}

// TestStatusUnreadableJournal: an error other than a held lock is not
// retried (the old code spun for 6 s on any open error, blaming a migrate).
func TestStatusUnreadableJournal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	noErr(t, os.Mkdir(path, 0o700))
	start := time.Now()
	_, err := runRoot(t, "status", "--journal", path)
	if err == nil || !strings.Contains(err.Error(), "not a regular file") || strings.Contains(err.Error(), "holds the journal") {
		t.Fatalf("status of a directory: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("status took %s: it retried an error that is not a held lock", d)
	}
}

// TestStatusWaitsForLock: a held lock (and only that) is retried, with
// pauses, until it is released or status gives up naming the holder.
func TestStatusWaitsForLock(t *testing.T) {
	defer func(w time.Duration) { statusWait = w }(statusWait)
	statusWait = 1500 * time.Millisecond
	path := journalFile(t)
	w, err := journal.Open(path, time.Second)
	noErr(t, err)
	_, err = runRoot(t, "status", "--journal", path)
	if err == nil || !strings.Contains(err.Error(), "holds the journal but does not answer") {
		t.Fatalf("status while locked: %v", err)
	}
	go func() {
		time.Sleep(700 * time.Millisecond)
		w.Close()
	}()
	out, err := runRoot(t, "status", "--journal", path)
	if err != nil || !strings.Contains(out, "web") {
		t.Fatalf("status once the lock is released: %v\n%s", err, out)
	}
}

func TestJournalCheckAndBackup(t *testing.T) {
	path := journalFile(t)
	out, err := runRoot(t, "journal", "check", "--journal", path)
	if err != nil || !strings.Contains(out, "ok") {
		t.Fatalf("check: %v\n%s", err, out)
	}
	dest := filepath.Join(t.TempDir(), "backup.db")
	if out, err := runRoot(t, "journal", "backup", dest, "--journal", path); err != nil {
		t.Fatalf("backup: %v\n%s", err, out)
	}
	if fi, err := os.Stat(dest); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v %v", fi, err)
	}
	if out, err := runRoot(t, "journal", "check", "--journal", dest); err != nil {
		t.Fatalf("check of the backup: %v\n%s", err, out)
	}

	// Online: while a migrate holds the journal (and serves its control
	// socket), the backup is made by it.
	j, err := journal.Open(path, time.Second)
	noErr(t, err)
	defer j.Close()
	sock, err := control.SocketPath(path)
	noErr(t, err)
	srv, err := control.Serve(sock, nil, j)
	noErr(t, err)
	defer srv.Close()
	online := filepath.Join(t.TempDir(), "online.db")
	if out, err := runRoot(t, "journal", "backup", online, "--journal", path); err != nil {
		t.Fatalf("online backup: %v\n%s", err, out)
	}
	b, err := journal.OpenReadOnly(online, time.Second)
	noErr(t, err)
	es, err := b.LoadAll()
	b.Close()
	if err != nil || len(es) != 1 {
		t.Fatalf("online backup holds %+v %v", es, err)
	}

	// A corrupt journal: exit 1 with the problems, file unchanged.
	bad := journalFile(t)
	noErr(t, os.Truncate(bad, 3*4096))
	out, err = runRoot(t, "journal", "check", "--journal", bad)
	if ExitCode(err) != 1 || !strings.Contains(err.Error(), "journal corrupt: restore from backup ("+bad+")") {
		t.Fatalf("check of a corrupt journal: %v (exit %d)\n%s", err, ExitCode(err), out)
	}
	if fi, _ := os.Stat(bad); fi.Size() != 3*4096 {
		t.Fatal("check modified the journal")
	}
	if _, err := runRoot(t, "journal", "backup", filepath.Join(t.TempDir(), "x.db"), "--journal", bad); err == nil || !strings.Contains(err.Error(), "journal corrupt") {
		t.Fatalf("backup of a corrupt journal: %v", err)
	}
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestMigrateCorruptJournal: migrate and rollback answer a corrupt journal
// with the corruption (they crashed: bbolt assertions, SIGBUS) and leave
// it alone.
func TestMigrateCorruptJournal(t *testing.T) {
	for _, args := range [][]string{{"migrate", "web"}, {"rollback", "web"}} {
		path := journalFile(t)
		noErr(t, os.Truncate(path, 3*4096))
		_, err := runRoot(t, append(args, "--journal", path, "--apps", "../../examples/apps/web")...)
		if err == nil || !strings.Contains(err.Error(), "journal corrupt: restore from backup ("+path+")") {
			t.Errorf("%s: %v", args[0], err)
		}
		if fi, _ := os.Stat(path); fi.Size() != 3*4096 {
			t.Errorf("%s modified the journal", args[0])
		}
	}
}
