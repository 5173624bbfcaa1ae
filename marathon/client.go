package marathon

import (
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
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/internal/ctxtime"
	"github.com/switchyard/switchyard/internal/redact"
	"github.com/switchyard/switchyard/internal/version"
)

// Environment variables read by ConfigFromEnv (the names the DC/OS tooling uses).
const (
	// EnvURL is Marathon's base URL, e.g. http://127.0.0.1:8080 (userinfo gives basic auth;
	// several URLs may be given separated by commas, tried in order when one is unreachable).
	EnvURL = "MARATHON_URL"
	// EnvDCOSURL is a DC/OS cluster URL; Marathon is then at <DCOS_URL>/service/marathon.
	EnvDCOSURL = "DCOS_URL"
	// EnvDCOSToken is a DC/OS authentication token sent as "Authorization: token=...".
	EnvDCOSToken = "DCOS_ACS_TOKEN"
	// EnvDCOSSSLVerify is "true", "false" (skip verification) or the path of a CA bundle.
	EnvDCOSSSLVerify = "DCOS_SSL_VERIFY"
)

// Defaults applied by NewClient to zero Config fields.
const (
	DefaultTimeout = 30 * time.Second
	DefaultRetries = 3
)

// Config configures a Client. The zero value of every field but URL is usable.
type Config struct {
	// URL is Marathon's base URL (http or https, may carry a path prefix such as
	// /service/marathon and user:password userinfo). A comma-separated list names
	// several Marathon instances; the next is tried when one cannot be reached.
	URL string
	// Username and Password enable HTTP basic auth (they override URL userinfo).
	Username string
	Password string
	// Token is an authentication token; it takes precedence over basic auth.
	Token string
	// TokenScheme is TokenSchemeDCOS ("token=<t>", the default) or TokenSchemeBearer.
	TokenScheme string
	// CAFile and CAData add PEM CA certificates trusted for https URLs.
	CAFile string
	CAData []byte
	// InsecureSkipVerify disables TLS certificate verification.
	InsecureSkipVerify bool
	// Timeout bounds each attempt of a request, including reading the answer
	// (default DefaultTimeout; negative means none). The event stream is not bounded.
	Timeout time.Duration
	// Retries is the number of extra attempts after a retryable failure
	// (default DefaultRetries; negative means no retry).
	Retries int
	// Backoff spaces the retries (default DefaultBackoff).
	Backoff Backoff
	// HTTPClient replaces the client built from the TLS settings above (they must then be empty).
	HTTPClient *http.Client
	// UserAgent overrides the User-Agent header (default "switchyard/<version>").
	UserAgent string
}

// ConfigFromEnv reads the Marathon connection settings from the environment the
// way the DC/OS tooling does: MARATHON_URL (else DCOS_URL + "/service/marathon"),
// DCOS_ACS_TOKEN and DCOS_SSL_VERIFY.
func ConfigFromEnv() (Config, error) {
	var cfg Config
	cfg.URL = strings.TrimSpace(os.Getenv(EnvURL))
	if cfg.URL == "" {
		if d := strings.TrimSpace(os.Getenv(EnvDCOSURL)); d != "" {
			cfg.URL = strings.TrimRight(d, "/") + "/service/marathon"
		}
	}
	if cfg.URL == "" {
		return cfg, fmt.Errorf("%s is not set: export %s=http://HOST:8080 (for the lab: eval \"$(switchyard lab env)\")", EnvURL, EnvURL)
	}
	cfg.Token = strings.TrimSpace(os.Getenv(EnvDCOSToken))
	switch v := strings.TrimSpace(os.Getenv(EnvDCOSSSLVerify)); strings.ToLower(v) {
	case "", "true", "1", "yes":
	case "false", "0", "no":
		cfg.InsecureSkipVerify = true
	default:
		cfg.CAFile = v
	}
	return cfg, nil
}

// Client talks to Marathon's v2 REST API. It is safe for concurrent use.
type Client struct {
	cfg       Config
	endpoints []*url.URL // base URLs without userinfo or trailing slash
	current   atomic.Int32
	http      *http.Client
	userAgent string
	backoff   Backoff
	jitter    func() float64
	sleep     func(context.Context, time.Duration) error
}

// NewClient checks cfg and returns a Client. It does not contact Marathon.
func NewClient(cfg Config) (*Client, error) {
	if strings.TrimSpace(cfg.URL) == "" {
		return nil, fmt.Errorf("marathon client: no URL: set Config.URL or %s", EnvURL)
	}
	c := &Client{cfg: cfg, backoff: cfg.Backoff.withDefaults(), jitter: jitterSource, sleep: ctxtime.Sleep}
	for _, raw := range strings.Split(cfg.URL, ",") {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		// Errors show the URL redacted: it may carry user:password.
		u, err := url.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("marathon client: URL %s: %w", redact.URL(raw), redact.Cause(err))
		}
		if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
			return nil, fmt.Errorf("marathon client: URL %s: want http://HOST:PORT or https://HOST:PORT", redact.URL(raw))
		}
		if u.User != nil {
			if c.cfg.Username == "" {
				c.cfg.Username = u.User.Username()
				c.cfg.Password, _ = u.User.Password()
			}
			u.User = nil
		}
		u.Path = strings.TrimRight(u.Path, "/")
		u.RawPath, u.RawQuery, u.Fragment = "", "", ""
		c.endpoints = append(c.endpoints, u)
	}
	if len(c.endpoints) == 0 {
		return nil, fmt.Errorf("marathon client: no URL in %q", redact.URL(cfg.URL))
	}
	if c.cfg.Timeout == 0 {
		c.cfg.Timeout = DefaultTimeout
	}
	if c.cfg.Retries == 0 {
		c.cfg.Retries = DefaultRetries
	} else if c.cfg.Retries < 0 {
		c.cfg.Retries = 0
	}
	c.userAgent = cfg.UserAgent
	if c.userAgent == "" {
		c.userAgent = "switchyard/" + version.Version
	}
	tc, err := tlsConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("marathon client: %w", err)
	}
	switch {
	case cfg.HTTPClient != nil && tc != nil:
		return nil, errors.New("marathon client: set either HTTPClient or the TLS settings (CAFile, CAData, InsecureSkipVerify), not both")
	case cfg.HTTPClient != nil:
		c.http = cfg.HTTPClient
	default:
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = tc
		c.http = &http.Client{Transport: tr}
	}
	return c, nil
}

