// Package convert owns the translation of Marathon definitions (apps, groups,
// pods, as modelled by package marathon) into typed Kubernetes objects
// (k8s.io/api), together with a fidelity report that says, for every field
// of the source, whether it was converted, approximated or is unsupported
// (read-only status fields of API responses are "ignored"), where it went
// and what to do about it. It also renders the objects as deterministic
// multi-document YAML (YAML) and as a Helm chart held in memory (Chart).
//
// Entry points: App converts one app; Definition converts a decoded
// document (an app, a list of apps, a group tree with one Release per app
// and pod in dependency order, or a pod). Each Release holds a Deployment
// (StatefulSet for persistent volumes or residency), a Service for the
// ports, standalone claims for external volumes, a PodDisruptionBudget when
// the upgrade strategy keeps a healthy share, and the Secrets it reads.
//
// The main choices:
//   - cmd runs in a shell ([/bin/sh -c cmd]); args with an image replace the
//     image's CMD without a shell, Mesos placeholders in them becoming
//     $(VAR) references; every task gets the variables Marathon gives
//     (HOST, PORT0.., PORTS, PORT_<NAME>, MESOS_TASK_ID, MARATHON_APP_ID;
//     others when referenced). Ports Marathon chose dynamically become fixed
//     container ports from Options.FirstDynamicPort; $HOST is the pod IP by
//     default (Options.HostAddress).
//   - secrets become secretKeyRef / Secret volumes: a store path
//     "team/db/password" is Secret "team-db" key "password". No value is
//     ever copied.
//   - health checks become liveness probes (grace period as a startup probe,
//     a check that never kills as a readiness probe); readinessChecks become
//     readiness probes; constraints become node affinity, pod
//     (anti-)affinity and topology spread; HAPROXY_* and VIP labels become
//     Service annotations (switchyard.io/haproxy-vhost...) and ports.
//
// Input the objects cannot carry faithfully is refused, whatever the
// validation mode: numbers beyond Kubernetes counts and quantities
// (instances > 2^31-1, cpus > 1e6, mem or disk > 1e12 MiB, gpus > 1e6,
// check seconds and counts > 2^30-1, see
// marathon.MaxInstances and its siblings) and ids with control or space
// characters. Error messages name the JSON path and line:column.
//
// In charts, user data never runs as a template: the text of each template
// is escaped ("{{" is written {{"{{"}}) around the chart's own expressions,
// which are placed through placeholders that cannot occur in the object's
// YAML. Rendered with its default values, a chart gives the manifests
// exactly, whatever the strings of the definition hold.
//
// Every field present in the source gets a report entry: a final sweep over
// the source JSON adds an "unsupported" entry for anything not handled
// (unknown fields included), so nothing is dropped silently.
//
// The package is pure: it performs no I/O (no files, no network, no clock),
// so the same input always gives byte-identical output. Reading sources and
// writing files belongs to the caller (internal/cli's `switchyard convert`).
package convert
