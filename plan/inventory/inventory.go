// Package inventory is the planner's edge: it reads both platforms (the
// Marathon apps with their tasks through the marathon client, the Mesos
// master's /master/state through the mesos client, Kubernetes Nodes, Pods
// and Services through client-go) and, with the app.yaml files, builds the
// pure plan.Inventory. Read does the I/O; Build is pure.
package inventory

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/switchyard/switchyard/appspec"
	"github.com/switchyard/switchyard/capacity"
	capinv "github.com/switchyard/switchyard/capacity/inventory"
	"github.com/switchyard/switchyard/convert"
	"github.com/switchyard/switchyard/marathon"
	"github.com/switchyard/switchyard/plan"
)

// MarathonReader lists apps (satisfied by *marathon.Client).
type MarathonReader interface {
	Apps(ctx context.Context, opts marathon.AppsOptions) ([]*marathon.App, error)
}

// Sources are the raw inventories.
type Sources struct {
	// Capacity holds the Mesos state and the Kubernetes Nodes and Pods.
	Capacity capacity.Sources
	// Services are the Kubernetes Services (NodePorts).
	Services []corev1.Service
	// Marathon are the Marathon apps with their tasks embedded.
	Marathon []*marathon.App
}

// Reader reads the sources; Kube may be nil (no Kubernetes yet).
type Reader struct {
	Marathon MarathonReader
	Mesos    capinv.MesosReader
	Kube     kubernetes.Interface
}

// Read fetches every source.
func (r Reader) Read(ctx context.Context) (Sources, error) {
	var src Sources
	cs, err := capinv.Reader{Mesos: r.Mesos, Kube: r.Kube}.Read(ctx)
	if err != nil {
		return src, fmt.Errorf("plan inventory: %w", err)
	}
	src.Capacity = cs
	apps, err := r.Marathon.Apps(ctx, marathon.AppsOptions{Embed: []string{marathon.EmbedAppsTasks}})
	if err != nil {
		return src, fmt.Errorf("plan inventory: list Marathon apps: %w", err)
	}
	src.Marathon = apps
	if r.Kube != nil {
		sl, err := r.Kube.CoreV1().Services(corev1.NamespaceAll).List(ctx, metav1.ListOptions{})
		if err != nil {
			return src, fmt.Errorf("plan inventory: list Kubernetes services: %w", err)
		}
		src.Services = sl.Items
	}
	return src, nil
}

// Options tune Build.
type Options struct {
	// Capacity names nodes and recognizes kubelet wrapper tasks.
	Capacity capacity.BuildOptions
	// Namespace is the Kubernetes namespace of apps whose app.yaml names
	// none (default "default").
	Namespace string
	// Usage is observed peak usage per instance, by app name or Marathon id.
	Usage map[string]plan.Resources
}

// Marathon's defaults for an app that leaves cpus or mem unset.
const (
	defaultCPUs = 1.0
	defaultMem  = 128.0
)

