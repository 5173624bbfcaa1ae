// Package e2e holds the capacity done-when tests on a real lab: kubelet
// wrappers run as Marathon apps on the lab nodes, register each node with
// exactly the allocatable the plan computed, drain their pods to other
// nodes when killed, and the congestion monitor fires and clears.
package e2e
