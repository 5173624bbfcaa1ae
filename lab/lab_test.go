package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/testenv"
	"github.com/switchyard/switchyard/internal/wanterr"
	"github.com/switchyard/switchyard/lab/component"
	"github.com/switchyard/switchyard/lab/labconfig"
	"github.com/switchyard/switchyard/lab/nodeagent"
	"github.com/switchyard/switchyard/lab/proc"
)

// The test binary doubles as a component: LAB_HELPER=serve listens on
// LAB_ADDR and answers HTTP until killed.
func TestMain(m *testing.M) {
	switch os.Getenv("LAB_HELPER") {
	case "serve":
		ln, err := net.Listen("tcp", os.Getenv("LAB_ADDR"))
		if err != nil {
			fmt.Println("helper:", err)
			os.Exit(4)
		}
		fmt.Println("helper: serving on", ln.Addr())
		_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func testConfig(t *testing.T) labconfig.Config {
	t.Helper()
	cfg := labconfig.Default()
	cfg.ID = fmt.Sprintf("labtest-%08x", rand.Uint32())
	cfg.Dir = t.TempDir()
	cfg.Marathon.Listen = testenv.FreeAddr(t, "127.0.0.1")
	cfg.Mesos.Listen = testenv.FreeAddr(t, "127.0.0.1")
	cfg.Kubernetes.Enabled = false
	cfg.Nginx.Enabled = false
	r, s := 2+rand.IntN(250), rand.IntN(256)
	for i := range cfg.Nodes {
		cfg.Nodes[i].Address = fmt.Sprintf("127.%d.%d.%d", r, s, i+1)
	}
	t.Cleanup(func() {
		// Whatever a test left behind, it must not outlive it.
		for _, id := range proc.FindByEnv(Marker(cfg)) {
			proc.StopID(id, time.Second, nil)
		}
	})
	return cfg
}

// sh runs a shell script as a component.
func sh(name, script string, after ...string) component.Spec {
	return component.Spec{Name: name, Argv: []string{"/bin/sh", "-c", script}, After: after, StopGrace: 2 * time.Second}
}

// server is a component serving HTTP on addr, ready when it answers.
func server(t *testing.T, name, addr string, after ...string) component.Spec {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return component.Spec{
		Name: name, Argv: []string{self}, Env: []string{"LAB_HELPER=serve", "LAB_ADDR=" + addr},
		Address: "http://" + addr, After: after, ReadyTimeout: 10 * time.Second, StopGrace: 2 * time.Second,
		Ready: func(ctx context.Context) error {
			req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/", nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			resp.Body.Close()
			return nil
		},
	}
}

func mustUp(t *testing.T, cfg labconfig.Config, specs []component.Spec) string {
	t.Helper()
	var out bytes.Buffer
	if err := Up(context.Background(), cfg, specs, &out); err != nil {
		t.Fatalf("Up: %v\n%s", err, out.String())
	}
	return out.String()
}

func mustDown(t *testing.T, cfg labconfig.Config, specs []component.Spec) string {
	t.Helper()
	var out bytes.Buffer
	if err := Down(context.Background(), cfg, specs, &out); err != nil {
		t.Fatalf("Down: %v\n%s", err, out.String())
	}
	return out.String()
}

func statusByName(t *testing.T, cfg labconfig.Config, specs []component.Spec) map[string]ComponentStatus {
	t.Helper()
	sts, err := Status(context.Background(), cfg, specs)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]ComponentStatus{}
	for _, s := range sts {
		m[s.Name] = s
	}
	return m
}

func TestOrder(t *testing.T) {
	spec := func(name string, after ...string) component.Spec { return component.Spec{Name: name, After: after} }
	tests := []struct {
		name    string
		specs   []component.Spec
		want    string
		wantErr string
	}{
		{name: "given order without deps", specs: []component.Spec{spec("a"), spec("b"), spec("c")}, want: "a b c"},
		{name: "deps first", specs: []component.Spec{spec("api", "etcd"), spec("etcd"), spec("sched", "api")}, want: "etcd api sched"},
		{name: "diamond", specs: []component.Spec{spec("d", "b", "c"), spec("b", "a"), spec("c", "a"), spec("a")}, want: "a b c d"},
		{name: "unknown dep", specs: []component.Spec{spec("a", "zz")}, wantErr: `component "a" must start after "zz", which is not a lab component (known: a)`},
		{name: "cycle", specs: []component.Spec{spec("a", "b"), spec("b", "a")}, wantErr: "cycle: a -> b -> a"},
		{name: "self cycle", specs: []component.Spec{spec("a", "a")}, wantErr: "cycle: a -> a"},
		{name: "duplicate", specs: []component.Spec{spec("a"), spec("a")}, wantErr: `component "a" is defined twice`},
		{name: "no name", specs: []component.Spec{spec("")}, wantErr: "component #1 has no name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Order(tt.specs)
			if wanterr.Check(t, err, tt.wantErr) {
				return
			}
			if s := strings.Join(names(got), " "); s != tt.want {
				t.Fatalf("order %q, want %q", s, tt.want)
			}
		})
	}
}

