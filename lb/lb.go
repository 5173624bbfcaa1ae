// Package lb is Switchyard's load-balancer module for the operator's own
// nginx (Debian/Ubuntu nginx with libnginx-mod-http-lua and lua-resty-core,
// or OpenResty): the Lua module (routing state, balancer, statistics, admin
// API) and the two nginx config files that load it, rendered from validated
// options. See docs/load-balancer.md for the contract the module implements.
//
// Render is pure (no I/O); Files.WriteFiles writes its result atomically.
// The package must not depend on the lab: the lab's nginx is built from
// exactly this output, not the other way round.
package lb

import (
	"bytes"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/switchyard/switchyard/internal/atomicfile"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"text/template"
)

// File names written by Files.WriteFiles.
const (
	// HTTPConfName goes inside the operator's http {} block.
	HTTPConfName = "switchyard-http.conf"
	// LocationsConfName goes inside each server {} block that routes.
	LocationsConfName = "switchyard-locations.conf"
	// ModuleName is the Lua module, loaded by absolute path from ModuleDir.
	ModuleName = "switchyard.lua"
	// StateFileName is the routing state file nginx keeps in the state directory.
	StateFileName = "routes.json"
)

// Defaults of the optional options.
const (
	// DefaultLocation is the routing location's prefix (--location).
	DefaultLocation = "/"
	// DefaultSharedDictSize is the switchyard shared dict's size (--shared-dict-size).
	DefaultSharedDictSize = "32m"
	// DefaultNextUpstreamTries is proxy_next_upstream_tries (--next-upstream-tries).
	DefaultNextUpstreamTries = 3
	// MaxNextUpstreamTries bounds --next-upstream-tries.
	MaxNextUpstreamTries = 10
)

// upstreamKeepalive is the number of idle upstream connections each worker keeps.
const upstreamKeepalive = 64

//go:embed switchyard.lua
var module []byte

//go:embed templates/switchyard-http.conf.tmpl
var httpTemplate string

//go:embed templates/switchyard-locations.conf.tmpl
var locationsTemplate string

// Module returns the Lua module (a copy).
func Module() []byte { return bytes.Clone(module) }

// Options are what `switchyard lb render` needs to know about the operator's
// nginx. Errors name the command-line flag of each field.
type Options struct {
	// AdminListen is the admin server's listen address: IP:port (e.g.
	// 127.0.0.1:8001, [::1]:8001, 0.0.0.0:8443) or unix:/absolute/path.
	AdminListen string
	// AdminTokenFile holds the admin bearer token; nginx reads it at start.
	AdminTokenFile string
	// StateDir holds routes.json, written by nginx's workers.
	StateDir string
	// BackendsCIDRs are the only IPv4 networks backends may be in (at least one).
	BackendsCIDRs []string
	// AdminTLSCert and AdminTLSKey (both or none) make the admin server
	// listen with TLS.
	AdminTLSCert, AdminTLSKey string
	// Location is the routing location's prefix (default "/").
	Location string
	// ModuleDir is the absolute directory switchyard.lua will be in on the
	// nginx host (the CLI defaults it to --out).
	ModuleDir string
	// AccessLog, when set, is an absolute path the routing location logs to
	// in the switchyard JSON format (otherwise the server's access_log applies).
	AccessLog string
	// SharedDictSize is the size of the switchyard shared dict, in nginx
	// syntax (default "32m", at least 1m).
	SharedDictSize string
	// NextUpstreamTries is proxy_next_upstream_tries (default 3, at most 10).
	NextUpstreamTries int
}

// Files is the rendered module: what goes next to the operator's nginx config.
type Files struct {
	// HTTPConf is switchyard-http.conf (include inside http {}).
	HTTPConf []byte
	// LocationsConf is switchyard-locations.conf (include inside server {}).
	LocationsConf []byte
	// Module is switchyard.lua (in ModuleDir).
	Module []byte
}

// Render validates opts (filling defaults) and renders the module's files.
// Every problem is reported, each naming its flag.
func Render(opts Options) (Files, error) {
	o, err := opts.normalize()
	if err != nil {
		return Files{}, fmt.Errorf("lb render: %w", err)
	}
	data := templateData{
		Options:    o,
		AdminTLS:   o.AdminTLSCert != "",
		ModulePath: filepath.Join(o.ModuleDir, ModuleName),
		StateFile:  filepath.Join(o.StateDir, StateFileName),
		Keepalive:  upstreamKeepalive,
	}
	httpConf, err := execute(HTTPConfName, httpTemplate, data)
	if err != nil {
		return Files{}, err
	}
	locConf, err := execute(LocationsConfName, locationsTemplate, data)
	if err != nil {
		return Files{}, err
	}
	return Files{HTTPConf: httpConf, LocationsConf: locConf, Module: Module()}, nil
}

