package capacity

// CheckAdd refuses a change that would over-commit a node: adding r to the
// node's Mesos allocations (side SideMesos: a task or a grown share) or to
// its pod requests (side SideKubernetes: a pod). The *OverCommitError names
// the node, the side and the resource. Deploy and plan code call it before
// acting.
func (c Cluster) CheckAdd(node, side string, r Resources) error {
	n, _, ok := c.Node(node)
	if !ok {
		return &BlockedError{Node: node, Resource: "-", Reason: "no such node in the inventory"}
	}
	ctx := "refused"
	switch side {
	case SideKubernetes:
		n.PodRequests = n.PodRequests.Add(noPorts(r))
	default:
		n.MesosAllocated = n.MesosAllocated.Add(r)
	}
	if err := n.Check(); err != nil {
		if oc, ok := err.(*OverCommitError); ok {
			oc.Context = ctx
		}
		return err
	}
	return nil
}
