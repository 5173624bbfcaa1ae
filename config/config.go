// Package config owns switchyard's client configuration file: named contexts,
// each saying which Marathon (and how to authenticate to it), which Mesos
// master, which Kubernetes cluster and namespace, which load-balancer
// instances and which migration journal a command works on, in the style of
// kubectl's kubeconfig.
//
// The file is $SWITCHYARD_CONFIG, else ~/.config/switchyard/config.yaml
// ($XDG_CONFIG_HOME/switchyard/config.yaml when that is set):
//
//	apiVersion: switchyard.io/v1
//	kind: Config
//	currentContext: prod
//	contexts:
//	- name: prod
//	  marathon:
//	    url: https://dcos.example/service/marathon
//	    caFile: /etc/ssl/dcos-ca.pem
//	    auth: {type: dcos-token, tokenFile: /etc/switchyard/dcos.token}
//	  mesos: {url: http://leader.mesos:5050}
//	  kubernetes: {kubeconfig: ~/.kube/config, context: prod-admin, namespace: apps}
//	  loadBalancer:
//	    instances:
//	    - {name: lb-1, adminURL: https://10.0.0.5:8443, tokenFile: /etc/switchyard/lb.token}
//	  journal: {path: /var/lib/switchyard/journal.db}
//	  # or, shared by `serve` replicas: the journal and their leader election in etcd
//	  # journal: {type: etcd, endpoints: [https://10.0.0.7:2379], prefix: /switchyard/prod,
//	  #           caFile: /etc/switchyard/etcd-ca.pem, certFile: /etc/switchyard/etcd.crt, keyFile: /etc/switchyard/etcd.key}
//
// The file holds paths to secrets (token, password and key files), never
// secrets. Resolve picks the context a command runs with and applies the
// flags and environment variables that override it (see Resolve for the
// precedence and for which credentials go to which URL).
//
// This package only reads and writes the file and turns a context into
// connection settings (marathon.Config, kubeconfig path, load-balancer
// instance specs); it never talks to Kubernetes or the load balancers.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/switchyard/switchyard/internal/atomicfile"
	"io/fs"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"

	yamlv3 "go.yaml.in/yaml/v3"
	"sigs.k8s.io/yaml"
)

// The file's type identity.
const (
	// APIVersion is the apiVersion of the file this package reads and writes.
	APIVersion = "switchyard.io/v1"
	// Kind is the kind of the file.
	Kind = "Config"
)

// Environment variables read by Path and Resolve (besides marathon.EnvURL,
// marathon.EnvDCOSURL, marathon.EnvDCOSToken and marathon.EnvDCOSSSLVerify).
const (
	// EnvConfig names the config file, replacing the default path.
	EnvConfig = "SWITCHYARD_CONFIG"
	// EnvMesosURL is the Mesos master URL.
	EnvMesosURL = "MESOS_MASTER_URL"
	// EnvKubeconfig is the kubeconfig file.
	EnvKubeconfig = "KUBECONFIG"
	// EnvLBAdmin is a comma-separated list of load-balancer admin API URLs.
	EnvLBAdmin = "SWITCHYARD_LB_ADMIN"
	// EnvLBTokenFile is the admin API token file of the EnvLBAdmin instances.
	EnvLBTokenFile = "SWITCHYARD_LB_TOKEN_FILE"
	// EnvJournal is the migration journal file (a bbolt journal, replacing
	// the context's journal section).
	EnvJournal = "SWITCHYARD_JOURNAL"
)

// Marathon authentication types (MarathonAuth.Type).
const (
	// AuthNone sends no credentials (the default).
	AuthNone = "none"
	// AuthDCOSToken sends the token read from TokenFile as "Authorization: token=<t>".
	AuthDCOSToken = "dcos-token"
	// AuthDCOSLogin logs in as a DC/OS service account (UID and PrivateKeyFile)
	// and sends the token it gets, as AuthDCOSToken does.
	AuthDCOSLogin = "dcos-login"
	// AuthBasic sends HTTP basic auth with Username and the password read from PasswordFile.
	AuthBasic = "basic"
)

