// Package journaltest is the contract every journal.Journal implementation
// keeps (the bbolt journal, the etcd journal): sequence numbers assigned
// journal-wide from 1 and kept across reopening, entries per app oldest
// first, LoadAll the latest entry of each app sorted by app, any app name
// stored and read back as it was, concurrent appends with unique and
// gapless sequence numbers, ErrClosed after Close.
//
// It is test support: implementations' tests call Run with a way to open
// handles on one fresh store. It holds no implementation of its own.
package journaltest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/journal"
)

// Store opens handles on one store: every call returns a new handle on the
// same entries (a reopened file, a new client on the same prefix).
type Store func(t *testing.T) journal.Journal

// NewStore returns a Store on a fresh, empty store (a new file, a new
// prefix). Run calls it once per case.
type NewStore func(t *testing.T) Store

// Names are app names that must be stored and read back as they are:
// separators, escapes and prefixes of one another.
var Names = []string{
	"web", "web/api", "web%2Fapi", "web/", "/web", "we", "a b", "x\ny", "dot.", "..", "Ünïcode-名前",
	"percent%", "+plus", "colon:at@", strings.Repeat("long", 64),
}

// Run runs every case of the contract against stores made by newStore.
func Run(t *testing.T, newStore NewStore) {
	cases := []struct {
		name string
		fn   func(t *testing.T, open Store)
	}{
		{"sequence from 1, entries oldest first, kept across reopening", appendLoadReopen},
		{"latest entry per app sorted by app", loadAll},
		{"missing app loads nothing", missingApp},
		{"entry without app refused", noApp},
		{"append after close is ErrClosed", afterClose},
		{"cancelled context writes nothing", cancelled},
		{"zero time set", zeroTime},
		{"any app name round-trips", anyName},
		{"concurrent appends: unique, gapless, ordered per app", concurrent},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.fn(t, newStore(t)) })
	}
}

func mustAppend(t *testing.T, j journal.Journal, e *journal.Entry) {
	t.Helper()
	if err := j.Append(context.Background(), e); err != nil {
		t.Fatalf("append %s: %v", e.App, err)
	}
}

func mustClose(t *testing.T, j journal.Journal) {
	t.Helper()
	if err := j.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
}

func load(t *testing.T, j journal.Journal, app string) []journal.Entry {
	t.Helper()
	es, err := j.Load(app)
	if err != nil {
		t.Fatalf("load %q: %v", app, err)
	}
	return es
}

func loadAllOf(t *testing.T, j journal.Journal) []journal.Entry {
	t.Helper()
	es, err := j.LoadAll()
	if err != nil {
		t.Fatalf("load all: %v", err)
	}
	return es
}

func appendLoadReopen(t *testing.T, open Store) {
	j := open(t)
	steps := []string{"Pending", "Installing", "WaitingReady", "Shifting"}
	for i := 1; i < len(steps); i++ {
		e := &journal.Entry{App: "web", From: steps[i-1], To: steps[i], Event: "ev" + strconv.Itoa(i), Reason: "r", State: []byte(`{"n":` + strconv.Itoa(i) + `}`)}
		mustAppend(t, j, e)
		if e.Seq != uint64(i) {
			t.Fatalf("seq %d, want %d", e.Seq, i)
		}
	}
	mustAppend(t, j, &journal.Entry{App: "api", From: "Pending", To: "Installing"})
	mustClose(t, j)

	j = open(t)
	defer mustClose(t, j)
	es := load(t, j, "web")
	if len(es) != 3 || es[2].To != "Shifting" || es[2].Event != "ev3" || es[2].Reason != "r" || string(es[2].State) != `{"n":3}` {
		t.Fatalf("reloaded %+v", es)
	}
	for i, e := range es {
		if e.Seq != uint64(i+1) || e.From != steps[i] || e.To != steps[i+1] {
			t.Fatalf("entry %d: %+v", i, e)
		}
	}
	e := &journal.Entry{App: "web", From: "Shifting", To: "Soaking"}
	mustAppend(t, j, e)
	if e.Seq != 5 {
		t.Fatalf("seq after reopening %d, want 5", e.Seq)
	}
}

func loadAll(t *testing.T, open Store) {
	j := open(t)
	defer mustClose(t, j)
	if all := loadAllOf(t, j); len(all) != 0 {
		t.Fatalf("empty journal: %+v", all)
	}
	for i, app := range []string{"web", "api", "web", "zeta", "api", "web"} {
		mustAppend(t, j, &journal.Entry{App: app, To: strconv.Itoa(i + 1)})
	}
	var got []string
	for _, e := range loadAllOf(t, j) {
		got = append(got, fmt.Sprintf("%s:%d:%s", e.App, e.Seq, e.To))
	}
	if want := []string{"api:5:5", "web:6:6", "zeta:4:4"}; !slices.Equal(got, want) {
		t.Fatalf("latest per app %v, want %v", got, want)
	}
}

