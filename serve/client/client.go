// Package client is a Go client of the `switchyard serve` API (package
// serve, docs/serve.md): what the CLI uses when a context names a server,
// so that migrations run there and nowhere else.
package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/switchyard/switchyard/internal/capool"
	"github.com/switchyard/switchyard/serve"
)

// Options say where the server is and how to authenticate.
type Options struct {
	// URL is the server's base URL.
	URL string
	// TokenFile holds the bearer token.
	TokenFile string
	// CAFile is a PEM CA bundle trusted for https besides the system's.
	CAFile string
	// Transport replaces the HTTP transport (tests); CAFile is then unused.
	Transport http.RoundTripper
	// RetryEvery is how long Watch waits before it reconnects a stream
	// that broke (default 1 s).
	RetryEvery time.Duration
}

// Client calls one server.
type Client struct {
	base  *url.URL
	token string
	hc    *http.Client
	retry time.Duration
}

// New reads the token and CA files and returns a client; nothing is sent.
func New(o Options) (*Client, error) {
	base, err := url.Parse(strings.TrimRight(o.URL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("server URL %q: want https://HOST:PORT", o.URL)
	}
	raw, err := os.ReadFile(o.TokenFile)
	if err != nil {
		return nil, fmt.Errorf("server token: %w", err)
	}
	token := strings.TrimSpace(string(raw))
	if token == "" || strings.ContainsAny(token, "\r\n") {
		return nil, fmt.Errorf("server token: %s holds no token (one line)", o.TokenFile)
	}
	rt := o.Transport
	switch {
	case rt != nil:
	case o.CAFile != "":
		pool, err := capool.Load(o.CAFile, true)
		if err != nil {
			return nil, fmt.Errorf("server CA: %w", err)
		}
		rt = capool.Transport(pool)
	default:
		rt = http.DefaultTransport.(*http.Transport).Clone()
	}
	retry := o.RetryEvery
	if retry <= 0 {
		retry = time.Second
	}
	return &Client{base: base, token: token, hc: &http.Client{Transport: rt}, retry: retry}, nil
}

// URL is the server's base URL.
func (c *Client) URL() string { return c.base.String() }

// APIError is an answer of the server other than success.
type APIError struct {
	// Status is the HTTP status code; Message the server's error text.
	Status  int
	Message string
	// Method and Path are the request's.
	Method, Path string
}

// Error names the call, the status and what the server said.
func (e *APIError) Error() string {
	hint := ""
	switch e.Status {
	case http.StatusUnauthorized:
		hint = " (the server does not know the token: check server.tokenFile)"
	case http.StatusForbidden:
		hint = " (ask for an operator token)"
	}
	return fmt.Sprintf("%s %s: %d %s: %s%s", e.Method, e.Path, e.Status, http.StatusText(e.Status), e.Message, hint)
}

// Status is GET /api/v1/status.
func (c *Client) Status(ctx context.Context) (serve.Status, error) {
	var st serve.Status
	return st, c.do(ctx, http.MethodGet, "/api/v1/status", nil, &st)
}

// Migrate is POST /api/v1/migrations.
func (c *Client) Migrate(ctx context.Context, req serve.MigrateRequest) (serve.Accepted, error) {
	var a serve.Accepted
	return a, c.do(ctx, http.MethodPost, "/api/v1/migrations", req, &a)
}

// Command is POST /api/v1/apps/{app}/{op} (pause, resume, abort, rollback).
func (c *Client) Command(ctx context.Context, app, op, reason string) (serve.Accepted, error) {
	var a serve.Accepted
	return a, c.do(ctx, http.MethodPost, "/api/v1/apps/"+url.PathEscape(app)+"/"+url.PathEscape(op), serve.CommandRequest{Reason: reason}, &a)
}

// Whoami is GET /api/v1/whoami: the caller's name and role.
func (c *Client) Whoami(ctx context.Context) (name, role string, err error) {
	var out struct{ Name, Role string }
	err = c.do(ctx, http.MethodGet, "/api/v1/whoami", nil, &out)
	return out.Name, out.Role, err
}

func (c *Client) newRequest(ctx context.Context, method, path string, body any) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base.String()+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// maxAnswer bounds an answer read (a status of thousands of apps fits).
const maxAnswer = 16 << 20

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	req, err := c.newRequest(ctx, method, path, body)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("%s %s: read the answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return apiError(method, path, resp.StatusCode, data)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: the answer is not the API's JSON: %w", method, path, err)
	}
	return nil
}

func apiError(method, path string, code int, body []byte) *APIError {
	var e struct {
		Error string `json:"error"`
	}
	msg := strings.TrimSpace(string(body))
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		msg = e.Error
	}
	if len(msg) > 512 {
		msg = msg[:512] + "…"
	}
	return &APIError{Status: code, Message: msg, Method: method, Path: path}
}

// Watch follows GET /api/v1/events and calls fn with each status the
// server sends until fn returns true (or an error) or ctx ends. A stream
// that breaks (the replica behind the URL went away) is opened again after
// RetryEvery; an answer the API refuses (401, 403, 404) ends the watch.
func (c *Client) Watch(ctx context.Context, fn func(serve.Status) (bool, error)) error {
	for {
		done, err := c.watchOnce(ctx, fn)
		if done || ctx.Err() != nil {
			if err == nil && !done {
				err = ctx.Err()
			}
			return err
		}
		var ae *APIError
		if errors.As(err, &ae) && ae.Status/100 == 4 {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-time.After(c.retry):
		}
	}
}

// watchOnce reads one event stream; done is true once fn said so or
// failed (err is then fn's).
func (c *Client) watchOnce(ctx context.Context, fn func(serve.Status) (bool, error)) (done bool, err error) {
	const path = "/api/v1/events"
	req, err := c.newRequest(ctx, http.MethodGet, path, nil)
	if err != nil {
		return true, err
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.hc.Do(req)
	if err != nil {
		return false, fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return false, apiError(http.MethodGet, path, resp.StatusCode, data)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), maxAnswer)
	event, data := "", []byte(nil)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if event == "status" && len(data) > 0 {
				var st serve.Status
				if err := json.Unmarshal(data, &st); err != nil {
					return true, fmt.Errorf("GET %s: a status event is not the API's JSON: %w", path, err)
				}
				if ok, err := fn(st); ok || err != nil {
					return true, err
				}
			}
			event, data = "", nil
		case strings.HasPrefix(line, "event:"):
			event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			data = append(data, strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " ")...)
		}
	}
	if err := sc.Err(); err != nil {
		return false, fmt.Errorf("GET %s: %w", path, err)
	}
	return false, fmt.Errorf("GET %s: the stream ended", path)
}