// URL returns the base URL of the Marathon the client currently talks to,
// without userinfo (NewClient moves it to Config.Username and Password), so
// that messages can show it.
func (c *Client) URL() string { return c.base().Redacted() }

func (c *Client) base() *url.URL {
	return c.endpoints[int(c.current.Load())%len(c.endpoints)]
}

// failover moves to the next configured Marathon URL, if there are several.
func (c *Client) failover(from *url.URL) {
	if len(c.endpoints) < 2 {
		return
	}
	for i, e := range c.endpoints {
		if e == from {
			c.current.CompareAndSwap(int32(i), int32((i+1)%len(c.endpoints)))
			return
		}
	}
}

// reply is a successful answer: its status, headers and body.
type reply struct {
	method   string
	endpoint string
	status   int
	header   http.Header
	body     []byte
}

const maxBody = 512 << 20

// do sends one API request with retries and decodes a 2xx JSON answer into out
// (when out is not nil). in is marshalled as JSON unless it is already []byte
// or json.RawMessage.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) (*reply, error) {
	var body []byte
	if in != nil {
		switch v := in.(type) {
		case []byte:
			body = v
		case json.RawMessage:
			body = v
		default:
			b, err := json.Marshal(in)
			if err != nil {
				return nil, fmt.Errorf("marathon %s %s: encode request: %w", method, path, err)
			}
			body = b
		}
	}
	endpoint := path
	if len(query) > 0 {
		endpoint += "?" + query.Encode()
	}
	base, rep, err := c.withRetries(ctx, method, endpoint, func(base *url.URL) (*reply, error) {
		return c.once(ctx, method, base, endpoint, body)
	})
	if err != nil {
		return nil, err
	}
	rep.method, rep.endpoint = method, endpoint
	if out != nil && len(bytes.TrimSpace(rep.body)) > 0 {
		if err := json.Unmarshal(rep.body, out); err != nil {
			return rep, fmt.Errorf("marathon %s %s: decode answer from %s: %w", method, endpoint, base, err)
		}
	}
	return rep, nil
}

// withRetries runs try (one attempt against a base URL) until it gets a 2xx
// answer, applying the retry policy: connection errors and 5xx answers are
// retried as retryableErr and retryableStatus allow, with backoff (or the
// server's Retry-After, capped at Backoff.Max) between attempts, and a
// connection that was refused moves on to the next configured URL. A final
// failure is a *TransportError or an *APIError.
func (c *Client) withRetries(ctx context.Context, method, endpoint string, try func(base *url.URL) (*reply, error)) (*url.URL, *reply, error) {
	for attempt := 0; ; attempt++ {
		base := c.base()
		rep, err := try(base)
		var failure error
		var delay time.Duration
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return base, nil, fmt.Errorf("marathon %s %s: %w", method, endpoint, ctx.Err())
			}
			failure = &TransportError{Method: method, Endpoint: endpoint, URL: base.String(), Attempts: attempt + 1, Err: err}
			if attempt >= c.cfg.Retries || !retryableErr(method, err) {
				return base, nil, failure
			}
			if notSent(err) {
				c.failover(base)
			}
			delay = c.backoff.Delay(attempt, c.jitter())
		case rep.status < 200 || rep.status > 299:
			failure = newAPIError(base.String(), method, endpoint, rep.status, rep.body)
			if attempt >= c.cfg.Retries || !retryableStatus(method, rep.status) {
				return base, nil, failure
			}
			delay = c.backoff.Delay(attempt, c.jitter())
			if ra, ok := retryAfter(rep.header); ok && ra > delay {
				delay = min(ra, c.backoff.Max)
			}
		default:
			return base, rep, nil
		}
		if serr := c.sleep(ctx, delay); serr != nil {
			return base, nil, fmt.Errorf("%w (gave up retrying: %w)", failure, serr)
		}
	}
}

// once sends a single attempt and reads the whole answer within the per-attempt timeout.
func (c *Client) once(ctx context.Context, method string, base *url.URL, endpoint string, body []byte) (*reply, error) {
	if c.cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.Timeout)
		defer cancel()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, base.String()+endpoint, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", c.userAgent)
	c.authorize(req)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	return &reply{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// objectPath joins a collection path and a Marathon path id ("/prod/web" or
// "prod/web"), escaping each segment but keeping the slashes.
func objectPath(collection, id string) (string, error) {
	id = strings.Trim(strings.TrimSpace(id), "/")
	if id == "" {
		return "", fmt.Errorf("empty id: give an id such as /prod/web")
	}
	segs := strings.Split(id, "/")
	for i, s := range segs {
		if s == "" || s == "." || s == ".." {
			return "", fmt.Errorf("id %q: empty or relative path segment", id)
		}
		segs[i] = url.PathEscape(s)
	}
	return collection + "/" + strings.Join(segs, "/"), nil
}

// forceQuery returns ?force=true when force is set.
func forceQuery(force bool) url.Values {
	q := url.Values{}
	if force {
		q.Set("force", "true")
	}
	return q
}
