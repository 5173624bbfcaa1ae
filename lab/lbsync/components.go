// Package lbsync runs `switchyard lb sync` as a lab component: the lab's
// routes (the demo's /demo/<app>, any app labelled for marathon-lb) follow
// the lab's Marathon and Kubernetes all the time, as they would in
// production.
package lbsync

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/switchyard/switchyard/lab/component"
	labkube "github.com/switchyard/switchyard/lab/kube"
	"github.com/switchyard/switchyard/lab/labconfig"
	labmarathon "github.com/switchyard/switchyard/lab/marathon"
	labnginx "github.com/switchyard/switchyard/lab/nginx"
	"github.com/switchyard/switchyard/lbsync"
)

// ComponentName is the lab component name of the route sync.
const ComponentName = "lb-sync"

// StatusFile is where the lab's lb sync writes its status.
func StatusFile(cfg labconfig.Config) string { return cfg.Path("lbsync", "status.json") }

// Components returns the lab's route sync when the lab runs nginx:
// `switchyard lb sync` against the lab's Marathon, its Kubernetes (when
// enabled) and its nginx admin API, started after them, ready once its
// first sync completed.
func Components(cfg labconfig.Config, self string) ([]component.Spec, error) {
	if !cfg.Nginx.Enabled {
		return nil, nil
	}
	n, err := labnginx.New(cfg)
	if err != nil {
		return nil, err
	}
	status := StatusFile(cfg)
	argv := []string{self, "lb", "sync", "--marathon-url", cfg.Marathon.URL(), "--lb-admin", n.AdminURL(),
		"--lb-token-file", labnginx.LayoutFor(cfg).TokenFile, "--status-file", status, "--resync", "2s"}
	if cfg.MarathonAuthEnabled() {
		argv = append(argv, "--marathon-token-file", cfg.MarathonTokenPath())
	}
	after := []string{labmarathon.ComponentName, labnginx.ComponentName}
	if cfg.Kubernetes.Enabled {
		argv = append(argv, "--kubeconfig", labkube.AdminKubeconfig(cfg))
		after = append(after, labkube.APIServerName)
	} else {
		argv = append(argv, "--kubeconfig", "")
	}
	for _, c := range n.BackendsCIDRs() {
		argv = append(argv, "--backends-cidr", c)
	}
	return []component.Spec{{
		Name: ComponentName,
		Argv: argv,
		// Everything comes from the flags above: no switchyard config file
		// (a developer's current context must not leak into the lab).
		Env:     []string{labconfig.MarkerEnv + "=" + cfg.ID, "SWITCHYARD_CONFIG=" + cfg.Path("lbsync", "no-config.yaml")},
		After:   after,
		Address: "routes of " + n.AdminURL(),
		Prepare: func(context.Context) error {
			if err := os.Remove(status); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			return nil
		},
		Ready:        func(context.Context) error { return lbsync.CheckStatusFile(status) },
		ReadyTimeout: 60 * time.Second,
		StopGrace:    5 * time.Second,
	}}, nil
}
