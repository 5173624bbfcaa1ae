package marathon

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Ping checks that Marathon answers (GET /ping).
func (c *Client) Ping(ctx context.Context) error {
	rep, err := c.do(ctx, http.MethodGet, "/ping", nil, nil, nil)
	if err != nil {
		return err
	}
	if !strings.Contains(strings.ToLower(string(rep.body)), "pong") {
		return fmt.Errorf("marathon GET /ping at %s: answer %.40q is not pong: is this a Marathon?", c.URL(), rep.body)
	}
	return nil
}

// Info returns Marathon's version and configuration (GET /v2/info).
func (c *Client) Info(ctx context.Context) (*Info, error) {
	var out Info
	if _, err := c.do(ctx, http.MethodGet, "/v2/info", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Leader returns the host:port of the leading Marathon (GET /v2/leader).
func (c *Client) Leader(ctx context.Context) (string, error) {
	var out struct {
		Leader string `json:"leader"`
	}
	if _, err := c.do(ctx, http.MethodGet, "/v2/leader", nil, nil, &out); err != nil {
		return "", err
	}
	return out.Leader, nil
}

// QueueOptions says what to embed in the queue listing.
type QueueOptions struct {
	// LastUnusedOffers embeds the last offers that could not be used, with reasons.
	LastUnusedOffers bool
}

// Queue lists the apps and pods with instances waiting to launch (GET /v2/queue).
func (c *Client) Queue(ctx context.Context, opts QueueOptions) ([]QueueItem, error) {
	q := url.Values{}
	if opts.LastUnusedOffers {
		q.Set("embed", "lastUnusedOffers")
	}
	var out queueList
	if _, err := c.do(ctx, http.MethodGet, "/v2/queue", q, nil, &out); err != nil {
		return nil, err
	}
	return out.Queue, nil
}

// ResetDelay clears the launch backoff of an app so its instances launch now
// (DELETE /v2/queue/{id}/delay).
func (c *Client) ResetDelay(ctx context.Context, appID string) error {
	p, err := objectPath("/v2/queue", appID)
	if err != nil {
		return fmt.Errorf("reset launch delay: %w", err)
	}
	_, err = c.do(ctx, http.MethodDelete, p+"/delay", nil, nil, nil)
	return err
}
