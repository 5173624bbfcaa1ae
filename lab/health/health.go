// Package health runs one-shot health probes — HTTP, HTTPS, TCP and shell
// COMMAND checks — with Marathon's health check semantics. The lab's Marathon
// uses it for app health checks and the lab's node agent for pod probes.
//
// A probe is a single attempt: scheduling (interval, grace period, maximum
// consecutive failures) belongs to the caller.
package health

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Protocol is the kind of probe.
type Protocol string

// Protocols, named as Marathon names them. The MESOS_* variants (checks that
// Mesos rather than Marathon runs) probe the same way.
const (
	HTTP    Protocol = "HTTP"
	HTTPS   Protocol = "HTTPS"
	TCP     Protocol = "TCP"
	COMMAND Protocol = "COMMAND"

	MesosHTTP  Protocol = "MESOS_HTTP"
	MesosHTTPS Protocol = "MESOS_HTTPS"
	MesosTCP   Protocol = "MESOS_TCP"
)

// DefaultTimeout is Marathon's default health check timeout (timeoutSeconds).
const DefaultTimeout = 20 * time.Second

// maxOutput bounds how much command output a Result message quotes.
const maxOutput = 512

// Check is one probe to run.
type Check struct {
	// Protocol selects the probe: HTTP, HTTPS, TCP or COMMAND.
	Protocol Protocol
	// Host is the address to probe (HTTP, HTTPS, TCP).
	Host string
	// Port is the port to probe (HTTP, HTTPS, TCP).
	Port int
	// Path is the HTTP path; a leading "/" is added when missing, as Marathon does.
	Path string
	// Command is the shell command of a COMMAND check, run with /bin/sh -c.
	Command string
	// Env is added to (and overrides) the prober's environment for a COMMAND
	// check: pass the task's environment here ($HOST, $PORT0, the lab marker...).
	Env map[string]string
	// Dir is the working directory of a COMMAND check (the task's sandbox);
	// the prober's when empty.
	Dir string
	// Timeout bounds the probe; DefaultTimeout when zero.
	Timeout time.Duration
	// IgnoreHTTP1xx makes an informational (1xx) HTTP answer an ignored
	// result instead of an unhealthy one.
	IgnoreHTTP1xx bool
	// Wrap is prepended to the COMMAND argv, e.g. ["ip","netns","exec","pod-1"]
	// to run the command inside a network namespace.
	Wrap []string
}

// Result is the outcome of one probe.
type Result struct {
	// Healthy is true when the probe passed.
	Healthy bool
	// Ignored is true when the result must be discarded and the health
	// left unchanged (an HTTP 1xx answer with IgnoreHTTP1xx).
	Ignored bool
	// Message says what happened, e.g. "GET http://127.0.0.1:31000/health: 503 Service Unavailable".
	Message string
}

// Validate reports what is wrong with the check, naming the field.
func (c Check) Validate() error {
	switch c.Protocol {
	case HTTP, HTTPS, MesosHTTP, MesosHTTPS, TCP, MesosTCP:
		if c.Host == "" {
			return fmt.Errorf("health check %s: host is empty", c.Protocol)
		}
		if c.Port < 1 || c.Port > 65535 {
			return fmt.Errorf("health check %s: port %d is not within 1-65535", c.Protocol, c.Port)
		}
	case COMMAND:
		if strings.TrimSpace(c.Command) == "" {
			return errors.New("health check COMMAND: command is empty")
		}
	default:
		return fmt.Errorf("health check: protocol %q is not one of HTTP, HTTPS, TCP, COMMAND, MESOS_HTTP, MESOS_HTTPS, MESOS_TCP", c.Protocol)
	}
	if c.Timeout < 0 {
		return fmt.Errorf("health check %s: timeout %s is negative", c.Protocol, c.Timeout)
	}
	return nil
}

// Probe runs the check once; it is safe for concurrent use. An invalid check
// is reported as an unhealthy result whose message says what is wrong; the
// probe never takes longer than the check's timeout (or ctx).
func Probe(ctx context.Context, c Check) Result {
	if err := c.Validate(); err != nil {
		return Result{Message: err.Error()}
	}
	timeout := c.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch c.Protocol {
	case HTTP, MesosHTTP:
		return probeHTTP(ctx, c, "http", timeout)
	case HTTPS, MesosHTTPS:
		return probeHTTP(ctx, c, "https", timeout)
	case TCP, MesosTCP:
		return probeTCP(ctx, c, timeout)
	default:
		return probeCommand(ctx, c, timeout)
	}
}

// transport is shared by HTTP probes: no proxy (probes go straight to the
// task), no keep-alive (each probe is a fresh connection, as Marathon's are),
// and no certificate verification for HTTPS (Marathon does not verify).
var transport = &http.Transport{
	Proxy:               nil,
	DisableKeepAlives:   true,
	TLSClientConfig:     &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // Marathon HTTPS checks accept any certificate.
	TLSHandshakeTimeout: 10 * time.Second,
}