// File is the whole config file.
type File struct {
	// APIVersion is APIVersion.
	APIVersion string `json:"apiVersion"`
	// Kind is Kind.
	Kind string `json:"kind"`
	// CurrentContext names the context used when no --context is given.
	CurrentContext string `json:"currentContext,omitempty"`
	// Contexts are the named contexts, in the order they were added.
	Contexts []Context `json:"contexts"`
}

// Context is one named set of endpoints a command works on. Every section
// is optional: a command that needs a section the context lacks says so.
type Context struct {
	// Name identifies the context (--context NAME, currentContext).
	Name string `json:"name"`
	// Marathon is the Marathon API and how to authenticate to it.
	Marathon Marathon `json:"marathon,omitzero"`
	// Mesos is the Mesos master.
	Mesos Mesos `json:"mesos,omitzero"`
	// Kubernetes is the Kubernetes cluster, as a kubeconfig and one of its contexts.
	Kubernetes Kubernetes `json:"kubernetes,omitzero"`
	// LoadBalancer is the fleet of load-balancer instances routes are written to.
	LoadBalancer LoadBalancer `json:"loadBalancer,omitzero"`
	// Journal is where migrations are journaled.
	Journal Journal `json:"journal,omitzero"`
	// Lab is set on the contexts `switchyard lab up` writes.
	Lab Lab `json:"lab,omitzero"`
	// Server is the `switchyard serve` that runs this context's migrations:
	// when set, migrate, rollback, pause, resume, abort and status go to
	// it, and no command runs an executor of its own beside it.
	Server Server `json:"server,omitzero"`

	// Warnings are set by Resolve: environment variables it did not apply
	// and why (e.g. $DCOS_ACS_TOKEN with a Marathon URL from the context).
	// They are never written to the file.
	Warnings []string `json:"-"`
}

// Marathon is how to reach a Marathon API.
type Marathon struct {
	// URL is Marathon's base URL, e.g. https://dcos.example/service/marathon;
	// several comma-separated URLs are tried in order when one is unreachable.
	URL string `json:"url,omitempty"`
	// CAFile is a PEM CA bundle trusted for https (besides the system's).
	CAFile string `json:"caFile,omitempty"`
	// InsecureSkipVerify disables TLS certificate verification.
	InsecureSkipVerify bool `json:"insecureSkipVerify,omitempty"`
	// Auth is how to authenticate.
	Auth MarathonAuth `json:"auth,omitzero"`
}

// MarathonAuth is how to authenticate to Marathon. Secrets stay in files.
type MarathonAuth struct {
	// Type is AuthNone (or empty), AuthDCOSToken, AuthDCOSLogin or AuthBasic.
	Type string `json:"type,omitempty"`
	// TokenFile holds the token (AuthDCOSToken).
	TokenFile string `json:"tokenFile,omitempty"`
	// Username and PasswordFile are the basic-auth credentials (AuthBasic).
	Username     string `json:"username,omitempty"`
	PasswordFile string `json:"passwordFile,omitempty"`
	// UID and PrivateKeyFile are the DC/OS service account (AuthDCOSLogin):
	// its uid and its RSA private key (PEM, PKCS#1 or PKCS#8).
	UID            string `json:"uid,omitempty"`
	PrivateKeyFile string `json:"privateKeyFile,omitempty"`
	// LoginURL is DC/OS's login endpoint (AuthDCOSLogin; default: the
	// Marathon URL with /service/marathon replaced by /acs/api/v1/auth/login).
	LoginURL string `json:"loginURL,omitempty"`

	// Token is a token given by a flag or by $DCOS_ACS_TOKEN; it is never
	// written to the file and takes precedence over Type.
	Token string `json:"-"`
}

// Mesos is how to reach the Mesos master.
type Mesos struct {
	// URL is the master's base URL, e.g. http://leader.mesos:5050.
	URL string `json:"url,omitempty"`
}

