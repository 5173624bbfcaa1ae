package traffic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/switchyard/switchyard/internal/capool"
	"github.com/switchyard/switchyard/lb"
)

// Errors of the admin API, wrapped by the errors of Client's methods (test
// them with errors.Is).
var (
	// ErrConflict means the instance already holds a state at least as new
	// as the one pushed (another writer got there first): re-read and retry.
	ErrConflict = errors.New("routing state version conflict")
	// ErrRefused means the instance refused the state as invalid (400).
	ErrRefused = errors.New("refused the routing state")
	// ErrUnauthorized means the instance refused the admin token (401).
	ErrUnauthorized = errors.New("the admin token was refused")
	// ErrUnreachable means no answer came from the instance.
	ErrUnreachable = errors.New("unreachable")
)

// Client talks to ONE nginx instance's admin API (docs/load-balancer.md).
// Every request but /healthz carries the bearer token. Its errors name the
// instance and its URL and say what to do. A Client is safe for concurrent
// use once its fields are set.
type Client struct {
	// Name names the instance in errors and statuses (default: AdminURL).
	Name string
	// AdminURL is the admin API base URL, e.g. https://10.0.0.5:8443.
	AdminURL string
	// Token is the admin token; when empty it is read from TokenFile
	// (trimmed) at the first request and again after a 401.
	Token string
	// TokenFile holds the admin token (the file nginx reads too).
	TokenFile string
	// CAFile is a PEM bundle of the CAs that signed the admin listener's
	// certificate (https with the operator's CA). Used only when HTTP is nil.
	CAFile string
	// HTTP is the client used for the admin API (default: 10 s timeout,
	// trusting CAFile when set).
	HTTP *http.Client

	mu    sync.Mutex
	token string
	hc    *http.Client

	imu    sync.Mutex
	intern map[string]string // route and platform names of the last /stats
}

// Health is the answer of GET /healthz.
type Health struct {
	// Status is "ok".
	Status string `json:"status"`
	// Version is the version of the active routing state.
	Version int64 `json:"version"`
	// Routes is the number of routes in it.
	Routes int `json:"routes"`
	// Instance is the random id nginx chose when it started; it changes on
	// every restart of nginx.
	Instance string `json:"instance"`
}

// String returns the instance's name.
func (c *Client) String() string {
	if c.Name != "" {
		return c.Name
	}
	return c.AdminURL
}

// where names the instance and its URL for errors.
func (c *Client) where() string {
	if c.Name == "" {
		return "nginx instance " + c.AdminURL
	}
	return fmt.Sprintf("nginx instance %s (%s)", c.Name, c.AdminURL)
}

var defaultHTTP = &http.Client{Timeout: 10 * time.Second}

