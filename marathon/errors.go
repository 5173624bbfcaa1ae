package marathon

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"
)

// ErrorDetail is one entry of the "details" array of a Marathon error body:
// the JSON path of the offending field and what is wrong with it.
type ErrorDetail struct {
	// Path is the JSON path of the field, e.g. "/upgradeStrategy/minimumHealthCapacity".
	Path string `json:"path,omitempty"`
	// Errors says what is wrong with it.
	Errors []string `json:"errors,omitempty"`
}

// DeploymentRef names a deployment, as Marathon lists them in 409 bodies and
// in an app's "deployments" field.
type DeploymentRef struct {
	// ID is the deployment's id (see Client.Deployments).
	ID string `json:"id"`
}

// APIError is a non-2xx answer from Marathon. It keeps Marathon's own
// message, the per-field details (with their JSON paths) and, for 409
// "locked by deployment" answers, the ids of the deployments holding the lock.
type APIError struct {
	// StatusCode is the HTTP status code Marathon answered with.
	StatusCode int
	// Method and Endpoint name the request (Endpoint is the path and query, e.g. "/v2/apps/web?force=false").
	Method   string
	Endpoint string
	// URL is the base URL of the Marathon that answered.
	URL string
	// Message is Marathon's "message" field (or the trimmed body when it is not JSON).
	Message string
	// Details is Marathon's "details" field: one entry per invalid JSON path.
	Details []ErrorDetail
	// Deployments lists the deployments that lock the object (409 answers).
	Deployments []DeploymentRef
	// Body is the raw response body, truncated to a few KiB.
	Body string
}

// errorBody is the wire shape of Marathon's error answers.
type errorBody struct {
	Message     string          `json:"message"`
	Details     []ErrorDetail   `json:"details"`
	Deployments []DeploymentRef `json:"deployments"`
}

const maxErrorBody = 8 << 10

// newAPIError builds an APIError from a response status and body.
func newAPIError(baseURL, method, endpoint string, status int, body []byte) *APIError {
	e := &APIError{StatusCode: status, Method: method, Endpoint: endpoint, URL: baseURL}
	if len(body) > maxErrorBody {
		body = body[:maxErrorBody]
	}
	e.Body = string(body)
	var eb errorBody
	if err := json.Unmarshal(body, &eb); err == nil && (eb.Message != "" || len(eb.Details) > 0) {
		e.Message, e.Details, e.Deployments = eb.Message, eb.Details, eb.Deployments
	} else {
		e.Message = strings.TrimSpace(stripHTML(string(body)))
	}
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	return e
}

