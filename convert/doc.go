// Package convert owns the translation of Marathon definitions (apps, groups,
// pods, as modelled by package marathon) into typed Kubernetes objects
// (k8s.io/api), together with a fidelity report that says, for every field
// of the source, whether it was converted, approximated or is unsupported,
// where it went and what to do about it. It also renders the objects as
// deterministic multi-document YAML and as a Helm chart (files in memory).
//
// The package is pure: it performs no I/O (no files, no network, no clock),
// so the same input always gives byte-identical output. Reading sources and
// writing files belongs to the caller (internal/cli's `switchyard convert`).
package convert
