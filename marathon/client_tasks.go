package marathon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
)

// Task status filters for TasksOptions.Status.
const (
	TaskStatusRunning = "running"
	TaskStatusStaging = "staging"
)

// TasksOptions filters the task list.
type TasksOptions struct {
	// Status keeps tasks in these conditions (TaskStatusRunning, TaskStatusStaging); empty means all.
	Status []string
}

// KillOptions modifies a task kill.
type KillOptions struct {
	// Scale scales the app down by the number of killed tasks (a deployment).
	Scale bool
	// Wipe destroys the tasks' local persistent volumes and reservations; not with Scale.
	Wipe bool
	// Force cancels a deployment that holds the app.
	Force bool
	// Host kills only the tasks on this agent (Client.KillAppTasks only).
	Host string
}

func (o KillOptions) query() (url.Values, error) {
	if o.Scale && o.Wipe {
		return nil, errors.New("kill tasks: scale and wipe cannot be combined: choose one")
	}
	q := forceQuery(o.Force)
	if o.Scale {
		q.Set("scale", "true")
	}
	if o.Wipe {
		q.Set("wipe", "true")
	}
	if o.Host != "" {
		q.Set("host", o.Host)
	}
	return q, nil
}

// Tasks lists the tasks of all apps (GET /v2/tasks).
func (c *Client) Tasks(ctx context.Context, opts TasksOptions) ([]Task, error) {
	q := url.Values{}
	switch len(opts.Status) {
	case 0:
	case 1:
		q.Set("status", opts.Status[0])
	default:
		for _, s := range opts.Status {
			q.Add("status[]", s)
		}
	}
	var out taskList
	if _, err := c.do(ctx, http.MethodGet, "/v2/tasks", q, nil, &out); err != nil {
		return nil, err
	}
	return out.Tasks, nil
}

// AppTasks lists the tasks of one app (GET /v2/apps/{id}/tasks).
func (c *Client) AppTasks(ctx context.Context, appID string) ([]Task, error) {
	p, err := objectPath("/v2/apps", appID)
	if err != nil {
		return nil, fmt.Errorf("list app tasks: %w", err)
	}
	var out taskList
	if _, err := c.do(ctx, http.MethodGet, p+"/tasks", nil, nil, &out); err != nil {
		return nil, err
	}
	return out.Tasks, nil
}

// KillTasks kills tasks of any apps by id (POST /v2/tasks/delete). With
// opts.Scale the apps are scaled down and the deployment is returned.
func (c *Client) KillTasks(ctx context.Context, taskIDs []string, opts KillOptions) (*KillResult, error) {
	if len(taskIDs) == 0 {
		return nil, errors.New("kill tasks: no task ids given")
	}
	if opts.Host != "" {
		return nil, errors.New("kill tasks: Host only applies to KillAppTasks")
	}
	q, err := opts.query()
	if err != nil {
		return nil, err
	}
	body := struct {
		IDs []string `json:"ids"`
	}{taskIDs}
	rep, err := c.do(ctx, http.MethodPost, "/v2/tasks/delete", q, body, nil)
	if err != nil {
		return nil, err
	}
	return killResultFrom(rep)
}

// KillAppTasks kills all tasks of an app, or those on opts.Host
// (DELETE /v2/apps/{id}/tasks).
func (c *Client) KillAppTasks(ctx context.Context, appID string, opts KillOptions) (*KillResult, error) {
	p, err := objectPath("/v2/apps", appID)
	if err != nil {
		return nil, fmt.Errorf("kill app tasks: %w", err)
	}
	q, err := opts.query()
	if err != nil {
		return nil, err
	}
	rep, err := c.do(ctx, http.MethodDelete, p+"/tasks", q, nil, nil)
	if err != nil {
		return nil, err
	}
	return killResultFrom(rep)
}

// KillTask kills one task of an app (DELETE /v2/apps/{id}/tasks/{taskId}).
func (c *Client) KillTask(ctx context.Context, appID, taskID string, opts KillOptions) (*KillResult, error) {
	p, err := objectPath("/v2/apps", appID)
	if err != nil {
		return nil, fmt.Errorf("kill task: %w", err)
	}
	if taskID == "" {
		return nil, fmt.Errorf("kill task of %s: empty task id", appID)
	}
	if opts.Host != "" {
		return nil, errors.New("kill task: Host only applies to KillAppTasks")
	}
	q, err := opts.query()
	if err != nil {
		return nil, err
	}
	rep, err := c.do(ctx, http.MethodDelete, p+"/tasks/"+url.PathEscape(taskID), q, nil, nil)
	if err != nil {
		return nil, err
	}
	return killResultFrom(rep)
}

// killResultFrom reads a kill answer: {"tasks": [...]}, {"task": {...}} or a
// deployment result.
func killResultFrom(rep *reply) (*KillResult, error) {
	var v struct {
		Tasks        []Task `json:"tasks"`
		Task         *Task  `json:"task"`
		DeploymentID string `json:"deploymentId"`
	}
	if b := bytes.TrimSpace(rep.body); len(b) > 0 {
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, fmt.Errorf("marathon %s %s: decode kill result: %w", rep.method, rep.endpoint, err)
		}
	}
	if v.DeploymentID != "" || rep.header.Get("Marathon-Deployment-Id") != "" && v.Tasks == nil && v.Task == nil {
		d, err := deploymentFrom(rep)
		if err != nil {
			return nil, err
		}
		return &KillResult{Deployment: d}, nil
	}
	res := &KillResult{Tasks: v.Tasks}
	if v.Task != nil {
		res.Tasks = append(res.Tasks, *v.Task)
	}
	return res, nil
}