// stripHTML gives a one-line summary of an HTML error page (Jetty answers
// some errors with HTML); other text is returned unchanged.
func stripHTML(s string) string {
	if !strings.Contains(s, "<html") && !strings.Contains(s, "<HTML") {
		return s
	}
	var b strings.Builder
	in := false
	for _, r := range s {
		switch {
		case r == '<':
			in = true
		case r == '>':
			in = false
			b.WriteByte(' ')
		case !in:
			b.WriteRune(r)
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// DeploymentIDs returns the ids of the deployments named in the error (409 answers).
func (e *APIError) DeploymentIDs() []string {
	ids := make([]string, 0, len(e.Deployments))
	for _, d := range e.Deployments {
		ids = append(ids, d.ID)
	}
	return ids
}

// Error renders the error on one line (plus one line per detail), naming the
// endpoint and saying what to do.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "marathon %s %s: %d %s: %s", e.Method, e.Endpoint, e.StatusCode, http.StatusText(e.StatusCode), e.Message)
	if ids := e.DeploymentIDs(); len(ids) > 0 {
		fmt.Fprintf(&b, " (deployments: %s)", strings.Join(ids, ", "))
	}
	if hint := e.hint(); hint != "" {
		b.WriteString("; ")
		b.WriteString(hint)
	}
	for _, d := range e.Details {
		path := d.Path
		if path == "" {
			path = "/"
		}
		fmt.Fprintf(&b, "\n  %s: %s", path, strings.Join(d.Errors, "; "))
	}
	return b.String()
}

func (e *APIError) hint() string {
	switch e.StatusCode {
	case http.StatusUnauthorized:
		return "check the credentials: user:password in MARATHON_URL, or the token in DCOS_ACS_TOKEN"
	case http.StatusForbidden:
		return "the identity used is not allowed to do this; use an account with the needed permissions"
	case http.StatusConflict:
		if len(e.Deployments) > 0 || strings.Contains(strings.ToLower(e.Message), "locked") {
			return "wait for the deployment to finish, or retry with --force to cancel it"
		}
		return ""
	case http.StatusUnprocessableEntity, http.StatusBadRequest:
		if len(e.Details) > 0 {
			return "fix the fields listed below"
		}
	case http.StatusServiceUnavailable:
		return "Marathon is not ready (no leader elected yet?); retry later"
	}
	return ""
}

// apiStatus returns the status code of err when it is (or wraps) an *APIError, else 0.
func apiStatus(err error) int {
	var e *APIError
	if errors.As(err, &e) {
		return e.StatusCode
	}
	return 0
}

// IsNotFound reports whether err is Marathon's 404 (no such app, group, task, deployment...).
func IsNotFound(err error) bool { return apiStatus(err) == http.StatusNotFound }

// IsConflict reports whether err is Marathon's 409: the object is locked by a
// deployment (see APIError.Deployments), or it already exists.
func IsConflict(err error) bool { return apiStatus(err) == http.StatusConflict }

// IsDeploymentLocked reports whether err is a 409 because a running deployment
// holds the object; retrying with force cancels that deployment.
func IsDeploymentLocked(err error) bool {
	var e *APIError
	if !errors.As(err, &e) || e.StatusCode != http.StatusConflict {
		return false
	}
	return len(e.Deployments) > 0 || strings.Contains(strings.ToLower(e.Message), "locked")
}

// IsUnauthorized reports whether err is a 401 (missing or wrong credentials).
func IsUnauthorized(err error) bool { return apiStatus(err) == http.StatusUnauthorized }

// IsForbidden reports whether err is a 403 (credentials lack permission).
func IsForbidden(err error) bool { return apiStatus(err) == http.StatusForbidden }

// IsInvalid reports whether err is Marathon rejecting a definition (400 or 422).
func IsInvalid(err error) bool {
	s := apiStatus(err)
	return s == http.StatusBadRequest || s == http.StatusUnprocessableEntity
}

// TransportError is a request that got no HTTP answer from Marathon after all
// attempts (connection refused, DNS failure, TLS failure, timeout...).
type TransportError struct {
	// Method and Endpoint name the request (Endpoint is the path and query).
	Method   string
	Endpoint string
	// URL is the base URL of the Marathon that could not be reached.
	URL string
	// Attempts is how many times the request was tried.
	Attempts int
	// Err is the last network error.
	Err error
}

// Error says which Marathon could not be reached and what to check.
func (e *TransportError) Error() string {
	attempts := ""
	if e.Attempts > 1 {
		attempts = fmt.Sprintf(" after %d attempts", e.Attempts)
	}
	return fmt.Sprintf("cannot reach Marathon at %s (%s %s)%s: %s; %s",
		e.URL, e.Method, e.Endpoint, attempts, describeNetErr(e.Err), transportHint(e.Err))
}

// Unwrap returns the underlying network error.
func (e *TransportError) Unwrap() error { return e.Err }

// IsUnreachable reports whether err is a TransportError (Marathon did not answer).
func IsUnreachable(err error) bool {
	var e *TransportError
	return errors.As(err, &e)
}

func describeNetErr(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by peer"
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return "cannot resolve host " + dnsErr.Name
	}
	return err.Error()
}

func transportHint(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "is it running? check MARATHON_URL"
	case isTLSError(err):
		return "check the CA (DCOS_SSL_VERIFY or --ca-file) or use an http:// URL"
	case isTimeout(err):
		return "Marathon did not answer in time; raise the timeout or check its load"
	}
	return "is it running? check MARATHON_URL"
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func isTLSError(err error) bool {
	s := err.Error()
	return strings.Contains(s, "x509:") || strings.Contains(s, "tls:")
}
