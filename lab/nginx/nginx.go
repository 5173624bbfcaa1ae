// Package nginx owns the lab's shared nginx: its process and a small main
// config (rendered from a Go template and validated with `nginx -t` before
// use) around the load-balancer module of package lb, included exactly as
// `switchyard lb render` writes it for an operator's nginx. It does not own
// routes: those are pushed at run time through the admin API by package
// traffic, and persisted by nginx in <lab dir>/nginx/routes.json, which nginx
// reloads on start.
//
// Layout under <lab dir>/nginx/: nginx.conf (active main config),
// switchyard-http.conf, switchyard-locations.conf and switchyard.lua (package
// lb's output), admin.token (the admin API's bearer token, 0600, kept across
// restarts), routes.json (routing state), access.log (one JSON object per
// request), error.log, nginx.pid and tmp/ (nginx's temp paths). Nothing
// outside the lab directory is read or written besides the nginx binary and
// its modules.
package nginx

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/template"
	"time"

	"github.com/switchyard/switchyard/lab/component"
	"github.com/switchyard/switchyard/lab/labconfig"
	"github.com/switchyard/switchyard/lab/proc"
	"github.com/switchyard/switchyard/lb"
	"github.com/switchyard/switchyard/traffic"
)

// ComponentName is the supervisor name of the shared nginx.
const ComponentName = "nginx"

// DefaultBinary is Debian's nginx executable.
const DefaultBinary = "/usr/sbin/nginx"

// DefaultModulesDir is where Debian's libnginx-mod-* packages install modules.
const DefaultModulesDir = "/usr/lib/nginx/modules"

// DebianPackages are the packages that provide nginx with its Lua balancer.
const DebianPackages = "nginx libnginx-mod-http-lua lua-resty-core"

//go:embed nginx.conf.tmpl
var confTemplate string

// Layout is where the shared nginx keeps its files inside the lab directory.
type Layout struct {
	// Dir is <lab dir>/nginx, also nginx's prefix (-p).
	Dir string
	// Conf is the active config file.
	Conf string
	// PidFile is written by the nginx master.
	PidFile string
	// ErrorLog is nginx's error log.
	ErrorLog string
	// AccessLog has one JSON object per proxied request (traffic.ParseAccessLog).
	AccessLog string
	// StateFile is the routing state nginx loads on start and its workers
	// write (fsync + rename) on each change, in StateDir (the workers').
	StateFile, StateDir string
	// LabDir is the lab directory (the workers pass through it) and LabID
	// the lab's id.
	LabDir, LabID string
	// TokenFile holds the admin API's bearer token (0600, created once).
	TokenFile string
	// HTTPConf and LocationsConf are package lb's config files; Module is
	// its Lua module.
	HTTPConf, LocationsConf, Module string
	// TempDir holds nginx's body/proxy temp directories.
	TempDir string
}

// LayoutFor returns the file layout of the lab's nginx.
func LayoutFor(cfg labconfig.Config) Layout {
	d := cfg.Path("nginx")
	return Layout{
		Dir:           d,
		Conf:          filepath.Join(d, "nginx.conf"),
		PidFile:       filepath.Join(d, "nginx.pid"),
		ErrorLog:      filepath.Join(d, "error.log"),
		AccessLog:     filepath.Join(d, "access.log"),
		StateFile:     filepath.Join(d, "state", lb.StateFileName),
		StateDir:      filepath.Join(d, "state"),
		LabDir:        cfg.Dir,
		LabID:         cfg.ID,
		TokenFile:     filepath.Join(d, "admin.token"),
		HTTPConf:      filepath.Join(d, lb.HTTPConfName),
		LocationsConf: filepath.Join(d, lb.LocationsConfName),
		Module:        filepath.Join(d, lb.ModuleName),
		TempDir:       filepath.Join(d, "tmp"),
	}
}

// Nginx is the lab's shared nginx: config rendering, validation, start-up
// arguments, readiness and reloads.
type Nginx struct {
	Layout
	// Binary is the nginx executable.
	Binary string
	// ModulesDir holds ndk_http_module.so and ngx_http_lua_module.so.
	ModulesDir string
	// Workers is nginx's worker_processes ("auto" or a number).
	Workers string
	// Listen is the public address; Admin the loopback admin address.
	Listen, Admin string
	// AllowedNetworks are the non-loopback networks backends may live in
	// (the lab's pod network); the module also allows 127.0.0.0/8.
	AllowedNetworks []string
	// ErrorLevel is the error_log level (default "warn").
	ErrorLevel string
	// MarkerEnv is the KEY=VALUE marker of the lab's processes.
	MarkerEnv string
	// User is the account of the workers when nginx runs as root (the
	// master stays root); ignored otherwise.
	User string
}

