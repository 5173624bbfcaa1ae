// Package e2e holds the planner's tests on a real lab (labtest): the
// inventory read from the lab's Marathon, Mesos master and Kubernetes, and
// plans that fit, that grow a share, and that are refused with reasons.
package e2e