type templateData struct {
	Options
	AdminTLS              bool
	ModulePath, StateFile string
	Keepalive             int
}

func execute(name, text string, data templateData) ([]byte, error) {
	t, err := template.New(name).Option("missingkey=error").Funcs(template.FuncMap{
		"q":   quote,
		"lua": quote, // the validated values need no escapes: Lua and nginx quote them alike
	}).Parse(text)
	if err != nil {
		return nil, fmt.Errorf("lb: template %s: %w", name, err)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return nil, fmt.Errorf("lb: render %s: %w", name, err)
	}
	return buf.Bytes(), nil
}

// quote double-quotes a validated value for nginx and Lua; it refuses any
// character either would interpret (a guard: Options validation already
// refused them).
func quote(s string) (string, error) {
	if err := safeChars(s); err != nil {
		return "", fmt.Errorf("lb: refusing to quote %q: %w", s, err)
	}
	return `"` + s + `"`, nil
}

// safeChars accepts printable ASCII without the characters nginx or Lua
// would interpret inside a double-quoted string (quotes, backslash, '$' for
// nginx variables, ';', braces).
func safeChars(s string) error {
	for _, r := range s {
		if r < 0x20 || r > 0x7e {
			return fmt.Errorf("character %q is not printable ASCII", r)
		}
		if strings.ContainsRune(`"'\$;{}`, r) {
			return fmt.Errorf("character %q is not allowed", r)
		}
	}
	return nil
}

var dictSize = regexp.MustCompile(`^([1-9][0-9]*)([kKmM]?)$`)

// normalize checks every option, fills the defaults and returns the options
// as rendered.
func (o Options) normalize() (Options, error) {
	var errs []error
	bad := func(flag, format string, args ...any) {
		errs = append(errs, fmt.Errorf("--%s: %s", flag, fmt.Sprintf(format, args...)))
	}
	path := func(flag, p string) string {
		if p == "" {
			bad(flag, "required (an absolute path)")
			return p
		}
		if !filepath.IsAbs(p) {
			bad(flag, "%q must be an absolute path (nginx resolves relative paths against its own prefix)", p)
			return p
		}
		if err := safeChars(p); err != nil {
			bad(flag, "%q: %v (use a path without quotes, backslashes, '$', ';' or braces)", p, err)
			return p
		}
		return filepath.Clean(p)
	}

	o.AdminListen = strings.TrimSpace(o.AdminListen)
	if err := checkListen(o.AdminListen); err != nil {
		bad("admin-listen", "%v", err)
	}
	o.AdminTokenFile = path("admin-token-file", o.AdminTokenFile)
	o.StateDir = path("state-dir", o.StateDir)
	o.ModuleDir = path("module-dir", o.ModuleDir)

	if len(o.BackendsCIDRs) == 0 {
		bad("backends-cidr", "at least one IPv4 CIDR is required: backends may only be in these networks (e.g. --backends-cidr 10.244.0.0/16; loopback is allowed only with --backends-cidr 127.0.0.0/8)")
	}
	var cidrs []string
	seen := map[string]bool{}
	for _, c := range o.BackendsCIDRs {
		p, err := netip.ParsePrefix(strings.TrimSpace(c))
		if err != nil || !p.Addr().Is4() {
			bad("backends-cidr", "%q must be an IPv4 CIDR such as 10.244.0.0/16", c)
			continue
		}
		s := p.Masked().String()
		if !seen[s] {
			seen[s] = true
			cidrs = append(cidrs, s)
		}
	}
	o.BackendsCIDRs = cidrs

	switch {
	case o.AdminTLSCert == "" && o.AdminTLSKey == "":
	case o.AdminTLSCert == "":
		bad("admin-tls-cert", "required with --admin-tls-key (give both or none)")
	case o.AdminTLSKey == "":
		bad("admin-tls-key", "required with --admin-tls-cert (give both or none)")
	default:
		o.AdminTLSCert = path("admin-tls-cert", o.AdminTLSCert)
		o.AdminTLSKey = path("admin-tls-key", o.AdminTLSKey)
	}
	if strings.HasPrefix(o.AdminListen, "unix:") && o.AdminTLSCert != "" {
		bad("admin-tls-cert", "TLS on a unix socket admin listener is not supported: use an IP:port --admin-listen or drop --admin-tls-cert/--admin-tls-key")
	}

	if o.Location == "" {
		o.Location = DefaultLocation
	}
	if !strings.HasPrefix(o.Location, "/") || strings.ContainsAny(o.Location, " \t") {
		bad("location", "%q must be a path prefix starting with '/' without spaces (e.g. / or /apps/)", o.Location)
	} else if err := safeChars(o.Location); err != nil {
		bad("location", "%q: %v", o.Location, err)
	}

	if o.AccessLog != "" {
		o.AccessLog = path("access-log", o.AccessLog)
	}

	if o.SharedDictSize == "" {
		o.SharedDictSize = DefaultSharedDictSize
	}
	if m := dictSize.FindStringSubmatch(o.SharedDictSize); m == nil {
		bad("shared-dict-size", "%q must be a size such as 32m, 65536k or 1048576", o.SharedDictSize)
	} else {
		n, err := strconv.ParseInt(m[1], 10, 64)
		mult := map[string]int64{"": 1, "k": 1 << 10, "K": 1 << 10, "m": 1 << 20, "M": 1 << 20}[m[2]]
		if err != nil || n > (1<<40)/mult || n*mult < 1<<20 {
			bad("shared-dict-size", "%q must be between 1m and 1048576m", o.SharedDictSize)
		}
	}

	if o.NextUpstreamTries == 0 {
		o.NextUpstreamTries = DefaultNextUpstreamTries
	}
	if o.NextUpstreamTries < 1 || o.NextUpstreamTries > MaxNextUpstreamTries {
		bad("next-upstream-tries", "%d must be between 1 and %d", o.NextUpstreamTries, MaxNextUpstreamTries)
	}
	return o, errors.Join(errs...)
}

