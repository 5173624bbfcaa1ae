package cli

import (
	"github.com/spf13/cobra"

	labmarathon "github.com/switchyard/switchyard/lab/marathon"
)

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
		RunE: func(cmd *cobra.Command, _ []string) error {
			lo, err := loadLabFromFlags(cmd)
			if err != nil {
				return err
			}
			srv, err := labmarathon.New(lo.cfg, labmarathon.Options{Self: lo.self})
			if err != nil {
				return err
			}
			ctx, stop := signalContext(cmd.Context())
			defer stop()
			return srv.Run(ctx)
		},
	}
	return cmd
}
