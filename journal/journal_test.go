package journal

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

func TestAppendLoadReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.db")
	j, err := Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	steps := []string{"Pending", "Installing", "WaitingReady", "Shifting"}
	for i := 1; i < len(steps); i++ {
		e := &Entry{App: "web", From: steps[i-1], To: steps[i], Event: "ev" + strconv.Itoa(i), State: []byte(`{"n":` + strconv.Itoa(i) + `}`)}
		if err := j.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
		if e.Seq != uint64(i) {
			t.Fatalf("seq %d, want %d", e.Seq, i)
		}
	}
	if err := j.Append(ctx, &Entry{App: "api", From: "Pending", To: "Installing"}); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if err := j.Append(ctx, &Entry{App: "x"}); err != ErrClosed {
		t.Fatalf("append after close: %v", err)
	}
	j, err = Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	es, err := j.Load("web")
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 3 || es[2].To != "Shifting" || string(es[2].State) != `{"n":3}` {
		t.Fatalf("reloaded %+v", es)
	}
	all, err := j.LoadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].App != "api" || all[1].App != "web" || all[1].Seq != 3 || all[0].Seq != 4 {
		t.Fatalf("latest per app: %+v", all)
	}
	// Sequence numbers continue after a reopen.
	e := &Entry{App: "web", From: "Shifting", To: "Soaking"}
	if err := j.Append(ctx, e); err != nil || e.Seq != 5 {
		t.Fatalf("seq after reopen %d, %v", e.Seq, err)
	}
	if _, err := j.Load("missing"); err != nil {
		t.Fatal(err)
	}
	if err := j.Append(ctx, &Entry{}); err == nil {
		t.Fatal("entry without app accepted")
	}
}

func TestConcurrentApps(t *testing.T) {
	j, err := Open(filepath.Join(t.TempDir(), "j.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	var wg sync.WaitGroup
	const apps, per = 8, 25
	for a := 0; a < apps; a++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				if err := j.Append(context.Background(), &Entry{App: fmt.Sprintf("app%d", a), To: strconv.Itoa(i)}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	seen := map[uint64]bool{}
	for a := 0; a < apps; a++ {
		es, err := j.Load(fmt.Sprintf("app%d", a))
		if err != nil {
			t.Fatal(err)
		}
		if len(es) != per {
			t.Fatalf("app%d: %d entries", a, len(es))
		}
		for i, e := range es {
			if e.To != strconv.Itoa(i) {
				t.Fatalf("app%d entry %d out of order: %+v", a, i, e)
			}
			if seen[e.Seq] {
				t.Fatalf("duplicate seq %d", e.Seq)
			}
			seen[e.Seq] = true
		}
	}
}

// TestCrashConsistency kills a writer process with SIGKILL right after its
// Nth durable append and checks that every acknowledged entry survived.
func TestCrashConsistency(t *testing.T) {
	if p := os.Getenv("JOURNAL_CRASH_WRITER"); p != "" {
		crashWriter(p)
		return
	}
	for _, n := range []int{1, 7, 40} {
		path := filepath.Join(t.TempDir(), "j.db")
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashConsistency$")
		cmd.Env = append(os.Environ(), "JOURNAL_CRASH_WRITER="+path, "JOURNAL_CRASH_AFTER="+strconv.Itoa(n))
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Fatalf("writer was not killed: %s", out)
		}
		j, err := Open(path, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		es, err := j.Load("crash")
		j.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(es) != n {
			t.Fatalf("killed after %d acknowledged appends, found %d entries", n, len(es))
		}
		for i, e := range es {
			if e.Seq != uint64(i+1) || e.To != strconv.Itoa(i+1) {
				t.Fatalf("entry %d: %+v", i, e)
			}
		}
	}
}

func crashWriter(path string) {
	n, _ := strconv.Atoi(os.Getenv("JOURNAL_CRASH_AFTER"))
	j, err := Open(path, time.Second)
	if err != nil {
		os.Exit(3)
	}
	j.AfterAppend = func(k int) {
		if k == n {
			p, _ := os.FindProcess(os.Getpid())
			p.Kill() // SIGKILL: no deferred code, no close
			select {}
		}
	}
	for i := 1; ; i++ {
		if err := j.Append(context.Background(), &Entry{App: "crash", To: strconv.Itoa(i)}); err != nil {
			os.Exit(4)
		}
	}
}
