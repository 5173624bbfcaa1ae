package serve_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/journal"
	"github.com/switchyard/switchyard/migrate"
	"github.com/switchyard/switchyard/serve"
)

const (
	viewerToken   = "viewer-token-0123456789"
	operatorToken = "operator-token-0123456789"
)

// tokensFile writes a tokens file (one entry by hash, one in clear).
func tokensFile(t *testing.T) string {
	t.Helper()
	h := sha256.Sum256([]byte(operatorToken))
	path := filepath.Join(t.TempDir(), "tokens.yaml")
	data := fmt.Sprintf("tokens:\n- name: alice\n  role: operator\n  sha256: %s\n- name: grafana\n  role: viewer\n  token: %s\n", hex.EncodeToString(h[:]), viewerToken)
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// engine records what the API asked of it (the executor's side is tested
// in package migrate; here the API's routing of calls is).
type engine struct {
	mu      sync.Mutex
	started [][]string
	firsts  []migrate.Event
	sent    []string
	waves   map[int][]string
}

func (e *engine) Start(apps []string, first ...migrate.Event) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if slices.Contains(apps, "unknown") {
		return fmt.Errorf("app unknown: no app.yaml with that name")
	}
	e.started = append(e.started, apps)
	e.firsts = append(e.firsts, first...)
	return nil
}

func (e *engine) Wave(_ context.Context, n int) ([]string, error) {
	if w, ok := e.waves[n]; ok {
		return w, nil
	}
	return nil, fmt.Errorf("the plan has no wave %d", n)
}

func (e *engine) Send(app string, ev migrate.Event) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sent = append(e.sent, app+" "+string(ev.Kind))
	return true
}

// leadership is a fixed answer: this replica leads with eng, or another
// (at url) does.
type leadership struct {
	eng  serve.Engine
	url  string
	self bool
}

func (l *leadership) Engine() serve.Engine { return l.eng }
func (l *leadership) Leader(context.Context) (string, bool, error) {
	return l.url, l.self, nil
}

