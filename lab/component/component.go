// Package component describes one lab process (the lab's Marathon, etcd,
// kube-apiserver, a node agent, nginx...) in the form the lab supervisor needs
// to start it, wait for it and report on it. Packages that own a component
// export a function returning its Specs; the supervisor (package lab) runs them.
package component

import (
	"context"
	"time"
)

// Spec is one long-running lab process.
type Spec struct {
	// Name identifies the component in `lab status` and `lab logs NAME`
	// (e.g. "marathon", "kube-apiserver", "node-agent-node-1").
	Name string
	// Argv is the program and its arguments. A Spec without Argv is
	// cleanup-only: it is never started nor shown, and its Cleanup runs on
	// `lab down` (host-level objects that outlive every process, such as a
	// pod network with no node agent configured).
	Argv []string
	// Env is added to the supervisor's environment (KEY=VALUE).
	Env []string
	// Dir is the working directory (default: the lab directory).
	Dir string
	// After lists components that must be ready before this one starts.
	After []string
	// Address is shown to the user as where the component answers (URL or host:port).
	Address string
	// Ready probes the component; nil means healthy. It is called until it
	// succeeds or ReadyTimeout passes (at start) and once per `lab status`.
	Ready func(ctx context.Context) error
	// ReadyTimeout bounds the wait at start (default 60s).
	ReadyTimeout time.Duration
	// Configure, when set, runs at every `lab up` once the component is
	// ready (started or kept running), before the components After it
	// start: a setting made through the running process's own API (etcd's
	// role-based access). It must be idempotent; unlike Ready, `lab status`
	// does not run it.
	Configure func(ctx context.Context) error
	// Prepare runs once before the process starts (write config files, PKI...).
	Prepare func(ctx context.Context) error
	// Cleanup runs after the process stopped on `lab down` (remove network
	// namespaces, bridges...). It must be idempotent.
	Cleanup func(ctx context.Context) error
	// StopGrace is how long `lab down` waits after SIGTERM before SIGKILL (default 10s).
	StopGrace time.Duration
}

// Runnable returns the specs that describe a process (see Spec.Argv).
func Runnable(specs []Spec) []Spec {
	var out []Spec
	for _, s := range specs {
		if len(s.Argv) > 0 {
			out = append(out, s)
		}
	}
	return out
}
