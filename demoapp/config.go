// Package demoapp owns the demo workload that the lab runs on both platforms
// (as a Marathon task and as a Kubernetes pod): an HTTP server that says which
// app, version and instance answered, with health and readiness endpoints and
// switches to make it fail, slow down or crash, so migration tests can watch
// traffic move and break on purpose. It knows nothing about the lab itself:
// it reads its settings from flags and the environment Marathon/Kubernetes give.
package demoapp

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Platform names where the app runs, as reported in its answers.
const (
	PlatformMarathon   = "marathon"
	PlatformKubernetes = "kubernetes"
	PlatformLocal      = "local"
)

// Trigger fires after a number of requests or after a duration since start
// (the zero Trigger never fires).
type Trigger struct {
	// Requests fires once this many requests were served (0: not by count).
	Requests int64
	// After fires once this much time passed since start (0: not by time).
	After time.Duration
}

// IsZero reports whether the trigger never fires.
func (t Trigger) IsZero() bool { return t.Requests == 0 && t.After == 0 }

// String renders the trigger as it is written in flags and env ("" when zero).
func (t Trigger) String() string {
	switch {
	case t.Requests > 0:
		return strconv.FormatInt(t.Requests, 10)
	case t.After > 0:
		return t.After.String()
	}
	return ""
}

// ParseTrigger reads "N" (requests) or a Go duration ("30s").
func ParseTrigger(s string) (Trigger, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return Trigger{}, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 {
			return Trigger{}, fmt.Errorf("%q: request count must be >= 0", s)
		}
		return Trigger{Requests: n}, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return Trigger{}, fmt.Errorf("%q: want a request count (100) or a duration (30s)", s)
	}
	return Trigger{After: d}, nil
}

// Config is everything the demo app is told at start.
type Config struct {
	// App is the application name reported in answers.
	App string `json:"app"`
	// Version is the version reported in answers (DEMO_VERSION).
	Version string `json:"version"`
	// InstanceID identifies this process (random unless DEMO_INSTANCE_ID).
	InstanceID string `json:"instanceId"`
	// Host is the node the app runs on ($HOST on Marathon, $NODE_NAME on Kubernetes).
	Host string `json:"host"`
	// TaskID is the Marathon task id or the Kubernetes pod name.
	TaskID string `json:"taskId"`
	// Platform is marathon, kubernetes or local, derived from the environment.
	Platform string `json:"platform"`
	// Listen is the host:port to serve on.
	Listen string `json:"listen"`
	// FailRate is the fraction (0..1) of requests to / answered with 500.
	FailRate float64 `json:"failRate"`
	// FailAfter makes every request to / fail once it fires.
	FailAfter Trigger `json:"-"`
	// Slow is latency added to every request to / and /echo.
	Slow time.Duration `json:"slow"`
	// CrashAfter makes the process exit with status 3 once it fires.
	CrashAfter Trigger `json:"-"`
	// Unhealthy makes /health, /healthz and /ready answer 503.
	Unhealthy bool `json:"unhealthy"`
	// ReadyDelay keeps /ready at 503 for this long after start.
	ReadyDelay time.Duration `json:"readyDelay"`
	// ShutdownGrace bounds how long in-flight requests may finish after SIGTERM.
	ShutdownGrace time.Duration `json:"shutdownGrace"`
}

// Env variable names the demo app reads.
const (
	EnvVersion    = "DEMO_VERSION"
	EnvApp        = "DEMO_APP"
	EnvInstanceID = "DEMO_INSTANCE_ID"
	EnvListen     = "DEMO_LISTEN"
	EnvFailRate   = "DEMO_FAIL_RATE"
	EnvFailAfter  = "DEMO_FAIL_AFTER"
	EnvSlow       = "DEMO_SLOW"
	EnvCrashAfter = "DEMO_CRASH_AFTER"
	EnvUnhealthy  = "DEMO_UNHEALTHY"
	EnvReadyDelay = "DEMO_READY_DELAY"
)

