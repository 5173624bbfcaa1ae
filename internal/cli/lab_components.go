package cli

import (
	"github.com/switchyard/switchyard/lab/component"
	labkube "github.com/switchyard/switchyard/lab/kube"
	"github.com/switchyard/switchyard/lab/labconfig"
	lablbsync "github.com/switchyard/switchyard/lab/lbsync"
	labmarathon "github.com/switchyard/switchyard/lab/marathon"
	labnginx "github.com/switchyard/switchyard/lab/nginx"
	labnodeagent "github.com/switchyard/switchyard/lab/nodeagent"
)

// labComponents lists every lab component in start order. Each owning package
// exports a Components(cfg, self) function; self is the switchyard binary path.
// Add one line per provider below.
func labComponents(cfg labconfig.Config, self string) ([]component.Spec, error) {
	var specs []component.Spec
	providers := []func(labconfig.Config, string) ([]component.Spec, error){
		// PROVIDERS: one line each, e.g. labmarathon.Components,
		// the lab's Marathon and its Mesos master view (lab/marathon)
		labmarathon.Components,
		labkube.Components,  // Kubernetes control plane: etcd, apiserver, controller-manager, scheduler, kwok (lab/kube)
		labnginx.Components, // shared nginx (lab/nginx)
		// node agents: the lab nodes as Kubernetes Nodes running pods (lab/nodeagent)
		labnodeagent.Components,
		lablbsync.Components, // `lb sync`: the lab's routes follow Marathon and Kubernetes (lab/lbsync)
	}
	for _, p := range providers {
		s, err := p(cfg, self)
		if err != nil {
			return nil, err
		}
		specs = append(specs, s...)
	}
	return specs, nil
}
