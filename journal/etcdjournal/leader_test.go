package etcdjournal

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/switchyard/switchyard/journal"
)

// shortTTL is the candidates' session TTL in these tests.
const shortTTL = 2 * time.Second

// TestElection: two candidates, one leads; when its term ends (it
// resigns, closes, or its session's lease expires because its keepalives
// stopped), the other takes over, and the first one's journal handle no
// longer writes.
func TestElection(t *testing.T) {
	cfg := etcdFor(t)
	cases := []struct {
		name   string
		end    func(l *Leadership, cli *clientv3.Client) error
		within time.Duration
	}{
		{"leader resigns", func(l *Leadership, _ *clientv3.Client) error { return l.Resign(context.Background()) }, time.Second},
		{"leader closes", func(l *Leadership, _ *clientv3.Client) error { return l.Close() }, time.Second},
		{"leader's session expires", func(_ *Leadership, cli *clientv3.Client) error { return cli.Close() }, shortTTL + 2*time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			prefix := newPrefix(t)
			aCli := newClient(t, cfg)
			a := NewLeadership(aCli, prefix, "a", shortTTL)
			defer a.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			must(t, a.Campaign(ctx))
			b := NewLeadership(newClient(t, cfg), prefix, "b", shortTTL)
			defer b.Close()
			won := make(chan error, 1)
			go func() { won <- b.Campaign(ctx) }()
			select {
			case err := <-won:
				t.Fatalf("b's campaign returned while a leads: %v", err)
			case <-time.After(300 * time.Millisecond):
			}
			if !a.IsLeader() || b.IsLeader() {
				t.Fatalf("IsLeader: a %v, b %v; want a only", a.IsLeader(), b.IsLeader())
			}
			if ld, err := b.Leader(ctx); err != nil || ld.ID != "a" || ld.Term != a.Term() {
				t.Fatalf("leader seen by b: %+v %v, want a %+v", ld, err, a.Term())
			}
			aj := Open(newClient(t, cfg), prefix).Fenced(a.Term())
			must(t, aj.Append(ctx, &journal.Entry{App: "web", To: "by-a"}))

			ended := time.Now()
			must(t, c.end(a, aCli))
			select {
			case err := <-won:
				must(t, err)
			case <-time.After(c.within):
				t.Fatalf("b did not take over within %s", c.within)
			}
			t.Logf("b leads %s after a's term ended", time.Since(ended).Round(time.Millisecond))
			select {
			case <-a.Done():
			case <-time.After(2 * time.Second):
				t.Fatal("a's Done not closed")
			}
			if a.IsLeader() || !b.IsLeader() {
				t.Fatalf("IsLeader: a %v, b %v; want b only", a.IsLeader(), b.IsLeader())
			}
			if ld, err := b.Leader(ctx); err != nil || ld.ID != "b" || ld.Term != b.Term() || ld.Term.Rev <= aj.Term().Rev {
				t.Fatalf("leader: %+v %v, want b with a later term than %+v", ld, err, aj.Term())
			}
			err := aj.Append(ctx, &journal.Entry{App: "web", To: "by-a-late"})
			var nl *NotLeaderError
			if !errors.As(err, &nl) || nl.Leader.ID != "b" {
				t.Fatalf("a's append after its term: %v, want a NotLeaderError naming b", err)
			}
			if err := a.CheckLeader(ctx); !errors.Is(err, ErrNotLeader) {
				t.Fatalf("a's CheckLeader: %v, want ErrNotLeader", err)
			}
			// What CheckLeader asks etcd while a still believes it leads.
			if _, err := b.check(ctx, aj.Term()); !errors.As(err, &nl) || nl.Leader.ID != "b" {
				t.Fatalf("check of a's term: %v, want a NotLeaderError naming b", err)
			}
			must(t, b.CheckLeader(ctx))
			bj, err := b.Journal()
			must(t, err)
			e := &journal.Entry{App: "web", To: "by-b"}
			must(t, bj.Append(ctx, e))
			if es, err := bj.Load("web"); err != nil || len(es) != 2 || es[0].To != "by-a" || es[1].To != "by-b" || e.Seq != 2 {
				t.Fatalf("journal: %+v %v", es, err)
			}
		})
	}
}

