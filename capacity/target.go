package capacity

import (
	"bytes"
	"encoding/json"
	"fmt"

	"sigs.k8s.io/yaml"
)

// Target is what a plan aims for (the file given to `capacity plan --target`).
//
//	overhead:            # optional, default DefaultOverhead
//	  kubeReserved: {cpus: 0.1, mem: 256}
//	  evictionHard: {mem: 100, disk: 1024}
//	shares:              # a share per node or per node group
//	  - node: node-1
//	    share: {cpus: 2, mem: 4096, disk: 10240}
//	  - selector: {rack: r2}
//	    share: {cpus: 1, mem: 2048}
//	apps:                # apps to migrate: their tasks become pods on the same nodes
//	  - id: /shop/web
//	    requests: {cpus: 0.5, mem: 256}   # per pod; default: the task's resources
type Target struct {
	// Overhead overrides the kubelet overhead policy.
	Overhead *Overhead `json:"overhead,omitempty"`
	// Shares set the Kubernetes share of nodes (later entries win).
	Shares []ShareTarget `json:"shares,omitempty"`
	// Apps are Marathon apps to migrate.
	Apps []AppTarget `json:"apps,omitempty"`
}

// ShareTarget is the share of one node, of the nodes whose attributes match
// a selector, or of every node (All).
type ShareTarget struct {
	// Node names one node (name, hostname or agent id).
	Node string `json:"node,omitempty"`
	// Selector matches nodes whose attributes have all these values.
	Selector map[string]string `json:"selector,omitempty"`
	// All selects every node.
	All bool `json:"all,omitempty"`
	// Share is the Kubernetes share (zero joins the node with no allocatable).
	Share Resources `json:"share"`
}

// AppTarget is one app to migrate.
type AppTarget struct {
	// ID is the Marathon app id.
	ID string `json:"id"`
	// Requests are the pod requests per instance (default: each task's resources).
	Requests *Resources `json:"requests,omitempty"`
}

// ParseTarget decodes a target from YAML or JSON strictly; errors name the field.
func ParseTarget(data []byte) (Target, error) {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return Target{}, fmt.Errorf("target: not valid YAML: %w", err)
	}
	var t Target
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return Target{}, fmt.Errorf("target: %w (fields: overhead, shares[].node|selector|all + share, apps[].id + requests)", err)
	}
	return t, t.Validate()
}

// Validate checks each entry selects nodes one way and amounts are >= 0.
func (t Target) Validate() error {
	if len(t.Shares) == 0 && len(t.Apps) == 0 {
		return fmt.Errorf("target: nothing to plan: give shares[] or apps[]")
	}
	for i, s := range t.Shares {
		ways := 0
		if s.Node != "" {
			ways++
		}
		if len(s.Selector) > 0 {
			ways++
		}
		if s.All {
			ways++
		}
		if ways != 1 {
			return fmt.Errorf("target: shares[%d]: set exactly one of node, selector or all", i)
		}
		if !s.Share.Equal(s.Share.NonNegative()) || s.Share.Ports != 0 {
			return fmt.Errorf("target: shares[%d].share: amounts must be >= 0 (cpus, mem, disk; no ports)", i)
		}
	}
	for i, a := range t.Apps {
		if a.ID == "" {
			return fmt.Errorf("target: apps[%d].id: required (a Marathon app id such as /shop/web)", i)
		}
		if a.Requests != nil && !a.Requests.Equal(a.Requests.NonNegative()) {
			return fmt.Errorf("target: apps[%d].requests: amounts must be >= 0", i)
		}
	}
	return nil
}

func (s ShareTarget) matches(n Node) bool {
	switch {
	case s.All:
		return true
	case s.Node != "":
		return n.Name == s.Node || n.Hostname == s.Node || (n.AgentID != "" && n.AgentID == s.Node)
	default:
		for k, v := range s.Selector {
			if n.Attributes[k] != v {
				return false
			}
		}
		return true
	}
}
