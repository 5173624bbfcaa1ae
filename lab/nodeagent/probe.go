package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/switchyard/switchyard/lab/health"
)

// ProbeCheck is one probe attempt, in the shape of lab/health's Check:
// Protocol is HTTP, HTTPS, TCP or COMMAND.
type ProbeCheck struct {
	Protocol string
	Host     string
	Port     int
	Path     string
	Command  []string
	Env      []string
	Timeout  time.Duration
	// Wrap runs Command inside the pod's network namespace.
	Wrap []string
	// Dir is the working directory of Command (the pod's work directory).
	Dir string
}

// ProbeFunc runs one probe attempt; nil means success.
type ProbeFunc func(ctx context.Context, c ProbeCheck) error

// CheckFor converts a Kubernetes probe (or lifecycle handler) of container c
// into a ProbeCheck against the pod's IP; named ports resolve from the
// container's ports.
func CheckFor(h corev1.ProbeHandler, c *corev1.Container, podIP string, env, wrap []string, timeout time.Duration) (ProbeCheck, error) {
	switch {
	case h.Exec != nil:
		if len(h.Exec.Command) == 0 {
			return ProbeCheck{}, errors.New("exec probe has no command")
		}
		return ProbeCheck{Protocol: "COMMAND", Command: h.Exec.Command, Env: env, Timeout: timeout, Wrap: wrap}, nil
	case h.HTTPGet != nil:
		port, err := resolvePort(h.HTTPGet.Port, c)
		if err != nil {
			return ProbeCheck{}, err
		}
		host := h.HTTPGet.Host
		if host == "" {
			host = podIP
		}
		proto := "HTTP"
		if h.HTTPGet.Scheme == corev1.URISchemeHTTPS {
			proto = "HTTPS"
		}
		path := h.HTTPGet.Path
		if path == "" {
			path = "/"
		}
		return ProbeCheck{Protocol: proto, Host: host, Port: port, Path: path, Timeout: timeout}, nil
	case h.TCPSocket != nil:
		port, err := resolvePort(h.TCPSocket.Port, c)
		if err != nil {
			return ProbeCheck{}, err
		}
		host := h.TCPSocket.Host
		if host == "" {
			host = podIP
		}
		return ProbeCheck{Protocol: "TCP", Host: host, Port: port, Timeout: timeout}, nil
	case h.GRPC != nil:
		return ProbeCheck{}, errors.New("grpc probes are not supported by the lab node agent (use httpGet, tcpSocket or exec)")
	}
	return ProbeCheck{}, errors.New("probe has no handler (httpGet, tcpSocket or exec)")
}

func resolvePort(p intstr.IntOrString, c *corev1.Container) (int, error) {
	if p.Type == intstr.Int {
		if p.IntVal < 1 || p.IntVal > 65535 {
			return 0, fmt.Errorf("probe port %d is out of range", p.IntVal)
		}
		return int(p.IntVal), nil
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	if n, err := strconv.Atoi(p.StrVal); err == nil {
		return n, nil
	}
	return 0, fmt.Errorf("probe port %q names no port of container %s", p.StrVal, c.Name)
}

// DefaultProbe runs a ProbeCheck with lab/health: HTTP(S) GET expecting
// 200-399, TCP connect, or the exec command (argv, shell-quoted for
// health's COMMAND check; exit 0) inside the pod's network namespace.
func DefaultProbe(ctx context.Context, c ProbeCheck) error {
	hc := health.Check{
		Protocol: health.Protocol(c.Protocol), Host: c.Host, Port: c.Port, Path: c.Path,
		Timeout: c.Timeout, Wrap: c.Wrap, Dir: c.Dir,
	}
	if c.Protocol == "COMMAND" {
		hc.Command = ShellQuote(c.Command)
		hc.Env = map[string]string{}
		for _, kv := range c.Env {
			if k, v, ok := strings.Cut(kv, "="); ok {
				hc.Env[k] = v
			}
		}
	}
	if hc.Timeout <= 0 {
		hc.Timeout = time.Second
	}
	r := health.Probe(ctx, hc)
	if r.Healthy || r.Ignored {
		return nil
	}
	return errors.New(r.Message)
}

// ShellQuote renders argv as one /bin/sh command line that runs exactly it.
func ShellQuote(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}