var client = &http.Client{
	Transport: transport,
	// A 3xx answer is healthy in itself: never follow it.
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// errInformational aborts a request at its first 1xx answer.
type errInformational struct{ code int }

// Error names the informational status.
func (e errInformational) Error() string { return "informational " + strconv.Itoa(e.code) }

func probeHTTP(ctx context.Context, c Check, scheme string, timeout time.Duration) Result {
	path := c.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path // as Marathon does
	}
	url := scheme + "://" + net.JoinHostPort(c.Host, strconv.Itoa(c.Port)) + path
	trace := &httptrace.ClientTrace{
		// Go's client skips 1xx answers; Marathon sees them as the answer.
		Got1xxResponse: func(code int, _ textproto.MIMEHeader) error { return errInformational{code} },
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodGet, url, nil)
	if err != nil {
		return Result{Message: fmt.Sprintf("GET %s: %v", url, err)}
	}
	req.Header.Set("User-Agent", "switchyard-health")
	resp, err := client.Do(req)
	if err != nil {
		var info errInformational
		if errors.As(err, &info) {
			return status1xx(c, url, info.code)
		}
		return Result{Message: fmt.Sprintf("GET %s: %s", url, describeNetErr(err, ctx, timeout))}
	}
	resp.Body.Close()
	code := resp.StatusCode
	switch {
	case code >= 200 && code < 400:
		return Result{Healthy: true, Message: fmt.Sprintf("GET %s: %s", url, resp.Status)}
	case code >= 100 && code < 200:
		return status1xx(c, url, code)
	default:
		return Result{Message: fmt.Sprintf("GET %s: %s", url, resp.Status)}
	}
}

func status1xx(c Check, url string, code int) Result {
	msg := fmt.Sprintf("GET %s: %d %s", url, code, http.StatusText(code))
	if c.IgnoreHTTP1xx {
		return Result{Ignored: true, Message: msg + " (ignored: ignoreHttp1xx)"}
	}
	return Result{Message: msg}
}

func probeTCP(ctx context.Context, c Check, timeout time.Duration) Result {
	addr := net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return Result{Message: fmt.Sprintf("TCP connect to %s: %s", addr, describeNetErr(err, ctx, timeout))}
	}
	conn.Close()
	return Result{Healthy: true, Message: fmt.Sprintf("TCP connect to %s: connected", addr)}
}

func describeNetErr(err error, ctx context.Context, timeout time.Duration) string {
	if ctx.Err() == context.DeadlineExceeded || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Sprintf("no answer within the %s timeout", timeout)
	}
	var ne *net.OpError
	if errors.As(err, &ne) && ne.Err != nil {
		return ne.Err.Error()
	}
	return err.Error()
}

func probeCommand(ctx context.Context, c Check, timeout time.Duration) Result {
	argv := append(append([]string{}, c.Wrap...), "/bin/sh", "-c", c.Command)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = c.Dir
	cmd.Env = mergeEnv(os.Environ(), c.Env)
	// Own process group, so a timeout kills the command and its children.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	var out tailBuffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	if cmd.Process != nil {
		// Reap any background children the command left in its group.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	quoted := strconv.Quote(c.Command)
	output := strings.TrimSpace(out.String())
	suffix := ""
	if output != "" {
		suffix = "; output: " + output
	}
	switch {
	case err == nil:
		return Result{Healthy: true, Message: fmt.Sprintf("command %s exited 0%s", quoted, suffix)}
	case ctx.Err() == context.DeadlineExceeded:
		return Result{Message: fmt.Sprintf("command %s did not finish within the %s timeout%s", quoted, timeout, suffix)}
	default:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return Result{Message: fmt.Sprintf("command %s exited %d%s", quoted, ee.ExitCode(), suffix)}
		}
		return Result{Message: fmt.Sprintf("command %s could not run: %v", quoted, err)}
	}
}

// mergeEnv returns base with the variables of extra set (overriding).
func mergeEnv(base []string, extra map[string]string) []string {
	if len(extra) == 0 {
		return base
	}
	out := make([]string, 0, len(base)+len(extra))
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := extra[k]; !ok {
			out = append(out, kv)
		}
	}
	for k, v := range extra {
		out = append(out, k+"="+v)
	}
	return out
}

// tailBuffer keeps the last maxOutput bytes written to it.
type tailBuffer struct{ b bytes.Buffer }

// Write keeps the tail of p.
func (t *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	t.b.Write(p)
	if t.b.Len() > 2*maxOutput {
		keep := append([]byte(nil), t.b.Bytes()[t.b.Len()-maxOutput:]...)
		t.b.Reset()
		t.b.Write(keep)
	}
	return n, nil
}

// String is the kept output, "..." marking a cut.
func (t *tailBuffer) String() string {
	b := t.b.Bytes()
	if len(b) > maxOutput {
		return "..." + string(b[len(b)-maxOutput:])
	}
	return string(b)
}
