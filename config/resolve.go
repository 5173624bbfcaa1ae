package config

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/switchyard/switchyard/internal/redact"
	"github.com/switchyard/switchyard/marathon"
)

// Overrides are the command-line flags that override a context's fields;
// zero fields override nothing.
type Overrides struct {
	// MarathonURL replaces the Marathon URL (and, as $MARATHON_URL does, the
	// context's Marathon credentials and TLS settings; see Resolve).
	MarathonURL string
	// MarathonToken is a token sent to Marathon as "Authorization: token=<t>".
	MarathonToken string
	// MarathonTokenFile is a file holding that token.
	MarathonTokenFile string
	// MarathonCAFile is a PEM CA bundle trusted for an https Marathon.
	MarathonCAFile string
	// MarathonInsecure disables TLS verification towards Marathon.
	MarathonInsecure bool
	// MesosURL replaces the Mesos master URL.
	MesosURL string
	// Kubeconfig replaces the kubeconfig file (and drops the context's kubeconfig context).
	Kubeconfig string
	// KubeContext replaces the kubeconfig context.
	KubeContext string
	// Namespace replaces the Kubernetes namespace.
	Namespace string
	// LBAdmin replaces the load-balancer instances by these admin URLs.
	LBAdmin []string
	// LBTokenFile is the token file of the LBAdmin instances.
	LBTokenFile string
	// Journal replaces the journal path.
	Journal string
}

// Resolve returns the context a command runs with.
//
// file is the config file ("" means Path(env)); a missing file is an empty
// config. name is the --context flag; "" means the file's currentContext,
// and with neither the context is empty (named "") so that the environment
// alone configures the command. A name the file does not have is an
// *UnknownContextError listing the known ones. The result is validated.
//
// Precedence, per field: flags (overrides) > environment > context.
//
//   - Marathon: Overrides.MarathonURL, else $MARATHON_URL, else $DCOS_URL +
//     /service/marathon, else the context. A URL from a flag or the
//     environment replaces the context's whole marathon section: its
//     credentials and TLS settings are never sent to a URL they were not
//     configured for. Both get $DCOS_SSL_VERIFY, as marathon.ConfigFromEnv
//     does, but only a URL from the environment gets $DCOS_ACS_TOKEN: an
//     environment token is only sent to the environment's own URL, never to
//     the context's nor to one named by a flag (Overrides.MarathonURL, e.g.
//     --url), which may be any host. Where it is withheld, a warning says
//     so. Overrides.MarathonToken,
//     MarathonTokenFile, MarathonCAFile and MarathonInsecure apply on top,
//     whatever the URL's origin (the operator named both on one command line).
//   - Mesos: Overrides.MesosURL, else $MESOS_MASTER_URL, else the context.
//   - Kubernetes: Overrides.Kubeconfig, else $KUBECONFIG, else the context's
//     kubeconfig; a kubeconfig from a flag or the environment drops the
//     context's kubeconfig context (it names a context of another file).
//     Overrides.KubeContext and Namespace replace theirs.
//   - Load balancers: Overrides.LBAdmin, else $SWITCHYARD_LB_ADMIN
//     (comma-separated), replace the context's instances; they are named
//     lb-1, lb-2... and take their token file from Overrides.LBTokenFile,
//     else $SWITCHYARD_LB_TOKEN_FILE. That token file is not applied to the
//     context's own instances (same rule as the Marathon token).
//   - Journal: Overrides.Journal, else $SWITCHYARD_JOURNAL, else the
//     context's, else ~/.local/state/switchyard/<context>/journal.db
//     (<context> is "default" for the unnamed context). A path from a flag
//     or the environment replaces the whole journal section (a bbolt file,
//     with a warning when it replaces an etcd journal). An etcd journal's
//     prefix defaults to /switchyard/<context>.
//
// Paths starting with ~/ are expanded with $HOME.
func Resolve(file, name string, env func(string) string, o Overrides) (Context, error) {
	if file == "" {
		p, err := Path(env)
		if err != nil {
			return Context{}, err
		}
		file = p
	}
	f, err := Load(file)
	if err != nil {
		return Context{}, err
	}
	if name == "" {
		name = f.CurrentContext
	}
	var c Context
	if name != "" {
		if c, err = f.Get(name); err != nil {
			return Context{}, fmt.Errorf("config %s: %w", file, err)
		}
	}
	c, err = Apply(c, env, o)
	if err != nil {
		return Context{}, fmt.Errorf("config %s: %w", file, err)
	}
	return c, nil
}

