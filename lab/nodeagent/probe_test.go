package nodeagent

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/switchyard/switchyard/internal/wanterr"
)

func TestCheckFor(t *testing.T) {
	c := &corev1.Container{Name: "web", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}
	wrap := []string{"ip", "netns", "exec", "ns1"}
	tests := []struct {
		name    string
		h       corev1.ProbeHandler
		want    ProbeCheck
		wantErr string
	}{
		{"httpGet named port defaults to the pod IP and /",
			corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromString("http")}},
			ProbeCheck{Protocol: "HTTP", Host: "10.1.0.5", Port: 8080, Path: "/", Timeout: time.Second}, ""},
		{"httpGet https with host",
			corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Host: "10.1.0.9", Path: "/ready", Port: intstr.FromInt32(9443), Scheme: corev1.URISchemeHTTPS}},
			ProbeCheck{Protocol: "HTTPS", Host: "10.1.0.9", Port: 9443, Path: "/ready", Timeout: time.Second}, ""},
		{"tcpSocket",
			corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(5432)}},
			ProbeCheck{Protocol: "TCP", Host: "10.1.0.5", Port: 5432, Timeout: time.Second}, ""},
		{"exec runs in the netns with the container env",
			corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"cat", "/tmp/ok"}}},
			ProbeCheck{Protocol: "COMMAND", Command: []string{"cat", "/tmp/ok"}, Env: []string{"A=1"}, Wrap: wrap, Timeout: time.Second}, ""},
		{"unknown named port", corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("db")}}, ProbeCheck{}, `probe port "db" names no port`},
		{"grpc is refused clearly", corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 9000}}, ProbeCheck{}, "grpc probes are not supported"},
		{"empty handler", corev1.ProbeHandler{}, ProbeCheck{}, "probe has no handler"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CheckFor(tt.h, c, "10.1.0.5", []string{"A=1"}, wrap, time.Second)
			if wanterr.Check(t, err, tt.wantErr) {
				return
			}
			if got.Protocol != tt.want.Protocol || got.Host != tt.want.Host || got.Port != tt.want.Port || got.Path != tt.want.Path ||
				strings.Join(got.Command, " ") != strings.Join(tt.want.Command, " ") || strings.Join(got.Wrap, " ") != strings.Join(tt.want.Wrap, " ") ||
				strings.Join(got.Env, " ") != strings.Join(tt.want.Env, " ") {
				t.Errorf("check = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestDefaultProbe runs real probes against loopback servers and commands.
func TestDefaultProbe(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bad" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	host, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	tests := []struct {
		name string
		c    ProbeCheck
		ok   bool
	}{
		{"http 200", ProbeCheck{Protocol: "HTTP", Host: host, Port: p, Path: "/"}, true},
		{"http 503", ProbeCheck{Protocol: "HTTP", Host: host, Port: p, Path: "/bad"}, false},
		{"tcp open", ProbeCheck{Protocol: "TCP", Host: host, Port: p}, true},
		{"tcp closed", ProbeCheck{Protocol: "TCP", Host: "127.0.0.1", Port: closed}, false},
		{"command argv with quotes and env", ProbeCheck{Protocol: "COMMAND", Command: []string{"/bin/sh", "-c", `test "$X" = "it's"`}, Env: []string{"X=it's"}}, true},
		{"command failing", ProbeCheck{Protocol: "COMMAND", Command: []string{"false"}}, false},
		{"command timeout", ProbeCheck{Protocol: "COMMAND", Command: []string{"sleep", "5"}, Timeout: 200 * time.Millisecond}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := DefaultProbe(context.Background(), tt.c)
			if (err == nil) != tt.ok {
				t.Errorf("probe error = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}