// New checks the lab's nginx settings and returns the shared nginx. The admin
// address must be on loopback: it changes routing for everyone.
func New(cfg labconfig.Config) (*Nginx, error) {
	n := &Nginx{
		Layout:     LayoutFor(cfg),
		Binary:     cfg.Nginx.Binary,
		ModulesDir: DefaultModulesDir,
		Workers:    "auto",
		Listen:     cfg.Nginx.Listen,
		Admin:      cfg.Nginx.Admin,
		ErrorLevel: "warn",
		MarkerEnv:  labconfig.MarkerEnv + "=" + cfg.ID,
		User:       cfg.Nginx.UserName(),
	}
	if n.Binary == "" {
		n.Binary = DefaultBinary
	}
	host, _, err := net.SplitHostPort(n.Admin)
	if err != nil {
		return nil, fmt.Errorf("nginx.admin: %q must be host:port: %w", n.Admin, err)
	}
	if a, err := netip.ParseAddr(host); err != nil || !a.IsLoopback() {
		return nil, fmt.Errorf("nginx.admin: %q must be a loopback address (the lab keeps the admin API, which changes routing for everyone, on loopback)", n.Admin)
	}
	if _, _, err := net.SplitHostPort(n.Listen); err != nil {
		return nil, fmt.Errorf("nginx.listen: %q must be host:port: %w", n.Listen, err)
	}
	if cfg.Kubernetes.PodCIDR != "" {
		p, err := netip.ParsePrefix(cfg.Kubernetes.PodCIDR)
		if err != nil || !p.Addr().Is4() {
			return nil, fmt.Errorf("kubernetes.podCIDR: %q must be an IPv4 CIDR", cfg.Kubernetes.PodCIDR)
		}
		n.AllowedNetworks = append(n.AllowedNetworks, p.Masked().String())
	}
	return n, nil
}

// AdminURL is the base URL of the admin API (GET/PUT /routes, /healthz, /stub_status).
func (n *Nginx) AdminURL() string { return "http://" + n.Admin }

// PublicURL is the base URL of the load balancer.
func (n *Nginx) PublicURL() string { return "http://" + n.Listen }

// TrafficClient returns the fleet of this one nginx's admin API (what the
// lab's own code uses; the lab's context names the same instance): its
// requests carry the admin token, and backends may be on loopback or in the
// allowed networks.
func (n *Nginx) TrafficClient() *traffic.Fleet {
	return traffic.NewFleet(n.backendCIDRs(), &traffic.Client{Name: "nginx", AdminURL: n.AdminURL(), TokenFile: n.TokenFile})
}

// backendCIDRs are loopback and the allowed networks.
func (n *Nginx) backendCIDRs() []netip.Prefix {
	nets := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	for _, s := range n.AllowedNetworks {
		nets = append(nets, netip.MustParsePrefix(s))
	}
	return nets
}

// AdminHTTPClient returns an HTTP client for the admin API whose requests
// carry the bearer token of TokenFile (read at each request, so a client made
// before the lab created the token works too).
func (n *Nginx) AdminHTTPClient() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &BearerTransport{TokenFile: n.TokenFile}}
}

// BearerTransport adds `Authorization: Bearer <token>` to each request, the
// token read from TokenFile.
type BearerTransport struct {
	// TokenFile holds the token (trimmed, as nginx reads it).
	TokenFile string
	// Base sends the requests (default http.DefaultTransport).
	Base http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t *BearerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	token, err := lb.ReadToken(t.TokenFile)
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("nginx admin: %w", err)
	}
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "Bearer "+token)
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(r)
}

// BackendsCIDRs are the networks the module lets backends be in: loopback
// (the lab's Marathon tasks) and the pod network.
func (n *Nginx) BackendsCIDRs() []string {
	return append([]string{"127.0.0.0/8"}, n.AllowedNetworks...)
}

// LBOptions are the options the lab renders package lb's module with.
func (n *Nginx) LBOptions() lb.Options {
	return lb.Options{
		AdminListen:       n.Admin,
		AdminTokenFile:    n.TokenFile,
		StateDir:          n.StateDir,
		BackendsCIDRs:     n.BackendsCIDRs(),
		ModuleDir:         n.Dir,
		SharedDictSize:    "32m",
		NextUpstreamTries: 3,
	}
}