// Build assembles the planner's inventory: the nodes from the capacity
// model, the Marathon tasks (with their host ports) on them, the pods'
// hostPorts and the Services' NodePorts, and one plan.App per app.yaml whose
// Marathon app runs on Marathon (the others are Settled). Errors name the
// app.yaml and field.
func Build(src Sources, specs []*appspec.Spec, o Options) (plan.Inventory, []string, error) {
	var warns []string
	c := capacity.Build(src.Capacity, o.Capacity)
	inv := plan.Inventory{Nodes: make([]plan.Node, len(c.Nodes))}
	byAgent := map[string]int{}
	byHost := map[string]int{}
	byName := map[string]int{}
	kube := map[string]*corev1.Node{}
	for i := range src.Capacity.Nodes {
		kube[src.Capacity.Nodes[i].Name] = &src.Capacity.Nodes[i]
	}
	for i, n := range c.Nodes {
		inv.Nodes[i] = plan.Node{Name: n.Name, Hostname: n.Hostname, Total: n.Total, MesosAllocated: n.MesosAllocated,
			Share: n.KubernetesShare, Allocatable: n.Allocatable, PodRequests: n.PodRequests, Joined: n.Joined,
			Cordoned: n.Cordoned, KubernetesOnly: n.AgentID == ""}
		if kn, ok := kube[n.Name]; ok {
			inv.Nodes[i].Labels = kn.Labels
			if why := unschedulable(kn); why != "" && !n.Cordoned {
				inv.Nodes[i].Cordoned = true
				warns = append(warns, fmt.Sprintf("node %s takes no pods in the plan: %s", n.Name, why))
			}
		} else {
			// Not in Kubernetes yet: it registers with its Mesos attributes
			// as labels (the lab's and the wrapper's convention).
			l := map[string]string{corev1.LabelHostname: n.Name}
			for k, v := range n.Attributes {
				l[k] = v
			}
			inv.Nodes[i].Labels = l
		}
		if n.AgentID != "" {
			byAgent[n.AgentID] = i
		}
		byHost[n.Hostname] = i
		byName[n.Name] = i
	}
	prefix := o.Capacity.WrapperAppPrefix
	if prefix == "" {
		prefix = capacity.DefaultWrapperAppPrefix
	}
	live := map[string]*marathon.App{}
	for _, a := range src.Marathon {
		if a == nil || strings.HasPrefix(a.ID, prefix) {
			continue
		}
		if _, ok := a.Labels[capacity.WrapperLabel]; ok {
			continue
		}
		live[a.ID] = a
		per := perInstance(a)
		for _, t := range a.Tasks {
			if t.State != nil && terminal(*t.State) {
				continue
			}
			i, ok := -1, false
			if t.SlaveID != nil {
				i, ok = lookup(byAgent, *t.SlaveID)
			}
			if !ok && t.Host != nil {
				if i, ok = lookup(byHost, *t.Host); !ok {
					i, ok = lookup(byName, *t.Host)
				}
			}
			if !ok {
				warns = append(warns, fmt.Sprintf("Marathon task %s of %s runs on %s, which is no node of the inventory", t.ID, a.ID, deref(t.Host)))
				continue
			}
			inv.Nodes[i].Tasks = append(inv.Nodes[i].Tasks, plan.Task{ID: t.ID, App: a.ID, Resources: per, Ports: nonZero(t.Ports)})
		}
	}
	for _, p := range src.Capacity.Pods {
		if p.Spec.NodeName == "" || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		i, ok := byName[p.Spec.NodeName]
		if !ok {
			continue
		}
		for _, ctr := range p.Spec.Containers {
			for _, cp := range ctr.Ports {
				if cp.HostPort != 0 {
					inv.Nodes[i].HostPorts = append(inv.Nodes[i].HostPorts, plan.PortUse{Port: int(cp.HostPort), Owner: "pod " + p.Namespace + "/" + p.Name})
				}
			}
		}
	}
	for _, s := range src.Services {
		for _, sp := range s.Spec.Ports {
			if sp.NodePort != 0 {
				inv.NodePorts = append(inv.NodePorts, plan.PortUse{Port: int(sp.NodePort), Owner: "service " + s.Namespace + "/" + s.Name})
			}
		}
	}
	sort.Slice(inv.NodePorts, func(a, b int) bool { return inv.NodePorts[a].Port < inv.NodePorts[b].Port })

	nameOf := map[string]string{}
	for _, s := range specs {
		if s.Marathon != nil && s.Marathon.App != nil {
			nameOf[absID(s.Marathon.App.ID)] = s.Name
		}
	}
	var errs []string
	for _, s := range specs {
		if s.Marathon == nil || s.Marathon.App == nil {
			inv.Settled = append(inv.Settled, s.Name)
			continue
		}
		id := absID(s.Marathon.App.ID)
		la, ok := live[id]
		if !ok {
			inv.Settled = append(inv.Settled, s.Name)
			warns = append(warns, fmt.Sprintf("%s: Marathon app %s is not on Marathon: nothing to migrate (a dependency on it is satisfied)", s.Label(), id))
			continue
		}
		a, err := appOf(s, la, nameOf, o)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		inv.Apps = append(inv.Apps, a)
	}
	if len(errs) > 0 {
		return inv, warns, fmt.Errorf("plan inventory: %s", strings.Join(errs, "; "))
	}
	return inv, warns, nil
}

