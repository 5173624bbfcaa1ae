package lab

import (
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