// CheckInstalled reports a missing nginx, Lua module or lua-resty-core with the
// Debian packages that provide them.
func (n *Nginx) CheckInstalled() error {
	if _, err := exec.LookPath(n.Binary); err != nil {
		return fmt.Errorf("nginx: executable %s not found: install the Debian packages %s (scripts/deps.sh does it): %w", n.Binary, DebianPackages, err)
	}
	for _, m := range []string{"ndk_http_module.so", "ngx_http_lua_module.so"} {
		p := filepath.Join(n.ModulesDir, m)
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("nginx: Lua module %s not found: install the Debian packages %s (scripts/deps.sh does it)", p, DebianPackages)
		}
	}
	const restyCore = "/usr/share/lua/5.1/resty/core.lua"
	if _, err := os.Stat(restyCore); err != nil {
		return fmt.Errorf("nginx: %s not found: install the Debian package lua-resty-core (scripts/deps.sh does it)", restyCore)
	}
	return nil
}

// Render returns the main nginx config for the current settings (it includes
// the files of RenderModule).
func (n *Nginx) Render() ([]byte, error) {
	funcs := template.FuncMap{
		// q quotes a path for nginx.
		"q": func(parts ...string) string { return strconv.Quote(strings.Join(parts, "")) },
		// lua quotes a string for Lua (Go and Lua share the escapes used here).
		"lua": func(s string) string { return strconv.Quote(s) },
	}
	t, err := template.New("nginx.conf").Funcs(funcs).Parse(confTemplate)
	if err != nil {
		return nil, fmt.Errorf("nginx config template: %w", err)
	}
	user := ""
	if os.Geteuid() == 0 {
		user = n.User
	}
	marker, _, _ := strings.Cut(n.MarkerEnv, "=")
	data := map[string]any{
		"ModulesDir": n.ModulesDir, "User": user, "Workers": n.Workers, "PidFile": n.PidFile,
		"ErrorLog": n.ErrorLog, "ErrorLevel": n.ErrorLevel, "MarkerEnv": marker, "TempDir": n.TempDir,
		"StateFile": n.StateFile, "TokenFile": n.TokenFile, "HTTPConf": n.HTTPConf,
		"LocationsConf": n.LocationsConf, "AccessLog": n.AccessLog, "Listen": n.Listen,
		"Admin": n.Admin, "NoFile": noFileLimit(),
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return nil, fmt.Errorf("render nginx config: %w", err)
	}
	return buf.Bytes(), nil
}

// RenderModule returns package lb's files for the lab's settings.
func (n *Nginx) RenderModule() (lb.Files, error) {
	f, err := lb.Render(n.LBOptions())
	if err != nil {
		return lb.Files{}, fmt.Errorf("nginx: %w", err)
	}
	return f, nil
}

// Prepare creates the admin token (once), writes package lb's module files
// and a freshly rendered main config, validating it with `nginx -t` before it
// replaces the active one. On a failed validation the active main config
// stays as it was and the error carries nginx's message verbatim (with
// file:line).
func (n *Nginx) Prepare(ctx context.Context) error {
	if err := n.CheckInstalled(); err != nil {
		return err
	}
	for _, d := range []string{n.Dir, n.TempDir, n.StateDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("nginx: %w", err)
		}
	}
	if err := n.prepareWorkerUser(); err != nil {
		return err
	}
	if _, err := lb.EnsureTokenFile(n.TokenFile); err != nil {
		return fmt.Errorf("nginx: %w", err)
	}
	if _, err := lb.ReadToken(n.TokenFile); err != nil {
		return fmt.Errorf("nginx: %w (remove the file: the lab creates a new one)", err)
	}
	files, err := n.RenderModule()
	if err != nil {
		return err
	}
	if err := files.WriteFiles(n.Dir); err != nil {
		return fmt.Errorf("nginx: %w", err)
	}
	if err := n.checkStateFile(); err != nil {
		return err
	}
	if !n.running() {
		// Workers orphaned by a master that was killed hold the ports:
		// they are this lab's, stop them first.
		if err := n.Cleanup(ctx); err != nil {
			return err
		}
		if err := checkFree(map[string]string{"nginx.listen": n.Listen, "nginx.admin": n.Admin}); err != nil {
			return err
		}
	}
	conf, err := n.Render()
	if err != nil {
		return err
	}
	candidate := n.Conf + ".new"
	if err := os.WriteFile(candidate, conf, 0o644); err != nil {
		return fmt.Errorf("nginx: write %s: %w", candidate, err)
	}
	if err := n.Test(ctx, candidate); err != nil {
		return fmt.Errorf("%w (the active config %s is unchanged; the rejected one is %s)", err, n.Conf, candidate)
	}
	if err := os.Rename(candidate, n.Conf); err != nil {
		return fmt.Errorf("nginx: install config: %w", err)
	}
	return nil
}

