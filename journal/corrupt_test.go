package journal

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// written returns the path of a closed journal holding a few apps'
// entries (enough for a tree of several pages).
func written(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "journal.db")
	j, err := Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := 0; i < 200; i++ {
		e := &Entry{App: "app-" + string(rune('a'+i%7)), From: "A", To: "B", State: bytes.Repeat([]byte(`"x"`), 1)}
		e.Reason = strings.Repeat("r", 200)
		if err := j.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// corruptions damage a journal file the ways the review found crash the
// commands (SIGBUS, bbolt assertions, index out of range).
var corruptions = []struct {
	name string
	fn   func(t *testing.T, path string)
}{
	{"empty file", func(t *testing.T, path string) { must(t, os.Truncate(path, 0)) }},
	{"truncated to one page", func(t *testing.T, path string) { must(t, os.Truncate(path, 4096)) }},
	{"truncated mid-file", func(t *testing.T, path string) {
		fi, err := os.Stat(path)
		must(t, err)
		must(t, os.Truncate(path, fi.Size()/2+100))
	}},
	{"random bytes over both meta pages", func(t *testing.T, path string) { overwrite(t, path, 0, 8192, 1) }},
	{"random bytes over meta page 0 fields", func(t *testing.T, path string) {
		overwrite(t, path, 16, 64, 2)
		overwrite(t, path, 4096+16, 64, 3)
	}},
	{"page in the middle overwritten", func(t *testing.T, path string) {
		fi, err := os.Stat(path)
		must(t, err)
		mid := fi.Size() / 4096 / 2 * 4096
		overwrite(t, path, mid, 4096, 4)
	}},
	{"every data page overwritten", func(t *testing.T, path string) {
		fi, err := os.Stat(path)
		must(t, err)
		overwrite(t, path, 2*4096, fi.Size()-2*4096, 5)
	}},
	{"leaf element offsets garbled, page headers intact", func(t *testing.T, path string) {
		data, err := os.ReadFile(path)
		must(t, err)
		n := 0
		for id := 2; (id+1)*4096 <= len(data); id++ {
			p := data[id*4096:]
			if binary.LittleEndian.Uint64(p) == uint64(id) && binary.LittleEndian.Uint16(p[8:])&0x02 != 0 && binary.LittleEndian.Uint16(p[10:]) > 0 {
				binary.LittleEndian.PutUint32(p[16+4:], 0x7fff0000) // first element's key offset
				n++
			}
		}
		if n == 0 {
			t.Fatal("no leaf page found")
		}
		must(t, os.WriteFile(path, data, 0o600))
	}},
	{"page headers zeroed", func(t *testing.T, path string) {
		fi, err := os.Stat(path)
		must(t, err)
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		must(t, err)
		defer f.Close()
		for off := int64(2 * 4096); off < fi.Size(); off += 4096 {
			_, err := f.WriteAt(make([]byte, 16), off)
			must(t, err)
		}
	}},
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func overwrite(t *testing.T, path string, off, n int64, seed int64) {
	t.Helper()
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	must(t, err)
	defer f.Close()
	_, err = f.WriteAt(b, off)
	must(t, err)
}

// TestCorruptJournal: every way of opening a damaged journal answers a
// CorruptError naming the file, never panics or faults, and leaves the file
// as it was.
func TestCorruptJournal(t *testing.T) {
	for _, c := range corruptions {
		t.Run(c.name, func(t *testing.T) {
			path := written(t)
			c.fn(t, path)
			before, err := os.ReadFile(path)
			must(t, err)
			for _, open := range []struct {
				name string
				fn   func() error
			}{
				{"Open", func() error {
					j, err := Open(path, time.Second)
					if err == nil {
						_, err = j.LoadAll()
						j.Close()
					}
					return err
				}},
				{"OpenReadOnly", func() error {
					j, err := OpenReadOnly(path, time.Second)
					if err == nil {
						_, err = j.LoadAll()
						j.Close()
					}
					return err
				}},
			} {
				err := open.fn()
				t.Logf("%s: %v", open.name, err)
				var ce *CorruptError
				if !errors.As(err, &ce) || ce.Path != path || !strings.Contains(err.Error(), "journal corrupt: restore from backup ("+path+")") {
					t.Errorf("%s: %v, want a CorruptError naming %s", open.name, err, path)
				}
			}
			problems, err := Check(path, time.Second)
			if err != nil || len(problems) == 0 {
				t.Errorf("Check: %v %v, want problems", problems, err)
			}
			after, err := os.ReadFile(path)
			must(t, err)
			if !bytes.Equal(before, after) {
				t.Error("the corrupt file was modified")
			}
		})
	}
}

func TestCheckAndBackup(t *testing.T) {
	path := written(t)
	if problems, err := Check(path, time.Second); err != nil || problems != nil {
		t.Fatalf("check of a sound journal: %v %v", problems, err)
	}
	j, err := Open(path, time.Second)
	must(t, err)
	defer j.Close()
	dest := filepath.Join(t.TempDir(), "backup.db")
	must(t, os.WriteFile(dest, []byte("old backup"), 0o644))
	must(t, j.Backup(dest))
	if err := j.Backup(path); err == nil || !strings.Contains(err.Error(), "the journal itself") {
		t.Fatalf("backup over the journal: %v", err)
	}
	fi, err := os.Stat(dest)
	must(t, err)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup mode %v, want 0600", fi.Mode().Perm())
	}
	must(t, j.Append(context.Background(), &Entry{App: "late", To: "X"}))
	b, err := OpenReadOnly(dest, time.Second)
	must(t, err)
	defer b.Close()
	got, err := b.LoadAll()
	must(t, err)
	want, err := j.LoadAll()
	must(t, err)
	if len(got) != 7 || len(want) != 8 {
		t.Fatalf("backup has %d apps, journal %d; want 7 and 8", len(got), len(want))
	}
	if ents, _ := os.ReadDir(filepath.Dir(dest)); len(ents) != 1 {
		t.Fatalf("temporary files left: %v", ents)
	}
}

func TestOpenReadOnly(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "sub", "journal.db")
	if _, err := OpenReadOnly(missing, time.Second); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing: %v, want ErrNotExist", err)
	}
	if _, err := os.Stat(filepath.Dir(missing)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("OpenReadOnly created the directory")
	}
	path := written(t)
	w, err := Open(path, time.Second)
	must(t, err)
	start := time.Now()
	if _, err := OpenReadOnly(path, 200*time.Millisecond); !errors.Is(err, ErrLocked) {
		t.Fatalf("while a writer holds it: %v, want ErrLocked", err)
	}
	if time.Since(start) < 150*time.Millisecond {
		t.Fatal("did not wait for the lock")
	}
	must(t, w.Close())
	r1, err := OpenReadOnly(path, time.Second)
	must(t, err)
	defer r1.Close()
	r2, err := OpenReadOnly(path, time.Second) // readers share
	must(t, err)
	defer r2.Close()
}

// TestEmptyJournalBeingCreated: an empty file whose lock a writer holds is
// a journal being created (wait), not a corrupt one.
func TestEmptyJournalBeingCreated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	must(t, os.WriteFile(path, nil, 0o600))
	f, err := os.Open(path)
	must(t, err)
	defer f.Close()
	must(t, syscall.Flock(int(f.Fd()), syscall.LOCK_EX))
	if _, err := OpenReadOnly(path, time.Second); !errors.Is(err, ErrLocked) {
		t.Fatalf("empty and locked: %v, want ErrLocked", err)
	}
	must(t, syscall.Flock(int(f.Fd()), syscall.LOCK_UN))
	var ce *CorruptError
	if _, err := OpenReadOnly(path, time.Second); !errors.As(err, &ce) {
		t.Fatalf("empty and unlocked: %v, want a CorruptError", err)
	}
}
