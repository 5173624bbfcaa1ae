// Package nodeagent owns the lab's node agent: one process per lab node that
// registers the node with the lab's Kubernetes API server (a virtual-kubelet
// node controller keeping the Node and its Lease), with capacity = the node's
// total resources and allocatable = its Kubernetes share (what a kubelet
// started with --system-reserved reports), and runs the pods scheduled to it
// as local processes, each pod in its own network namespace on a per-lab
// bridge, honouring command/args/env, probes, restart policy and termination
// grace and reporting status back. It also serves the kubelet API's
// containerLogs endpoint (kubectl logs) to lab-CA clients in system:masters.
//
// Allocatable comes from the node's kubernetesShare in lab.yaml (re-read
// while running), or, when the kubelet wrapper passes a kubelet-style
// reservation (--system-reserved, --kube-reserved, --eviction-hard or a
// KubeletConfiguration), from the node's total minus that reservation.
//
// Pods run as children of the agent in their own sessions and survive an
// agent restart: the next agent re-adopts them from <lab dir>/pods/*/state.json.
//
// The pure parts (capacity/allocatable, the node object, pod networking
// names and addresses, env and downward-API resolution, command/args
// expansion, image mapping, probe and crash-loop state machines) live in
// their own files and have no I/O; the runtime (runtime.go, container.go),
// the host network plumbing (iproute.go) and the controller wiring (agent.go)
// use them.
package nodeagent