// appOf builds one app from its app.yaml and its live Marathon app: the
// live instance count and resources (what Marathon runs, and what a
// rollback needs), the fixed host ports of the converted pods, app.yaml's
// requests, limits, route and gates.
func appOf(s *appspec.Spec, live *marathon.App, nameOf map[string]string, o Options) (plan.App, error) {
	ns := o.Namespace
	if s.Helm != nil && s.Helm.Namespace != "" {
		ns = s.Helm.Namespace
	}
	if ns == "" {
		ns = "default"
	}
	a := plan.App{Name: s.Name, MarathonID: absID(live.ID), Owner: s.Owner, Priority: s.Priority, Namespace: ns,
		Marathon: perInstance(live), DependsOn: append([]string{}, s.DependsOn...)}
	if live.Instances != nil {
		a.Instances = *live.Instances
	} else {
		a.Instances = 1
	}
	for _, d := range live.Dependencies {
		if n, ok := nameOf[absID(d)]; ok && !contains(a.DependsOn, n) && n != s.Name {
			a.DependsOn = append(a.DependsOn, n)
		}
	}
	if s.Resources != nil {
		var err error
		if a.Requests, err = plan.ParseQuantities("resources.requests", s.Resources.Requests); err != nil {
			return a, fmt.Errorf("%s: %w", s.Label(), err)
		}
		if a.Limits, err = plan.ParseQuantities("resources.limits", s.Resources.Limits); err != nil {
			return a, fmt.Errorf("%s: %w", s.Label(), err)
		}
	}
	if u, ok := o.Usage[s.Name]; ok {
		a.Observed = &u
	} else if u, ok := o.Usage[a.MarathonID]; ok {
		a.Observed = &u
	}
	res, err := convert.App(s.Marathon.App, convert.Options{Namespace: ns})
	if err != nil {
		return a, fmt.Errorf("%s: marathon: convert the definition: %w", s.Label(), err)
	}
	seen := map[int]bool{}
	for _, rel := range res.Releases {
		var spec *corev1.PodSpec
		switch {
		case rel.Deployment != nil:
			spec = &rel.Deployment.Spec.Template.Spec
		case rel.StatefulSet != nil:
			spec = &rel.StatefulSet.Spec.Template.Spec
		default:
			continue
		}
		a.OnePerNode = a.OnePerNode || onePerNode(spec)
		a.NodeSelector = append(a.NodeSelector, selector(spec)...)
		for _, c := range spec.Containers {
			for _, p := range c.Ports {
				if p.HostPort != 0 && !seen[int(p.HostPort)] {
					seen[int(p.HostPort)] = true
					a.HostPorts = append(a.HostPorts, int(p.HostPort))
				}
			}
		}
	}
	sort.Ints(a.HostPorts)
	a.Route = plan.Route{Name: s.Name, Path: s.RoutePath()}
	if s.Route != nil {
		a.Route.Host, a.Route.Port = s.Route.Host, s.Route.Port
	}
	a.Gates = gates(s.Migration)
	return a, nil
}

// unschedulable says why the scheduler would place no new pod on the
// node: not Ready, or a NoSchedule/NoExecute taint (converted apps carry
// no tolerations); "" when it would.
func unschedulable(n *corev1.Node) string {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady && c.Status != corev1.ConditionTrue {
			return "not Ready (" + string(c.Status) + ")"
		}
	}
	for _, t := range n.Spec.Taints {
		if t.Key == corev1.TaintNodeUnschedulable {
			continue // the cordon itself
		}
		if t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute {
			return fmt.Sprintf("tainted %s=%s:%s", t.Key, t.Value, t.Effect)
		}
	}
	return ""
}

