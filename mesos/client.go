package mesos

import (
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
)

// EnvMasterURL is the environment variable naming the Mesos master, as the
// Mesos and DC/OS tooling use it ("http://127.0.0.1:5050").
const EnvMasterURL = "MESOS_MASTER_URL"

// DefaultTimeout bounds one request when the caller's context has no deadline.
const DefaultTimeout = 10 * time.Second

// maxBody bounds the size of a state response we read (a large cluster's
// /master/state is tens of MiB).
const maxBody = 512 << 20

// Client reads the Mesos master's HTTP API.
type Client struct {
	base    *url.URL
	raw     string
	http    *http.Client
	timeout time.Duration
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client (TLS, proxies...).
func WithHTTPClient(c *http.Client) Option { return func(cl *Client) { cl.http = c } }

// WithTimeout sets the per-request timeout (default DefaultTimeout).
func WithTimeout(d time.Duration) Option { return func(cl *Client) { cl.timeout = d } }

// NewClient returns a client for the master at masterURL ("http://host:5050";
// a trailing "/" or "/master" is accepted). A bad URL is reported by the first
// request, so NewClient can be used inline.
func NewClient(masterURL string, opts ...Option) *Client {
	c := &Client{raw: masterURL, http: http.DefaultClient, timeout: DefaultTimeout}
	u, err := url.Parse(strings.TrimSpace(masterURL))
	if err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
		u.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), "/master")
		c.base = u
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// NewClientFromEnv returns a client for $MESOS_MASTER_URL, or an error saying
// how to set it.
func NewClientFromEnv(opts ...Option) (*Client, error) {
	v := os.Getenv(EnvMasterURL)
	if v == "" {
		return nil, fmt.Errorf("%s is not set: set it to the Mesos master's URL (e.g. http://127.0.0.1:5050), or run `eval \"$(switchyard lab env)\"` for the lab", EnvMasterURL)
	}
	return NewClient(v, opts...), nil
}

// URL is the master's base URL as given.
func (c *Client) URL() string { return c.raw }

// State fetches GET /master/state.
func (c *Client) State(ctx context.Context) (State, error) {
	var s State
	err := c.get(ctx, "/master/state", &s)
	return s, err
}

// Slaves fetches GET /master/slaves.
func (c *Client) Slaves(ctx context.Context) (Slaves, error) {
	var s Slaves
	err := c.get(ctx, "/master/slaves", &s)
	return s, err
}

// HTTPError is a non-200 answer from the master.
type HTTPError struct {
	// URL is the requested URL.
	URL string
	// StatusCode is the HTTP status.
	StatusCode int
	// Body is the start of the response body.
	Body string
}

// Error says what the master answered and, for a non-leading master, what to do.
func (e *HTTPError) Error() string {
	msg := fmt.Sprintf("the Mesos master at %s answered %d %s", e.URL, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Body != "" {
		msg += ": " + e.Body
	}
	if e.StatusCode == http.StatusTemporaryRedirect || e.StatusCode == http.StatusServiceUnavailable {
		msg += " (this master may not be the leader; point " + EnvMasterURL + " at the leading master)"
	}
	return msg
}

func (c *Client) get(ctx context.Context, path string, into any) error {
	if c.base == nil {
		return fmt.Errorf("mesos master URL %q is not a valid http(s) URL like http://127.0.0.1:5050; check %s", c.raw, EnvMasterURL)
	}
	u := *c.base
	u.Path += path
	full := u.String()
	if _, ok := ctx.Deadline(); !ok && c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, full, nil)
	if err != nil {
		return fmt.Errorf("GET %s: %w", full, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("cannot reach the Mesos master at %s: no answer within the timeout: %w; check %s", c.raw, err, EnvMasterURL)
		}
		return fmt.Errorf("cannot reach the Mesos master at %s: %w; check %s", c.raw, err, EnvMasterURL)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return &HTTPError{URL: full, StatusCode: resp.StatusCode, Body: strings.TrimSpace(string(b))}
	}
	dec := json.NewDecoder(io.LimitReader(resp.Body, maxBody))
	if err := dec.Decode(into); err != nil {
		return fmt.Errorf("decode GET %s from the Mesos master: %w", full, err)
	}
	return nil
}