// running reports whether this lab's nginx master is running (its pid file
// names a live process whose command line uses our config).
func (n *Nginx) running() bool {
	pid, err := n.MasterPID()
	if err != nil {
		return false
	}
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return err == nil && bytes.Contains(cmdline, []byte(n.Conf))
}

// checkFree fails when one of the addresses cannot be bound (taken by
// another process), naming the setting to change.
func checkFree(addrs map[string]string) error {
	var errs []error
	for field, addr := range addrs {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			errs = append(errs, fmt.Errorf("nginx: %s %s cannot be used: %w (stop what listens there or change %s in the lab config)", field, addr, err, field))
			continue
		}
		l.Close()
	}
	return errors.Join(errs...)
}

// prepareWorkerUser, when nginx runs as root, gives the routing state
// directory to the workers' user (they write the state there; nothing else
// of the lab is theirs) and lets them pass through the lab directory.
// Routing state of a lab made before the state had its own directory moves
// there.
func (n *Nginx) prepareWorkerUser() error {
	old := filepath.Join(n.Dir, lb.StateFileName)
	if _, err := os.Stat(n.StateFile); os.IsNotExist(err) {
		if _, err := os.Stat(old); err == nil {
			if err := os.Rename(old, n.StateFile); err != nil {
				return fmt.Errorf("nginx: move the routing state into %s: %w", n.StateDir, err)
			}
		}
	}
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := proc.LookupUser(n.User)
	if err != nil {
		return fmt.Errorf("nginx: lab.yaml nginx.user (the workers' account): %w (Debian's nginx package creates www-data)", err)
	}
	// The workers write the routing state and the request-body temp
	// files: both move out of a lab directory they cannot reach.
	if n.StateDir, err = proc.WorkDir(u, n.LabDir, n.LabID, n.StateDir); err != nil {
		return fmt.Errorf("nginx: workers: %w", err)
	}
	n.StateFile = filepath.Join(n.StateDir, lb.StateFileName)
	if n.TempDir, err = proc.WorkDir(u, n.LabDir, n.LabID, n.TempDir); err != nil {
		return fmt.Errorf("nginx: workers: %w", err)
	}
	if err := os.Chmod(n.StateDir, 0o700); err != nil {
		return fmt.Errorf("nginx: %w", err)
	}
	paths := []string{n.StateDir}
	if ents, err := os.ReadDir(n.StateDir); err == nil {
		for _, e := range ents {
			paths = append(paths, filepath.Join(n.StateDir, e.Name()))
		}
	}
	for _, p := range paths {
		if err := os.Lchown(p, int(u.UID), int(u.GID)); err != nil {
			return fmt.Errorf("nginx: give the routing state to %s: %w", u, err)
		}
	}
	return nil
}

// checkStateFile refuses a routing state file that nginx would refuse at
// start (`nginx -t` does not run init_by_lua, so it cannot see it): a
// missing file is fine (no routes yet), an empty one is not.
func (n *Nginx) checkStateFile() error {
	data, err := os.ReadFile(n.StateFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("nginx: routing state: %w", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return fmt.Errorf("nginx: routing state %s is empty (fix the file or remove it to start with no routes)", n.StateFile)
	}
	if _, err := traffic.DecodeState(data, n.backendCIDRs()); err != nil {
		return fmt.Errorf("nginx: routing state %s: %w (fix the file or remove it to start with no routes)", n.StateFile, err)
	}
	return nil
}

// Test runs `nginx -t` on a config file and returns nginx's output as the
// error when the config is refused.
func (n *Nginx) Test(ctx context.Context, conf string) error {
	cmd := exec.CommandContext(ctx, n.Binary, "-t", "-q", "-p", n.Dir+"/", "-c", conf)
	out, err := cmd.CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if msg == "" {
			msg = err.Error()
		}
		return fmt.Errorf("nginx -t refused %s: %s", conf, msg)
	}
	return nil
}

// Argv is the command line that runs nginx in the foreground on the active config.
func (n *Nginx) Argv() []string {
	return []string{n.Binary, "-p", n.Dir + "/", "-c", n.Conf}
}

