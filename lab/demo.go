package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/switchyard/switchyard/lab/labconfig"
	labnginx "github.com/switchyard/switchyard/lab/nginx"
	"github.com/switchyard/switchyard/marathon"
)

// Endpoint is where a deployed sample app answers.
type Endpoint struct {
	App      string   `json:"app"`
	Platform string   `json:"platform"`
	URLs     []string `json:"urls"`
	Version  string   `json:"version,omitempty"` // what GET / answered
	// LB is the app's URL through the shared nginx ("" without nginx).
	LB string `json:"lb,omitempty"`
}

// DeployExamples deploys the sample apps: <dir>/marathon/*.json to the lab's
// Marathon through the product's Marathon client (PUT /v2/apps/{id}: create
// or update), waiting until each app's tasks run and pass their health
// checks, and, when the lab runs Kubernetes, <dir>/kubernetes/*.yaml to its
// API server (kubeclient: server-side apply, the one ready rule). It checks
// that every task and pod answers HTTP and, when the lab runs nginx, waits
// until each app answers through it at its path (Marathon app id or
// /namespace/service), routed by the lab's lb sync from the examples'
// labels and annotations. It returns where each app answers.
func DeployExamples(ctx context.Context, cfg labconfig.Config, dir string, out io.Writer) ([]Endpoint, error) {
	files, err := filepath.Glob(filepath.Join(dir, "marathon", "*.json"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("deploy examples: no Marathon app definitions in %s", filepath.Join(dir, "marathon"))
	}
	sort.Strings(files)
	mcfg, err := MarathonConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("deploy examples: %w", err)
	}
	mc, err := marathon.NewClient(mcfg)
	if err != nil {
		return nil, fmt.Errorf("deploy examples: %w", err)
	}
	var apps []*marathon.App
	for _, f := range files {
		app, err := deployMarathonApp(ctx, mc, f)
		if err != nil {
			return nil, fmt.Errorf("deploy examples: %w", err)
		}
		fmt.Fprintf(out, "deployed %s to Marathon (%s)\n", app.ID, filepath.Base(f))
		apps = append(apps, app)
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	var eps []Endpoint
	for _, app := range apps {
		ep, err := waitApp(ctx, mc, hc, app, 90*time.Second)
		if err != nil {
			return eps, fmt.Errorf("deploy examples: %w", err)
		}
		eps = append(eps, ep)
	}
	if cfg.Kubernetes.Enabled {
		keps, err := deployKubernetesExamples(ctx, cfg, dir, hc, out)
		if err != nil {
			return eps, fmt.Errorf("deploy examples: %w", err)
		}
		eps = append(eps, keps...)
	}
	if cfg.Nginx.Enabled {
		if err := waitThroughNginx(ctx, cfg, hc, eps, out); err != nil {
			return eps, fmt.Errorf("deploy examples: %w", err)
		}
	}
	return eps, nil
}

// deployMarathonApp creates or updates the app of a definition file (PUT
// with force; POST for a Marathon that only creates with POST).
func deployMarathonApp(ctx context.Context, mc *marathon.Client, file string) (*marathon.App, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var app marathon.App
	if err := json.Unmarshal(b, &app); err != nil || app.ID == "" {
		return nil, fmt.Errorf("%s: not a Marathon app definition with an id (%v)", file, err)
	}
	app.ID = "/" + strings.TrimPrefix(app.ID, "/")
	_, err = mc.UpdateApp(ctx, &app, marathon.UpdateOptions{Force: true})
	if marathon.IsNotFound(err) {
		_, err = mc.CreateApp(ctx, &app)
	}
	switch {
	case marathon.IsUnreachable(err):
		return nil, fmt.Errorf("%s: the lab's Marathon at %s does not answer (%w): is the lab up?", file, mc.URL(), err)
	case err != nil:
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return &app, nil
}

// waitThroughNginx waits until each app answers through the shared nginx at
// its path (/<marathon app id>/, /<namespace>/<service>/). The routes are
// not pushed here: the lab's `lb sync` component keeps them, from the apps'
// marathon-lb labels (HAPROXY_GROUP, HAPROXY_0_PATH) and the Services'
// switchyard.io/haproxy-* annotations, in step with every task restart.
func waitThroughNginx(ctx context.Context, cfg labconfig.Config, c *http.Client, eps []Endpoint, out io.Writer) error {
	n, err := labnginx.New(cfg)
	if err != nil {
		return err
	}
	for i := range eps {
		ep := &eps[i]
		u := n.PublicURL() + ep.App + "/"
		deadline := time.Now().Add(60 * time.Second)
		for {
			code, body, err := get(ctx, c, u)
			if err == nil && code == http.StatusOK {
				break
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("app %s does not answer through nginx at %s after 60s (status %d, %v): %s; is its route there (`curl %s/routes`, the lab's lb-sync log)?",
					ep.App, u, code, err, strings.TrimSpace(string(body)), n.AdminURL())
			}
			time.Sleep(200 * time.Millisecond)
		}
		ep.LB = u
		fmt.Fprintf(out, "routed %s through nginx: %s\n", ep.App, u)
	}
	return nil
}

// waitApp waits until the app's deployment is done and every instance runs
// (and is healthy when it has health checks), then probes each task.
func waitApp(ctx context.Context, mc *marathon.Client, hc *http.Client, app *marathon.App, timeout time.Duration) (Endpoint, error) {
	instances := 1
	if app.Instances != nil {
		instances = *app.Instances
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	a, err := mc.WaitForApp(wctx, app.ID, instances, 300*time.Millisecond)
	if err != nil {
		if ctx.Err() != nil {
			return Endpoint{}, ctx.Err()
		}
		return Endpoint{}, fmt.Errorf("app %s is not running and healthy after %s (%w): see `curl %s/v2/queue` and the task logs under the lab's marathon/ directory", app.ID, timeout, err, mc.URL())
	}
	return probeTasks(ctx, hc, a)
}

func probeTasks(ctx context.Context, c *http.Client, a *marathon.App) (Endpoint, error) {
	id := a.ID
	ep := Endpoint{App: id, Platform: "marathon"}
	for _, t := range a.Tasks {
		if len(t.Ports) == 0 {
			continue
		}
		host := ""
		if t.Host != nil {
			host = *t.Host
		}
		ip, err := netip.ParseAddr(host)
		if err != nil || !ip.IsLoopback() {
			return ep, fmt.Errorf("app %s: task host %q is not a loopback address; the lab only sends traffic to loopback", id, host)
		}
		u := (&url.URL{Scheme: "http", Host: net.JoinHostPort(host, fmt.Sprint(t.Ports[0])), Path: "/"}).String()
		code, body, err := get(ctx, c, u)
		if err != nil || code/100 != 2 {
			return ep, fmt.Errorf("app %s: task at %s does not answer (status %d, %v)", id, u, code, err)
		}
		ep.Version = jsonVersion(body)
		ep.URLs = append(ep.URLs, u)
	}
	if len(ep.URLs) == 0 {
		return ep, errors.New("app " + id + " has no task with a port")
	}
	return ep, nil
}

// jsonVersion is the "version" of a demo-app answer ("" for anything else).
func jsonVersion(body []byte) string {
	var info struct {
		Version string `json:"version"`
	}
	if json.Unmarshal(body, &info) != nil {
		return ""
	}
	return info.Version
}

// get GETs u and returns the status and (at most 1 MiB of) the body.
func get(ctx context.Context, c *http.Client, u string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b, err
}

// PrintEndpoints prints where each sample app answers.
func PrintEndpoints(w io.Writer, eps []Endpoint) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nAPP\tPLATFORM\tVERSION\tTHROUGH NGINX\tANSWERS AT")
	for _, e := range eps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.App, e.Platform, dash(e.Version), dash(e.LB), strings.Join(e.URLs, " "))
	}
	tw.Flush()
}
