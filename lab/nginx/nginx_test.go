package nginx_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/switchyard/switchyard/internal/testenv"
	"github.com/switchyard/switchyard/internal/wanterr"
	"github.com/switchyard/switchyard/lab/labconfig"
	labnginx "github.com/switchyard/switchyard/lab/nginx"
	"github.com/switchyard/switchyard/lab/nginx/nginxtest"
	"github.com/switchyard/switchyard/lab/proc"
	"github.com/switchyard/switchyard/traffic"
)

func TestNewRejectsBadAddresses(t *testing.T) {
	tests := []struct {
		name    string
		modify  func(*labconfig.Config)
		wantErr string
	}{
		{"defaults", func(*labconfig.Config) {}, ""},
		{"admin not loopback", func(c *labconfig.Config) { c.Nginx.Admin = "0.0.0.0:8001" }, "nginx.admin"},
		{"admin a name", func(c *labconfig.Config) { c.Nginx.Admin = "localhost:8001" }, "must be a loopback address"},
		{"admin no port", func(c *labconfig.Config) { c.Nginx.Admin = "127.0.0.1" }, "nginx.admin"},
		{"listen no port", func(c *labconfig.Config) { c.Nginx.Listen = "127.0.0.1" }, "nginx.listen"},
		{"bad pod cidr", func(c *labconfig.Config) { c.Kubernetes.PodCIDR = "fd00::/64" }, "kubernetes.podCIDR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := labconfig.Default()
			tt.modify(&cfg)
			_, err := labnginx.New(cfg)
			wanterr.Check(t, err, tt.wantErr)
		})
	}
}

func TestRenderStaysInsideLabDir(t *testing.T) {
	cfg := labconfig.Default()
	cfg.Dir = "/srv/lab one"
	n, err := labnginx.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	conf, err := n.Render()
	if err != nil {
		t.Fatal(err)
	}
	s := string(conf)
	for _, forbidden := range []string{"/etc/nginx", "/var/log/nginx", "/var/lib/nginx", "/run/nginx.pid"} {
		if strings.Contains(s, forbidden) {
			t.Errorf("config mentions %s", forbidden)
		}
	}
	for _, want := range []string{
		`pid "/srv/lab one/nginx/nginx.pid"`,
		`error_log "/srv/lab one/nginx/error.log"`,
		`proxy_temp_path "/srv/lab one/nginx/tmp/proxy"`,
		`include "/srv/lab one/nginx/switchyard-http.conf";`,
		`include "/srv/lab one/nginx/switchyard-locations.conf";`,
		`access_log "/srv/lab one/nginx/access.log" switchyard`,
		"listen 127.0.0.1:8000 backlog=4096;",
		"daemon off;",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("config lacks %q", want)
		}
	}
	// The module is exactly package lb's, rendered for the lab.
	files, err := n.RenderModule()
	if err != nil {
		t.Fatal(err)
	}
	mod := string(files.HTTPConf) + string(files.LocationsConf)
	for _, want := range []string{
		`state_dir = "/srv/lab one/nginx/state"`,
		`token_file = "/srv/lab one/nginx/admin.token"`,
		`backends = {"127.0.0.0/8", "10.244.0.0/16"}`,
		`loadfile("/srv/lab one/nginx/switchyard.lua")`,
		`listen "127.0.0.1:8001";`,
		"proxy_next_upstream error timeout;",
	} {
		if !strings.Contains(mod, want) {
			t.Errorf("module config lacks %q", want)
		}
	}
	if strings.Contains(s+mod, "lua_package_path") {
		t.Error("lua_package_path is set (it would collide with an operator's own)")
	}
	if got := n.TokenFile; got != "/srv/lab one/nginx/admin.token" {
		t.Errorf("TokenFile = %s", got)
	}
}

