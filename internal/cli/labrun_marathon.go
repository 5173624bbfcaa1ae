package cli

import (
	"context"
	"io"

	"github.com/spf13/cobra"

	labmarathon "github.com/switchyard/switchyard/lab/marathon"
)

// labRunMarathonOptions are the options of `lab run marathon`.
type labRunMarathonOptions struct {
	lab *labOptions
}

// Complete loads the lab the daemon serves (--config or --lab-dir).
func (o *labRunMarathonOptions) Complete(cmd *cobra.Command, _ []string) error {
	var err error
	o.lab, err = loadLabFromFlags(cmd)
	return err
}

// Validate has nothing to check.
func (o *labRunMarathonOptions) Validate() error { return nil }

// Run serves the lab's Marathon until SIGINT/SIGTERM.
func (o *labRunMarathonOptions) Run(ctx context.Context, _ io.Writer) error {
	srv, err := labmarathon.New(o.lab.cfg, labmarathon.Options{Self: o.lab.self})
	if err != nil {
		return err
	}
	ctx, stop := signalContext(ctx)
	defer stop()
	return srv.Run(ctx)
}

// newLabRunMarathonCmd is the hidden `lab run marathon` daemon: the lab's
// Marathon v2 API and its Mesos master view over the lab's nodes.
func newLabRunMarathonCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "marathon --config LAB.yaml",
		Short: "Run the lab's Marathon and Mesos master view (started by `lab up`)",
		Long: `Serve the Marathon v2 REST API on marathon.listen and the Mesos master view (/master/state, /master/slaves)
on mesos.listen, running tasks as local processes on the lab's nodes. State is kept under <lab-dir>/marathon/state;
SIGTERM leaves the tasks running and the next start re-adopts them.`,
		Args: cobra.NoArgs,
		RunE: runE(&labRunMarathonOptions{}),
	}
	return cmd
}