// openJournal is a real bbolt journal with one app mid-shift.
func openJournal(t *testing.T) *journal.Bolt {
	t.Helper()
	j, err := journal.Open(filepath.Join(t.TempDir(), "journal.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	appendState(t, j, "web", migrate.State{App: "web", Phase: migrate.Shifting, KubePercent: 25})
	return j
}

func appendState(t *testing.T, j journal.Journal, app string, st migrate.State) {
	t.Helper()
	data, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Append(context.Background(), &journal.Entry{App: app, From: "x", To: string(st.Phase), Event: "test", Time: time.Now(), State: data}); err != nil {
		t.Fatal(err)
	}
}

func newServer(t *testing.T, j journal.Reader, l serve.Leadership, self string) *httptest.Server {
	t.Helper()
	toks, err := serve.LoadTokens(tokensFile(t))
	if err != nil {
		t.Fatal(err)
	}
	s, err := serve.New(serve.Options{Auth: toks, Journal: j, Leadership: l, Self: self, EventPeriod: 20 * time.Millisecond,
		Views: map[string]serve.View{"routes": func(context.Context) (any, error) { return map[string]int{"version": 3}, nil }}})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts
}

func call(t *testing.T, base, method, path, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// TestRoles: every API call but the probes needs a token; viewers read,
// only operators change.
func TestRoles(t *testing.T) {
	eng := &engine{}
	ts := newServer(t, openJournal(t), &leadership{eng: eng, url: "http://self", self: true}, "http://self")
	for _, c := range []struct {
		method, path, token, body string
		want                      int
	}{
		{"GET", "/healthz", "", "", 200},
		{"GET", "/readyz", "", "", 200},
		{"GET", "/api/v1/status", "", "", 401},
		{"GET", "/api/v1/status", "wrong-token-0123456789", "", 401},
		{"GET", "/api/v1/status", viewerToken, "", 200},
		{"GET", "/api/v1/status", operatorToken, "", 200},
		{"GET", "/api/v1/views/routes", viewerToken, "", 200},
		{"GET", "/api/v1/views/nope", viewerToken, "", 404},
		{"GET", "/api/v1/apps/web/history", viewerToken, "", 200},
		{"GET", "/api/v1/apps/other/history", viewerToken, "", 404},
		{"POST", "/api/v1/migrations", "", `{"apps":["web"]}`, 401},
		{"POST", "/api/v1/migrations", viewerToken, `{"apps":["web"]}`, 403},
		{"POST", "/api/v1/apps/web/pause", viewerToken, ``, 403},
		{"POST", "/api/v1/apps/web/rollback", viewerToken, ``, 403},
		{"POST", "/api/v1/migrations", operatorToken, `{"apps":["api"]}`, 202},
		{"POST", "/api/v1/migrations", operatorToken, `{"apps":["unknown"]}`, 409},
		{"POST", "/api/v1/migrations", operatorToken, `{"apps":["a"],"wave":1}`, 400},
		{"POST", "/api/v1/migrations", operatorToken, `{"appz":["a"]}`, 400},
		{"POST", "/api/v1/migrations", operatorToken, `{}`, 400},
		{"POST", "/api/v1/migrations", operatorToken, `{"wave":9}`, 409},
		{"POST", "/api/v1/apps/web/pause", operatorToken, ``, 202},
		{"POST", "/api/v1/apps/web/resume", operatorToken, ``, 409}, // the machine: not paused
		{"POST", "/api/v1/apps/other/pause", operatorToken, ``, 409},
		{"POST", "/api/v1/apps/web/explode", operatorToken, ``, 404},
		{"POST", "/api/v1/apps/web/rollback", operatorToken, `{"reason":"bad release"}`, 202},
	} {
		t.Run(c.method+c.path+"/"+c.token, func(t *testing.T) {
			code, body := call(t, ts.URL, c.method, c.path, c.token, c.body)
			if code != c.want {
				t.Errorf("%s %s = %d %s, want %d", c.method, c.path, code, body, c.want)
			}
		})
	}
	if fmt.Sprint(eng.started) != "[[api] [web]]" || fmt.Sprint(eng.sent) != "[web pause]" {
		t.Errorf("engine got started %v sent %v", eng.started, eng.sent)
	}
	if len(eng.firsts) != 1 || eng.firsts[0].Kind != migrate.EvRollback || eng.firsts[0].Reason != "bad release" {
		t.Errorf("rollback's first event = %+v", eng.firsts)
	}
	// The status names every migration and who leads.
	_, body := call(t, ts.URL, "GET", "/api/v1/status", viewerToken, "")
	var st serve.Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Apps) != 1 || st.Apps[0].App != "web" || st.Apps[0].Kubernetes != 25 || st.Leader != "http://self" {
		t.Errorf("status = %s", body)
	}
}

// TestFollowerForwardsWrites: a write sent to a follower is carried out by
// the leader's engine; reads are answered locally; a forwarded write that
// reaches a non-leader is refused rather than forwarded again.
func TestFollowerForwardsWrites(t *testing.T) {
	j := openJournal(t)
	eng := &engine{}
	leader := newServer(t, j, &leadership{eng: eng, self: true}, "leader")
	lead := &leadership{url: leader.URL}
	follower := newServer(t, j, lead, "follower")
	lead.url = leader.URL

	code, body := call(t, follower.URL, "POST", "/api/v1/migrations", operatorToken, `{"apps":["api"]}`)
	if code != 202 || !strings.Contains(body, `"replica":"leader"`) {
		t.Fatalf("forwarded migrate = %d %s", code, body)
	}
	if fmt.Sprint(eng.started) != "[[api]]" {
		t.Fatalf("leader's engine started %v", eng.started)
	}
	// The token still decides on the follower: a viewer is refused there.
	if code, _ := call(t, follower.URL, "POST", "/api/v1/migrations", viewerToken, `{"apps":["api"]}`); code != 403 {
		t.Errorf("viewer through the follower = %d", code)
	}
	// Two followers pointing at each other: no loop.
	other := &leadership{}
	f2 := newServer(t, j, other, "f2")
	lead.url, other.url = f2.URL, follower.URL
	code, body = call(t, follower.URL, "POST", "/api/v1/apps/web/pause", operatorToken, "")
	if code != 503 || !strings.Contains(body, "does not lead") {
		t.Errorf("forward to a non-leader = %d %s", code, body)
	}
	// No leader known: a clear 503.
	lead.url = ""
	if code, body := call(t, follower.URL, "POST", "/api/v1/apps/web/pause", operatorToken, ""); code != 503 || !strings.Contains(body, "no replica leads") {
		t.Errorf("no leader = %d %s", code, body)
	}
}

// TestEvents: the event stream sends the status at once and again when
// the journal changes.
func TestEvents(t *testing.T) {
	j := openJournal(t)
	ts := newServer(t, j, &leadership{self: true, url: "x"}, "x")
	req, _ := http.NewRequest("GET", ts.URL+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+viewerToken)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	next := func() serve.Status {
		t.Helper()
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var st serve.Status
				if err := json.Unmarshal([]byte(data), &st); err != nil {
					t.Fatal(err)
				}
				return st
			}
		}
		t.Fatalf("stream ended: %v", sc.Err())
		return serve.Status{}
	}
	if st := next(); len(st.Apps) != 1 || st.Apps[0].Kubernetes != 25 {
		t.Fatalf("first event %+v", st)
	}
	appendState(t, j, "web", migrate.State{App: "web", Phase: migrate.Shifting, KubePercent: 50})
	if st := next(); len(st.Apps) != 1 || st.Apps[0].Kubernetes != 50 {
		t.Fatalf("event after the change %+v", st)
	}
}

