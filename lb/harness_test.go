package lb_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/switchyard/switchyard/internal/testenv"
	"github.com/switchyard/switchyard/lb"
)

// The tests run Debian's nginx (scripts/deps.sh installs it).
const (
	nginxBinary = "/usr/sbin/nginx"
	modulesDir  = "/usr/lib/nginx/modules"
)

// requireNginx skips the test under -short, and when nginx or its Lua
// module is missing (except under CI, where that fails it).
func requireNginx(t testing.TB) {
	t.Helper()
	testenv.SkipIfShort(t, "nginx")
	var missing []string
	for _, p := range []string{nginxBinary, modulesDir + "/ndk_http_module.so", modulesDir + "/ngx_http_lua_module.so", "/usr/share/lua/5.1/resty/core.lua"} {
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		testenv.Missing(t, "%v missing: install the Debian packages nginx libnginx-mod-http-lua lua-resty-core (scripts/deps.sh)", missing)
	}
}

// operatorConf is an operator's own nginx.conf: its own upstream, server and
// locations, with the module's two files included where the contract says.
var operatorConf = template.Must(template.New("nginx.conf").Parse(`
load_module "{{.Modules}}/ndk_http_module.so";
load_module "{{.Modules}}/ngx_http_lua_module.so";
daemon off;
master_process on;
{{if .User}}user {{.User}};{{end}}
worker_processes {{.Workers}};
pid "{{.Dir}}/nginx.pid";
error_log "{{.Dir}}/error.log" {{.ErrorLevel}};
events { worker_connections 4096; }
http {
    client_body_temp_path "{{.Dir}}/tmp/body";
    proxy_temp_path "{{.Dir}}/tmp/proxy";
    fastcgi_temp_path "{{.Dir}}/tmp/fastcgi";
    uwsgi_temp_path "{{.Dir}}/tmp/uwsgi";
    scgi_temp_path "{{.Dir}}/tmp/scgi";
    access_log {{.AccessLog}};
    keepalive_requests 100000;

    include "{{.Out}}/switchyard-http.conf";

    # The operator's own.
    upstream operator_app {
        server {{.OperatorBackend}};
        keepalive 16;
    }
{{.ExtraHTTP}}
    server {
        listen {{.Public}} backlog=4096;
        location = /operator/ping { return 200 "operator ping\n"; }
        location /operator/ {
            proxy_pass http://operator_app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
        include "{{.Out}}/switchyard-locations.conf";
    }
    server {
        listen {{.Other}};
        location / { return 200 "other server\n"; }
    }
}
`))

// lbNginx is a real nginx running an operator config with the module.
type lbNginx struct {
	t                                          testing.TB
	Dir, Out, Conf, TokenFile, StateDir, Token string
	Public, Other, Admin                       string
	cmd                                        *exec.Cmd
	done                                       chan struct{}
	stderr                                     *bytes.Buffer
	opts                                       lb.Options
}

type nginxSetup struct {
	// CIDRs are the backends networks (default 127.0.0.0/8).
	CIDRs []string
	// Workers is worker_processes (default 2).
	Workers int
	// AccessLog is the http-level access_log directive's arguments (default off).
	AccessLog string
	// ExtraHTTP is added inside http {}.
	ExtraHTTP string
	// OperatorBackend is the address of the operator's own upstream.
	OperatorBackend string
	// Modify changes the module options before rendering.
	Modify func(*lb.Options)
}