// Apply overrides a context with the environment and the flags, by the
// rules of Resolve (which reads the context from the config file first).
func Apply(c Context, env func(string) string, o Overrides) (Context, error) {
	home := env("HOME")
	getenv := func(k string) string { return strings.TrimSpace(env(k)) }

	// Marathon.
	envToken := getenv(marathon.EnvDCOSToken)
	flagToken := o.MarathonToken != "" || o.MarathonTokenFile != ""
	murl, fromFlag := o.MarathonURL, o.MarathonURL != ""
	if murl == "" {
		murl = getenv(marathon.EnvURL)
	}
	if murl == "" {
		if d := getenv(marathon.EnvDCOSURL); d != "" {
			murl = strings.TrimRight(d, "/") + "/service/marathon"
		}
	}
	if murl != "" {
		m := Marathon{URL: murl}
		switch {
		case envToken == "":
		case !fromFlag:
			m.Auth = MarathonAuth{Type: AuthDCOSToken, Token: envToken}
		case !flagToken:
			c.Warnings = append(c.Warnings, fmt.Sprintf("$%s is not sent to the Marathon URL given on the command line (%s): an environment token only goes with $%s or $%s; pass a token flag to authenticate",
				marathon.EnvDCOSToken, redact.URL(murl), marathon.EnvURL, marathon.EnvDCOSURL))
		}
		switch v := getenv(marathon.EnvDCOSSSLVerify); strings.ToLower(v) {
		case "", "true", "1", "yes":
		case "false", "0", "no":
			m.InsecureSkipVerify = true
		default:
			m.CAFile = v
		}
		c.Marathon = m
	} else {
		if envToken != "" && c.Marathon.URL != "" && !flagToken {
			c.Warnings = append(c.Warnings, fmt.Sprintf("$%s is not sent to context %s's Marathon (%s): an environment token only goes with $%s or $%s; the context's auth is used",
				marathon.EnvDCOSToken, c.Name, redact.URL(c.Marathon.URL), marathon.EnvURL, marathon.EnvDCOSURL))
		}
		c.Marathon.CAFile = expand(c.Marathon.CAFile, home)
		a := &c.Marathon.Auth
		a.TokenFile, a.PasswordFile, a.PrivateKeyFile = expand(a.TokenFile, home), expand(a.PasswordFile, home), expand(a.PrivateKeyFile, home)
	}
	switch {
	case o.MarathonToken != "":
		c.Marathon.Auth = MarathonAuth{Type: AuthDCOSToken, Token: o.MarathonToken}
	case o.MarathonTokenFile != "":
		c.Marathon.Auth = MarathonAuth{Type: AuthDCOSToken, TokenFile: expand(o.MarathonTokenFile, home)}
	}
	if o.MarathonCAFile != "" {
		c.Marathon.CAFile = expand(o.MarathonCAFile, home)
	}
	if o.MarathonInsecure {
		c.Marathon.InsecureSkipVerify = true
	}

	// Mesos.
	if u := first(o.MesosURL, getenv(EnvMesosURL)); u != "" {
		c.Mesos.URL = u
	}

	// Kubernetes.
	if kc := first(o.Kubeconfig, getenv(EnvKubeconfig)); kc != "" {
		c.Kubernetes.Kubeconfig, c.Kubernetes.Context = kc, ""
	}
	c.Kubernetes.Kubeconfig = expand(c.Kubernetes.Kubeconfig, home)
	if o.KubeContext != "" {
		c.Kubernetes.Context = o.KubeContext
	}
	if o.Namespace != "" {
		c.Kubernetes.Namespace = o.Namespace
	}

	// Load balancers.
	admins := o.LBAdmin
	if len(admins) == 0 {
		admins = splitList(getenv(EnvLBAdmin))
	}
	if len(admins) > 0 {
		tf := expand(first(o.LBTokenFile, getenv(EnvLBTokenFile)), home)
		c.LoadBalancer.Instances = nil
		for i, u := range admins {
			c.LoadBalancer.Instances = append(c.LoadBalancer.Instances, LBInstance{Name: fmt.Sprintf("lb-%d", i+1), AdminURL: u, TokenFile: tf})
		}
	} else {
		if getenv(EnvLBTokenFile) != "" && len(c.LoadBalancer.Instances) > 0 && o.LBTokenFile == "" {
			c.Warnings = append(c.Warnings, fmt.Sprintf("$%s is not applied to context %s's load-balancer instances: it only goes with $%s; each instance's tokenFile is used",
				EnvLBTokenFile, c.Name, EnvLBAdmin))
		}
		for i := range c.LoadBalancer.Instances {
			in := &c.LoadBalancer.Instances[i]
			in.TokenFile, in.CAFile = expand(in.TokenFile, home), expand(in.CAFile, home)
		}
	}

	// Journal.
	n := c.Name
	if n == "" {
		n = "default"
	}
	jr := &c.Journal
	if jr.Type == JournalEtcd && jr.Prefix == "" {
		jr.Prefix = "/switchyard/" + n
	}
	if j := first(o.Journal, getenv(EnvJournal)); j != "" {
		if jr.Type == JournalEtcd {
			c.Warnings = append(c.Warnings, fmt.Sprintf("the journal file %s (--journal or $%s) replaces context %s's etcd journal: this process is not fenced by the election of the replicas sharing %s",
				j, EnvJournal, n, jr.Prefix))
		}
		*jr = Journal{Path: j}
	}
	jr.Path, jr.CAFile, jr.CertFile, jr.KeyFile = expand(jr.Path, home), expand(jr.CAFile, home), expand(jr.CertFile, home), expand(jr.KeyFile, home)
	if jr.Type != JournalEtcd && jr.Path == "" && home != "" {
		jr.Path = filepath.Join(home, ".local", "state", "switchyard", n, "journal.db")
	}

	c.Server.TokenFile, c.Server.CAFile = expand(c.Server.TokenFile, home), expand(c.Server.CAFile, home)

	if err := c.validateResolved(); err != nil {
		return Context{}, fmt.Errorf("%w (after applying flags and environment)", err)
	}
	return c, nil
}

