package marathon

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// Embed values for Client.Apps (the list endpoint).
const (
	EmbedAppsTasks           = "apps.tasks"
	EmbedAppsCounts          = "apps.counts"
	EmbedAppsDeployments     = "apps.deployments"
	EmbedAppsReadiness       = "apps.readiness"
	EmbedAppsLastTaskFailure = "apps.lastTaskFailure"
	EmbedAppsTaskStats       = "apps.taskStats"
)

// Embed values for Client.App (the single-app endpoint).
const (
	EmbedAppTasks           = "app.tasks"
	EmbedAppCounts          = "app.counts"
	EmbedAppDeployments     = "app.deployments"
	EmbedAppReadiness       = "app.readiness"
	EmbedAppLastTaskFailure = "app.lastTaskFailure"
	EmbedAppTaskStats       = "app.taskStats"
)

// AppsOptions filters the app list and says what to embed.
type AppsOptions struct {
	// Cmd keeps apps whose cmd contains this string.
	Cmd string
	// ID keeps apps whose id is or contains this string.
	ID string
	// Label is a label selector, e.g. "env==prod,tier!=frontend".
	Label string
	// Embed lists the nested resources to embed (EmbedApps* values).
	Embed []string
}

func (o AppsOptions) query() url.Values {
	q := url.Values{}
	if o.Cmd != "" {
		q.Set("cmd", o.Cmd)
	}
	if o.ID != "" {
		q.Set("id", o.ID)
	}
	if o.Label != "" {
		q.Set("label", o.Label)
	}
	for _, e := range o.Embed {
		q.Add("embed", e)
	}
	return q
}

// UpdateOptions modifies a change request.
type UpdateOptions struct {
	// Force cancels a deployment that holds the object (?force=true).
	Force bool
	// Replace asks for PUT semantics (?partialUpdate=false): fields missing
	// from the definition are reset to their defaults. Without it Marathon
	// keeps the current value of every field the definition leaves out.
	Replace bool
}

func (o UpdateOptions) query() url.Values {
	q := forceQuery(o.Force)
	if o.Replace {
		q.Set("partialUpdate", "false")
	}
	return q
}

// Apps lists the apps that match opts (GET /v2/apps).
func (c *Client) Apps(ctx context.Context, opts AppsOptions) ([]*App, error) {
	var out struct {
		Apps []*App `json:"apps"`
	}
	if _, err := c.do(ctx, http.MethodGet, "/v2/apps", opts.query(), nil, &out); err != nil {
		return nil, err
	}
	return out.Apps, nil
}

// App returns the app with this id, embedding the given resources (EmbedApp* values).
func (c *Client) App(ctx context.Context, id string, embed ...string) (*App, error) {
	p, err := objectPath("/v2/apps", id)
	if err != nil {
		return nil, fmt.Errorf("get app: %w", err)
	}
	q := url.Values{}
	for _, e := range embed {
		q.Add("embed", e)
	}
	var out struct {
		App *App `json:"app"`
	}
	if _, err := c.do(ctx, http.MethodGet, p, q, nil, &out); err != nil {
		return nil, err
	}
	if out.App == nil {
		return nil, fmt.Errorf("marathon GET %s: answer has no \"app\" member", p)
	}
	return out.App, nil
}

// AppVersions lists the stored versions of an app, newest first.
func (c *Client) AppVersions(ctx context.Context, id string) ([]string, error) {
	p, err := objectPath("/v2/apps", id)
	if err != nil {
		return nil, fmt.Errorf("list app versions: %w", err)
	}
	var out versionList
	if _, err := c.do(ctx, http.MethodGet, p+"/versions", nil, nil, &out); err != nil {
		return nil, err
	}
	return out.Versions, nil
}