// TestUpStartsInDependencyOrderAndDownStopsAll checks the order processes
// really start in, the marker on each, Status, the reverse-order stop with
// Cleanup, and that nothing is left afterwards.
func TestUpStartsInDependencyOrderAndDownStopsAll(t *testing.T) {
	cfg := testConfig(t)
	orderFile := filepath.Join(cfg.Dir, "order")
	var cleaned []string
	mk := func(name string, after ...string) component.Spec {
		s := sh(name, fmt.Sprintf("echo %s >> %s; exec sleep 300", name, orderFile), after...)
		s.Cleanup = func(context.Context) error { cleaned = append(cleaned, name); return nil }
		return s
	}
	web := server(t, "web", cfg.Marathon.Listen, "db")
	specs := []component.Spec{mk("app", "web"), web, mk("db")}
	out := mustUp(t, cfg, specs)
	b, _ := os.ReadFile(orderFile)
	if got := strings.Fields(string(b)); strings.Join(got, " ") != "db app" {
		t.Fatalf("start order %v, want db then app (web in between)", got)
	}
	for _, want := range []string{"COMPONENT", "web", cfg.Marathon.Listen, "started, ready in"} {
		if !strings.Contains(out, want) {
			t.Errorf("up output lacks %q:\n%s", want, out)
		}
	}
	recs, err := readRecords(cfg)
	if err != nil || len(recs) != 3 {
		t.Fatalf("records %v, %v", recs, err)
	}
	if !recs["db"].StartedAt.Before(recs["web"].StartedAt) || !recs["web"].StartedAt.Before(recs["app"].StartedAt) {
		t.Errorf("records' start times are not in dependency order")
	}
	if got := len(proc.FindByEnv(Marker(cfg))); got < 3 {
		t.Errorf("%d processes carry the marker, want at least 3", got)
	}
	st := statusByName(t, cfg, specs)
	if st["web"].State != StateHealthy || st["db"].State != StateRunning || st["app"].State != StateRunning {
		t.Fatalf("status %+v", st)
	}
	down := mustDown(t, cfg, specs)
	if strings.Index(down, "app") > strings.Index(down, "web") || strings.Index(down, "web") > strings.Index(down, "db ") {
		t.Errorf("down order is not reverse dependency order:\n%s", down)
	}
	if strings.Join(cleaned, " ") != "app db" {
		t.Errorf("cleanups ran for %v, want app then db", cleaned)
	}
	for name, r := range recs {
		if proc.Alive(r.Process) {
			t.Errorf("%s (pid %d) still runs after Down", name, r.Process.PID)
		}
	}
	if ids := proc.FindByEnv(Marker(cfg)); len(ids) > 0 {
		t.Errorf("processes left: %v", ids)
	}
	if left := Leftovers(cfg, specs, nil); len(left) > 0 {
		t.Errorf("listeners left: %v", left)
	}
	if st := statusByName(t, cfg, specs); st["web"].State != StateNotStarted {
		t.Errorf("after down web is %q", st["web"].State)
	}
}