func TestCheckInstalledNamesPackages(t *testing.T) {
	cfg := labconfig.Default()
	cfg.Nginx.Binary = "/nonexistent/nginx"
	n, err := labnginx.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = n.CheckInstalled()
	if err == nil || !strings.Contains(err.Error(), "libnginx-mod-http-lua") {
		t.Fatalf("missing binary: error = %v, want one naming the Debian packages", err)
	}
	nginxtest.RequireNginx(t)
	n.Binary = labnginx.DefaultBinary
	n.ModulesDir = t.TempDir()
	err = n.CheckInstalled()
	if err == nil || !strings.Contains(err.Error(), "Lua module") || !strings.Contains(err.Error(), labnginx.DebianPackages) {
		t.Fatalf("missing module: error = %v, want one naming the module and the packages", err)
	}
	if err := n.Prepare(context.Background()); err == nil {
		t.Fatal("Prepare succeeded without the Lua module")
	}
}

func TestComponents(t *testing.T) {
	cfg := labconfig.Default()
	cfg.Dir = "/lab"
	specs, err := labnginx.Components(cfg, "/bin/switchyard")
	if err != nil {
		t.Fatal(err)
	}
	if len(specs) != 1 || specs[0].Name != "nginx" || specs[0].Ready == nil || specs[0].Prepare == nil || specs[0].Cleanup == nil {
		t.Fatalf("specs = %+v", specs)
	}
	if got := strings.Join(specs[0].Argv, " "); got != "/usr/sbin/nginx -p /lab/nginx/ -c /lab/nginx/nginx.conf" {
		t.Errorf("argv = %s", got)
	}
	if len(specs[0].Env) != 1 || specs[0].Env[0] != labconfig.MarkerEnv+"="+cfg.ID {
		t.Errorf("env = %v, want the lab marker", specs[0].Env)
	}
	cfg.Nginx.Enabled = false
	if specs, _ := labnginx.Components(cfg, ""); len(specs) != 0 {
		t.Errorf("disabled nginx still has specs: %+v", specs)
	}
}