func missingApp(t *testing.T, open Store) {
	j := open(t)
	defer mustClose(t, j)
	mustAppend(t, j, &journal.Entry{App: "web", To: "X"})
	if es := load(t, j, "missing"); len(es) != 0 {
		t.Fatalf("missing app: %+v", es)
	}
	if es := load(t, j, "we"); len(es) != 0 { // a prefix of an app
		t.Fatalf("prefix of an app: %+v", es)
	}
}

func noApp(t *testing.T, open Store) {
	j := open(t)
	defer mustClose(t, j)
	if err := j.Append(context.Background(), &journal.Entry{To: "X"}); err == nil {
		t.Fatal("entry without app accepted")
	}
	if all := loadAllOf(t, j); len(all) != 0 {
		t.Fatalf("written: %+v", all)
	}
}

func afterClose(t *testing.T, open Store) {
	j := open(t)
	mustClose(t, j)
	if err := j.Append(context.Background(), &journal.Entry{App: "x"}); !errors.Is(err, journal.ErrClosed) {
		t.Fatalf("append after close: %v, want ErrClosed", err)
	}
	if _, err := j.Load("x"); !errors.Is(err, journal.ErrClosed) {
		t.Fatalf("load after close: %v, want ErrClosed", err)
	}
	if err := j.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}

func cancelled(t *testing.T, open Store) {
	j := open(t)
	defer mustClose(t, j)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := j.Append(ctx, &journal.Entry{App: "web", To: "X"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("append with a cancelled context: %v, want context.Canceled", err)
	}
	e := &journal.Entry{App: "web", To: "Y"}
	mustAppend(t, j, e)
	if es := load(t, j, "web"); len(es) != 1 || e.Seq != 1 {
		t.Fatalf("after a cancelled append: %+v (seq %d), want one entry of seq 1", es, e.Seq)
	}
}

func zeroTime(t *testing.T, open Store) {
	j := open(t)
	defer mustClose(t, j)
	before := time.Now()
	mustAppend(t, j, &journal.Entry{App: "web", To: "X"})
	at := time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)
	mustAppend(t, j, &journal.Entry{App: "web", To: "Y", Time: at})
	es := load(t, j, "web")
	if len(es) != 2 || es[0].Time.Before(before) || time.Since(es[0].Time) > time.Minute || !es[1].Time.Equal(at) {
		t.Fatalf("times: %+v", es)
	}
}

func anyName(t *testing.T, open Store) {
	j := open(t)
	defer mustClose(t, j)
	for round := 0; round < 2; round++ {
		for _, app := range Names {
			mustAppend(t, j, &journal.Entry{App: app, To: app + "#" + strconv.Itoa(round)})
		}
	}
	for _, app := range Names {
		es := load(t, j, app)
		if len(es) != 2 || es[0].App != app || es[0].To != app+"#0" || es[1].To != app+"#1" {
			t.Fatalf("load %q: %+v", app, es)
		}
	}
	all := loadAllOf(t, j)
	want := slices.Clone(Names)
	slices.Sort(want)
	var got []string
	for _, e := range all {
		got = append(got, e.App)
		if e.To != e.App+"#1" {
			t.Errorf("latest of %q: %+v", e.App, e)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("LoadAll apps %q, want %q", got, want)
	}
}

func concurrent(t *testing.T, open Store) {
	const apps, per = 4, 15
	j := open(t)
	defer mustClose(t, j)
	var wg sync.WaitGroup
	for a := 0; a < apps; a++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				if err := j.Append(context.Background(), &journal.Entry{App: fmt.Sprintf("app%d", a), To: strconv.Itoa(i)}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	CheckSeqs(t, j, apps*per)
	for a := 0; a < apps; a++ {
		for i, e := range load(t, j, fmt.Sprintf("app%d", a)) {
			if e.To != strconv.Itoa(i) {
				t.Fatalf("app%d entry %d out of order: %+v", a, i, e)
			}
		}
	}
}

// CheckSeqs checks that the journal holds n entries whose sequence numbers
// are exactly 1..n (unique and gapless), each app's in increasing order.
func CheckSeqs(t *testing.T, j journal.Journal, n int) {
	t.Helper()
	seen := map[uint64]string{}
	for _, latest := range loadAllOf(t, j) {
		var prev uint64
		for _, e := range load(t, j, latest.App) {
			if other, dup := seen[e.Seq]; dup {
				t.Fatalf("seq %d used by %q and %q", e.Seq, other, e.App)
			}
			if e.Seq <= prev {
				t.Fatalf("%q: seq %d after %d", e.App, e.Seq, prev)
			}
			seen[e.Seq], prev = e.App, e.Seq
		}
	}
	for s := uint64(1); s <= uint64(n); s++ {
		if _, ok := seen[s]; !ok {
			t.Fatalf("seq %d missing (%d entries, want %d)", s, len(seen), n)
		}
	}
	if len(seen) != n {
		t.Fatalf("%d entries, want %d", len(seen), n)
	}
}