// newNginx renders the module and the operator config in a temp dir; Start
// runs it.
func newNginx(t testing.TB, s nginxSetup) *lbNginx {
	t.Helper()
	requireNginx(t)
	dir := t.TempDir()
	n := &lbNginx{t: t, Dir: dir, Out: filepath.Join(dir, "lb"), Conf: filepath.Join(dir, "nginx.conf"),
		TokenFile: filepath.Join(dir, "admin.token"), StateDir: filepath.Join(dir, "state"),
		Public: testenv.FreeAddr(t, "127.0.0.1"), Other: testenv.FreeAddr(t, "127.0.0.1"), Admin: testenv.FreeAddr(t, "127.0.0.1")}
	for _, d := range []string{n.StateDir, filepath.Join(dir, "tmp")} {
		if err := os.MkdirAll(d, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := lb.EnsureTokenFile(n.TokenFile); err != nil {
		t.Fatal(err)
	}
	tok, err := lb.ReadToken(n.TokenFile)
	if err != nil {
		t.Fatal(err)
	}
	n.Token = tok
	if s.CIDRs == nil {
		s.CIDRs = []string{"127.0.0.0/8"}
	}
	n.opts = lb.Options{AdminListen: n.Admin, AdminTokenFile: n.TokenFile, StateDir: n.StateDir,
		BackendsCIDRs: s.CIDRs, ModuleDir: n.Out}
	if s.Modify != nil {
		s.Modify(&n.opts)
	}
	files, err := lb.Render(n.opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := files.WriteFiles(n.Out); err != nil {
		t.Fatal(err)
	}
	user := ""
	if os.Geteuid() == 0 {
		user = "root" // the workers write the state dir in the test's temp dir
	}
	if s.Workers == 0 {
		s.Workers = 2
	}
	if s.AccessLog == "" {
		s.AccessLog = "off"
	}
	if s.OperatorBackend == "" {
		s.OperatorBackend = "127.0.0.1:9" // nothing listens: 502
	}
	var buf bytes.Buffer
	if err := operatorConf.Execute(&buf, map[string]any{
		"Modules": modulesDir, "User": user, "Workers": s.Workers, "Dir": dir, "Out": n.Out,
		"Public": n.Public, "Other": n.Other, "OperatorBackend": s.OperatorBackend,
		"AccessLog": s.AccessLog, "ExtraHTTP": s.ExtraHTTP, "ErrorLevel": "warn",
	}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(n.Conf, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Stop)
	return n
}

// startNginx renders and starts nginx, and waits until /healthz answers.
func startNginx(t testing.TB, s nginxSetup) *lbNginx {
	t.Helper()
	n := newNginx(t, s)
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	return n
}

// launch starts the nginx process.
func (n *lbNginx) launch() {
	n.t.Helper()
	out, err := exec.Command(nginxBinary, "-t", "-q", "-p", n.Dir+"/", "-c", n.Conf).CombinedOutput()
	if err != nil {
		n.t.Fatalf("nginx -t: %v\n%s", err, out)
	}
	n.cmd = exec.Command(nginxBinary, "-p", n.Dir+"/", "-c", n.Conf)
	n.stderr = &bytes.Buffer{}
	n.cmd.Stdout, n.cmd.Stderr = n.stderr, n.stderr
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := n.cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	n.done = make(chan struct{})
	go func() { _ = n.cmd.Wait(); close(n.done) }()
}

// Start starts nginx and waits for /healthz; it returns nginx's output when
// nginx exits instead.
func (n *lbNginx) Start() error {
	n.t.Helper()
	n.launch()
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-n.done:
			return fmt.Errorf("nginx exited (%v): %s", n.cmd.ProcessState, n.Log())
		default:
		}
		if code, _ := n.admin("GET", "/healthz", "", ""); code == 200 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nginx not ready after 15s: %s", n.Log())
		}
		time.Sleep(30 * time.Millisecond)
	}
}

// StartFails starts nginx and returns its output once it exited (it must
// refuse to start).
func (n *lbNginx) StartFails() string {
	n.t.Helper()
	n.launch()
	select {
	case <-n.done:
	case <-time.After(10 * time.Second):
		n.t.Fatalf("nginx did not refuse to start: %s", n.Log())
	}
	if n.cmd.ProcessState.Success() {
		n.t.Fatalf("nginx exited with status 0: %s", n.Log())
	}
	return n.Log()
}

// Log is nginx's output and error log.
func (n *lbNginx) Log() string {
	b, _ := os.ReadFile(filepath.Join(n.Dir, "error.log"))
	s := ""
	if n.stderr != nil {
		s = n.stderr.String()
	}
	return s + string(b)
}

// Stop stops nginx (the whole process group) and waits.
func (n *lbNginx) Stop() {
	if n.cmd == nil || n.cmd.Process == nil {
		return
	}
	select {
	case <-n.done:
	default:
		_ = syscall.Kill(-n.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-n.done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL)
			<-n.done
		}
	}
	n.cmd = nil
}

// Restart stops and starts nginx on the same files.
func (n *lbNginx) Restart() {
	n.t.Helper()
	n.Stop()
	if err := n.Start(); err != nil {
		n.t.Fatal(err)
	}
}

var adminClient = &http.Client{Timeout: 10 * time.Second}

// admin sends one admin API request with the given token ("" for none).
func (n *lbNginx) admin(method, path, body, token string) (int, string) {
	req, err := http.NewRequest(method, "http://"+n.Admin+path, strings.NewReader(body))
	if err != nil {
		return 0, err.Error()
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := adminClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// Do sends an admin request with the right token.
func (n *lbNginx) Do(method, path, body string) (int, string) {
	return n.admin(method, path, body, n.Token)
}

// MustDo sends an admin request with the right token and wants a 200.
func (n *lbNginx) MustDo(method, path, body string) string {
	n.t.Helper()
	code, b := n.Do(method, path, body)
	if code != 200 {
		n.t.Fatalf("%s %s = %d %s", method, path, code, b)
	}
	return b
}

var publicClient = &http.Client{Timeout: 10 * time.Second}

// get sends one request to addr with that Host.
func get(t testing.TB, addr, host, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	resp, err := publicClient.Do(req)
	if err != nil {
		t.Fatalf("GET http://%s%s: %v", addr, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// backend is a small HTTP server: 200 with its name, or the status in the
// path's "/status/NNN" suffix.
type backend struct {
	Name, Addr string
	hits       atomic.Int64
	srv        *http.Server
}

func startBackend(t testing.TB, ip, name string) *backend {
	t.Helper()
	l, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{Name: name, Addr: l.Addr().String()}
	b.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		code := 200
		if i := strings.Index(r.URL.Path, "/status/"); i >= 0 {
			fmt.Sscanf(r.URL.Path[i+len("/status/"):], "%d", &code)
		}
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(code)
		fmt.Fprintf(w, "%s %s %s\n", name, r.Method, r.URL.Path)
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := b.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("backend %s: %v", name, err)
		}
	}()
	t.Cleanup(func() { b.srv.Close() })
	return b
}
