package lab

import (
	"bytes"
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
// Marathon (PUT /v2/apps/{id}: create or update), waiting until each app's
// tasks run and pass their health checks, and, when the lab runs Kubernetes,
// <dir>/kubernetes/*.yaml to its API server (server-side apply), waiting
// until each Deployment is ready. It checks that every task and pod answers
// HTTP and, when the lab runs nginx, waits until each app answers through it
// at its path (Marathon app id or /namespace/service), routed by the lab's
// lb sync from the examples' labels and annotations. It returns where each
// app answers.
func DeployExamples(ctx context.Context, cfg labconfig.Config, dir string, out io.Writer) ([]Endpoint, error) {
	files, err := filepath.Glob(filepath.Join(dir, "marathon", "*.json"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("deploy examples: no Marathon app definitions in %s", filepath.Join(dir, "marathon"))
	}
	sort.Strings(files)
	c, err := marathonHTTPClient(cfg, 10*time.Second)
	if err != nil {
		return nil, fmt.Errorf("deploy examples: %w", err)
	}
	base := cfg.Marathon.URL()
	var ids []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("deploy examples: %w", err)
		}
		var app struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(b, &app); err != nil || app.ID == "" {
			return nil, fmt.Errorf("deploy examples: %s: not a Marathon app definition with an id (%v)", f, err)
		}
		id := "/" + strings.TrimPrefix(app.ID, "/")
		// PUT creates or updates (Marathon's documented behaviour); fall
		// back to POST for a Marathon that only creates with POST.
		code, body, err := send(ctx, c, http.MethodPut, base+"/v2/apps"+id+"?force=true", b)
		if err == nil && code == http.StatusNotFound {
			code, body, err = send(ctx, c, http.MethodPost, base+"/v2/apps", b)
		}
		if err != nil {
			return nil, fmt.Errorf("deploy examples: %s: the lab's Marathon at %s does not answer (%w): is the lab up?", f, base, err)
		}
		if code/100 != 2 {
			return nil, fmt.Errorf("deploy examples: %s: Marathon answered %d: %s", f, code, strings.TrimSpace(string(body)))
		}
		fmt.Fprintf(out, "deployed %s to Marathon (%s)\n", id, filepath.Base(f))
		ids = append(ids, id)
	}
	var eps []Endpoint
	for _, id := range ids {
		ep, err := waitApp(ctx, c, base, id, 90*time.Second)
		if err != nil {
			return eps, fmt.Errorf("deploy examples: %w", err)
		}
		eps = append(eps, ep)
	}
	if cfg.Kubernetes.Enabled {
		keps, err := deployKubernetesExamples(ctx, cfg, dir, out)
		if err != nil {
			return eps, fmt.Errorf("deploy examples: %w", err)
		}
		eps = append(eps, keps...)
	}
	if cfg.Nginx.Enabled {
		if err := waitThroughNginx(ctx, cfg, c, eps, out); err != nil {
			return eps, fmt.Errorf("deploy examples: %w", err)
		}
	}
	return eps, nil
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
			code, body, err := send(ctx, c, http.MethodGet, u, nil)
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

type marathonApp struct {
	App struct {
		ID           string            `json:"id"`
		Instances    int               `json:"instances"`
		TasksRunning int               `json:"tasksRunning"`
		TasksHealthy int               `json:"tasksHealthy"`
		HealthChecks []json.RawMessage `json:"healthChecks"`
		Deployments  []json.RawMessage `json:"deployments"`
		Tasks        []struct {
			ID    string `json:"id"`
			Host  string `json:"host"`
			Ports []int  `json:"ports"`
			State string `json:"state"`
		} `json:"tasks"`
		LastTaskFailure *struct {
			Message string `json:"message"`
		} `json:"lastTaskFailure"`
	} `json:"app"`
}

// waitApp polls the app until its deployment is done and every instance runs
// (and is healthy when it has health checks), then probes each task.
func waitApp(ctx context.Context, c *http.Client, base, id string, timeout time.Duration) (Endpoint, error) {
	deadline := time.Now().Add(timeout)
	var last string
	for {
		var a marathonApp
		err := getJSON(ctx, c, base+"/v2/apps"+id+"?embed=apps.tasks&embed=apps.lastTaskFailure", &a)
		switch {
		case err != nil:
			last = err.Error()
		case len(a.App.Deployments) == 0 && a.App.TasksRunning >= a.App.Instances &&
			(len(a.App.HealthChecks) == 0 || a.App.TasksHealthy >= a.App.Instances):
			return probeTasks(ctx, c, id, a)
		default:
			last = fmt.Sprintf("%d/%d running, %d healthy, %d deployment(s)", a.App.TasksRunning, a.App.Instances, a.App.TasksHealthy, len(a.App.Deployments))
			if f := a.App.LastTaskFailure; f != nil && f.Message != "" {
				last += "; last task failure: " + f.Message
			}
		}
		if time.Now().After(deadline) {
			return Endpoint{}, fmt.Errorf("app %s is not running and healthy after %s (%s): see `curl %s/v2/queue` and the task logs under the lab's marathon/ directory", id, timeout, last, base)
		}
		select {
		case <-ctx.Done():
			return Endpoint{}, ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
}

func probeTasks(ctx context.Context, c *http.Client, id string, a marathonApp) (Endpoint, error) {
	ep := Endpoint{App: id, Platform: "marathon"}
	for _, t := range a.App.Tasks {
		if len(t.Ports) == 0 {
			continue
		}
		ip, err := netip.ParseAddr(t.Host)
		if err != nil || !ip.IsLoopback() {
			return ep, fmt.Errorf("app %s: task host %q is not a loopback address; the lab only sends traffic to loopback", id, t.Host)
		}
		u := (&url.URL{Scheme: "http", Host: net.JoinHostPort(t.Host, fmt.Sprint(t.Ports[0])), Path: "/"}).String()
		code, body, err := send(ctx, c, http.MethodGet, u, nil)
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

func send(ctx context.Context, c *http.Client, method, u string, body []byte) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b, err
}

func getJSON(ctx context.Context, c *http.Client, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", u, resp.Status, strings.TrimSpace(string(b)))
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	return nil
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
