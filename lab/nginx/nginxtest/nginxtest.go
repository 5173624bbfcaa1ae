// Package nginxtest runs a real shared nginx (package labnginx) on ephemeral
// loopback ports in a temporary lab directory, and small Go HTTP backends on
// 127.0.0.x addresses, for tests of the nginx and traffic packages. Everything
// it starts is stopped by t.Cleanup.
package nginxtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/testenv"
	"github.com/switchyard/switchyard/lab/labconfig"
	labnginx "github.com/switchyard/switchyard/lab/nginx"
	"github.com/switchyard/switchyard/lab/proc"
)

// Instance is a running nginx started by Start.
type Instance struct {
	// Cfg is the lab config it runs with (Dir is a temp dir).
	Cfg labconfig.Config
	// Nginx is the shared nginx.
	Nginx *labnginx.Nginx
	t     testing.TB
	p     *proc.Process
}

// RequireNginx skips the test under -short (it is for tests that run
// nginx), and when nginx or its Lua module is missing, except under CI,
// where a missing prerequisite fails the test.
func RequireNginx(t testing.TB) {
	t.Helper()
	testenv.SkipIfShort(t, "nginx")
	n, err := labnginx.New(labconfig.Default())
	if err != nil {
		t.Fatal(err)
	}
	testenv.Prerequisite(t, n.CheckInstalled())
}

// LabDir is a fresh lab directory for a test, removed when it ends. It is
// made directly in the system's temporary directory: nginx's workers run as
// another user when the tests run as root, and must pass through every
// directory above the lab's (t.TempDir's parent is its test's only).
func LabDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "nginxtest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// Start prepares and starts nginx in a temp lab dir; it is stopped when the
// test ends. modify may adjust the config first (may be nil).
func Start(t testing.TB, modify func(*labconfig.Config)) *Instance {
	t.Helper()
	RequireNginx(t)
	cfg := labconfig.Default()
	cfg.Dir = LabDir(t)
	cfg.ID = "nginxtest-" + filepath.Base(cfg.Dir)
	cfg.Nginx.Listen = testenv.FreeAddr(t, "127.0.0.1")
	cfg.Nginx.Admin = testenv.FreeAddr(t, "127.0.0.1")
	if modify != nil {
		modify(&cfg)
	}
	n, err := labnginx.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	in := &Instance{Cfg: cfg, Nginx: n, t: t}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	in.start()
	t.Cleanup(in.Stop)
	return in
}

func (in *Instance) start() {
	in.t.Helper()
	spec := in.Nginx.Spec()
	p, err := proc.Start(proc.Spec{
		Argv:    spec.Argv,
		Env:     append(os.Environ(), spec.Env...),
		Dir:     spec.Dir,
		LogPath: in.Cfg.Path("logs", "nginx.log"),
	})
	if err != nil {
		in.t.Fatal(err)
	}
	in.p = p
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := in.Nginx.Ready(ctx)
		cancel()
		if err == nil {
			return
		}
		select {
		case <-p.Done():
			in.t.Fatalf("nginx exited (%s); its log:\n%s", p.Exit(), in.Log())
		default:
		}
		if time.Now().After(deadline) {
			in.t.Fatalf("nginx not ready after 15s: %v; its log:\n%s", err, in.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Log returns nginx's stdout/stderr and error log.
func (in *Instance) Log() string {
	a, _ := os.ReadFile(in.Cfg.Path("logs", "nginx.log"))
	b, _ := os.ReadFile(in.Nginx.ErrorLog)
	return string(a) + string(b)
}

// Process is the nginx master.
func (in *Instance) Process() *proc.Process { return in.p }

// Stop stops nginx (fast shutdown of the whole process group).
func (in *Instance) Stop() {
	if in.p != nil {
		in.p.Stop(5 * time.Second)
		in.p = nil
	}
}

// Restart stops nginx and starts it again on the same config.
func (in *Instance) Restart() {
	in.t.Helper()
	in.Stop()
	in.start()
}

// PublicAddr is nginx's public host:port.
func (in *Instance) PublicAddr() string { return in.Cfg.Nginx.Listen }

// Backend is a small HTTP server standing in for a task or pod. It answers
// every request with 200, its name in the body and in the X-Backend header;
// a request with "Upgrade: echo" switches protocols and echoes bytes back.
type Backend struct {
	// Name identifies it in answers.
	Name string
	// Addr is its host:port.
	Addr  string
	srv   *http.Server
	hits  atomic.Int64
	conns atomic.Int64
	done  chan struct{}
}

// StartBackend starts a backend on ip (e.g. 127.0.0.2) and a free port; it is
// stopped when the test ends.
func StartBackend(t testing.TB, ip, name string) *Backend {
	t.Helper()
	l, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatalf("backend %s on %s: %v", name, ip, err)
	}
	b := &Backend{Name: name, Addr: l.Addr().String(), done: make(chan struct{})}
	b.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		if r.Header.Get("Upgrade") == "echo" {
			// A minimal protocol upgrade: after 101, echo every byte.
			conn, rw, err := w.(http.Hijacker).Hijack()
			if err != nil {
				return
			}
			defer conn.Close()
			fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\nX-Backend: %s\r\n\r\n", name)
			rw.Flush()
			_, _ = io.Copy(conn, rw)
			return
		}
		if r.Body != nil {
			_, _ = io.Copy(io.Discard, r.Body)
		}
		w.Header().Set("X-Backend", name)
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "%s %s %s\n", name, r.Method, r.URL.Path)
	}), ReadHeaderTimeout: 10 * time.Second, ConnState: func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			b.conns.Add(1)
		}
	}}
	go func() {
		defer close(b.done)
		if err := b.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("backend %s: %v", name, err)
		}
	}()
	t.Cleanup(func() { b.Stop(context.Background()) })
	return b
}

// Conns is the number of connections the backend accepted.
func (b *Backend) Conns() int64 { return b.conns.Load() }

// Hits is the number of requests the backend received.
func (b *Backend) Hits() int64 { return b.hits.Load() }

// Stop shuts the backend down gracefully: in-flight requests finish, idle
// keep-alive connections are closed, new connections are refused.
func (b *Backend) Stop(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := b.srv.Shutdown(ctx)
	<-b.done
	return err
}

// Get sends one request through nginx with a fresh connection and returns the
// status and body.
func Get(t testing.TB, addr, host, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET http://%s%s (Host %s): %v", addr, path, host, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(body))
}
