package health

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/testenv"
)

func hostPort(t *testing.T, addr string) (string, int) {
	t.Helper()
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return h, n
}

// closedPort returns a loopback port that nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, p := hostPort(t, l.Addr().String())
	l.Close()
	return p
}

// informationalServer answers every request with a bare 1xx status line,
// then a final 200, like a misbehaving app can.
func informationalServer(t *testing.T, code int) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil || line == "\r\n" {
						break
					}
				}
				fmt.Fprintf(c, "HTTP/1.1 %d %s\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", code, http.StatusText(code))
			}(c)
		}
	}()
	return l.Addr().String()
}

func TestProbe(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) })
	mux.HandleFunc("/created", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) })
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/fail", http.StatusFound) })
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) })
	mux.HandleFunc("/unavailable", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(204)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	tlsSrv := httptest.NewTLSServer(mux) // self-signed: Marathon does not verify
	defer tlsSrv.Close()
	host, port := hostPort(t, srv.Listener.Addr().String())
	_, tlsPort := hostPort(t, tlsSrv.Listener.Addr().String())
	infoHost, infoPort := hostPort(t, informationalServer(t, 102))
	dead := closedPort(t)
	dir := t.TempDir()

	cases := []struct {
		name        string
		check       Check
		healthy     bool
		ignored     bool
		wantMessage []string
	}{
		{"http 200", Check{Protocol: HTTP, Host: host, Port: port, Path: "/ok"}, true, false, []string{"GET http://" + srv.Listener.Addr().String() + "/ok: 200 OK"}},
		{"http default path", Check{Protocol: HTTP, Host: host, Port: port}, true, false, []string{"/: 204 No Content"}},
		{"http 201", Check{Protocol: HTTP, Host: host, Port: port, Path: "/created"}, true, false, []string{"201 Created"}},
		{"http 3xx is healthy and not followed", Check{Protocol: HTTP, Host: host, Port: port, Path: "/redirect"}, true, false, []string{"302 Found"}},
		{"http 500", Check{Protocol: HTTP, Host: host, Port: port, Path: "/fail"}, false, false, []string{"500 Internal Server Error"}},
		{"http 503", Check{Protocol: HTTP, Host: host, Port: port, Path: "/unavailable"}, false, false, []string{"503 Service Unavailable"}},
		{"http 404", Check{Protocol: HTTP, Host: host, Port: port, Path: "/missing"}, false, false, []string{"404 Not Found"}},
		{"mesos_http", Check{Protocol: MesosHTTP, Host: host, Port: port, Path: "/ok"}, true, false, []string{"200 OK"}},
		{"http refused", Check{Protocol: HTTP, Host: "127.0.0.1", Port: dead}, false, false, []string{"connection refused"}},
		{"http timeout", Check{Protocol: HTTP, Host: host, Port: port, Path: "/slow", Timeout: 200 * time.Millisecond}, false, false, []string{"no answer within the 200ms timeout"}},
		{"http 1xx unhealthy", Check{Protocol: HTTP, Host: infoHost, Port: infoPort}, false, false, []string{"102 Processing"}},
		{"http 1xx ignored", Check{Protocol: HTTP, Host: infoHost, Port: infoPort, IgnoreHTTP1xx: true}, false, true, []string{"102 Processing", "ignored"}},
		{"https self-signed", Check{Protocol: HTTPS, Host: host, Port: tlsPort, Path: "/ok"}, true, false, []string{"GET https://", "200 OK"}},
		{"https 500", Check{Protocol: MesosHTTPS, Host: host, Port: tlsPort, Path: "/fail"}, false, false, []string{"500"}},
		{"https to plain http", Check{Protocol: HTTPS, Host: host, Port: port, Path: "/ok"}, false, false, []string{"GET https://"}},
		{"tcp open", Check{Protocol: TCP, Host: host, Port: port}, true, false, []string{"connected"}},
		{"mesos_tcp open", Check{Protocol: MesosTCP, Host: host, Port: port}, true, false, []string{"connected"}},
		{"tcp refused", Check{Protocol: TCP, Host: "127.0.0.1", Port: dead}, false, false, []string{"TCP connect to 127.0.0.1:" + strconv.Itoa(dead), "connection refused"}},
		{"command exit 0", Check{Protocol: COMMAND, Command: "true"}, true, false, []string{`command "true" exited 0`}},
		{"command exit 3 with output", Check{Protocol: COMMAND, Command: "echo broken >&2; exit 3"}, false, false, []string{"exited 3", "output: broken"}},
		{"command sees env", Check{Protocol: COMMAND, Command: `test "$PORT0" = 31000 && test "$HOST" = 127.0.1.1`, Env: map[string]string{"PORT0": "31000", "HOST": "127.0.1.1"}}, true, false, nil},
		{"command env mismatch", Check{Protocol: COMMAND, Command: `test "$PORT0" = 31000`, Env: map[string]string{"PORT0": "31001"}}, false, false, []string{"exited 1"}},
		{"command inherits PATH", Check{Protocol: COMMAND, Command: "command -v sh >/dev/null", Env: map[string]string{"X": "1"}}, true, false, nil},
		{"command in dir", Check{Protocol: COMMAND, Command: `test "$(pwd)" = "` + dir + `"`, Dir: dir}, true, false, nil},
		{"command wrapped", Check{Protocol: COMMAND, Command: `test "$WRAPPED" = yes`, Wrap: []string{"env", "WRAPPED=yes"}}, true, false, nil},
		{"command timeout kills children", Check{Protocol: COMMAND, Command: "sleep 30 & sleep 30", Timeout: 200 * time.Millisecond}, false, false, []string{"did not finish within the 200ms timeout"}},
		{"command wrapper missing", Check{Protocol: COMMAND, Command: "true", Wrap: []string{"/nonexistent/wrapper"}}, false, false, []string{"could not run"}},
		{"invalid protocol", Check{Protocol: "UDP", Host: host, Port: port}, false, false, []string{`protocol "UDP" is not one of`}},
		{"invalid port", Check{Protocol: HTTP, Host: host, Port: 0}, false, false, []string{"port 0 is not within 1-65535"}},
		{"invalid host", Check{Protocol: TCP, Port: 80}, false, false, []string{"host is empty"}},
		{"path without leading slash", Check{Protocol: HTTP, Host: host, Port: port, Path: "ok"}, true, false, []string{"/ok: 200 OK"}},
		{"invalid command", Check{Protocol: COMMAND, Command: "  "}, false, false, []string{"command is empty"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			r := Probe(context.Background(), tc.check)
			if r.Healthy != tc.healthy || r.Ignored != tc.ignored {
				t.Errorf("healthy=%v ignored=%v, want healthy=%v ignored=%v (message %q)", r.Healthy, r.Ignored, tc.healthy, tc.ignored, r.Message)
			}
			for _, w := range tc.wantMessage {
				if !strings.Contains(r.Message, w) {
					t.Errorf("message %q lacks %q", r.Message, w)
				}
			}
			// A timed-out probe must not wait for the slow server or for the
			// command's background children (which would take 5-30s).
			if tc.check.Timeout > 0 && time.Since(start) > 4*time.Second {
				t.Errorf("probe took %s despite a %s timeout", time.Since(start), tc.check.Timeout)
			}
		})
	}
}

func TestProbeHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := Probe(ctx, Check{Protocol: COMMAND, Command: "true"})
	if r.Healthy {
		t.Errorf("a probe with a cancelled context must not pass: %q", r.Message)
	}
}

// TestCommandInNetworkNamespace runs a COMMAND check wrapped in
// `ip netns exec` and checks it really ran inside that namespace.
func TestCommandInNetworkNamespace(t *testing.T) {
	ip, err := exec.LookPath("ip")
	if err != nil || os.Geteuid() != 0 {
		testenv.Missing(t, "network namespace checks need root and the ip command (Debian package iproute2): ip=%v euid=%d", err, os.Geteuid())
	}
	ns := fmt.Sprintf("sy-health-test-%d", os.Getpid())
	if out, err := exec.Command(ip, "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", ns, err, out)
	}
	t.Cleanup(func() { exec.Command(ip, "netns", "delete", ns).Run() })
	var st syscall.Stat_t
	if err := syscall.Stat("/run/netns/"+ns, &st); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("net:[%d]", st.Ino)
	cmd := fmt.Sprintf(`test "$(readlink /proc/self/ns/net)" = %q`, want)

	if r := Probe(context.Background(), Check{Protocol: COMMAND, Command: cmd, Wrap: []string{ip, "netns", "exec", ns}}); !r.Healthy {
		t.Errorf("wrapped command did not run in %s: %s", ns, r.Message)
	}
	if r := Probe(context.Background(), Check{Protocol: COMMAND, Command: cmd}); r.Healthy {
		t.Errorf("unwrapped command claims to run in %s", ns)
	}
}