func (c *Client) http() (*http.Client, error) {
	if c.HTTP != nil {
		return c.HTTP, nil
	}
	if c.CAFile == "" {
		return defaultHTTP, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hc != nil {
		return c.hc, nil
	}
	pool, err := capool.Load(c.CAFile, false)
	if err != nil {
		return nil, fmt.Errorf("%s: the admin CA file: %w (check the context's loadBalancer CA file)", c.where(), err)
	}
	c.hc = &http.Client{Timeout: 10 * time.Second, Transport: capool.Transport(pool)}
	return c.hc, nil
}

func (c *Client) bearer() (string, error) {
	if c.Token != "" {
		return c.Token, nil
	}
	if c.TokenFile == "" {
		return "", nil // nginx answers 401, and the error says what to do
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token != "" {
		return c.token, nil
	}
	t, err := lb.ReadToken(c.TokenFile)
	if err != nil {
		return "", fmt.Errorf("%s: read the admin token: %w (check the context's loadBalancer token file)", c.where(), err)
	}
	c.token = t
	return t, nil
}

// forgetToken makes the next request re-read TokenFile (it may have been
// rotated).
func (c *Client) forgetToken() {
	c.mu.Lock()
	c.token = ""
	c.mu.Unlock()
}

// do sends one request and returns the body of a 200 answer, or an error
// naming the instance and what to do.
func (c *Client) do(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	hc, err := c.http()
	if err != nil {
		return nil, err
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.AdminURL, "/")+path, rd)
	if err != nil {
		return nil, fmt.Errorf("%s: %s %s: %w (check the context's loadBalancer.instances)", c.where(), method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if path != "/healthz" {
		tok, err := c.bearer()
		if err != nil {
			return nil, err
		}
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s: %s %s: %w", c.where(), method, path, err)
		}
		return nil, fmt.Errorf("%s: %s %s: %w: %w: is nginx running there? check the context's loadBalancer.instances", c.where(), method, path, ErrUnreachable, err)
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: %s %s: reading the answer: %w: %w", c.where(), method, path, ErrUnreachable, err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return rb, nil
	case http.StatusUnauthorized:
		c.forgetToken()
		fix := "check the configured token: it must be the one nginx reads (lb render --admin-token-file)"
		switch {
		case c.Token == "" && c.TokenFile != "":
			fix = "check the token file " + c.TokenFile + ": it must hold the token nginx reads (lb render --admin-token-file)"
		case c.Token == "":
			fix = "no token is configured: set the context's token file (holding the token nginx reads, lb render --admin-token-file)"
		}
		return nil, fmt.Errorf("%s: %s %s: %w (401: %s): %s", c.where(), method, path, ErrUnauthorized, adminError(rb), fix)
	case http.StatusConflict:
		return nil, fmt.Errorf("%s: %s %s: %w: %s", c.where(), method, path, ErrConflict, adminError(rb))
	case http.StatusBadRequest:
		return nil, fmt.Errorf("%s %w: 400 Bad Request: %s", c.where(), ErrRefused, adminError(rb))
	default:
		return nil, fmt.Errorf("%s: %s %s: %s: %s", c.where(), method, path, resp.Status, adminError(rb))
	}
}

// Health returns the instance's GET /healthz (no token needed).
func (c *Client) Health(ctx context.Context) (Health, error) {
	var h Health
	err := c.call(ctx, http.MethodGet, "/healthz", nil, &h)
	return h, err
}

// Get returns the instance's active routing state.
func (c *Client) Get(ctx context.Context) (State, error) {
	var s State
	err := c.call(ctx, http.MethodGet, "/routes", nil, &s)
	return s, err
}

// call sends one request and decodes the 200 answer into out.
func (c *Client) call(ctx context.Context, method, path string, body []byte, out any) error {
	rb, err := c.do(ctx, method, path, body)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(rb, out); err != nil {
		return fmt.Errorf("%s: %s %s: unreadable answer: %w", c.where(), method, path, err)
	}
	return nil
}

// Put replaces the instance's routing state with s (not validated here: see
// Validate) and returns the state as stored once nginx persisted it. A
// Version not newer than the active one is ErrConflict; an invalid state is
// ErrRefused with nginx's message; a refused token is ErrUnauthorized.
func (c *Client) Put(ctx context.Context, s State) (State, error) {
	body, err := json.Marshal(s)
	if err != nil {
		return State{}, fmt.Errorf("%s: PUT /routes: %w", c.where(), err)
	}
	var out State
	if err := c.call(ctx, http.MethodPut, "/routes", body, &out); err != nil {
		return State{}, err
	}
	return out, nil
}

// Stats returns the instance's GET /stats, indexed by route.
func (c *Client) Stats(ctx context.Context) (*InstanceStats, error) {
	body, err := c.do(ctx, http.MethodGet, "/stats", nil)
	if err != nil {
		return nil, err
	}
	c.imu.Lock()
	if c.intern == nil {
		c.intern = map[string]string{}
	}
	st, err := decodeStats(body, c.intern)
	if err == nil && len(c.intern) > 4*len(st.Series)+64 {
		c.intern = nil // routes came and went: start afresh next time
	}
	c.imu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("%s: GET /stats: %w", c.where(), err)
	}
	return st, nil
}

// sameState compares two states as nginx stores them (nil and empty lists
// are the same, "" and "/" prefixes too).
func sameState(a, b State) bool {
	if a.Version != b.Version || len(a.Routes) != len(b.Routes) {
		return false
	}
	for i := range a.Routes {
		ra, rb := a.Routes[i], b.Routes[i]
		if ra.Name != rb.Name || ra.Host != rb.Host || NormPrefix(ra.PathPrefix) != NormPrefix(rb.PathPrefix) ||
			ra.Owner != rb.Owner || len(ra.Backends) != len(rb.Backends) {
			return false
		}
		for j := range ra.Backends {
			if ra.Backends[j] != rb.Backends[j] {
				return false
			}
		}
	}
	return true
}

func adminError(body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return e.Error
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 500 {
		s = s[:500] + "..."
	}
	return s
}
