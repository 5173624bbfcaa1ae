// Package appspec owns app.yaml, the one descriptor of an app that says which
// platform runs it: its name, owner and priority, its type (marathon or
// helm), its Marathon definition (inline or a JSON file) or its Helm chart
// (a local path, or a repository, chart and version) with values, its public
// route at the shared load balancer, its Kubernetes requests and limits, the
// apps it depends on, and the gates a migration must pass.
//
// Parsing is strict: unknown keys, wrong types and out-of-range values are
// errors that name the file, the line and the field and say how to fix it.
// Parse is pure (no I/O); Load and LoadDir read app.yaml files and the
// Marathon JSON files they point to. The JSON Schema in schema/app.schema.json
// describes the same format for editors; a test keeps the two in agreement.
package appspec