func adminDo(t *testing.T, in *nginxtest.Instance, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, in.Nginx.AdminURL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := in.Nginx.AdminHTTPClient().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// TestAdminAPI drives the Lua admin API and balancer of a real nginx.
func TestAdminAPI(t *testing.T) {
	in := nginxtest.Start(t, nil)
	a := nginxtest.StartBackend(t, "127.0.0.2", "a")
	b := nginxtest.StartBackend(t, "127.0.0.3", "b")

	if code, body := adminDo(t, in, "GET", "/healthz", ""); code != 200 || !strings.Contains(body, `"version":0`) {
		t.Fatalf("healthz = %d %s", code, body)
	}
	if code, body := adminDo(t, in, "GET", "/stub_status", ""); code != 200 || !strings.Contains(body, "Active connections") {
		t.Fatalf("stub_status = %d %s", code, body)
	}
	if code, body := nginxtest.Get(t, in.PublicAddr(), "x.test", "/"); code != 404 || !strings.Contains(body, "no route") {
		t.Fatalf("no routes: %d %s, want 404 saying there is no route", code, body)
	}

	state := `{"version":1,"routes":[
	  {"name":"app-a","host":"a.test","pathPrefix":"/","backends":[{"address":"` + a.Addr + `","weight":1,"platform":"marathon","app":"/a \"quoted\" \u00e9","id":"t1"}]},
	  {"name":"app-b","host":"","pathPrefix":"/b","backends":[{"address":"` + b.Addr + `","weight":1,"platform":"kubernetes","app":"b","id":"p1"}]}]}`
	if code, body := adminDo(t, in, "PUT", "/routes", state); code != 200 {
		t.Fatalf("PUT /routes = %d %s", code, body)
	}
	code, body := adminDo(t, in, "GET", "/routes/app-a", "")
	if code != 200 || !strings.Contains(body, `"app":"/a \"quoted\" é"`) {
		t.Fatalf("GET /routes/app-a = %d %s, want the app name decoded and re-encoded", code, body)
	}
	if code, body := nginxtest.Get(t, in.PublicAddr(), "a.test", "/x"); code != 200 || !strings.HasPrefix(body, "a GET /x") {
		t.Fatalf("a.test/x = %d %s", code, body)
	}
	if code, body := nginxtest.Get(t, in.PublicAddr(), "other.test", "/b/c"); code != 200 || !strings.HasPrefix(body, "b GET /b/c") {
		t.Fatalf("other.test/b/c = %d %s", code, body)
	}
	// An HTTP/1.0 client without Host reaches the any-host route, and the
	// backend still gets a Host header.
	conn, err := net.Dial("tcp", in.PublicAddr())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(conn, "GET /b/old HTTP/1.0\r\n\r\n")
	raw, _ := io.ReadAll(conn)
	conn.Close()
	if !strings.HasPrefix(string(raw), "HTTP/1.1 200") || !strings.Contains(string(raw), "b GET /b/old") {
		t.Fatalf("HTTP/1.0 without Host: %q", raw)
	}
	// A protocol upgrade (as WebSocket does) is tunnelled to the backend.
	conn, err = net.Dial("tcp", in.PublicAddr())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(conn, "GET /b/ws HTTP/1.1\r\nHost: other.test\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade through nginx: %v %v", resp, err)
	}
	fmt.Fprint(conn, "ping\n")
	if line, err := br.ReadString('\n'); err != nil || line != "ping\n" {
		t.Fatalf("echo through the upgraded connection: %q %v", line, err)
	}
	conn.Close()
	if code, _ := nginxtest.Get(t, in.PublicAddr(), "other.test", "/bc"); code != 404 {
		t.Fatalf("/bc matched prefix /b: %d", code)
	}
	// The state file was written by nginx too (atomic rename).
	if data, err := os.ReadFile(in.Nginx.StateFile); err != nil || !strings.Contains(string(data), `"version":1`) {
		t.Fatalf("state file after PUT: %v %s", err, data)
	}

	bad := []struct{ name, path, body, want string }{
		{"stale version", "/routes", `{"version":1,"routes":[]}`, "not newer than the active version 1"},
		{"bad json", "/routes", `{"version":2,"routes":[}`, "invalid JSON"},
		{"foreign address", "/routes", `{"version":2,"routes":[{"name":"x","backends":[{"address":"8.8.8.8:80","weight":1,"platform":"marathon"}]}]}`, "is not in the backends networks (127.0.0.0/8, 10.244.0.0/16)"},
		{"negative weight", "/routes", `{"version":2,"routes":[{"name":"x","backends":[{"address":"127.0.0.9:80","weight":-1,"platform":"marathon"}]}]}`, "routes[0].backends[0].weight"},
		{"duplicate name", "/routes", `{"version":2,"routes":[{"name":"x","pathPrefix":"/1"},{"name":"x","pathPrefix":"/2"}]}`, "used twice"},
		{"unknown platform", "/routes", `{"version":2,"routes":[{"name":"x","backends":[{"address":"127.0.0.9:80","weight":1,"platform":"nomad"}]}]}`, "platform"},
		{"route name mismatch", "/routes/app-a", `{"name":"zzz"}`, "must match the path"},
		{"route version mismatch", "/routes/app-a?version=7", `{"name":"app-a"}`, "active version is 1"},
	}
	for _, tc := range bad {
		code, body := adminDo(t, in, "PUT", tc.path, tc.body)
		if code < 400 || !strings.Contains(body, tc.want) {
			t.Errorf("%s: PUT %s = %d %s, want an error containing %q", tc.name, tc.path, code, body, tc.want)
		}
	}
	// Nothing of the refused states was applied.
	if code, body := adminDo(t, in, "GET", "/healthz", ""); code != 200 || !strings.Contains(body, `"version":1,"routes":2`) {
		t.Fatalf("after refused PUTs: healthz = %d %s", code, body)
	}

	// One route: all weights 0 gives a clear 503.
	if code, body := adminDo(t, in, "PUT", "/routes/app-a", `{"host":"a.test","backends":[{"address":"`+a.Addr+`","weight":0,"platform":"marathon"}]}`); code != 200 || !strings.Contains(body, `"version":2`) {
		t.Fatalf("PUT /routes/app-a = %d %s", code, body)
	}
	if code, body := nginxtest.Get(t, in.PublicAddr(), "a.test", "/"); code != 503 || !strings.Contains(body, `route "app-a" has no backend with weight > 0`) {
		t.Fatalf("zero weights: %d %s, want 503 naming the route", code, body)
	}
	if code, body := adminDo(t, in, "DELETE", "/routes/app-a", ""); code != 200 || strings.Contains(body, "app-a") {
		t.Fatalf("DELETE /routes/app-a = %d %s", code, body)
	}
	if code, _ := adminDo(t, in, "DELETE", "/routes/app-a", ""); code != 404 {
		t.Fatalf("second DELETE = %d, want 404", code)
	}
	if code, _ := nginxtest.Get(t, in.PublicAddr(), "a.test", "/b"); code != 200 {
		t.Fatalf("a.test/b after delete should fall to the any-host route /b: %d", code)
	}

	// Connection refused by a backend that left: the request is retried on
	// another backend of the pool, for GET and for POST.
	gone := nginxtest.StartBackend(t, "127.0.0.4", "gone")
	if err := gone.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	pool := `{"backends":[{"address":"` + gone.Addr + `","weight":1,"platform":"marathon"},{"address":"` + b.Addr + `","weight":1,"platform":"kubernetes"}]}`
	if code, body := adminDo(t, in, "PUT", "/routes/retry", pool); code != 200 {
		t.Fatalf("PUT /routes/retry = %d %s", code, body)
	}
	for i := 0; i < 10; i++ {
		resp, err := http.Post("http://"+in.PublicAddr()+"/", "text/plain", strings.NewReader("hello"))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "b POST") {
			t.Fatalf("POST with one refusing backend: %d %s", resp.StatusCode, body)
		}
	}
	if a.Hits() == 0 {
		t.Error("backend a never hit")
	}
}

