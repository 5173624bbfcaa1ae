package plan

import (
	"fmt"
	"sort"
)

// Conflicts finds the host ports both platforms hold: a Marathon task's
// host port that is a Kubernetes NodePort (reserved on every node), or a
// pod's hostPort on the same node.
func Conflicts(inv Inventory) []PortConflict {
	nodePorts := make(map[int]string, len(inv.NodePorts))
	for _, np := range inv.NodePorts {
		nodePorts[np.Port] = np.Owner
	}
	var out []PortConflict
	for _, n := range inv.Nodes {
		var host map[int]string
		if len(n.HostPorts) > 0 {
			host = make(map[int]string, len(n.HostPorts))
			for _, hp := range n.HostPorts {
				host[hp.Port] = hp.Owner
			}
		}
		for _, t := range n.Tasks {
			for _, p := range t.Ports {
				if p == 0 {
					continue
				}
				who := fmt.Sprintf("app %s (task %s)", t.App, t.ID)
				if o, ok := nodePorts[p]; ok {
					out = append(out, PortConflict{Port: p, Node: n.Name, Marathon: who, Kubernetes: "NodePort of " + o, Kind: "nodeport"})
				}
				if o, ok := host[p]; ok {
					out = append(out, PortConflict{Port: p, Node: n.Name, Marathon: who, Kubernetes: "hostPort of " + o, Kind: "hostport"})
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Node != out[j].Node {
			return out[i].Node < out[j].Node
		}
		if out[i].Port != out[j].Port {
			return out[i].Port < out[j].Port
		}
		return out[i].Marathon < out[j].Marathon
	})
	return out
}

// Message renders a conflict for people.
func (c PortConflict) Message() string {
	return fmt.Sprintf("port %d on %s: Marathon %s and Kubernetes %s both hold it", c.Port, c.Node, c.Marathon, c.Kubernetes)
}
