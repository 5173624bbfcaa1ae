// Package rollout performs a capacity plan through Marathon: one step, one
// node at a time — the tasks of migrating apps are stopped (scaled away),
// then the node's wrapper app is written with its new share and the
// deployment awaited (minimumHealthCapacity 0 / maximumOverCapacity 0: the
// old wrapper drains and exits before the new one starts). Before each share
// change the live inventory is re-read and the change refused if it would
// over-commit the node.
package rollout

import (
	"context"
	"fmt"
	"time"

	"github.com/switchyard/switchyard/capacity"
	"github.com/switchyard/switchyard/marathon"
)

// Marathon is the part of the Marathon client a rollout uses.
type Marathon interface {
	UpdateApp(ctx context.Context, app *marathon.App, opts marathon.UpdateOptions) (*marathon.DeploymentResult, error)
	WaitForDeployment(ctx context.Context, id string, poll time.Duration) error
	KillTasks(ctx context.Context, taskIDs []string, opts marathon.KillOptions) (*marathon.KillResult, error)
}

// Options configure Apply.
type Options struct {
	// Spec is the wrapper app spec.
	Spec capacity.WrapperSpec
	// Inventory re-reads the cluster before each share change (nil: no re-check).
	Inventory func(ctx context.Context) (capacity.Cluster, error)
	// Progress is told before each step (i from 0).
	Progress func(i int, s capacity.Step)
	// Poll is the deployment poll interval (default 1s).
	Poll time.Duration
}

// Apply performs the plan's steps in order. A plan with move-tasks steps is
// refused before anything changes: Marathon cannot pin where a killed task
// relaunches, so an operator must move those tasks (and re-plan) first.
func Apply(ctx context.Context, m Marathon, p capacity.Resize, o Options) error {
	for i, s := range p.Steps {
		if s.Kind == capacity.StepMoveTasks {
			return fmt.Errorf("step %d needs %d Mesos task(s) moved off node %s (%s); Marathon cannot choose where a killed task relaunches: move them first (e.g. a hostname:UNLIKE:%s constraint on their apps), then plan again — nothing was changed",
				i+1, len(s.Tasks), s.Node, s.Description, s.Node)
		}
	}
	nodes := map[string]capacity.NodePlan{}
	for _, n := range p.Nodes {
		nodes[n.Name] = n
	}
	for i, s := range p.Steps {
		if o.Progress != nil {
			o.Progress(i, s)
		}
		switch s.Kind {
		case capacity.StepStopTasks:
			ids := make([]string, len(s.Tasks))
			for k, t := range s.Tasks {
				ids[k] = t.ID
			}
			if _, err := m.KillTasks(ctx, ids, marathon.KillOptions{Scale: true}); err != nil {
				return fmt.Errorf("step %d (%s): %w", i+1, s.Description, err)
			}
		case capacity.StepSetShare:
			np, ok := nodes[s.Node]
			if !ok {
				return fmt.Errorf("step %d: node %s is not in the plan's end state", i+1, s.Node)
			}
			if o.Inventory != nil {
				c, err := o.Inventory(ctx)
				if err != nil {
					return fmt.Errorf("step %d: re-read inventory: %w", i+1, err)
				}
				live, _, ok := c.Node(s.Node)
				if !ok {
					return fmt.Errorf("step %d: node %s is no longer in the inventory", i+1, s.Node)
				}
				if err := c.CheckAdd(s.Node, capacity.SideMesos, s.To.Sub(live.KubernetesShare)); err != nil {
					return fmt.Errorf("step %d (%s) refused: %w", i+1, s.Description, err)
				}
			}
			np.Share = *s.To
			res, err := capacity.ReservationsFor(np.Name, np.Total, np.Share, p.Overhead)
			if err != nil {
				return fmt.Errorf("step %d: %w", i+1, err)
			}
			np.Reservations = res
			app := o.Spec.WrapperApp(np, p.Overhead)
			dep, err := m.UpdateApp(ctx, &app, marathon.UpdateOptions{})
			if err != nil {
				return fmt.Errorf("step %d (%s): write app %s: %w", i+1, s.Description, app.ID, err)
			}
			if dep != nil && dep.DeploymentID != "" {
				if err := m.WaitForDeployment(ctx, dep.DeploymentID, o.Poll); err != nil {
					return fmt.Errorf("step %d (%s): deployment %s of %s: %w", i+1, s.Description, dep.DeploymentID, app.ID, err)
				}
			}
		default:
			return fmt.Errorf("step %d: unknown kind %q", i+1, s.Kind)
		}
	}
	return nil
}
