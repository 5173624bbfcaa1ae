// Package marathon is the lab's Marathon: a faithful implementation of the
// Marathon v2 REST API (apps, tasks, deployments, groups, queue, events, info)
// whose tasks are real local processes placed on the lab's loopback nodes, and
// a Mesos master view (/master/state, /master/slaves) of the same scheduler
// state.
//
// The package is layered so that the core stays testable:
//   - pure functions: the deployment planner (current apps vs target apps ->
//     steps of actions, plan.go), the per-app decision of what to launch and
//     what to kill for scale, restart (rolling upgrade under upgradeStrategy)
//     and stop actions (decide.go), the task state machine and the launch
//     backoff (taskstate.go), app definitions with Marathon's defaults and
//     validation (appdef.go);
//   - the scheduler (scheduler.go) owns the in-memory state behind one mutex,
//     runs a reconcile loop that applies those decisions, and persists the
//     state atomically under <labdir>/marathon/state after each change;
//   - the edges: placement (place.go, via lab/placement), the process runner
//     (runner.go, via lab/proc), health and readiness probes (healthcheck.go,
//     via lab/health), the HTTP API (api*.go, groups.go), the event bus
//     (events.go) and the Mesos view (mesosview.go).
//
// Lab-specific choices, where a real cluster has no equivalent: a node's
// Mesos agent offers its total minus its kubernetesShare; agent ids are node
// names and agent hostnames node addresses; every port mapping gets a host
// port (tasks have no container address); a Docker image runs the local
// program that cfg.Kubernetes.Images maps it to; before a task's first
// successful health check, probes repeat at most every Options.HealthRetry
// instead of waiting a full intervalSeconds; pods are listed (none) but not run.
//
// It must not reach outside the lab: tasks bind to their node's loopback
// address, and probes only target task addresses.
package marathon