// TestReloadValidatesFirst: an invalid structural change is refused by
// `nginx -t` with its message and the running nginx keeps serving; a valid
// one is applied by SIGHUP without stopping the master.
func TestReloadValidatesFirst(t *testing.T) {
	in := nginxtest.Start(t, nil)
	be := nginxtest.StartBackend(t, "127.0.0.2", "a")
	if code, body := adminDo(t, in, "PUT", "/routes/web", `{"backends":[{"address":"`+be.Addr+`","weight":1,"platform":"marathon"}]}`); code != 200 {
		t.Fatalf("PUT = %d %s", code, body)
	}
	before, err := os.ReadFile(in.Nginx.Conf)
	if err != nil {
		t.Fatal(err)
	}
	pid := in.Process().ID().PID

	in.Nginx.Listen = "256.0.0.1:80" // not an address: nginx -t refuses it
	err = in.Nginx.Reload(context.Background())
	wanterr.Check(t, err, "reload refused", "nginx -t refused", `"listen" directive`, "nginx.conf.new:")
	after, _ := os.ReadFile(in.Nginx.Conf)
	if string(after) != string(before) {
		t.Error("the active config changed after a refused reload")
	}
	if code, body := nginxtest.Get(t, in.PublicAddr(), "x", "/"); code != 200 || !strings.HasPrefix(body, "a ") {
		t.Fatalf("after refused reload: %d %s", code, body)
	}

	// A valid structural change: a new public port.
	newListen := testenv.FreeAddr(t, "127.0.0.1")
	in.Nginx.Listen = newListen
	if err := in.Nginx.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + newListen + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("new listen address %s not serving after reload: %v\n%s", newListen, err, in.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := in.Process().ID().PID; got != pid || !proc.Alive(in.Process().ID()) {
		t.Errorf("master changed or died across reload")
	}
	// The routes survived the reload (the shared dict is kept, and the state
	// file is reloaded).
	if code, body := adminDo(t, in, "GET", "/routes", ""); code != 200 || !strings.Contains(body, be.Addr) {
		t.Fatalf("routes after reload: %d %s", code, body)
	}
}

// TestCleanupStopsLeftover: Cleanup finds a running nginx of this lab by its
// pid file even though nginx rewrote its environment, and stops it.
func TestCleanupStopsLeftover(t *testing.T) {
	in := nginxtest.Start(t, nil)
	id := in.Process().ID()
	if !proc.Alive(id) {
		t.Fatal("nginx not running")
	}
	if err := in.Nginx.Cleanup(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-in.Process().Done():
	case <-time.After(10 * time.Second):
		t.Fatal("nginx still running after Cleanup")
	}
	if _, err := os.Stat(filepath.Join(in.Nginx.Dir, "nginx.pid")); err == nil {
		t.Error("pid file left behind")
	}
	// Idempotent.
	if err := in.Nginx.Cleanup(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestRestartRestoresState: a restarted nginx loads routes.json.
func TestRestartRestoresState(t *testing.T) {
	in := nginxtest.Start(t, nil)
	be := nginxtest.StartBackend(t, "127.0.0.2", "a")
	if code, body := adminDo(t, in, "PUT", "/routes", `{"version":41,"routes":[{"name":"web","backends":[{"address":"`+be.Addr+`","weight":1,"platform":"marathon"}]}]}`); code != 200 {
		t.Fatalf("PUT = %d %s", code, body)
	}
	in.Restart()
	if code, body := adminDo(t, in, "GET", "/healthz", ""); !strings.Contains(body, `"version":41,"routes":1`) {
		t.Fatalf("after restart: %d %s", code, body)
	}
	if code, body := nginxtest.Get(t, in.PublicAddr(), "x", "/"); code != 200 || !strings.HasPrefix(body, "a ") {
		t.Fatalf("after restart: %d %s", code, body)
	}
	// A corrupt state file stops nginx -t with a message naming the file.
	if err := os.WriteFile(in.Nginx.StateFile, []byte(`{"version":`), 0o644); err != nil {
		t.Fatal(err)
	}
	err := in.Nginx.Prepare(context.Background())
	if err == nil || !strings.Contains(err.Error(), "routes.json") || !strings.Contains(err.Error(), "invalid JSON") {
		t.Fatalf("Prepare with a corrupt state file: %v", err)
	}
}

// TestAdminConcurrentRouteWrites: concurrent PUT /routes/NAME requests, spread
// over nginx's workers, are serialized by the admin lock: none is lost.
func TestAdminConcurrentRouteWrites(t *testing.T) {
	in := nginxtest.Start(t, nil)
	const n = 30
	var wg sync.WaitGroup
	codes := make(chan int, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			code, _ := adminDo(t, in, "PUT", fmt.Sprintf("/routes/r%d", i), fmt.Sprintf(`{"pathPrefix":"/r%d","backends":[{"address":"127.0.0.2:80","weight":%d,"platform":"kubernetes"}]}`, i, i))
			codes <- code
		}(i)
	}
	wg.Wait()
	close(codes)
	for code := range codes {
		if code != 200 {
			t.Errorf("a concurrent PUT got %d", code)
		}
	}
	if code, body := adminDo(t, in, "GET", "/healthz", ""); code != 200 || !strings.Contains(body, fmt.Sprintf(`"version":%d,"routes":%d`, n, n)) {
		t.Fatalf("after %d concurrent PUTs: %d %s", n, code, body)
	}
}

// TestPrepareRefusesTakenPort: a port held by another process is reported
// with the setting to change, before nginx is started.
func TestPrepareRefusesTakenPort(t *testing.T) {
	nginxtest.RequireNginx(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cfg := labconfig.Default()
	cfg.Dir = nginxtest.LabDir(t)
	cfg.Nginx.Listen = l.Addr().String()
	cfg.Nginx.Admin = testenv.FreeAddr(t, "127.0.0.1")
	n, err := labnginx.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = n.Prepare(context.Background())
	if err == nil || !strings.Contains(err.Error(), "nginx.listen "+l.Addr().String()+" cannot be used") {
		t.Fatalf("Prepare with a taken port: %v", err)
	}
}

// TestAdminSurvivesMangledBodies: whatever bytes arrive, the admin API
// answers 200, 400 or 409 (never a Lua error), and the active state stays a
// valid state.
func TestAdminSurvivesMangledBodies(t *testing.T) {
	in := nginxtest.Start(t, nil)
	valid := `{"version":1000000,"routes":[{"name":"a","host":"h","pathPrefix":"/p","backends":[{"address":"127.0.0.2:80","weight":3,"platform":"marathon","app":"x\u00e9\"","id":"t"}]}]}`
	rapid.Check(t, func(rt *rapid.T) {
		b := []byte(valid)
		for i, n := 0, rapid.IntRange(1, 4).Draw(rt, "edits"); i < n; i++ {
			pos := rapid.IntRange(0, len(b)-1).Draw(rt, "pos")
			switch rapid.IntRange(0, 2).Draw(rt, "op") {
			case 0: // replace a byte
				b[pos] = rapid.Byte().Draw(rt, "byte")
			case 1: // cut
				b = append(b[:pos:pos], b[pos+1:]...)
			case 2: // insert a JSON-ish byte
				c := rapid.SampledFrom([]byte(`{}[]",:\0-1e.tfn `)).Draw(rt, "ins")
				b = append(b[:pos:pos], append([]byte{c}, b[pos:]...)...)
			}
		}
		code, body := adminDo(t, in, "PUT", "/routes", string(b))
		if code != 200 && code != 400 && code != 409 {
			rt.Fatalf("PUT %q: %d %s", b, code, body)
		}
	})
	code, body := adminDo(t, in, "GET", "/routes", "")
	if code != 200 {
		t.Fatalf("GET /routes: %d %s", code, body)
	}
	if _, err := traffic.DecodeState([]byte(body), []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix(in.Cfg.Kubernetes.PodCIDR)}); err != nil {
		t.Fatalf("active state after mangled PUTs is invalid: %v\n%s", err, body)
	}
	if strings.Contains(in.Log(), "[error]") && strings.Contains(in.Log(), "lua entry thread aborted") {
		t.Fatalf("Lua errors in the log:\n%s", in.Log())
	}
}

// TestCleanupStopsOrphanedWorkers: a master killed with SIGKILL leaves its
// workers holding the ports; Cleanup finds them by binary and working
// directory, and the next Prepare finds the ports free again.
func TestCleanupStopsOrphanedWorkers(t *testing.T) {
	in := nginxtest.Start(t, nil)
	pid, err := in.Nginx.MasterPID()
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-in.Process().Done()
	// The orphaned workers still answer on the public port.
	time.Sleep(100 * time.Millisecond)
	if code, _ := nginxtest.Get(t, in.PublicAddr(), "x", "/"); code != 404 {
		t.Fatalf("orphaned workers do not answer (%d): the test does not test anything", code)
	}
	if err := in.Nginx.Cleanup(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := in.Nginx.Prepare(context.Background()); err != nil {
		t.Fatalf("Prepare after Cleanup: %v", err)
	}
	// Prepare does the same by itself before a restart.
	in.Restart()
	pid, _ = in.Nginx.MasterPID()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-in.Process().Done()
	if err := in.Nginx.Prepare(context.Background()); err != nil {
		t.Fatalf("Prepare with orphaned workers: %v", err)
	}
	in.Restart()
	if code, _ := nginxtest.Get(t, in.PublicAddr(), "x", "/"); code != 404 {
		t.Fatalf("restarted nginx answers %d", code)
	}
}

// TestAdminToken: the lab creates its admin token once (0600, kept across
// restarts); TrafficClient and AdminHTTPClient send it, other clients get 401.
func TestAdminToken(t *testing.T) {
	in := nginxtest.Start(t, nil)
	st, err := os.Stat(in.Nginx.TokenFile)
	if err != nil || st.Mode().Perm() != 0o600 || st.Size() != 65 {
		t.Fatalf("token file %s: %v %v", in.Nginx.TokenFile, st, err)
	}
	before, _ := os.ReadFile(in.Nginx.TokenFile)

	resp, err := http.Get(in.Nginx.AdminURL() + "/routes")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("GET /routes without the token = %d, want 401", resp.StatusCode)
	}
	be := nginxtest.StartBackend(t, "127.0.0.2", "a")
	tc := in.Nginx.TrafficClient()
	if _, err := tc.SetRoute(context.Background(), traffic.Route{Name: "web", Backends: []traffic.Backend{{Address: be.Addr, Weight: 1, Platform: traffic.Marathon}}}); err != nil {
		t.Fatalf("TrafficClient without the token? %v", err)
	}
	if code, body := nginxtest.Get(t, in.PublicAddr(), "x", "/"); code != 200 || !strings.HasPrefix(body, "a ") {
		t.Fatalf("routed: %d %s", code, body)
	}

	// Kept across a restart (Prepare runs again).
	in.Stop()
	if err := in.Nginx.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	in.Restart()
	if after, _ := os.ReadFile(in.Nginx.TokenFile); string(after) != string(before) {
		t.Error("the token changed across a restart")
	}
	if _, err := tc.Get(context.Background()); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	// An empty state file is refused before nginx starts, naming the file.
	in.Stop()
	if err := os.WriteFile(in.Nginx.StateFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err = in.Nginx.Prepare(context.Background())
	if err == nil || !strings.Contains(err.Error(), in.Nginx.StateFile) || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("Prepare with an empty state file: %v", err)
	}
}

// TestWorkersDoNotRunAsRoot: run as root, the lab's nginx keeps only its
// master as root; the workers (which serve every request and the admin API)
// run as nginx.user, own the routing state directory and nothing else.
func TestWorkersDoNotRunAsRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the tests do not run as root: nginx runs as the test's user")
	}
	in := nginxtest.Start(t, nil)
	u, err := proc.LookupUser(in.Cfg.Nginx.UserName())
	if err != nil {
		t.Fatal(err)
	}
	master := in.Process().ID().PID
	// A worker forked a moment ago is still root until its init drops
	// privileges (nginx answers from the first worker ready): a worker still
	// root after a few seconds is a real failure.
	var workers int
	var rootWorkers []string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		workers, rootWorkers = 0, nil
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			b, err := os.ReadFile("/proc/" + e.Name() + "/status")
			if err != nil || !strings.Contains(string(b), "\nPPid:\t"+strconv.Itoa(master)+"\n") {
				continue
			}
			workers++
			for _, line := range strings.Split(string(b), "\n") {
				if rest, ok := strings.CutPrefix(line, "Uid:\t"); ok {
					if f := strings.Fields(rest); f[0] != strconv.Itoa(int(u.UID)) || f[1] != f[0] {
						rootWorkers = append(rootWorkers, fmt.Sprintf("worker %s runs as uids %v", e.Name(), f))
					}
				}
			}
		}
		if workers > 0 && len(rootWorkers) == 0 || time.Now().After(deadline) {
			break
		}
	}
	for _, w := range rootWorkers {
		t.Errorf("%s, want %d (%s)", w, u.UID, u)
	}
	// The workers write the routing state: a change persists across restarts.
	be := nginxtest.StartBackend(t, "127.0.0.2", "a")
	if code, body := adminDo(t, in, "PUT", "/routes", `{"version":7,"routes":[{"name":"web","backends":[{"address":"`+be.Addr+`","weight":1,"platform":"marathon"}]}]}`); code != 200 {
		t.Fatalf("PUT = %d %s", code, body)
	}
	for path, owner := range map[string]uint32{in.Nginx.StateDir: u.UID, in.Nginx.StateFile: u.UID, in.Nginx.Dir: 0, in.Nginx.TokenFile: 0} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Sys().(*syscall.Stat_t).Uid; got != owner {
			t.Errorf("%s belongs to uid %d, want %d", path, got, owner)
		}
	}
}