// Kubernetes names the Kubernetes cluster through a kubeconfig.
type Kubernetes struct {
	// Kubeconfig is the kubeconfig file (default: $KUBECONFIG, else ~/.kube/config).
	Kubeconfig string `json:"kubeconfig,omitempty"`
	// Context is the kubeconfig context (default: its current-context).
	Context string `json:"context,omitempty"`
	// Namespace is the namespace of apps whose app.yaml names none (default "default").
	Namespace string `json:"namespace,omitempty"`
}

// LoadBalancer is the fleet of load-balancer instances (see docs/load-balancer.md).
type LoadBalancer struct {
	// Instances are the instances' admin APIs; every instance gets every route.
	Instances []LBInstance `json:"instances,omitempty"`
	// BackendsCIDRs are the networks backends may be in (IPv4 CIDRs, the
	// instances' --backends-cidr): a routing state with a backend elsewhere
	// is refused before it is pushed. Empty: any IPv4 backend is pushed and
	// the instances' own allow-list decides.
	BackendsCIDRs []string `json:"backendsCIDRs,omitempty"`
}

// BackendPrefixes parses BackendsCIDRs (empty: 0.0.0.0/0).
func (l LoadBalancer) BackendPrefixes() ([]netip.Prefix, error) {
	if len(l.BackendsCIDRs) == 0 {
		return []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}, nil
	}
	var out []netip.Prefix
	for i, c := range l.BackendsCIDRs {
		p, err := netip.ParsePrefix(strings.TrimSpace(c))
		if err != nil || !p.Addr().Is4() {
			return nil, fmt.Errorf("loadBalancer.backendsCIDRs[%d]: %q is not an IPv4 CIDR (e.g. 10.244.0.0/16)", i, c)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// LBInstance is one load-balancer instance's admin API, as plain data.
type LBInstance struct {
	// Name identifies the instance in messages.
	Name string `json:"name"`
	// AdminURL is the admin API's base URL, e.g. https://10.0.0.5:8443.
	AdminURL string `json:"adminURL"`
	// TokenFile holds the admin API's bearer token.
	TokenFile string `json:"tokenFile,omitempty"`
	// CAFile is a PEM CA bundle trusted for an https AdminURL.
	CAFile string `json:"caFile,omitempty"`
}

// Server is how to reach a `switchyard serve` (its API, docs/serve.md).
type Server struct {
	// URL is its base URL, e.g. https://switchyard.example:8443 (http only
	// to a loopback address: the token would travel in the clear).
	URL string `json:"url,omitempty"`
	// TokenFile holds a bearer token of the server's (operator to change
	// things, viewer to read).
	TokenFile string `json:"tokenFile,omitempty"`
	// CAFile is a PEM CA bundle trusted for an https URL (besides the system's).
	CAFile string `json:"caFile,omitempty"`
}

// Lab ties a context to a local lab.
type Lab struct {
	// Dir is the lab directory.
	Dir string `json:"dir,omitempty"`
}

// Path returns the config file's path: $SWITCHYARD_CONFIG, else
// $XDG_CONFIG_HOME/switchyard/config.yaml, else ~/.config/switchyard/config.yaml
// (os.UserConfigDir's rule on Linux). env is os.Getenv or a stand-in.
func Path(env func(string) string) (string, error) {
	if p := strings.TrimSpace(env(EnvConfig)); p != "" {
		return p, nil
	}
	if x := env("XDG_CONFIG_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "switchyard", "config.yaml"), nil
	}
	home := env("HOME")
	if home == "" {
		return "", fmt.Errorf("no config file: neither $%s nor $HOME is set", EnvConfig)
	}
	return filepath.Join(home, ".config", "switchyard", "config.yaml"), nil
}

// New returns an empty config file.
func New() *File { return &File{APIVersion: APIVersion, Kind: Kind} }

// Load reads and validates the config file at path. A file that does not
// exist is an empty config (no error): the environment alone may configure
// a command. Unknown fields are errors; every error names the file.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return New(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	f, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return f, nil
}

// Parse decodes a config file (YAML or JSON) strictly and validates it.
func Parse(data []byte) (*File, error) {
	f := New()
	if len(bytes.TrimSpace(data)) == 0 {
		return f, nil
	}
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, fmt.Errorf("not valid YAML: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(f); err != nil {
		return nil, fmt.Errorf("%w (see `switchyard config view` for the fields)", err)
	}
	return f, f.Validate()
}

// Marshal renders the file as YAML, its keys in the order of the types'
// fields (apiVersion, kind, currentContext, contexts; name first).
func (f *File) Marshal() ([]byte, error) {
	g := *f
	g.APIVersion, g.Kind = APIVersion, Kind
	if g.Contexts == nil {
		g.Contexts = []Context{}
	}
	return orderedYAML(g)
}

// plainString reports whether s reads back as the same string when written
// unquoted, by the reader of this file (sigs.k8s.io/yaml, YAML 1.1: "y",
// "on", "0x1f" are not strings there).
func plainString(s string) bool {
	var m map[string]any
	if err := yaml.Unmarshal([]byte("v: "+s), &m); err != nil {
		return false
	}
	v, ok := m["v"].(string)
	return ok && v == s
}

// orderedYAML renders v as block-style YAML keeping the key order of its
// JSON encoding (sigs.k8s.io/yaml sorts keys).
func orderedYAML(v any) ([]byte, error) {
	js, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var n yamlv3.Node
	if err := yamlv3.Unmarshal(js, &n); err != nil {
		return nil, err
	}
	var plain func(*yamlv3.Node)
	plain = func(n *yamlv3.Node) {
		n.Style = 0
		if n.Kind == yamlv3.ScalarNode && n.Tag == "!!str" && !plainString(n.Value) {
			n.Style = yamlv3.DoubleQuotedStyle
		}
		for _, c := range n.Content {
			plain(c)
		}
	}
	plain(&n)
	var b bytes.Buffer
	enc := yamlv3.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Save validates f and writes it to path atomically (a temporary file in
// the same directory, fsync'd and renamed over path), with mode 0600 in a
// directory created with mode 0700 when missing. When path is a symbolic
// link (a dotfiles manager's), the file it points to is replaced.
func (f *File) Save(path string) error {
	if err := f.Validate(); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	if target, err := filepath.EvalSymlinks(path); err == nil {
		path = target
	}
	b, err := f.Marshal()
	if err != nil {
		return fmt.Errorf("config %s: render: %w", path, err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	if err := atomicfile.Write(path, b, 0o600); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	return nil
}

// Update loads the file at path, applies change and saves the result,
// holding an exclusive lock (path + ".lock") so that concurrent updates
// (two `lab up`s) do not lose each other's changes.
func Update(path string, change func(*File) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	lk, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("config %s: lock: %w", path, err)
	}
	defer lk.Close()
	if err := syscall.Flock(int(lk.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("config %s: lock: %w", path, err)
	}
	f, err := Load(path)
	if err != nil {
		return err
	}
	if err := change(f); err != nil {
		return err
	}
	return f.Save(path)
}

// Names returns the contexts' names in file order.
func (f *File) Names() []string {
	var out []string
	for _, c := range f.Contexts {
		out = append(out, c.Name)
	}
	return out
}

// Get returns the named context, or an error listing the known ones.
func (f *File) Get(name string) (Context, error) {
	for _, c := range f.Contexts {
		if c.Name == name {
			return c, nil
		}
	}
	return Context{}, f.unknown(name)
}

// unknown is the error for a context name the file does not have.
func (f *File) unknown(name string) error {
	known := "the file has no contexts"
	if len(f.Contexts) > 0 {
		known = "known contexts: " + strings.Join(f.Names(), ", ")
	}
	return &UnknownContextError{Name: name, Known: f.Names(), msg: fmt.Sprintf("context %q not found (%s); create it with `switchyard config set-context %s --marathon-url URL ...`", name, known, name)}
}

// UnknownContextError is the error for a context name the file does not have.
type UnknownContextError struct {
	// Name is the name asked for; Known the names the file has.
	Name  string
	Known []string
	msg   string
}

func (e *UnknownContextError) Error() string { return e.msg }

// Set adds c, or replaces the context with the same name (keeping its place).
func (f *File) Set(c Context) {
	for i := range f.Contexts {
		if f.Contexts[i].Name == c.Name {
			f.Contexts[i] = c
			return
		}
	}
	f.Contexts = append(f.Contexts, c)
}

// Use makes the named context the current one.
func (f *File) Use(name string) error {
	if _, err := f.Get(name); err != nil {
		return err
	}
	f.CurrentContext = name
	return nil
}

// Delete removes the named context; when it was the current one, no
// context is current afterwards.
func (f *File) Delete(name string) error {
	for i, c := range f.Contexts {
		if c.Name == name {
			f.Contexts = slices.Delete(f.Contexts, i, i+1)
			if f.CurrentContext == name {
				f.CurrentContext = ""
			}
			return nil
		}
	}
	return f.unknown(name)
}

// contextName is what a context name may be: letters, digits and . _ - @ :
var contextName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@:-]*$`)

// Validate checks the file: its type, unique well-formed context names, a
// current context that exists, and each context's fields. Errors name the
// context and the field ("context prod: loadBalancer.instances[1].adminURL: ...").
func (f *File) Validate() error {
	var errs []error
	if f.APIVersion != "" && f.APIVersion != APIVersion {
		errs = append(errs, fmt.Errorf("apiVersion: %q: want %s", f.APIVersion, APIVersion))
	}
	if f.Kind != "" && f.Kind != Kind {
		errs = append(errs, fmt.Errorf("kind: %q: want %s", f.Kind, Kind))
	}
	seen := map[string]bool{}
	for i, c := range f.Contexts {
		if seen[c.Name] {
			errs = append(errs, fmt.Errorf("contexts[%d].name: %q is used twice", i, c.Name))
		}
		seen[c.Name] = true
		if err := c.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if f.CurrentContext != "" && !seen[f.CurrentContext] {
		errs = append(errs, fmt.Errorf("currentContext: %q names no context (known: %s)", f.CurrentContext, strings.Join(f.Names(), ", ")))
	}
	return errors.Join(errs...)
}

// Validate checks one context's fields; errors start with "context NAME: ".
func (c Context) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("context %s: %s: %s", c.Name, field, fmt.Sprintf(format, args...)))
	}
	if !contextName.MatchString(c.Name) {
		errs = append(errs, fmt.Errorf("context %q: name: must start with a letter or digit and hold only letters, digits and . _ - @ :", c.Name))
	}
	m := c.Marathon
	if m.URL != "" {
		for _, u := range strings.Split(m.URL, ",") {
			if err := checkURL(strings.TrimSpace(u)); err != nil {
				add("marathon.url", "%v", err)
			}
		}
	}
	a := m.Auth
	set := func(fields ...string) []string {
		vals := map[string]string{"tokenFile": a.TokenFile, "username": a.Username, "passwordFile": a.PasswordFile,
			"uid": a.UID, "privateKeyFile": a.PrivateKeyFile, "loginURL": a.LoginURL}
		var out []string
		for _, k := range []string{"tokenFile", "username", "passwordFile", "uid", "privateKeyFile", "loginURL"} {
			if vals[k] != "" && !slices.Contains(fields, k) {
				out = append(out, k)
			}
		}
		return out
	}
	need := func(field, val, why string) {
		if val == "" {
			add("marathon.auth."+field, "required %s", why)
		}
	}
	var allowed []string
	switch a.Type {
	case "", AuthNone:
	case AuthDCOSToken:
		allowed = []string{"tokenFile"}
		if a.Token == "" {
			need("tokenFile", a.TokenFile, "with type "+AuthDCOSToken+" (a file holding the token)")
		}
	case AuthBasic:
		allowed = []string{"username", "passwordFile"}
		need("username", a.Username, "with type "+AuthBasic)
		need("passwordFile", a.PasswordFile, "with type "+AuthBasic+" (a file holding the password)")
	case AuthDCOSLogin:
		allowed = []string{"uid", "privateKeyFile", "loginURL"}
		need("uid", a.UID, "with type "+AuthDCOSLogin+" (the service account's uid)")
		need("privateKeyFile", a.PrivateKeyFile, "with type "+AuthDCOSLogin+" (the service account's RSA private key, PEM)")
		if a.LoginURL != "" {
			if err := checkURL(a.LoginURL); err != nil {
				add("marathon.auth.loginURL", "%v", err)
			}
		} else if m.URL != "" {
			if _, err := defaultLoginURL(m.URL); err != nil {
				add("marathon.auth.loginURL", "%v", err)
			}
		}
	default:
		add("marathon.auth.type", "%q: use %s, %s, %s or %s", a.Type, AuthNone, AuthDCOSToken, AuthDCOSLogin, AuthBasic)
	}
	if extra := set(allowed...); len(extra) > 0 && isAuthType(a.Type) {
		t := a.Type
		if t == "" {
			t = AuthNone
		}
		add("marathon.auth", "%s: not used with type %s (set type, or remove them)", strings.Join(extra, ", "), t)
	}
	if c.Mesos.URL != "" {
		if err := checkURL(c.Mesos.URL); err != nil {
			add("mesos.url", "%v", err)
		}
	}
	if ns := c.Kubernetes.Namespace; ns != "" && !dnsLabel.MatchString(ns) {
		add("kubernetes.namespace", "%q is not a valid namespace (lower-case letters, digits and -, at most 63)", ns)
	}
	names := map[string]bool{}
	for i, in := range c.LoadBalancer.Instances {
		p := "loadBalancer.instances[" + strconv.Itoa(i) + "]"
		if in.Name == "" {
			add(p+".name", "must not be empty")
		} else if names[in.Name] {
			add(p+".name", "%q is used twice", in.Name)
		}
		names[in.Name] = true
		if in.AdminURL == "" {
			add(p+".adminURL", "must not be empty (the admin API, e.g. https://10.0.0.5:8443)")
		} else if err := checkURL(in.AdminURL); err != nil {
			add(p+".adminURL", "%v", err)
		}
	}
	if _, err := c.LoadBalancer.BackendPrefixes(); err != nil {
		add("loadBalancer.backendsCIDRs", "%v", err)
	}
	c.Journal.validate(add)
	c.Server.validate(add)
	if d := c.Lab.Dir; d != "" && !filepath.IsAbs(d) {
		add("lab.dir", "%q must be an absolute path", d)
	}
	return errors.Join(errs...)
}

// validate checks the server's fields (add reports one).
func (s Server) validate(add func(field, format string, args ...any)) {
	if s.URL == "" {
		if s.TokenFile != "" || s.CAFile != "" {
			add("server.url", "required with server.tokenFile or server.caFile (the serve API, e.g. https://switchyard.example:8443)")
		}
		return
	}
	u, err := url.Parse(s.URL)
	switch {
	case err != nil || checkURL(s.URL) != nil:
		add("server.url", "%q: want https://HOST:PORT", s.URL)
		return
	case u.Scheme == "http" && !loopbackHost(u.Hostname()):
		add("server.url", "%q: http would send the token in the clear; use https (serve --tls-cert/--tls-key), or http only to a loopback address", s.URL)
	case u.Path != "" && u.Path != "/" || u.RawQuery != "":
		add("server.url", "%q: give the base URL only (no path or query)", s.URL)
	}
	if s.TokenFile == "" {
		add("server.tokenFile", "required with server.url (a file holding a token of the server's tokens file, or a Kubernetes token with --token-review)")
	}
}

// loopbackHost reports whether host is localhost or a loopback address.
func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

func isAuthType(t string) bool {
	switch t {
	case "", AuthNone, AuthDCOSToken, AuthDCOSLogin, AuthBasic:
		return true
	}
	return false
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// checkURL accepts an absolute http or https URL with a host.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("%q: want http://HOST:PORT or https://HOST:PORT[/PATH]", raw)
	}
	return nil
}
