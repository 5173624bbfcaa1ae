package lab

import (
	"fmt"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/lab/kube"
	"github.com/switchyard/switchyard/lab/labconfig"
	labnginx "github.com/switchyard/switchyard/lab/nginx"
	"github.com/switchyard/switchyard/marathon"
)

// NginxAdminTokenPath is the file holding the lab nginx's admin API token.
func NginxAdminTokenPath(cfg labconfig.Config) string { return labnginx.LayoutFor(cfg).TokenFile }

// ContextFor returns the switchyard context (package config) that points at
// the lab, named after the lab's ID: its Marathon (with the token file when
// marathon.auth is token), its Mesos master, its Kubernetes (the admin
// kubeconfig, namespace default) when enabled, its nginx as the one
// load-balancer instance when enabled, the journal <dir>/migrate/journal.db
// and lab.dir. `lab up` writes it into the switchyard config and makes it
// current; `lab down` leaves it (a lab brought up again uses it as it is).
func ContextFor(cfg labconfig.Config) config.Context {
	c := config.Context{
		Name:     cfg.ID,
		Marathon: config.Marathon{URL: cfg.Marathon.URL()},
		Mesos:    config.Mesos{URL: cfg.Mesos.URL()},
		Journal:  config.Journal{Path: cfg.Path("migrate", "journal.db")},
		Lab:      config.Lab{Dir: cfg.Dir},
	}
	if cfg.MarathonAuthEnabled() {
		c.Marathon.Auth = config.MarathonAuth{Type: config.AuthDCOSToken, TokenFile: cfg.MarathonTokenPath()}
	}
	if cfg.Kubernetes.Enabled {
		c.Kubernetes = config.Kubernetes{Kubeconfig: Kubeconfig(cfg), Namespace: "default"}
	}
	if cfg.Nginx.Enabled {
		c.LoadBalancer.Instances = []config.LBInstance{{Name: "nginx", AdminURL: "http://" + cfg.Nginx.Admin, TokenFile: NginxAdminTokenPath(cfg)}}
		c.LoadBalancer.BackendsCIDRs = []string{"127.0.0.0/8"}
		if cfg.Kubernetes.PodCIDR != "" {
			c.LoadBalancer.BackendsCIDRs = append(c.LoadBalancer.BackendsCIDRs, cfg.Kubernetes.PodCIDR)
		}
	}
	return c
}

// EtcdJournal is a journal section on the lab's own etcd (Kubernetes
// enabled): TLS with the lab's CA, the certificate of etcd user
// kube.EtcdSwitchyardUser, which reads and writes only under
// kube.EtcdSwitchyardPrefix, and the prefix /switchyard/<lab ID>/<name>.
// It is what `switchyard serve` replicas on the lab share for their HA
// journal and election.
func EtcdJournal(cfg labconfig.Config, name string) config.Journal {
	cert, key := kube.EtcdClientCert(cfg)
	return config.Journal{Type: config.JournalEtcd, Endpoints: []string{kube.EtcdEndpoint(cfg)},
		Prefix: kube.EtcdSwitchyardPrefix + cfg.ID + "/" + name, CAFile: kube.CAFile(cfg), CertFile: cert, KeyFile: key}
}

// SaveContext writes ContextFor(cfg) into the switchyard config file at
// path (replacing a context of the same name) and makes it current.
func SaveContext(path string, cfg labconfig.Config) (config.Context, error) {
	c := ContextFor(cfg)
	err := config.Update(path, func(f *config.File) error {
		f.Set(c)
		return f.Use(c.Name)
	})
	if err != nil {
		return c, fmt.Errorf("write the lab's context: %w", err)
	}
	return c, nil
}

// MarathonConfig is the marathon client configuration of the lab's own
// clients: the lab Marathon's URL and, with marathon.auth: token, its token.
func MarathonConfig(cfg labconfig.Config) (marathon.Config, error) {
	tok, err := cfg.MarathonToken()
	if err != nil {
		return marathon.Config{}, err
	}
	return marathon.Config{URL: cfg.Marathon.URL(), Token: tok}, nil
}
