package lab

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"github.com/switchyard/switchyard/lab/component"
	labkube "github.com/switchyard/switchyard/lab/kube"
	"github.com/switchyard/switchyard/lab/labconfig"
	lablbsync "github.com/switchyard/switchyard/lab/lbsync"
	labmarathon "github.com/switchyard/switchyard/lab/marathon"
	labnginx "github.com/switchyard/switchyard/lab/nginx"
	labnodeagent "github.com/switchyard/switchyard/lab/nodeagent"
)

// Components lists every component of the lab of cfg in start order; self
// is the switchyard binary the components run (`switchyard lab run ...`).
// Each part of the lab owns its specs (its package's Components).
func Components(cfg labconfig.Config, self string) ([]component.Spec, error) {
	var specs []component.Spec
	for _, part := range []func(labconfig.Config, string) ([]component.Spec, error){
		labmarathon.Components,  // the lab's Marathon and its Mesos master view
		labkube.Components,      // etcd, kube-apiserver, controller-manager, scheduler, kwok
		labnginx.Components,     // the shared nginx
		labnodeagent.Components, // the lab nodes as Kubernetes nodes running pods
		lablbsync.Components,    // `lb sync`: routes follow Marathon and Kubernetes
	} {
		s, err := part(cfg, self)
		if err != nil {
			return nil, err
		}
		specs = append(specs, s...)
	}
	return specs, nil
}

// IDFor derives a lab's ID from its directory, so two labs never share a
// marker (and host-level names stay short: interface names have 15 bytes).
func IDFor(dir string) string {
	h := sha256.Sum256([]byte(dir))
	return "lab-" + hex.EncodeToString(h[:4])
}

// WriteNewConfig writes the configuration of a new lab in dir (created when
// missing) to path: labconfig.NewLab's defaults (token auth for the lab
// Marathon), the ID IDFor(dir), the directory "." (relative to path).
func WriteNewConfig(dir, path string) error {
	cfg := labconfig.NewLab()
	cfg.ID = IDFor(dir)
	cfg.Dir = "."
	b, err := cfg.Marshal()
	if err != nil {
		return fmt.Errorf("render default lab config: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create lab directory: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create lab config directory: %w", err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("write lab config: %w", err)
	}
	return nil
}