// Ready probes the admin API's /healthz.
func (n *Nginx) Ready(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.AdminURL()+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := probeClient.Do(req)
	if err != nil {
		return fmt.Errorf("nginx admin %s: %w", n.Admin, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("nginx admin %s/healthz: %s: %s", n.AdminURL(), resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

var probeClient = &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// MasterPID reads the running master's PID from the pid file.
func (n *Nginx) MasterPID() (int, error) {
	b, err := os.ReadFile(n.PidFile)
	if err != nil {
		return 0, fmt.Errorf("nginx is not running (no pid file): %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("nginx pid file %s: %q is not a PID", n.PidFile, strings.TrimSpace(string(b)))
	}
	return pid, nil
}

// Reload applies structural changes (listen addresses, the Lua module): it
// renders and validates the new config with `nginx -t` and sends SIGHUP to
// the master only when it is valid. Routes and weights never need a reload.
func (n *Nginx) Reload(ctx context.Context) error {
	pid, err := n.MasterPID()
	if err != nil {
		return err
	}
	if err := n.Prepare(ctx); err != nil {
		return fmt.Errorf("nginx reload refused, still serving the previous config: %w", err)
	}
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		return fmt.Errorf("nginx reload: signal master %d: %w", pid, err)
	}
	return nil
}

// RotateAccessLog moves access.log to access.log.1 (replacing an older one)
// and makes nginx reopen its logs (SIGUSR1), so a long-running lab under load
// does not fill the disk. traffic.Tailer follows the new file.
func (n *Nginx) RotateAccessLog() error {
	pid, err := n.MasterPID()
	if err != nil {
		return err
	}
	if err := os.Rename(n.AccessLog, n.AccessLog+".1"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("rotate nginx access log: %w", err)
	}
	if err := syscall.Kill(pid, syscall.SIGUSR1); err != nil {
		return fmt.Errorf("rotate nginx access log: signal master %d: %w", pid, err)
	}
	return nil
}

// Spec describes nginx for the lab supervisor.
func (n *Nginx) Spec() component.Spec {
	return component.Spec{
		Name:         ComponentName,
		Argv:         n.Argv(),
		Env:          []string{n.MarkerEnv},
		Dir:          n.Dir,
		Address:      n.PublicURL() + " (admin " + n.AdminURL() + ")",
		Ready:        n.Ready,
		ReadyTimeout: 20 * time.Second,
		Prepare:      n.Prepare,
		StopGrace:    10 * time.Second,
		Cleanup:      n.Cleanup,
	}
}

// Cleanup stops what is left of this lab's nginx: a master still running
// (found by its pid file and command line, stopped gracefully with SIGQUIT)
// and any stray nginx process working in this lab's nginx directory (workers
// orphaned by a master killed with SIGKILL keep the listening sockets).
// nginx rewrites its own environment block (setproctitle), so the lab's
// environment marker cannot find these processes; this does. Idempotent.
func (n *Nginx) Cleanup(ctx context.Context) error {
	if n.running() {
		if pid, err := n.MasterPID(); err == nil {
			_ = syscall.Kill(pid, syscall.SIGQUIT)
			if !waitGone(ctx, []int{pid}, 10*time.Second) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	strays := n.strays()
	for _, pid := range strays {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	if !waitGone(ctx, strays, 5*time.Second) {
		return fmt.Errorf("nginx: processes %v of this lab survived SIGKILL", strays)
	}
	return nil
}

// strays lists the processes running the nginx binary with this lab's nginx
// directory as working directory.
func (n *Nginx) strays() []int {
	exe, err := filepath.EvalSymlinks(n.Binary)
	if err != nil {
		return nil
	}
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		base := "/proc/" + e.Name()
		if x, err := os.Readlink(base + "/exe"); err != nil || x != exe {
			continue
		}
		if cwd, err := os.Readlink(base + "/cwd"); err != nil || filepath.Clean(cwd) != filepath.Clean(n.Dir) {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

// waitGone waits until none of pids is a live (non-zombie) process.
func waitGone(ctx context.Context, pids []int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		alive := false
		for _, pid := range pids {
			b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
			if err != nil {
				continue
			}
			if i := bytes.LastIndexByte(b, ')'); i > 0 && len(b) > i+2 && b[i+2] != 'Z' && b[i+2] != 'X' {
				alive = true
			}
		}
		if !alive {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Components returns the shared nginx as a lab component (none when
// cfg.Nginx.Enabled is false). self is unused: nginx runs as itself.
func Components(cfg labconfig.Config, self string) ([]component.Spec, error) {
	if !cfg.Nginx.Enabled {
		return nil, nil
	}
	n, err := New(cfg)
	if err != nil {
		return nil, err
	}
	return []component.Spec{n.Spec()}, nil
}

// noFileLimit is the open-files limit nginx may raise itself to: 65536, or
// the hard limit when that is lower (setrlimit above it fails).
func noFileLimit() uint64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err == nil && rl.Max < 65536 {
		return rl.Max
	}
	return 65536
}
