package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/switchyard/switchyard/lab/component"
	"github.com/switchyard/switchyard/lab/kube"
	"github.com/switchyard/switchyard/lab/labconfig"
	"github.com/switchyard/switchyard/lab/proc"
)

// ComponentName is the lab component name of a node's agent.
func ComponentName(node string) string { return "node-agent-" + node }

// ConfigPathFor is the config file the agents read: <dir>/lab.yaml when it
// exists, else a copy of cfg that the components' Prepare writes to
// <dir>/run/nodeagent-lab.yaml.
func ConfigPathFor(cfg labconfig.Config) (path string, snapshot bool) {
	p := cfg.Path("lab.yaml")
	if _, err := os.Stat(p); err == nil {
		return p, false
	}
	return cfg.Path("run", "nodeagent-lab.yaml"), true
}

// Components returns one node agent per lab node that has a
// kubernetesShare (after kube-apiserver), each ready when its Node is Ready
// in the API with a fresh Lease, after the cleanup-only PodNetworkName spec
// that stops the lab's pods and removes its network namespaces, bridge and
// volumes on `lab down`. In wrapper mode (labconfig.NodeAgentsWrapper) the
// kubelet wrappers start the agents as Marathon tasks, so only that spec is
// returned.
func Components(cfg labconfig.Config, self string) ([]component.Spec, error) {
	if !cfg.Kubernetes.Enabled {
		return nil, nil
	}
	if _, err := NetworkFor(cfg); err != nil {
		return nil, err
	}
	path, snapshot := ConfigPathFor(cfg)
	var specs []component.Spec
	for i, n := range cfg.Nodes {
		if n.KubernetesShare == nil || cfg.WrapperMode() {
			continue
		}
		if _, err := NodePodCIDR(cfg, i); err != nil {
			return nil, fmt.Errorf("node %s: %w", n.Name, err)
		}
		name := n.Name
		specs = append(specs, component.Spec{
			Name:  ComponentName(name),
			Argv:  []string{self, "lab", "run", "node-agent", "--config", path, "--node", name},
			Env:   []string{labconfig.MarkerEnv + "=" + cfg.ID},
			After: []string{kube.APIServerName},
			// Where the node agent's kubelet API (kubectl logs) answers.
			Address: "https://" + net.JoinHostPort(n.Address, kubeletPort(cfg, i)),
			Prepare: func(context.Context) error {
				if snapshot {
					b, err := cfg.Marshal()
					if err != nil {
						return fmt.Errorf("node agent config: %w", err)
					}
					if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
						return fmt.Errorf("node agent config: %w", err)
					}
					if err := os.WriteFile(path, b, 0o644); err != nil {
						return fmt.Errorf("node agent config: %w", err)
					}
				}
				_, err := kube.NodeKubeconfig(cfg, name)
				return err
			},
			Ready:        func(ctx context.Context) error { return NodeReady(ctx, cfg, name) },
			ReadyTimeout: 60 * time.Second,
			StopGrace:    10 * time.Second,
		})
	}
	// The lab-wide cleanup (every pod, the network, the volumes) is one
	// cleanup-only spec listed first: `lab down` goes in reverse order, so
	// it runs once every agent has stopped (an agent still running would
	// restart the containers, and write their volumes, under it).
	return append([]component.Spec{{Name: PodNetworkName, Cleanup: func(ctx context.Context) error { return Cleanup(ctx, cfg) }}}, specs...), nil
}

// PodNetworkName is the cleanup-only component that removes the lab's pods,
// pod network and volumes on `lab down`, after every node agent stopped.
const PodNetworkName = "pod-network"

// NodeReady checks with the admin credentials that the node is registered,
// its Ready condition is True and its Lease was renewed within its duration.
func NodeReady(ctx context.Context, cfg labconfig.Config, name string) error {
	rc, err := kube.RESTConfig(cfg)
	if err != nil {
		return err
	}
	rc.Timeout = 10 * time.Second
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	n, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("node %s: %w", name, err)
	}
	ready := false
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			ready = c.Status == corev1.ConditionTrue
		}
	}
	if !ready {
		return fmt.Errorf("node %s is registered but not Ready", name)
	}
	l, err := cs.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("node %s lease: %w", name, err)
	}
	if l.Spec.RenewTime == nil || l.Spec.LeaseDurationSeconds == nil ||
		time.Since(l.Spec.RenewTime.Time) > time.Duration(*l.Spec.LeaseDurationSeconds)*time.Second {
		return fmt.Errorf("node %s: its lease is stale (is the node agent running?)", name)
	}
	return nil
}

// Cleanup stops every pod process of the lab (from the persisted pod states
// and whatever still runs in the lab's network namespaces), then removes
// the namespaces and the lab bridge, the pods' volume directories and the
// mount points the lab made on the host (EnsureMountPoint). It is
// idempotent.
func Cleanup(ctx context.Context, cfg labconfig.Config) error {
	nw, err := NetworkFor(cfg)
	if err != nil {
		return err
	}
	states, _ := readStates(cfg.Path("pods"))
	var wg sync.WaitGroup
	for dir, s := range states {
		for _, c := range s.Containers {
			if c.Proc.PID > 0 && proc.Alive(c.Proc) {
				wg.Add(1)
				go func() { defer wg.Done(); proc.StopID(c.Proc, 5*time.Second, nil) }()
			}
		}
		_ = os.Remove(filepath.Join(dir, "state.json"))
	}
	wg.Wait()
	ents, _ := os.ReadDir("/run/netns")
	for _, e := range ents {
		if len(e.Name()) > len(nw.NetnsPrefix) && e.Name()[:len(nw.NetnsPrefix)] == nw.NetnsPrefix {
			for _, pid := range netnsPids(ctx, e.Name()) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	var errs []error
	if err := nw.Cleanup(ctx); err != nil {
		errs = append(errs, fmt.Errorf("lab pod network: %w", err))
	}
	pods, _ := os.ReadDir(cfg.Path("pods"))
	for _, e := range pods {
		if err := os.RemoveAll(filepath.Join(cfg.Path("pods"), e.Name(), VolumesDirName)); err != nil {
			errs = append(errs, fmt.Errorf("pod volumes: %w", err))
		}
	}
	if kept, err := RemoveMountPoints(mountPointLedger(cfg)); err != nil {
		errs = append(errs, err)
	} else if len(kept) > 0 {
		errs = append(errs, fmt.Errorf("mount points the lab made are no longer empty, left in place: %s", strings.Join(kept, ", ")))
	}
	return errors.Join(errs...)
}