// TestReadyTimeoutStopsWhatUpStarted: a component that never gets ready makes
// Up print its log tail and a fix, and stop the components it started.
func TestReadyTimeoutStopsWhatUpStarted(t *testing.T) {
	cfg := testConfig(t)
	never := sh("never", "echo 'listening on nothing: boom-7781'; exec sleep 300", "first")
	never.ReadyTimeout = 700 * time.Millisecond
	never.Ready = func(context.Context) error { return errors.New("connection refused") }
	specs := []component.Spec{sh("first", "exec sleep 300"), never, sh("last", "exec sleep 300", "never")}
	var out bytes.Buffer
	err := Up(context.Background(), cfg, specs, &out)
	wanterr.Check(t, err, "never failed to start", "not ready after 700ms", "connection refused")
	for _, want := range []string{"| listening on nothing: boom-7781", "fix:", "stopped what this `lab up` started: never, first", "the lab is not running"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if ids := proc.FindByEnv(Marker(cfg)); len(ids) > 0 {
		t.Errorf("processes left after a failed up: %v", ids)
	}
	if recs, _ := readRecords(cfg); len(recs) > 0 {
		t.Errorf("records left after a failed up: %v", recs)
	}
	if _, err := os.Stat(LogPath(cfg, "last")); err == nil {
		t.Error("a component after the failed one was started")
	}
}

func TestMissingProgram(t *testing.T) {
	cfg := testConfig(t)
	var out bytes.Buffer
	err := Up(context.Background(), cfg, []component.Spec{{Name: "ghost", Argv: []string{"/nonexistent/ghostd", "--serve"}}}, &out)
	if err == nil || !strings.Contains(err.Error(), "ghost failed to start: exited right after start (exited with status 127)") {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(out.String(), "/nonexistent/ghostd: not found") || !strings.Contains(out.String(), "a program or file it needs is missing") {
		t.Errorf("output:\n%s", out.String())
	}
}

func TestExitDuringStart(t *testing.T) {
	cfg := testConfig(t)
	bad := sh("bad", "echo 'fatal: cannot open /nonexistent/config: no such file or directory' >&2; exit 2")
	bad.Ready = func(context.Context) error { return errors.New("not yet") }
	var out bytes.Buffer
	err := Up(context.Background(), cfg, []component.Spec{bad}, &out)
	if err == nil || !strings.Contains(err.Error(), "exited during start (exited with status 2)") {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(out.String(), "run `make deps`") || !strings.Contains(out.String(), "| fatal: cannot open") {
		t.Errorf("output lacks the log tail or the missing-file hint:\n%s", out.String())
	}
}

// TestUpIsIdempotent: a second Up keeps running components; a crashed one is
// reported by Status with its exit and restarted by the next Up; a changed
// command line is refused without touching anything.
func TestUpIsIdempotent(t *testing.T) {
	cfg := testConfig(t)
	specs := []component.Spec{server(t, "web", cfg.Marathon.Listen), sh("worker", "echo worker up; exec sleep 300", "web")}
	mustUp(t, cfg, specs)
	defer mustDown(t, cfg, specs)
	first, _ := readRecords(cfg)

	out := mustUp(t, cfg, specs)
	if !strings.Contains(out, "already running") || !strings.Contains(out, "running (kept)") {
		t.Errorf("second up output:\n%s", out)
	}
	second, _ := readRecords(cfg)
	for name := range first {
		if first[name].Process != second[name].Process {
			t.Errorf("%s was restarted by an idempotent up", name)
		}
	}

	// Kill the worker's program (the child of the shim): it crashed.
	kids, err := exec.Command("pgrep", "-P", fmt.Sprint(first["worker"].Process.PID)).Output()
	if err != nil {
		t.Fatalf("pgrep: %v", err)
	}
	var child int
	fmt.Sscan(string(kids), &child)
	if err := syscall.Kill(child, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return !proc.Alive(first["worker"].Process) })
	st := statusByName(t, cfg, specs)["worker"]
	if st.State != StateCrashed || !strings.Contains(st.Detail, "killed by signal 9") || !contains(st.LogTail, "worker up") {
		t.Fatalf("crashed worker status: %+v", st)
	}
	var buf bytes.Buffer
	if err := PrintStatus(&buf, []ComponentStatus{st}); err != nil || !strings.Contains(buf.String(), "worker is crashed; last lines of") {
		t.Errorf("PrintStatus: %v\n%s", err, buf.String())
	}

	out = mustUp(t, cfg, specs)
	if !strings.Contains(out, "worker                   was killed by signal 9") {
		t.Errorf("restart not reported:\n%s", out)
	}
	third, _ := readRecords(cfg)
	if third["worker"].Process == first["worker"].Process || third["web"].Process != first["web"].Process {
		t.Errorf("expected only the worker restarted")
	}

	changed := []component.Spec{specs[0], sh("worker", "echo v2; exec sleep 300", "web")}
	err = Up(context.Background(), cfg, changed, &buf)
	if err == nil || !strings.Contains(err.Error(), "worker (pid") || !strings.Contains(err.Error(), "its command line changed") ||
		!strings.Contains(err.Error(), "run `switchyard lab down`, then `switchyard lab up`") {
		t.Fatalf("changed config: err = %v", err)
	}
	if !proc.Alive(third["worker"].Process) {
		t.Error("a refused up stopped the running worker")
	}
	cfg2 := cfg
	cfg2.Nodes = cfg.Nodes[:1]
	if err := Up(context.Background(), cfg2, specs, &buf); err == nil || !strings.Contains(err.Error(), "the lab config changed") {
		t.Fatalf("changed lab config: err = %v", err)
	}
}

// TestPortInUse: Up refuses before starting anything, naming the component,
// the port, the owner and the lab.yaml field to change.
func TestPortInUse(t *testing.T) {
	cfg := testConfig(t)
	ln, err := net.Listen("tcp", cfg.Marathon.Listen)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	other := testenv.FreeAddr(t, "127.0.0.1")
	ln2, err := net.Listen("tcp", other)
	if err != nil {
		t.Fatal(err)
	}
	defer ln2.Close()
	specs := []component.Spec{sh("db", "exec sleep 300"), server(t, "marathon", cfg.Marathon.Listen), server(t, "web", other)}
	var out bytes.Buffer
	err = Up(context.Background(), cfg, specs, &out, WithConfigPath("/x/lab.yaml"))
	want1 := fmt.Sprintf("port %s for marathon is in use by another process (pid %d, %s); free it or change marathon.listen in /x/lab.yaml",
		cfg.Marathon.Listen, os.Getpid(), proc.Comm(os.Getpid()))
	want2 := fmt.Sprintf("port %s for web is in use by another process (pid %d", other, os.Getpid())
	wanterr.Check(t, err, want1, want2, "nothing was started")
	if _, err := os.Stat(LogPath(cfg, "db")); err == nil {
		t.Error("db was started although Up refused")
	}
}

// TestDownSweepsLeftovers: a process that escaped its component's process
// group (like a Marathon task) is found by the marker and stopped.
func TestDownSweepsLeftovers(t *testing.T) {
	cfg := testConfig(t)
	pidFile := filepath.Join(cfg.Dir, "orphan.pid")
	specs := []component.Spec{sh("spawner", fmt.Sprintf("setsid sleep 300 & echo $! > %s; exec sleep 300", pidFile))}
	mustUp(t, cfg, specs)
	// The component is up once its shell started; the shell writes the
	// orphan's pid a moment later (on a loaded machine, visibly later).
	var b []byte
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if b, err = os.ReadFile(pidFile); err == nil && strings.HasSuffix(string(b), "\n") || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	fmt.Sscan(string(b), &pid)
	if len(proc.FindByEnv(Marker(cfg))) < 2 {
		t.Fatal("the orphan does not carry the marker")
	}
	out := mustDown(t, cfg, specs)
	if !strings.Contains(out, fmt.Sprintf("sweeping pid %d (sleep)", pid)) || !strings.Contains(out, "no process and no port of it is left") {
		t.Errorf("down output:\n%s", out)
	}
	if err := syscall.Kill(pid, 0); err == nil {
		if _, state, _ := procState(pid); state != "Z" {
			t.Errorf("orphan %d survived lab down", pid)
		}
	}
}

// TestDownReportsLeftoverListener: a process without the marker that listens
// on a lab port is reported, not silently ignored.
func TestDownReportsLeftoverListener(t *testing.T) {
	cfg := testConfig(t)
	specs := []component.Spec{server(t, "marathon", cfg.Marathon.Listen)}
	ln, err := net.Listen("tcp", cfg.Mesos.Listen)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var out bytes.Buffer
	err = Down(context.Background(), cfg, specs, &out)
	var le *LeftoverError
	if !errors.As(err, &le) || len(le.Listeners) != 1 || !strings.HasPrefix(le.Listeners[0], cfg.Mesos.Listen+" (pid "+fmt.Sprint(os.Getpid())) {
		t.Fatalf("Down = %v", err)
	}
}

func TestLogs(t *testing.T) {
	cfg := testConfig(t)
	if err := ensureDirs(cfg); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for i := 1; i <= 50; i++ {
		lines = append(lines, fmt.Sprintf("line %d", i))
	}
	if err := os.WriteFile(LogPath(cfg, "web"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	specs := []component.Spec{{Name: "web"}, {Name: "db"}}
	for _, tc := range []struct {
		tail int
		want string
	}{{3, "line 48\nline 49\nline 50\n"}, {1, "line 50\n"}, {-1, strings.Join(lines, "\n") + "\n"}, {500, strings.Join(lines, "\n") + "\n"}} {
		var out bytes.Buffer
		if err := Logs(context.Background(), cfg, specs, "web", LogOptions{Tail: tc.tail}, &out); err != nil {
			t.Fatal(err)
		}
		if out.String() != tc.want {
			t.Errorf("tail %d = %q, want %q", tc.tail, out.String(), tc.want)
		}
	}
	if err := Logs(context.Background(), cfg, specs, "nope", LogOptions{}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), `no component "nope" in this lab (components: web, db)`) {
		t.Errorf("unknown component: %v", err)
	}
	if err := Logs(context.Background(), cfg, specs, "db", LogOptions{}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "db has not been started yet") {
		t.Errorf("not started: %v", err)
	}

	// Follow prints what is appended.
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := newPipe()
	done := make(chan error, 1)
	go func() {
		done <- Logs(ctx, cfg, specs, "web", LogOptions{Tail: 1, Follow: true, PollInterval: 20 * time.Millisecond}, pw)
	}()
	waitFor(t, func() bool { return strings.Contains(pr.String(), "line 50") })
	f, _ := os.OpenFile(LogPath(cfg, "web"), os.O_APPEND|os.O_WRONLY, 0)
	fmt.Fprintln(f, "line 51")
	f.Close()
	waitFor(t, func() bool { return strings.Contains(pr.String(), "line 51") })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := pr.String(); got != "line 50\nline 51\n" {
		t.Errorf("follow = %q", got)
	}
}

func TestEnvEvaluatesInAShell(t *testing.T) {
	cfg := labconfig.Default()
	cfg.Dir = "/tmp/lab dir/it's here"
	script := Exports(Env(cfg)) + `printf '%s|%s|%s|%s|%s|%s|%s' "$MARATHON_URL" "$MESOS_MASTER_URL" "$KUBECONFIG" "$SWITCHYARD_LB" "$SWITCHYARD_LB_ADMIN" "$SWITCHYARD_LB_TOKEN_FILE" "$SWITCHYARD_LAB_DIR"`
	got, err := exec.Command("/bin/sh", "-c", script).Output()
	if err != nil {
		t.Fatal(err)
	}
	want := "http://127.0.0.1:8080|http://127.0.0.1:5050|/tmp/lab dir/it's here/kube/admin.kubeconfig|http://127.0.0.1:8000|http://127.0.0.1:8001|/tmp/lab dir/it's here/nginx/admin.token|/tmp/lab dir/it's here"
	if string(got) != want {
		t.Fatalf("eval gave %q, want %q", got, want)
	}
	// PATH gains the lab's kubectl directory in front and keeps the rest.
	t.Setenv("SWITCHYARD_CACHE", "/tmp/cache dir")
	got, err = exec.Command("/bin/sh", "-c", Exports(Env(cfg))+`printf '%s' "$PATH"`).Output()
	if err != nil {
		t.Fatal(err)
	}
	if wantPrefix := "/tmp/cache dir/kube/" + cfg.Kubernetes.Version + ":"; !strings.HasPrefix(string(got), wantPrefix) || !strings.HasSuffix(string(got), os.Getenv("PATH")) {
		t.Errorf("PATH after eval is %q, want %q followed by the old PATH", got, wantPrefix)
	}
	cfg.Kubernetes.Enabled, cfg.Nginx.Enabled = false, false
	for _, v := range Env(cfg) {
		if v.Name == "KUBECONFIG" || v.Name == "SWITCHYARD_LB" || v.Name == "SWITCHYARD_LB_TOKEN_FILE" {
			t.Errorf("%s exported although its part is disabled", v.Name)
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	testenv.Eventually(t, 10*time.Second, 20*time.Millisecond, "the condition", func() (bool, string) { return cond(), "" })
}

func contains(lines []string, s string) bool {
	for _, l := range lines {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

func procState(pid int) (string, string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", "", err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return "", f[0], nil
}

// syncBuf is a goroutine-safe buffer for the follow test.
type syncBuf struct {
	mu  chan struct{}
	buf bytes.Buffer
}

func newPipe() (*syncBuf, *syncBuf) {
	b := &syncBuf{mu: make(chan struct{}, 1)}
	return b, b
}

func (b *syncBuf) Write(p []byte) (int, error) {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.Write(p)
}

func (b *syncBuf) String() string {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.String()
}

// TestCleanupOnlySpec: a spec without Argv is never started nor shown, and
// its Cleanup runs on Down.
func TestCleanupOnlySpec(t *testing.T) {
	cfg := testConfig(t)
	cleaned := 0
	specs := []component.Spec{sh("db", "exec sleep 300"), {Name: "pod-network", Cleanup: func(context.Context) error { cleaned++; return nil }}}
	if out := mustUp(t, cfg, specs); strings.Contains(out, "pod-network") {
		t.Errorf("up shows the cleanup-only spec:\n%s", out)
	}
	if st := statusByName(t, cfg, specs); len(st) != 1 || st["db"].State != StateRunning {
		t.Errorf("status %+v, want only db running", st)
	}
	mustDown(t, cfg, specs)
	if cleaned != 1 {
		t.Errorf("cleanup-only spec cleaned %d times on down, want 1", cleaned)
	}
}

func TestIDForIsShortAndPerDirectory(t *testing.T) {
	a, b := IDFor("/srv/lab-a"), IDFor("/srv/lab-b")
	if a == b || a != IDFor("/srv/lab-a") {
		t.Fatalf("ids %q %q: want stable and distinct per directory", a, b)
	}
	if len(a) > 12 {
		t.Errorf("id %q is too long to prefix interface names", a)
	}
}

// TestPodCleanupAfterEveryAgent: lab down stops components in reverse
// order and runs each one's cleanup right after it; the lab-wide pod
// cleanup (pods, network, volumes) must come after every node agent
// stopped, or an agent still running rewrites volumes under it.
func TestPodCleanupAfterEveryAgent(t *testing.T) {
	cfg := labconfig.Default()
	cfg.Dir = t.TempDir()
	specs, err := Components(cfg, "/usr/local/bin/switchyard")
	if err != nil {
		t.Fatal(err)
	}
	ordered, err := Order(specs)
	if err != nil {
		t.Fatal(err)
	}
	cleanup, lastAgent := -1, -1
	for i, s := range ordered {
		switch {
		case s.Name == nodeagent.PodNetworkName:
			cleanup = i
		case strings.HasPrefix(s.Name, "node-agent-"):
			lastAgent = max(lastAgent, i)
			if s.Cleanup != nil {
				t.Errorf("%s has a cleanup of its own", s.Name)
			}
		}
	}
	if cleanup < 0 || lastAgent < 0 || cleanup > lastAgent {
		t.Fatalf("order %v: want %s before every node agent (lab down runs it after them)", names(ordered), nodeagent.PodNetworkName)
	}
}

// TestConfigure: a component's Configure runs at each up once it is ready
// (started or kept), before the components after it start, and not on
// `lab status`; a failing Configure fails up and stops what it started.
func TestConfigure(t *testing.T) {
	cfg := testConfig(t)
	orderFile := filepath.Join(cfg.Dir, "order")
	var configured []string
	web := server(t, "web", cfg.Marathon.Listen)
	web.Configure = func(ctx context.Context) error {
		b, _ := os.ReadFile(orderFile)
		configured = append(configured, "web after ["+strings.TrimSpace(string(b))+"]")
		return nil
	}
	specs := []component.Spec{web, sh("app", "echo app >> "+orderFile+"; exec sleep 300", "web")}
	mustUp(t, cfg, specs)
	statusByName(t, cfg, specs)
	mustUp(t, cfg, specs) // both kept
	if got, want := strings.Join(configured, "; "), "web after []; web after [app]"; got != want {
		t.Errorf("Configure ran: %q, want %q (once per up, before app's first start, not on status)", got, want)
	}
	mustDown(t, cfg, specs)

	web.Configure = func(context.Context) error { return errors.New("no admin rights") }
	specs[0] = web
	var out bytes.Buffer
	err := Up(context.Background(), cfg, specs, &out)
	if err == nil || !strings.Contains(err.Error(), "web") || !strings.Contains(err.Error(), "configuring it failed: no admin rights") {
		t.Fatalf("failing Configure: err = %v\n%s", err, out.String())
	}
	if ids := proc.FindByEnv(Marker(cfg)); len(ids) > 0 {
		t.Errorf("a failed up left processes: %v", ids)
	}
	if b, _ := os.ReadFile(orderFile); strings.Count(string(b), "app") != 1 {
		t.Errorf("app started after web's Configure failed: %q", b)
	}
}
