package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/appspec"
	"github.com/switchyard/switchyard/marathon"
	"github.com/switchyard/switchyard/traffic"
)

// marathonApp returns a copy of the spec's Marathon app with its id made absolute.
func marathonApp(s *appspec.Spec) (*marathon.App, error) {
	if s.Marathon == nil || s.Marathon.App == nil {
		return nil, errors.New("no Marathon definition: add marathon: (path: FILE.json or the definition inline)")
	}
	// A deep copy through JSON: the deploy must not change the spec.
	b, err := json.Marshal(s.Marathon.App)
	if err != nil {
		return nil, fmt.Errorf("marathon definition: %w", err)
	}
	var app marathon.App
	if err := json.Unmarshal(b, &app); err != nil {
		return nil, fmt.Errorf("marathon definition: %w", err)
	}
	app.ID = "/" + strings.Trim(app.ID, "/")
	return &app, nil
}

func (d *Deployer) marathonClient() (*marathon.Client, error) {
	if d.o.Marathon == nil {
		return nil, fmt.Errorf("no Marathon to deploy to: set %s or pass --marathon-url (for the lab: eval \"$(switchyard lab env)\")", marathon.EnvURL)
	}
	return d.o.Marathon, nil
}

// unreachable rewrites a transport error into a clear one.
func unreachable(c *marathon.Client, err error) error {
	if marathon.IsUnreachable(err) {
		return fmt.Errorf("Marathon at %s cannot be reached (pass --marathon-url or set $%s): %w", c.URL(), marathon.EnvURL, err)
	}
	return err
}

// marathonAppAndClient is the spec's Marathon app and the client of the
// Marathon it deploys to.
func (d *Deployer) marathonAppAndClient(s *appspec.Spec) (*marathon.App, *marathon.Client, error) {
	app, err := marathonApp(s)
	if err != nil {
		return nil, nil, err
	}
	c, err := d.marathonClient()
	if err != nil {
		return nil, nil, err
	}
	return app, c, nil
}

func (d *Deployer) prepareMarathon(ctx context.Context, s *appspec.Spec) (*plan, error) {
	app, c, err := d.marathonAppAndClient(s)
	if err != nil {
		return nil, err
	}
	if _, err := routePortIndex(app, s.Route); err != nil {
		return nil, err
	}
	cur, err := c.App(ctx, app.ID)
	exists := err == nil
	if err != nil && !marathon.IsNotFound(err) {
		return nil, unreachable(c, fmt.Errorf("read app %s: %w", app.ID, err))
	}
	p := &plan{spec: s, app: app, exists: exists}
	if exists {
		p.current = cur
	}
	return p, nil
}

func (d *Deployer) applyMarathon(ctx context.Context, p *plan) (*Result, error) {
	c := d.o.Marathon
	s, app := p.spec, p.app
	r := &Result{App: s.Name, Platform: traffic.Marathon, ID: app.ID}
	if d.o.DryRun {
		r.Action = "would update"
		if !p.exists {
			r.Action = "would create"
		}
		d.printf("%s: %s Marathon app %s (dry run: definition valid, nothing applied)\n", s.Name, r.Action, app.ID)
		return r, nil
	}
	var dep *marathon.DeploymentResult
	var err error
	if p.exists {
		r.Action = "updated"
		dep, err = c.UpdateApp(ctx, app, marathon.UpdateOptions{})
	} else {
		r.Action = "created"
		dep, err = c.CreateApp(ctx, app)
		if marathon.IsConflict(err) { // created meanwhile
			r.Action = "updated"
			dep, err = c.UpdateApp(ctx, app, marathon.UpdateOptions{})
		}
	}
	if err != nil {
		if marathon.IsDeploymentLocked(err) {
			return nil, fmt.Errorf("Marathon app %s is being deployed already: %w (wait for that deployment, or cancel it)", app.ID, err)
		}
		return nil, unreachable(c, fmt.Errorf("Marathon refused app %s: %w", app.ID, err))
	}
	d.printf("%s: %s Marathon app %s (deployment %s), waiting until its tasks run and are healthy\n", s.Name, r.Action, app.ID, dep.DeploymentID)
	if err := d.waitMarathon(ctx, c, app, dep.DeploymentID); err != nil {
		return nil, err
	}
	backends, err := d.marathonBackends(ctx, c, s, app)
	return d.routed(ctx, s, r, backends, err)
}

// waitMarathon waits for the deployment, printing task counts as they
// change. On failure or timeout it shows why (last task failure, queue) and
// cancels the deployment, which makes Marathon roll the change back.
func (d *Deployer) waitMarathon(ctx context.Context, c *marathon.Client, app *marathon.App, depID string) error {
	wctx, cancel := context.WithTimeout(ctx, d.o.Timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.WaitForDeployment(wctx, depID, d.o.Poll) }()
	tick := time.NewTicker(d.o.Poll)
	defer tick.Stop()
	last := ""
	for {
		select {
		case err := <-done:
			if err == nil {
				d.marathonProgress(ctx, c, app, &last)
				return nil
			}
			why := d.marathonWhy(ctx, c, app.ID)
			if wctx.Err() != nil && ctx.Err() == nil {
				err = fmt.Errorf("not running and healthy within --timeout %s", d.o.Timeout)
			}
			rb := d.cancelMarathon(ctx, c, depID)
			return fmt.Errorf("Marathon deployment %s of %s failed: %w%s%s", depID, app.ID, err, why, rb)
		case <-tick.C:
			d.marathonProgress(wctx, c, app, &last)
		}
	}
}

