// Package plan owns migration planning: from an Inventory of both platforms
// (the shared nodes as the capacity model sees them, the Marathon tasks and
// their host ports, the Kubernetes hostPorts and NodePorts, and the apps to
// migrate with their app.yaml settings) it orders the migrations in waves and
// checks each wave against the shared nodes' capacity.
//
// The rules, in order:
//
//   - Ordering. By default an app migrates in a later wave than every app it
//     depends on (OrderDependenciesFirst: backends first). The rationale: a
//     migrating app keeps reaching its dependencies through their routes at
//     the shared load balancer whichever platform serves them, so moving the
//     backends first means every app, once on Kubernetes, only calls apps that
//     are already there (in-cluster traffic, no hairpin back to Marathon), and
//     a rollback of a frontend never has to chase a backend. OrderDependentsFirst
//     reverses it (frontends first) for operators who want the least critical
//     consumers to go first. Within what dependencies allow, higher priority
//     goes first; an app inherits the highest priority of the apps that wait
//     on it (a high-priority app is not held back by a low-priority
//     dependency); ties go by name. A wave holds at most MaxWaveSize apps.
//     Dependency cycles are errors naming every app of each cycle.
//   - Requests and limits (per pod). Each resource given in app.yaml
//     resources.requests / resources.limits wins. Otherwise requests come from
//     the Marathon definition (cpus, mem, disk; Marathon's defaults 1 cpu and
//     128 MiB when unset); with an observed usage (peak per instance), the
//     request becomes observed × Headroom (default 1.25), at least 0.01 cpus
//     and 16 MiB, and memory never above Marathon's mem (which Mesos enforced
//     as a hard limit, so usage cannot have needed more). Limits follow
//     Mesos: memory and disk limited to Marathon's mem and disk (never below
//     the request), no cpu limit (Mesos gives cpu shares without a quota) —
//     the converter's default no-cpu-limit policy.
//   - Capacity, per wave, in a first-fit-decreasing simulation: the wave's
//     pods (instances × requests, largest first) go on the first node in
//     name order whose Kubernetes free room (allocatable − pod requests)
//     holds them and whose host ports are free. A pod that fits nowhere grows
//     a node's Kubernetes share (a ShareChange of the wave) on the first node
//     whose Mesos side keeps room for: every live Marathon task (the wave's
//     own tasks still run during the traffic shift) and the rollback room of
//     recently migrated apps (their tasks' resources stay reserved on their
//     nodes for RollbackWindow waves, so Marathon can run them again). A pod
//     that no growth can place is a Blocker naming wave, app, node, resource,
//     how much is missing, what the best node can give, the apps whose
//     rollback room limits it, and what would unblock it.
//   - Host ports. A Kubernetes NodePort is reserved on every node, a pod's
//     hostPort on its node; a Marathon task's host ports on its node. Live
//     clashes are PortConflicts; a migrating app's fixed host ports keep its
//     pods off nodes where they are in use (its own Marathon tasks included:
//     both run during the shift).
//
// Make is pure (no I/O). Plan is the JSON contract with the executor
// (`switchyard migrate --wave N --plan plan.json`): field names are stable
// and documented on the types; Version changes when they do.
package plan