func TestParseTokens(t *testing.T) {
	for _, c := range []struct{ name, data, want string }{
		{"empty", "tokens: []", "no token"},
		{"no name", "tokens:\n- role: viewer\n  token: 0123456789abcdef", "tokens[0].name: required"},
		{"bad role", "tokens:\n- name: a\n  role: admin\n  token: 0123456789abcdef", `tokens[0].role: "admin"`},
		{"short", "tokens:\n- name: a\n  role: viewer\n  token: short", "shorter than 16"},
		{"bad hash", "tokens:\n- name: a\n  role: viewer\n  sha256: abc", "64 hex digits"},
		{"both", "tokens:\n- name: a\n  role: viewer\n  sha256: abc\n  token: 0123456789abcdef", "not both"},
		{"twice", "tokens:\n- name: a\n  role: viewer\n  token: 0123456789abcdef\n- name: a\n  role: viewer\n  token: 0123456789abcdeg", "listed twice"},
		{"unknown field", "tokens:\n- name: a\n  role: viewer\n  tokn: 0123456789abcdef", "unknown field"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := serve.ParseTokens([]byte(c.data))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("ParseTokens = %v, want %q", err, c.want)
			}
		})
	}
	// A tokens file others can read, or its group change, is refused,
	// naming the fix; its owner and group may read it (a Secret mounted
	// 0440 for a non-root serve).
	path := tokensFile(t)
	for _, m := range []struct {
		mode os.FileMode
		ok   bool
	}{{0o600, true}, {0o400, true}, {0o640, true}, {0o440, true}, {0o644, false}, {0o604, false}, {0o660, false}, {0o650, false}} {
		if err := os.Chmod(path, m.mode); err != nil {
			t.Fatal(err)
		}
		_, err := serve.LoadTokens(path)
		if m.ok && err != nil || !m.ok && (err == nil || !strings.Contains(err.Error(), "chmod 600")) {
			t.Errorf("LoadTokens of a %o file = %v, want accepted %v", m.mode, err, m.ok)
		}
	}
}

// countingJournal counts the reads of every app's latest entries.
type countingJournal struct {
	journal.Reader
	loads atomic.Int64
}

func (c *countingJournal) LoadAll() ([]journal.Entry, error) {
	c.loads.Add(1)
	return c.Reader.LoadAll()
}

// TestEventStreamsShareOnePoll: forty open event streams cost one journal
// read per period, not forty; each stream still gets every change.
func TestEventStreamsShareOnePoll(t *testing.T) {
	j := &countingJournal{Reader: openJournal(t)}
	const streams = 40
	ts := newServer(t, j, &leadership{self: true, url: "x"}, "x") // EventPeriod 20 ms
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	firsts := make(chan int, streams)
	changes := make(chan int, streams)
	for range streams {
		req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/api/v1/events", nil)
		req.Header.Set("Authorization", "Bearer "+viewerToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		go func() {
			sc := bufio.NewScanner(resp.Body)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			n := 0
			for sc.Scan() {
				data, ok := strings.CutPrefix(sc.Text(), "data: ")
				if !ok {
					continue
				}
				var st serve.Status
				if json.Unmarshal([]byte(data), &st) != nil || len(st.Apps) != 1 {
					continue
				}
				if n++; n == 1 {
					firsts <- st.Apps[0].Kubernetes
				} else {
					changes <- st.Apps[0].Kubernetes
					return
				}
			}
		}()
	}
	for range streams {
		if got := <-firsts; got != 25 {
			t.Fatalf("first event: %d%%, want 25%%", got)
		}
	}
	before := j.loads.Load()
	time.Sleep(10 * 20 * time.Millisecond) // ten periods with every stream open
	polls := j.loads.Load() - before
	if polls > 3*10 {
		t.Errorf("%d journal reads in ten periods with %d streams: want about one a period, not one a stream", polls, streams)
	}
	appendState(t, j.Reader.(journal.Journal), "web", migrate.State{App: "web", Phase: migrate.Shifting, KubePercent: 50})
	for range streams {
		select {
		case got := <-changes:
			if got != 50 {
				t.Fatalf("change: %d%%, want 50%%", got)
			}
		case <-ctx.Done():
			t.Fatal("a stream did not get the change")
		}
	}
	t.Logf("%d journal reads in ten periods with %d streams open", polls, streams)
}