// onePerNode reports a required pod anti-affinity on the hostname (how
// the converter maps hostname:UNIQUE).
func onePerNode(spec *corev1.PodSpec) bool {
	if spec.Affinity == nil || spec.Affinity.PodAntiAffinity == nil {
		return false
	}
	for _, t := range spec.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
		if t.TopologyKey == corev1.LabelHostname {
			return true
		}
	}
	return false
}

// selector is the pod's nodeSelector and its first required node affinity
// term (the converter writes one term) as requirements.
func selector(spec *corev1.PodSpec) []plan.Requirement {
	var out []plan.Requirement
	keys := make([]string, 0, len(spec.NodeSelector))
	for k := range spec.NodeSelector {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, plan.Requirement{Key: k, Operator: "In", Values: []string{spec.NodeSelector[k]}})
	}
	if spec.Affinity != nil && spec.Affinity.NodeAffinity != nil && spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		if terms := spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms; len(terms) > 0 {
			for _, r := range terms[0].MatchExpressions {
				switch r.Operator {
				case corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn, corev1.NodeSelectorOpExists, corev1.NodeSelectorOpDoesNotExist:
					out = append(out, plan.Requirement{Key: r.Key, Operator: string(r.Operator), Values: r.Values})
				}
			}
		}
	}
	return out
}

func gates(m *appspec.Migration) plan.Gates {
	g := plan.Gates{Steps: appspec.DefaultSteps, PausePerStep: plan.Duration(appspec.DefaultPausePerStep), Soak: plan.Duration(appspec.DefaultSoak),
		MaxErrorRate: appspec.DefaultMaxErrorRate, AutoRollback: true}
	if m == nil {
		return g
	}
	if len(m.Steps) > 0 {
		g.Steps = m.Steps
	}
	if m.PausePerStep > 0 {
		g.PausePerStep = plan.Duration(m.PausePerStep)
	}
	if m.Soak > 0 {
		g.Soak = plan.Duration(m.Soak)
	}
	if m.MaxErrorRate != nil {
		g.MaxErrorRate = *m.MaxErrorRate
	}
	g.MaxP99Latency, g.MinRequests = plan.Duration(m.MaxP99Latency), m.MinRequests
	if m.AutoRollback != nil {
		g.AutoRollback = *m.AutoRollback
	}
	return g
}

// perInstance is an app's cpus/mem/disk per instance (Marathon's defaults
// when unset).
func perInstance(a *marathon.App) plan.Resources {
	r := plan.Resources{CPUs: defaultCPUs, Mem: defaultMem}
	if a.CPUs != nil {
		r.CPUs = *a.CPUs
	}
	if a.Mem != nil {
		r.Mem = *a.Mem
	}
	if a.Disk != nil {
		r.Disk = *a.Disk
	}
	return r
}

func terminal(state string) bool {
	switch state {
	case marathon.TaskFinished, marathon.TaskFailed, marathon.TaskKilled, marathon.TaskLost, marathon.TaskError, marathon.TaskGone, marathon.TaskDropped:
		return true
	}
	return false
}

func lookup(m map[string]int, k string) (int, bool) {
	i, ok := m[k]
	return i, ok
}

func deref(s *string) string {
	if s == nil {
		return "an unknown host"
	}
	return *s
}

func nonZero(ps []int) []int {
	var out []int
	for _, p := range ps {
		if p != 0 {
			out = append(out, p)
		}
	}
	return out
}

func absID(id string) string {
	id = strings.TrimSuffix(id, "/")
	if !strings.HasPrefix(id, "/") {
		id = "/" + id
	}
	return id
}

func contains(v []string, s string) bool {
	for _, x := range v {
		if x == s {
			return true
		}
	}
	return false
}
