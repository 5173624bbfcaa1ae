package lab

import (
	"fmt"
	"strings"

	"github.com/switchyard/switchyard/lab/kube"
	"github.com/switchyard/switchyard/lab/labconfig"
	labnginx "github.com/switchyard/switchyard/lab/nginx"
)

// EnvVar is one variable `lab env` exports.
type EnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Env returns the variables that point tools at the lab: MARATHON_URL,
// MESOS_MASTER_URL, KUBECONFIG and PATH (the lab's own kubectl first, when
// Kubernetes is enabled), SWITCHYARD_LB, SWITCHYARD_LB_ADMIN and
// SWITCHYARD_LB_TOKEN_FILE (the admin API's bearer token, when nginx is
// enabled) and SWITCHYARD_LAB_DIR. PATH's value is the directory to prepend.
//
// When the lab Marathon requires a token (marathon.auth: token) and has
// written it, DCOS_ACS_TOKEN follows MARATHON_URL. These variables override
// the switchyard context that `lab up` writes for the lab.
func Env(cfg labconfig.Config) []EnvVar {
	vars := []EnvVar{{"MARATHON_URL", cfg.Marathon.URL()}}
	if tok, err := cfg.MarathonToken(); err == nil && tok != "" {
		vars = append(vars, EnvVar{"DCOS_ACS_TOKEN", tok})
	}
	vars = append(vars, EnvVar{"MESOS_MASTER_URL", cfg.Mesos.URL()})
	if cfg.Kubernetes.Enabled {
		vars = append(vars, EnvVar{"KUBECONFIG", Kubeconfig(cfg)}, EnvVar{"PATH", kube.BinDir(cfg.Kubernetes.Version)})
	}
	if cfg.Nginx.Enabled {
		vars = append(vars,
			EnvVar{"SWITCHYARD_LB", "http://" + cfg.Nginx.Listen},
			EnvVar{"SWITCHYARD_LB_ADMIN", "http://" + cfg.Nginx.Admin},
			EnvVar{"SWITCHYARD_LB_TOKEN_FILE", labnginx.LayoutFor(cfg).TokenFile})
	}
	return append(vars, EnvVar{"SWITCHYARD_LAB_DIR", cfg.Dir})
}

// Kubeconfig is the path of the lab's admin kubeconfig.
func Kubeconfig(cfg labconfig.Config) string { return kube.AdminKubeconfig(cfg) }

// Exports renders vars as POSIX shell `export` lines for `eval`.
func Exports(vars []EnvVar) string {
	var b strings.Builder
	for _, v := range vars {
		if v.Name == "PATH" {
			fmt.Fprintf(&b, "export PATH=%s:\"$PATH\"\n", shellQuote(v.Value))
			continue
		}
		fmt.Fprintf(&b, "export %s=%s\n", v.Name, shellQuote(v.Value))
	}
	return b.String()
}

// shellQuote quotes s for a POSIX shell (only when it needs it).
func shellQuote(s string) string {
	safe := s != ""
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-:@%+=,", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
