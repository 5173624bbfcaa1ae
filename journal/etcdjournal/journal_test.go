package etcdjournal

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/journal"
	"github.com/switchyard/switchyard/journal/journaltest"
)

// lead returns a leadership under prefix that leads (closed when the test
// ends).
func lead(t *testing.T, cfg Config, prefix, id string, ttl time.Duration) *Leadership {
	t.Helper()
	l := NewLeadership(newClient(t, cfg), prefix, id, ttl)
	t.Cleanup(func() { l.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.Campaign(ctx); err != nil {
		t.Fatal(err)
	}
	return l
}

// TestContract runs the journal contract against the etcd journal: each
// handle is a new client fenced by the same term.
func TestContract(t *testing.T) {
	cfg := etcdFor(t)
	journaltest.Run(t, func(t *testing.T) journaltest.Store {
		prefix := newPrefix(t)
		term := lead(t, cfg, prefix, "contract", 0).Term()
		return func(t *testing.T) journal.Journal {
			return Open(newClient(t, cfg), prefix).Fenced(term)
		}
	})
}

// FuzzEscape: any app name is one key segment that maps back to it.
func FuzzEscape(f *testing.F) {
	for _, n := range journaltest.Names {
		f.Add(n)
	}
	f.Fuzz(func(t *testing.T, app string) {
		seg := escape(app)
		if strings.Contains(seg, "/") {
			t.Fatalf("escape(%q) = %q holds a /", app, seg)
		}
		if back, err := url.PathUnescape(seg); err != nil || back != app {
			t.Fatalf("escape(%q) = %q unescapes to %q, %v", app, seg, back, err)
		}
	})
}

// TestAppendNeedsTerm: a handle from Open reads but does not append; one
// fenced by a term that is over writes nothing.
func TestAppendNeedsTerm(t *testing.T) {
	cfg := etcdFor(t)
	prefix := newPrefix(t)
	l := lead(t, cfg, prefix, "leader", 0)
	fenced, err := l.Journal()
	if err != nil {
		t.Fatal(err)
	}
	must(t, fenced.Append(context.Background(), &journal.Entry{App: "web", To: "A"}))
	reader := Open(newClient(t, cfg), prefix)
	stale := Open(newClient(t, cfg), prefix).Fenced(Term{Key: l.Term().Key, Rev: l.Term().Rev - 1})
	for _, c := range []struct {
		name   string
		j      *Journal
		reason string
	}{
		{"read-only handle", reader, "bound to no term"},
		{"another term of the same key", stale, "created again"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.j.Append(context.Background(), &journal.Entry{App: "web", To: "B"})
			var nl *NotLeaderError
			if !errors.Is(err, ErrNotLeader) || !errors.As(err, &nl) || !strings.Contains(err.Error(), c.reason) {
				t.Fatalf("append: %v, want ErrNotLeader (%s)", err, c.reason)
			}
			t.Logf("%v", err)
			es, err := reader.Load("web")
			if err != nil || len(es) != 1 || es[0].To != "A" {
				t.Fatalf("journal: %+v %v, want only the leader's entry", es, err)
			}
		})
	}
}

// TestTwoHandlesOfOneLeader: two handles (two clients) of one term append
// concurrently; their transactions conflict on the sequence key and retry,
// so the sequence stays unique and gapless.
func TestTwoHandlesOfOneLeader(t *testing.T) {
	cfg := etcdFor(t)
	prefix := newPrefix(t)
	term := lead(t, cfg, prefix, "leader", 0).Term()
	handles := []*Journal{Open(newClient(t, cfg), prefix).Fenced(term), Open(newClient(t, cfg), prefix).Fenced(term)}
	const writers, per = 4, 25
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				if err := handles[w%2].Append(context.Background(), &journal.Entry{App: fmt.Sprintf("app%d", w), To: fmt.Sprint(i)}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if !t.Failed() {
		journaltest.CheckSeqs(t, handles[0], writers*per)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