// TestNoLeader: Leader says so when nobody campaigns, and a candidate
// that does not lead gets no journal handle.
func TestNoLeader(t *testing.T) {
	cfg := etcdFor(t)
	l := NewLeadership(newClient(t, cfg), newPrefix(t), "idle", shortTTL)
	defer l.Close()
	if _, err := l.Leader(context.Background()); !errors.Is(err, ErrNoLeader) {
		t.Fatalf("leader: %v, want ErrNoLeader", err)
	}
	if _, err := l.Journal(); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("journal: %v, want ErrNotLeader", err)
	}
	select {
	case <-l.Done():
	default:
		t.Fatal("Done of a candidate that does not lead is open")
	}
}

// TestCampaignAgain: a candidate that resigned can lead again, in a new
// term with a higher revision; a handle of its old term stays refused. A
// closed candidate does not campaign.
func TestCampaignAgain(t *testing.T) {
	cfg := etcdFor(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	l := lead(t, cfg, newPrefix(t), "a", shortTTL)
	old, err := l.Journal()
	must(t, err)
	must(t, l.Resign(ctx))
	must(t, l.Campaign(ctx))
	if l.Term().Rev <= old.Term().Rev {
		t.Fatalf("new term %+v, old %+v: want a higher revision", l.Term(), old.Term())
	}
	if err := old.Append(ctx, &journal.Entry{App: "web", To: "old"}); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("append in the old term: %v, want ErrNotLeader", err)
	}
	cur, err := l.Journal()
	must(t, err)
	must(t, cur.Append(ctx, &journal.Entry{App: "web", To: "new"}))
	must(t, l.Close())
	if err := l.Campaign(ctx); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("campaign after close: %v", err)
	}
	if err := cur.Append(ctx, &journal.Entry{App: "web", To: "after close"}); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("append after close: %v, want ErrNotLeader", err)
	}
}

// childEnv carries the deposed leader's settings (JSON) to the test
// binary re-executed as that leader (TestMain runs fenceChild).
const childEnv = "ETCDJOURNAL_FENCE_CHILD"

type childSpec struct {
	Config Config
	Prefix string
}

