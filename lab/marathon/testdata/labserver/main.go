// Command labserver runs the lab Marathon from a lab config file the way
// `switchyard lab run marathon --config LAB.yaml` does (load, serve until
// SIGTERM, leave the tasks running), for the package's process-level test.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/switchyard/switchyard/lab/labconfig"
	labmarathon "github.com/switchyard/switchyard/lab/marathon"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: labserver LAB.yaml")
		os.Exit(2)
	}
	cfg, err := labconfig.Load(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	srv, err := labmarathon.New(cfg, labmarathon.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := srv.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
