package plan

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Version is the version of the Plan JSON format.
const Version = 1

// Plan is the planner's result and the executor's input
// (`switchyard plan -o json` → `switchyard migrate --wave N --plan FILE`).
type Plan struct {
	// Version is the format version (Version).
	Version int `json:"version"`
	// OK is false when a blocker makes the plan unsatisfiable.
	OK bool `json:"ok"`
	// Options are the options the plan was made with (defaults filled in).
	Options Options `json:"options"`
	// Waves are the waves, in order (Index 1, 2, ...).
	Waves []Wave `json:"waves"`
	// Conflicts are host-port clashes between the platforms found live.
	Conflicts []PortConflict `json:"conflicts,omitempty"`
	// Blockers are every reason the plan cannot be carried out (also listed
	// in their waves).
	Blockers []Blocker `json:"blockers,omitempty"`
	// Warnings note risks the plan does not refuse.
	Warnings []string `json:"warnings,omitempty"`
}

// Wave is a set of apps migrated together (in parallel), after every
// earlier wave.
type Wave struct {
	// Index is 1-based.
	Index int `json:"index"`
	// Apps are the wave's apps, by (inherited) priority then name.
	Apps []AppPlan `json:"apps"`
	// ShareChanges grow Kubernetes shares before the wave's pods start.
	ShareChanges []ShareChange `json:"shareChanges,omitempty"`
	// Blockers make the wave impossible as planned.
	Blockers []Blocker `json:"blockers,omitempty"`
	// Warnings note risks in this wave.
	Warnings []string `json:"warnings,omitempty"`
}

// AppPlan is one app's migration.
type AppPlan struct {
	// Name is the app (app.yaml name; the executor's journal key).
	Name string `json:"name"`
	// MarathonID is the source Marathon app id.
	MarathonID string `json:"marathonId"`
	// Namespace is the Kubernetes namespace of its release ("" = the
	// executor's default).
	Namespace string `json:"namespace,omitempty"`
	// Owner and Priority come from app.yaml; EffectivePriority adds what it
	// inherits from the apps that wait on it.
	Owner             string `json:"owner,omitempty"`
	Priority          int    `json:"priority"`
	EffectivePriority int    `json:"effectivePriority"`
	// DependsOn names the apps it depends on.
	DependsOn []string `json:"dependsOn,omitempty"`
	// Instances is the number of pods.
	Instances int `json:"instances"`
	// Requests are per pod (cpus cores, mem MiB, disk MiB = ephemeral-storage).
	Requests Resources `json:"requests"`
	// Limits are per pod; a zero resource means no limit.
	Limits Resources `json:"limits"`
	// RequestsFrom says where the requests come from: "app.yaml",
	// "marathon", "observed", or a mix ("app.yaml+marathon").
	RequestsFrom string `json:"requestsFrom"`
	// HostPorts are the fixed host ports its pods take.
	HostPorts []int `json:"hostPorts,omitempty"`
	// Placement is where the simulation put its pods (advisory: the
	// scheduler decides).
	Placement []Placement `json:"placement,omitempty"`
	// Route is its route at the shared nginx; Gates its migration gates.
	Route Route `json:"route"`
	Gates Gates `json:"gates"`
}

// Placement is a number of pods on a node.
type Placement struct {
	Node string `json:"node"`
	Pods int    `json:"pods"`
}

// ShareChange grows a node's Kubernetes share.
type ShareChange struct {
	// Node is the node; Joins is true when it joins Kubernetes.
	Node  string `json:"node"`
	Joins bool   `json:"joins,omitempty"`
	// From and To are the share before and after.
	From Resources `json:"from"`
	To   Resources `json:"to"`
	// Allocatable is the node's allocatable after the change.
	Allocatable Resources `json:"allocatable"`
	// For names the apps whose pods need it.
	For []string `json:"for"`
}

// Blocker says why a plan cannot be carried out and what would unblock it.
type Blocker struct {
	// Wave and App are where it blocks.
	Wave int    `json:"wave"`
	App  string `json:"app"`
	// Kind is "capacity", "rollback-room" or "host-port".
	Kind string `json:"kind"`
	// Resource is cpus, mem, disk, or "port N".
	Resource string `json:"resource"`
	// Node is the node that came closest (may be empty).
	Node string `json:"node,omitempty"`
	// Missing is how much more of Resource the Kubernetes side needs on
	// Node; CanGive how much Node can still give without breaking the
	// Marathon side (its live tasks and the rollback room of RollbackFor).
	Missing float64 `json:"missing,omitempty"`
	CanGive float64 `json:"canGive,omitempty"`
	// RollbackFor names the apps whose rollback room limits Node.
	RollbackFor []string `json:"rollbackFor,omitempty"`
	// Message explains it; Unblock lists what would unblock it.
	Message string   `json:"message"`
	Unblock []string `json:"unblock"`
}

// Error renders the blocker as one line.
func (b Blocker) Error() string {
	s := b.Message
	if len(b.Unblock) > 0 {
		s += "; " + strings.Join(b.Unblock, ", or ")
	}
	return s
}

// PortConflict is one host port both platforms hold on a node.
type PortConflict struct {
	// Port and Node locate it ("*" for a NodePort clashing on every node).
	Port int    `json:"port"`
	Node string `json:"node"`
	// Marathon names the Marathon app (and task) holding it.
	Marathon string `json:"marathon"`
	// Kubernetes names the Kubernetes holder (NodePort service or pod hostPort).
	Kubernetes string `json:"kubernetes"`
	// Kind is "nodeport" or "hostport".
	Kind string `json:"kind"`
}

// Wave names the apps of wave n (1-based): the executor's WavePlanner.
func (p *Plan) Wave(n int) ([]string, error) {
	if n < 1 || n > len(p.Waves) {
		return nil, fmt.Errorf("wave %d: the plan has %d wave(s)", n, len(p.Waves))
	}
	w := p.Waves[n-1]
	if len(w.Blockers) > 0 {
		return nil, fmt.Errorf("wave %d is blocked: %s", n, w.Blockers[0].Error())
	}
	names := make([]string, len(w.Apps))
	for i, a := range w.Apps {
		names[i] = a.Name
	}
	return names, nil
}

// App returns the plan of the named app and its wave.
func (p *Plan) App(name string) (AppPlan, int, bool) {
	for _, w := range p.Waves {
		for _, a := range w.Apps {
			if a.Name == name {
				return a, w.Index, true
			}
		}
	}
	return AppPlan{}, 0, false
}

// Decode reads a plan written by `switchyard plan -o json`, checking its
// version and wave numbering.
func Decode(data []byte) (*Plan, error) {
	var p Plan
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("plan: %w (write it with `switchyard plan -o json`)", err)
	}
	if p.Version != Version {
		return nil, fmt.Errorf("plan: version %d, this switchyard reads version %d (plan again with this version)", p.Version, Version)
	}
	for i, w := range p.Waves {
		if w.Index != i+1 {
			return nil, fmt.Errorf("plan: waves[%d].index is %d, want %d", i, w.Index, i+1)
		}
	}
	return &p, nil
}