// fenceChild is the leader TestDeposedLeaderCannotAppend pauses: it leads,
// says so, waits for a line on stdin (sent after SIGCONT), then tries to
// append and to check its leadership, and prints both results.
func fenceChild() int {
	var spec childSpec
	if err := json.Unmarshal([]byte(os.Getenv(childEnv)), &spec); err != nil {
		fmt.Println("error", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cli, err := Dial(ctx, spec.Config)
	if err != nil {
		fmt.Println("error", err)
		return 2
	}
	defer cli.Close()
	l := NewLeadership(cli, spec.Prefix, fmt.Sprintf("child-%d", os.Getpid()), shortTTL)
	if err := l.Campaign(ctx); err != nil {
		fmt.Println("error", err)
		return 2
	}
	j, err := l.Journal()
	if err != nil {
		fmt.Println("error", err)
		return 2
	}
	fmt.Printf("leading %s %d\n", l.Term().Key, l.Term().Rev)
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		fmt.Println("error", err)
		return 2
	}
	resumed := time.Now()
	local := l.IsLeader()
	err = j.Append(ctx, &journal.Entry{App: "web", From: "Shifting", To: "deposed-write"})
	fmt.Printf("append local-view-leader=%v notleader=%v in=%s err=%v\n", local, errors.Is(err, ErrNotLeader), time.Since(resumed).Round(time.Millisecond), err)
	err = l.CheckLeader(ctx)
	fmt.Printf("check notleader=%v err=%v\n", errors.Is(err, ErrNotLeader), err)
	return 0
}

// TestDeposedLeaderCannotAppend is the fence for real: a leader in another
// process is paused (SIGSTOP) past its session's TTL, another candidate
// takes over and appends; resumed (SIGCONT), the old leader still believes
// it leads, but its append fails with ErrNotLeader and writes nothing.
func TestDeposedLeaderCannotAppend(t *testing.T) {
	cfg := etcdFor(t)
	prefix := newPrefix(t)
	spec, err := json.Marshal(childSpec{Config: cfg, Prefix: prefix})
	must(t, err)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(spec))
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	must(t, err)
	stdout, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())
	pid := cmd.Process.Pid
	exited := make(chan error, 1)
	lines := make(chan string, 10)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		exited <- cmd.Wait()
	}()
	defer func() {
		_ = syscall.Kill(pid, syscall.SIGCONT)
		_ = cmd.Process.Kill()
		<-exited
	}()
	next := func(prefix string) string {
		t.Helper()
		select {
		case l, ok := <-lines:
			if !ok || !strings.HasPrefix(l, prefix) {
				t.Fatalf("child said %q (open %v), want %q...", l, ok, prefix)
			}
			t.Logf("child: %s", l)
			return l
		case <-time.After(30 * time.Second):
			t.Fatalf("child said nothing in 30s, want %q...", prefix)
		}
		return ""
	}
	next("leading ")

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	follower := NewLeadership(newClient(t, cfg), prefix, "follower", shortTTL)
	defer follower.Close()
	ld, err := follower.Leader(ctx)
	if err != nil || ld.ID != fmt.Sprintf("child-%d", pid) {
		t.Fatalf("leader %+v %v, want the child", ld, err)
	}
	won := make(chan error, 1)
	go func() { won <- follower.Campaign(ctx) }()
	select {
	case err := <-won:
		t.Fatalf("follower's campaign returned while the child leads: %v", err)
	case <-time.After(500 * time.Millisecond):
	}

	stopped := time.Now()
	must(t, syscall.Kill(pid, syscall.SIGSTOP))
	t.Logf("SIGSTOP child %d (leader, term %s@%d, TTL %s)", pid, ld.Term.Key, ld.Term.Rev, shortTTL)
	select {
	case err := <-won:
		must(t, err)
	case <-time.After(shortTTL + 10*time.Second):
		t.Fatal("follower did not take over")
	}
	tookOver := time.Since(stopped)
	t.Logf("follower leads %s after SIGSTOP (term %s@%d)", tookOver.Round(time.Millisecond), follower.Term().Key, follower.Term().Rev)
	if tookOver < shortTTL/2 {
		t.Fatalf("took over after %s, before the child's lease could expire", tookOver)
	}
	j, err := follower.Journal()
	must(t, err)
	var want []string
	for i, to := range []string{"Installing", "WaitingReady", "Shifting"} {
		e := &journal.Entry{App: "web", To: to}
		must(t, j.Append(ctx, e))
		if e.Seq != uint64(i+1) {
			t.Fatalf("seq %d, want %d", e.Seq, i+1)
		}
		want = append(want, to)
	}

	must(t, syscall.Kill(pid, syscall.SIGCONT))
	t.Logf("SIGCONT child after %s stopped", time.Since(stopped).Round(time.Millisecond))
	_, err = fmt.Fprintln(stdin, "append")
	must(t, err)
	if l := next("append "); !strings.Contains(l, "notleader=true") || !strings.Contains(l, "follower leads") {
		t.Fatalf("the deposed leader's append: %s, want ErrNotLeader naming the follower", l)
	}
	if l := next("check "); !strings.Contains(l, "notleader=true") {
		t.Fatalf("the deposed leader's CheckLeader: %s, want ErrNotLeader", l)
	}
	select {
	case err := <-exited:
		must(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("child did not exit")
	}
	exited <- nil // for the deferred cleanup

	es, err := j.Load("web")
	must(t, err)
	var got []string
	for _, e := range es {
		got = append(got, e.To)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("journal holds %v, want only the follower's %v", got, want)
	}
	all, err := j.LoadAll()
	if err != nil || len(all) != 1 || all[0].Seq != 3 {
		t.Fatalf("load all: %+v %v", all, err)
	}
}