// FromEnv builds a Config from the environment (getenv is os.Getenv in
// production). Errors name the variable and what it accepts.
func FromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		App:           firstNonEmpty(getenv(EnvApp), strings.TrimPrefix(getenv("MARATHON_APP_ID"), "/"), getenv("APP_NAME"), "demo-app"),
		Version:       firstNonEmpty(getenv(EnvVersion), "v1"),
		InstanceID:    firstNonEmpty(getenv(EnvInstanceID), randomID()),
		Platform:      DetectPlatform(getenv),
		ShutdownGrace: 10 * time.Second,
	}
	switch c.Platform {
	case PlatformMarathon:
		c.Host = getenv("HOST")
		c.TaskID = getenv("MESOS_TASK_ID")
	case PlatformKubernetes:
		c.Host = firstNonEmpty(getenv("NODE_NAME"), getenv("HOST_IP"))
		c.TaskID = firstNonEmpty(getenv("POD_NAME"), getenv("HOSTNAME"))
	default:
		c.Host = getenv("HOSTNAME")
	}
	c.Listen = ListenAddress(getenv)
	var errs []error
	if s := getenv(EnvFailRate); s != "" {
		r, err := ParseRate(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", EnvFailRate, err))
		}
		c.FailRate = r
	}
	var err error
	if c.FailAfter, err = ParseTrigger(getenv(EnvFailAfter)); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", EnvFailAfter, err))
	}
	if c.CrashAfter, err = ParseTrigger(getenv(EnvCrashAfter)); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", EnvCrashAfter, err))
	}
	if c.Slow, err = parseDuration(getenv(EnvSlow)); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", EnvSlow, err))
	}
	if c.ReadyDelay, err = parseDuration(getenv(EnvReadyDelay)); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", EnvReadyDelay, err))
	}
	if s := getenv(EnvUnhealthy); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q: want true or false", EnvUnhealthy, s))
		}
		c.Unhealthy = b
	}
	return c, errors.Join(errs...)
}

// DetectPlatform says where the process runs from the environment each
// platform gives its workloads. A kubelet always sets KUBERNETES_SERVICE_HOST
// and Mesos never does, so it wins over MARATHON_APP_ID/MESOS_TASK_ID, which a
// converted app keeps in its pod spec for compatibility.
func DetectPlatform(getenv func(string) string) string {
	switch {
	case getenv("KUBERNETES_SERVICE_HOST") != "":
		return PlatformKubernetes
	case getenv("MARATHON_APP_ID") != "" || getenv("MESOS_TASK_ID") != "":
		return PlatformMarathon
	case getenv("POD_NAME") != "" || getenv("POD_IP") != "":
		return PlatformKubernetes
	}
	return PlatformLocal
}

// ListenAddress picks the address to serve on: $DEMO_LISTEN; Marathon's
// $HOST:$PORT0; Kubernetes' $POD_IP:$PORT or :$PORT, or :8080 in a pod (a
// container listens on all of its pod's interfaces); else 127.0.0.1:8080.
func ListenAddress(getenv func(string) string) string {
	if l := getenv(EnvListen); l != "" {
		return l
	}
	if p := getenv("PORT0"); p != "" {
		return net.JoinHostPort(getenv("HOST"), p)
	}
	if p := getenv("PORT"); p != "" {
		return net.JoinHostPort(getenv("POD_IP"), p)
	}
	if DetectPlatform(getenv) == PlatformKubernetes {
		return ":8080"
	}
	return "127.0.0.1:8080"
}

// ParseRate reads a failure fraction between 0 and 1.
func ParseRate(s string) (float64, error) {
	r, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || r < 0 || r > 1 {
		return 0, fmt.Errorf("%q: want a fraction between 0 and 1 (0.25 = a quarter of requests fail)", s)
	}
	return r, nil
}

func parseDuration(s string) (time.Duration, error) {
	if s == "" || s == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q: want a duration such as 250ms", s)
	}
	return d, nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func randomID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