func (d *Deployer) marathonProgress(ctx context.Context, c *marathon.Client, app *marathon.App, last *string) {
	cur, err := c.App(ctx, app.ID, marathon.EmbedAppCounts)
	if err != nil {
		return
	}
	want := 1
	if app.Instances != nil {
		want = *app.Instances
	}
	line := fmt.Sprintf("tasks running %d/%d", deref(cur.TasksRunning), want)
	if len(app.HealthChecks) > 0 {
		line += fmt.Sprintf(", healthy %d/%d", deref(cur.TasksHealthy), want)
	}
	if line != *last {
		*last = line
		d.printf("  %s: %s\n", app.ID, line)
	}
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

// marathonWhy gathers the last task failure and the queue's decline reasons.
func (d *Deployer) marathonWhy(ctx context.Context, c *marathon.Client, id string) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var b strings.Builder
	if a, err := c.App(ctx, id, marathon.EmbedAppLastTaskFailure); err == nil && a.LastTaskFailure != nil {
		f := a.LastTaskFailure
		fmt.Fprintf(&b, "\n  last task failure: %s %s", str(f.State), str(f.Message))
		if f.Host != nil {
			fmt.Fprintf(&b, " (task %s on %s at %s)", str(f.TaskID), *f.Host, str(f.Timestamp))
		}
	}
	if q, err := c.Queue(ctx, marathon.QueueOptions{}); err == nil {
		for _, it := range q {
			if it.App == nil || "/"+strings.Trim(it.App.ID, "/") != id {
				continue
			}
			fmt.Fprintf(&b, "\n  launch queue: %d instance(s) waiting", it.Count)
			if it.Delay.TimeLeftSeconds > 0 {
				fmt.Fprintf(&b, ", backing off %ds", it.Delay.TimeLeftSeconds)
			}
			if rs := it.DeclineReasons(); len(rs) > 0 {
				fmt.Fprintf(&b, "; offers declined for: %s", strings.Join(rs, ", "))
			}
		}
	}
	return b.String()
}

func (d *Deployer) cancelMarathon(ctx context.Context, c *marathon.Client, depID string) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	rb, err := c.DeleteDeployment(ctx, depID, false)
	switch {
	case err != nil && marathon.IsNotFound(err):
		return ""
	case err != nil:
		return fmt.Sprintf("\n  cancelling the deployment failed: %v", err)
	case rb != nil:
		if werr := c.WaitForDeployment(ctx, rb.DeploymentID, d.o.Poll); werr != nil {
			return fmt.Sprintf("\n  the deployment was cancelled; its rollback %s did not finish: %v", rb.DeploymentID, werr)
		}
		return fmt.Sprintf("\n  the deployment was cancelled and rolled back (deployment %s)", rb.DeploymentID)
	}
	return "\n  the deployment was cancelled"
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// routePortIndex resolves route.port to the index of the app's port:
// a name of a port definition or mapping, a container port or a fixed
// port; "" is the first port.
func routePortIndex(app *marathon.App, r *appspec.Route) (int, error) {
	type port struct {
		name   string
		number int
	}
	var ports []port
	for _, pd := range app.PortDefinitions {
		ports = append(ports, port{str(pd.Name), deref(pd.Port)})
	}
	if len(ports) == 0 && app.Container != nil {
		pms := app.Container.PortMappings
		if len(pms) == 0 && app.Container.Docker != nil {
			pms = app.Container.Docker.PortMappings
		}
		for _, pm := range pms {
			ports = append(ports, port{str(pm.Name), deref(pm.ContainerPort)})
		}
	}
	for _, p := range app.Ports {
		if len(app.PortDefinitions) == 0 {
			ports = append(ports, port{"", p})
		}
	}
	if r == nil || r.Port == "" {
		return 0, nil
	}
	n, numErr := strconv.Atoi(r.Port)
	var names []string
	for i, p := range ports {
		if (numErr == nil && p.number == n && n != 0) || (numErr != nil && p.name == r.Port) {
			return i, nil
		}
		names = append(names, fmt.Sprintf("%q/%d", p.name, p.number))
	}
	return 0, fmt.Errorf("route.port %q matches no port of Marathon app %s (its ports: %s): name a port of portDefinitions or portMappings", r.Port, app.ID, strings.Join(names, ", "))
}

// marathonBackends lists the running (and healthy, when the app has
// health checks) tasks as backends on the route's port.
func (d *Deployer) marathonBackends(ctx context.Context, c *marathon.Client, s *appspec.Spec, app *marathon.App) ([]traffic.Backend, error) {
	idx, err := routePortIndex(app, s.Route)
	if err != nil {
		return nil, err
	}
	tasks, err := c.AppTasks(ctx, app.ID)
	if err != nil {
		return nil, fmt.Errorf("list tasks of %s: %w", app.ID, err)
	}
	var out []traffic.Backend
	for _, t := range tasks {
		if t.State != "" && t.State != marathon.TaskRunning {
			continue
		}
		if len(app.HealthChecks) > 0 && !t.Healthy() {
			continue
		}
		if idx >= len(t.Ports) {
			continue
		}
		out = append(out, traffic.Backend{Address: net.JoinHostPort(t.Host, strconv.Itoa(t.Ports[idx])), Weight: 1,
			Platform: traffic.Marathon, App: app.ID, ID: t.ID})
	}
	return out, nil
}
