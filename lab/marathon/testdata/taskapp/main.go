// Command taskapp runs the demo workload (package demoapp) as a Marathon task
// in the lab Marathon's tests: it listens on $HOST:$PORT0 and answers with its
// version and task id, with /health and the DEMO_* failure switches.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/switchyard/switchyard/demoapp"
)

func main() {
	cfg, err := demoapp.FromEnv(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "taskapp:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	err = demoapp.Run(ctx, cfg, os.Stderr, nil)
	if errors.Is(err, demoapp.ErrCrashed) {
		os.Exit(demoapp.CrashExitCode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "taskapp:", err)
		os.Exit(1)
	}
}