// checkListen accepts IP:port and unix:/absolute/path.
func checkListen(s string) error {
	const want = "must be IP:port (e.g. 127.0.0.1:8001, [::1]:8001, 0.0.0.0:8443) or unix:/absolute/path"
	if s == "" {
		return errors.New("required: the admin API's address, " + want[len("must be "):])
	}
	if p, ok := strings.CutPrefix(s, "unix:"); ok {
		if !filepath.IsAbs(p) {
			return fmt.Errorf("%q %s", s, want)
		}
		if err := safeChars(p); err != nil {
			return fmt.Errorf("%q: %v", s, err)
		}
		return nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil || ap.Port() == 0 || ap.Addr().Zone() != "" {
		return fmt.Errorf("%q %s", s, want)
	}
	return nil
}

// WriteFiles writes the three files into dir (created if needed), each
// atomically (temp file, fsync, rename) with mode 0644, the Lua module first.
func (f Files) WriteFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("lb: write files: %w", err)
	}
	for _, w := range []struct {
		name string
		data []byte
	}{{ModuleName, f.Module}, {HTTPConfName, f.HTTPConf}, {LocationsConfName, f.LocationsConf}} {
		if len(w.data) == 0 {
			return fmt.Errorf("lb: write files: %s is empty (render first)", w.name)
		}
		if err := atomicfile.Write(filepath.Join(dir, w.name), w.data, 0o644); err != nil {
			return fmt.Errorf("lb: write files: %w", err)
		}
	}
	return nil
}

// EnsureTokenFile creates path with a new random token (32 random bytes,
// hex) and mode 0600 when it does not exist yet, and keeps an existing one.
// It reports whether it created the file.
func EnsureTokenFile(path string) (created bool, err error) {
	if _, err := os.Stat(path); err == nil {
		return false, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return false, fmt.Errorf("lb: admin token file: %w", err)
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return false, fmt.Errorf("lb: admin token: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return false, fmt.Errorf("lb: admin token file: %w", err)
	}
	if err := atomicfile.Write(path, []byte(hex.EncodeToString(buf)+"\n"), 0o600); err != nil {
		return false, fmt.Errorf("lb: admin token file: %w", err)
	}
	return true, nil
}

// ReadToken returns the token in an admin token file, trimmed as nginx trims it.
func ReadToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("lb: admin token: %w", err)
	}
	t := strings.TrimSpace(string(b))
	if t == "" {
		return "", fmt.Errorf("lb: admin token file %s is empty", path)
	}
	return t, nil
}