// validateResolved is Validate for a context that may be unnamed.
func (c Context) validateResolved() error {
	v := c
	if v.Name == "" {
		v.Name = "default"
	}
	return v.Validate()
}

func first(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// expand replaces a leading ~/ with home.
func expand(p, home string) string {
	if home != "" && (p == "~" || strings.HasPrefix(p, "~/")) {
		return filepath.Join(home, strings.TrimPrefix(p, "~"))
	}
	return p
}

// LabDir is the lab directory of a context `lab up` wrote ("" otherwise).
func (c Context) LabDir() string { return c.Lab.Dir }

// KubeconfigPath is the kubeconfig file ("" means the client default:
// $KUBECONFIG, else ~/.kube/config; Resolve already applied $KUBECONFIG).
func (c Context) KubeconfigPath() string { return c.Kubernetes.Kubeconfig }

// KubeContext is the kubeconfig context ("" means its current-context).
func (c Context) KubeContext() string { return c.Kubernetes.Context }

// Namespace is the Kubernetes namespace, "default" when unset.
func (c Context) Namespace() string {
	if c.Kubernetes.Namespace == "" {
		return "default"
	}
	return c.Kubernetes.Namespace
}

// MesosURL is the Mesos master URL ("" when unset).
func (c Context) MesosURL() string { return c.Mesos.URL }

// JournalPath is the migration journal file (Resolve fills in the
// default); "" for an etcd journal.
func (c Context) JournalPath() string { return c.Journal.Path }

// JournalType is JournalBolt or JournalEtcd.
func (c Context) JournalType() string {
	if c.Journal.Type == "" {
		return JournalBolt
	}
	return c.Journal.Type
}

// LBInstances returns the load-balancer instances (a copy).
func (c Context) LBInstances() []LBInstance {
	return append([]LBInstance(nil), c.LoadBalancer.Instances...)
}
