// Package labmarathon is the lab's Marathon: a faithful implementation of the
// Marathon v2 REST API (apps, tasks, deployments, groups, queue, events, info)
// whose tasks are real local processes placed on the lab's loopback nodes, and
// a Mesos master view (/master/state, /master/slaves) of the same scheduler
// state.
//
// The package is layered so that the core stays testable:
//   - pure functions: the deployment planner (current apps vs target apps ->
//     steps of actions, plan.go), the per-app decision of what to launch and
//     what to kill for scale, restart (rolling upgrade under upgradeStrategy)
//     and stop actions (decide.go), the task state machine (taskstate.go) and
//     the launch backoff (backoff.go);
//   - the scheduler (scheduler.go) owns the in-memory state behind one mutex,
//     runs a reconcile loop that applies those decisions, and persists the
//     state atomically under <labdir>/marathon/state after each change;
//   - the edges: the process runner (runner.go, via lab/proc), health and
//     readiness probes (healthcheck.go, via lab/health), the HTTP API
//     (api*.go), the event bus (events.go) and the Mesos view (mesosview.go).
//
// It must not reach outside the lab: tasks bind to their node's loopback
// address, and probes only target task addresses.
package labmarathon