// AppVersion returns the definition of an app at a stored version.
func (c *Client) AppVersion(ctx context.Context, id, version string) (*App, error) {
	p, err := objectPath("/v2/apps", id)
	if err != nil {
		return nil, fmt.Errorf("get app version: %w", err)
	}
	if version == "" {
		return nil, fmt.Errorf("get app version of %s: empty version: list them with AppVersions", id)
	}
	var out App
	if _, err := c.do(ctx, http.MethodGet, p+"/versions/"+url.PathEscape(version), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateApp creates and starts an app (POST /v2/apps) and returns the
// deployment that starts it.
func (c *Client) CreateApp(ctx context.Context, app *App) (*DeploymentResult, error) {
	if app == nil || app.ID == "" {
		return nil, fmt.Errorf("create app: the definition has no id: set \"id\", e.g. \"/prod/web\"")
	}
	rep, err := c.do(ctx, http.MethodPost, "/v2/apps", nil, writableApp(app), nil)
	if err != nil {
		return nil, err
	}
	return deploymentFrom(rep)
}

// UpdateApp changes (or creates) the app with app.ID (PUT /v2/apps/{id}).
// The read-only status fields of app (version, tasks, counts...) are not
// sent, so an app read with Client.App can be changed and written back.
func (c *Client) UpdateApp(ctx context.Context, app *App, opts UpdateOptions) (*DeploymentResult, error) {
	if app == nil || app.ID == "" {
		return nil, fmt.Errorf("update app: the definition has no id: set \"id\"")
	}
	p, err := objectPath("/v2/apps", app.ID)
	if err != nil {
		return nil, fmt.Errorf("update app: %w", err)
	}
	rep, err := c.do(ctx, http.MethodPut, p, opts.query(), writableApp(app), nil)
	if err != nil {
		return nil, err
	}
	return deploymentFrom(rep)
}

// RollbackApp puts an app back to one of its stored versions (PUT
// /v2/apps/{id} with only "version"; see AppVersions).
func (c *Client) RollbackApp(ctx context.Context, id, version string, force bool) (*DeploymentResult, error) {
	p, err := objectPath("/v2/apps", id)
	if err != nil {
		return nil, fmt.Errorf("roll back app: %w", err)
	}
	if version == "" {
		return nil, fmt.Errorf("roll back app %s: empty version: list them with AppVersions", id)
	}
	body := struct {
		Version string `json:"version"`
	}{version}
	rep, err := c.do(ctx, http.MethodPut, p, forceQuery(force), body, nil)
	if err != nil {
		return nil, err
	}
	return deploymentFrom(rep)
}

// PatchApp applies a partial update to an existing app (PATCH /v2/apps/{id}).
// patch is any JSON-encodable value holding only the fields to change (a
// map, an *App with only those fields set, or raw JSON); the id in it is ignored.
func (c *Client) PatchApp(ctx context.Context, id string, patch any, force bool) (*DeploymentResult, error) {
	p, err := objectPath("/v2/apps", id)
	if err != nil {
		return nil, fmt.Errorf("patch app: %w", err)
	}
	rep, err := c.do(ctx, http.MethodPatch, p, forceQuery(force), patch, nil)
	if err != nil {
		return nil, err
	}
	return deploymentFrom(rep)
}

// ScaleApp sets the number of instances of an app (PUT /v2/apps/{id} with
// only "instances", which Marathon applies as a partial update).
func (c *Client) ScaleApp(ctx context.Context, id string, instances int, force bool) (*DeploymentResult, error) {
	if instances < 0 {
		return nil, fmt.Errorf("scale app %s: instances %d: must be 0 or more", id, instances)
	}
	p, err := objectPath("/v2/apps", id)
	if err != nil {
		return nil, fmt.Errorf("scale app: %w", err)
	}
	body := []byte(`{"instances":` + strconv.Itoa(instances) + `}`)
	rep, err := c.do(ctx, http.MethodPut, p, forceQuery(force), body, nil)
	if err != nil {
		return nil, err
	}
	return deploymentFrom(rep)
}

// RestartApp restarts all tasks of an app (POST /v2/apps/{id}/restart).
func (c *Client) RestartApp(ctx context.Context, id string, force bool) (*DeploymentResult, error) {
	p, err := objectPath("/v2/apps", id)
	if err != nil {
		return nil, fmt.Errorf("restart app: %w", err)
	}
	rep, err := c.do(ctx, http.MethodPost, p+"/restart", forceQuery(force), nil, nil)
	if err != nil {
		return nil, err
	}
	return deploymentFrom(rep)
}

// DeleteApp stops and removes an app (DELETE /v2/apps/{id}).
func (c *Client) DeleteApp(ctx context.Context, id string, force bool) (*DeploymentResult, error) {
	p, err := objectPath("/v2/apps", id)
	if err != nil {
		return nil, fmt.Errorf("delete app: %w", err)
	}
	rep, err := c.do(ctx, http.MethodDelete, p, forceQuery(force), nil, nil)
	if err != nil {
		return nil, err
	}
	return deploymentFrom(rep)
}

// deploymentFrom reads the deployment a change started: the documented
// {"deploymentId", "version"} body, else the Marathon-Deployment-Id header
// with the "version" (and "deployments") of an app or group body.
func deploymentFrom(rep *reply) (*DeploymentResult, error) {
	var v struct {
		DeploymentID string          `json:"deploymentId"`
		Version      string          `json:"version"`
		Deployments  []DeploymentRef `json:"deployments"`
	}
	if b := bytes.TrimSpace(rep.body); len(b) > 0 && b[0] == '{' {
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, fmt.Errorf("marathon %s %s: decode deployment result: %w", rep.method, rep.endpoint, err)
		}
	}
	res := &DeploymentResult{DeploymentID: v.DeploymentID, Version: v.Version}
	if res.DeploymentID == "" {
		res.DeploymentID = rep.header.Get("Marathon-Deployment-Id")
	}
	if res.DeploymentID == "" && len(v.Deployments) > 0 {
		res.DeploymentID = v.Deployments[0].ID
	}
	if res.DeploymentID == "" {
		return nil, fmt.Errorf("marathon %s %s: the answer names no deployment (no deploymentId, Marathon-Deployment-Id header or deployments)", rep.method, rep.endpoint)
	}
	return res, nil
}

// writableApp returns a shallow copy of app without the read-only status
// fields that Marathon adds to its answers. Sending "version" back with other
// fields is rejected by Marathon (alone, it asks for a rollback), and the
// task and deployment status fields are not part of an app definition.
func writableApp(app *App) *App {
	cp := *app
	cp.Version, cp.VersionInfo = nil, nil
	cp.TasksStaged, cp.TasksRunning, cp.TasksHealthy, cp.TasksUnhealthy = nil, nil, nil, nil
	cp.Deployments, cp.Tasks, cp.LastTaskFailure, cp.ReadinessCheckResults, cp.AppTaskStats = nil, nil, nil, nil, nil
	return &cp
}
