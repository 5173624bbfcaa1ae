package marathon

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
)

func TestAPIErrorFromMarathonBodies(t *testing.T) {
	// Bodies as Marathon's RAML documents them.
	tests := []struct {
		name        string
		status      int
		body        string
		wantMsg     string
		wantIn      []string
		wantNotIn   []string
		notFound    bool
		conflict    bool
		locked      bool
		invalid     bool
		deployments []string
	}{
		{
			name:   "409 locked by deployment",
			status: 409,
			body: `{"message":"App is locked by one or more deployments. Override with the option '?force=true'. View details at '/v2/deployments/<DEPLOYMENT_ID>'.",
			        "deployments":[{"id":"97c136bf-5a28-4821-9d94-480d9fbb01c8"}]}`,
			wantMsg:     "App is locked by one or more deployments.",
			wantIn:      []string{"PUT /v2/apps/web?force=false", "409 Conflict", "deployments: 97c136bf-5a28-4821-9d94-480d9fbb01c8", "retry with --force"},
			conflict:    true,
			locked:      true,
			deployments: []string{"97c136bf-5a28-4821-9d94-480d9fbb01c8"},
		},
		{
			name:      "409 already exists is not a lock",
			status:    409,
			body:      `{"message":"An app with id [/existing_app] already exists."}`,
			wantMsg:   "An app with id [/existing_app] already exists.",
			wantNotIn: []string{"--force"},
			conflict:  true,
		},
		{
			name:    "422 with JSON paths",
			status:  422,
			body:    `{"message":"Object is not valid","details":[{"path":"/upgradeStrategy/minimumHealthCapacity","errors":["is greater than 1"]},{"path":"/id","errors":["must not be empty","must be a path"]}]}`,
			wantMsg: "Object is not valid",
			wantIn:  []string{"422 Unprocessable Entity", "\n  /upgradeStrategy/minimumHealthCapacity: is greater than 1", "\n  /id: must not be empty; must be a path", "fix the fields listed below"},
			invalid: true,
		},
		{
			name:    "400 invalid JSON",
			status:  400,
			body:    `{"message":"Invalid JSON","details":[{"path":"/id","errors":["error.expected.jsstring"]}]}`,
			wantMsg: "Invalid JSON",
			wantIn:  []string{"/id: error.expected.jsstring"},
			invalid: true,
		},
		{
			name:     "404",
			status:   404,
			body:     `{"message":"App '/not_existent' does not exist"}`,
			wantMsg:  "App '/not_existent' does not exist",
			notFound: true,
		},
		{
			name:    "HTML error page from Jetty",
			status:  405,
			body:    "<html>\n<head><title>Error 405 </title></head>\n<body><h2>HTTP ERROR: 405</h2><p>Problem accessing /v2/events.</p></body></html>",
			wantMsg: "Error 405 HTTP ERROR: 405 Problem accessing /v2/events.",
		},
		{
			name:    "empty body",
			status:  502,
			body:    "",
			wantMsg: "Bad Gateway",
		},
		{
			name:    "plain text",
			status:  500,
			body:    "  boom \n",
			wantMsg: "boom",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newAPIError("http://127.0.0.1:8080", "PUT", "/v2/apps/web?force=false", tt.status, []byte(tt.body))
			if e.Message != tt.wantMsg && !strings.HasPrefix(e.Message, tt.wantMsg) {
				t.Errorf("Message = %q, want %q", e.Message, tt.wantMsg)
			}
			msg := e.Error()
			for _, s := range tt.wantIn {
				if !strings.Contains(msg, s) {
					t.Errorf("Error() = %q, missing %q", msg, s)
				}
			}
			for _, s := range tt.wantNotIn {
				if strings.Contains(msg, s) {
					t.Errorf("Error() = %q, should not contain %q", msg, s)
				}
			}
			var err error = fmt.Errorf("deploy web: %w", e)
			if IsNotFound(err) != tt.notFound || IsConflict(err) != tt.conflict || IsDeploymentLocked(err) != tt.locked || IsInvalid(err) != tt.invalid {
				t.Errorf("IsNotFound=%v IsConflict=%v IsDeploymentLocked=%v IsInvalid=%v", IsNotFound(err), IsConflict(err), IsDeploymentLocked(err), IsInvalid(err))
			}
			if got := e.DeploymentIDs(); len(got) != len(tt.deployments) || (len(got) > 0 && got[0] != tt.deployments[0]) {
				t.Errorf("DeploymentIDs = %v, want %v", got, tt.deployments)
			}
		})
	}
}

func TestHelpersOnOtherErrors(t *testing.T) {
	for _, err := range []error{nil, errors.New("x"), &TransportError{Err: errors.New("y")}} {
		if IsNotFound(err) || IsConflict(err) || IsDeploymentLocked(err) || IsInvalid(err) || IsUnauthorized(err) || IsForbidden(err) {
			t.Errorf("helpers true for %v", err)
		}
	}
}

func TestTransportErrorMessages(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want []string
	}{
		{"refused", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)},
			[]string{"connection refused; is it running? check MARATHON_URL"}},
		{"dns", &net.DNSError{Name: "marathon.invalid", Err: "no such host"},
			[]string{"cannot resolve host marathon.invalid"}},
		{"tls", errors.New("tls: failed to verify certificate: x509: certificate signed by unknown authority"),
			[]string{"x509: certificate signed by unknown authority", "check the CA"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &TransportError{Method: "GET", Endpoint: "/v2/apps", URL: "http://127.0.0.1:8080", Attempts: 1, Err: tt.err}
			msg := e.Error()
			if !strings.HasPrefix(msg, "cannot reach Marathon at http://127.0.0.1:8080 (GET /v2/apps): ") {
				t.Errorf("Error() = %q", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("Error() = %q, missing %q", msg, w)
				}
			}
			if !errors.Is(e, tt.err) {
				t.Error("Unwrap does not reach the cause")
			}
		})
	}
}
