package marathon

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Embed values for Client.Group.
const (
	EmbedGroupGroups          = "group.groups"
	EmbedGroupApps            = "group.apps"
	EmbedGroupAppsTasks       = "group.apps.tasks"
	EmbedGroupAppsCounts      = "group.apps.counts"
	EmbedGroupAppsDeployments = "group.apps.deployments"
)

// groupPath is /v2/groups for the root group ("" or "/") and /v2/groups/{id} otherwise.
func groupPath(id string) (string, error) {
	if strings.Trim(strings.TrimSpace(id), "/") == "" {
		return "/v2/groups", nil
	}
	return objectPath("/v2/groups", id)
}

// Group returns the group with this id ("/" for the root) with its apps and
// child groups (GET /v2/groups/{id}); embed overrides what is embedded.
func (c *Client) Group(ctx context.Context, id string, embed ...string) (*Group, error) {
	p, err := groupPath(id)
	if err != nil {
		return nil, fmt.Errorf("get group: %w", err)
	}
	q := url.Values{}
	for _, e := range embed {
		q.Add("embed", e)
	}
	var out Group
	if _, err := c.do(ctx, http.MethodGet, p, q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GroupVersions lists the stored versions of a group.
func (c *Client) GroupVersions(ctx context.Context, id string) ([]string, error) {
	p, err := groupPath(id)
	if err != nil {
		return nil, fmt.Errorf("list group versions: %w", err)
	}
	var out []string
	if _, err := c.do(ctx, http.MethodGet, p+"/versions", nil, nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// CreateGroup creates a group with its apps and child groups (POST /v2/groups).
func (c *Client) CreateGroup(ctx context.Context, g *Group, force bool) (*DeploymentResult, error) {
	if g == nil || strings.Trim(g.ID, "/") == "" {
		return nil, fmt.Errorf("create group: the definition has no id: set \"id\", e.g. \"/prod\"")
	}
	rep, err := c.do(ctx, http.MethodPost, "/v2/groups", forceQuery(force), writableGroup(g), nil)
	if err != nil {
		return nil, err
	}
	return deploymentFrom(rep)
}

// UpdateGroup changes (or creates) the group with g.ID (PUT /v2/groups/{id}):
// apps added are started, apps removed are stopped, changed apps are upgraded.
// opts.Replace is not used (groups are always replaced). Read-only status
// fields (versions, pod status, app task status) are not sent, so a group
// read with Client.Group can be changed and written back.
func (c *Client) UpdateGroup(ctx context.Context, g *Group, opts UpdateOptions) (*DeploymentResult, error) {
	if g == nil {
		return nil, fmt.Errorf("update group: no definition")
	}
	p, err := groupPath(g.ID)
	if err != nil {
		return nil, fmt.Errorf("update group: %w", err)
	}
	rep, err := c.do(ctx, http.MethodPut, p, forceQuery(opts.Force), writableGroup(g), nil)
	if err != nil {
		return nil, err
	}
	return deploymentFrom(rep)
}

// DeleteGroup stops and removes a group with all its apps (DELETE /v2/groups/{id}).
func (c *Client) DeleteGroup(ctx context.Context, id string, force bool) (*DeploymentResult, error) {
	if strings.Trim(strings.TrimSpace(id), "/") == "" {
		return nil, fmt.Errorf("delete group: refusing to delete the root group: name a group such as /prod")
	}
	p, err := groupPath(id)
	if err != nil {
		return nil, fmt.Errorf("delete group: %w", err)
	}
	rep, err := c.do(ctx, http.MethodDelete, p, forceQuery(force), nil, nil)
	if err != nil {
		return nil, err
	}
	return deploymentFrom(rep)
}

// writableGroup returns a copy of the group tree in Marathon's GroupUpdate
// shape: without versions (a version asks for a rollback), pod status, or
// the apps' read-only status fields.
func writableGroup(g *Group) *Group {
	cp := *g
	cp.Version, cp.Pods = nil, nil
	cp.Apps = nil
	for _, a := range g.Apps {
		if a != nil {
			cp.Apps = append(cp.Apps, writableApp(a))
		}
	}
	cp.Groups = nil
	for _, sub := range g.Groups {
		if sub != nil {
			cp.Groups = append(cp.Groups, writableGroup(sub))
		}
	}
	return &cp
}
