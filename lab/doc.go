// Package lab is the lab's supervisor: it starts the lab's components
// (component.Spec, supplied by the packages that own them) as detached local
// processes in dependency order, waits for each to be ready, records what it
// started under <dir>/run so a later `lab status`/`lab down` (another process)
// finds them again, reports their health, shows their logs, and stops them
// again leaving no process and no listening port behind.
//
// It owns the lifecycle only: what a component is and how it is probed belong
// to the component's package; the command line belongs to internal/cli.
//
// Files in the lab directory:
//
//	<dir>/logs/<name>.log       the component's stdout and stderr
//	<dir>/run/<name>.json       the running component's identity (Record)
//	<dir>/run/<name>.exit       how it ended, written when it exits on its own
//	<dir>/run/lock              serialises `lab up` and `lab down`
package lab
