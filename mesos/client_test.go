package mesos

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/wanterr"
)

// masterServer serves the testdata documents on the Mesos master paths, the
// way a master does (real HTTP over loopback).
func masterServer(t *testing.T) *httptest.Server {
	t.Helper()
	state := readTestdata(t, "state.json")
	slaves := readTestdata(t, "slaves.json")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /master/state", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(state)
	})
	mux.HandleFunc("GET /master/slaves", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(slaves)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestClientReadsStateAndSlaves(t *testing.T) {
	srv := masterServer(t)
	for _, base := range []string{srv.URL, srv.URL + "/", srv.URL + "/master", srv.URL + "/master/"} {
		c := NewClient(base)
		st, err := c.State(context.Background())
		if err != nil {
			t.Fatalf("%s: State: %v", base, err)
		}
		if len(st.Slaves) != 3 || st.Frameworks[0].Name != "marathon" {
			t.Errorf("%s: state has %d slaves", base, len(st.Slaves))
		}
		sl, err := c.Slaves(context.Background())
		if err != nil {
			t.Fatalf("%s: Slaves: %v", base, err)
		}
		if len(sl.Slaves) != 2 || len(sl.Slaves[0].UnreservedResourcesFull) != 4 {
			t.Errorf("%s: slaves = %d", base, len(sl.Slaves))
		}
	}
}

func TestClientErrors(t *testing.T) {
	// A port that was listening and is now closed: connection refused.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()

	status := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/master/state":
			http.Error(w, "Not the leading master", http.StatusServiceUnavailable)
		case "/master/slaves":
			w.Write([]byte(`{"slaves": [{"id": "S0", "resources": {"cpus": "x"}}]}`))
		}
	}))
	defer status.Close()

	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer slow.Close()

	for _, tc := range []struct {
		name string
		c    *Client
		call func(*Client) error
		want []string
	}{
		{"refused", NewClient(closed), stateCall, []string{"cannot reach the Mesos master at " + closed, "connection refused", "check MESOS_MASTER_URL"}},
		{"not a URL", NewClient("127.0.0.1:5050"), stateCall, []string{`"127.0.0.1:5050" is not a valid http(s) URL`, "MESOS_MASTER_URL"}},
		{"empty", NewClient(""), slavesCall, []string{"is not a valid http(s) URL"}},
		{"503", NewClient(status.URL), stateCall, []string{"answered 503", "Not the leading master", "leading master"}},
		{"bad body", NewClient(status.URL), slavesCall, []string{"decode GET " + status.URL + "/master/slaves", "resources.cpus"}},
		{"timeout", NewClient(slow.URL, WithTimeout(100*time.Millisecond)), stateCall, []string{"cannot reach the Mesos master at " + slow.URL, "no answer within the timeout"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wanterr.Check(t, tc.call(tc.c), tc.want...)
		})
	}

	var he *HTTPError
	if err := stateCall(NewClient(status.URL)); !errors.As(err, &he) || he.StatusCode != 503 {
		t.Errorf("want *HTTPError 503, got %v", err)
	}
}

func stateCall(c *Client) error  { _, err := c.State(context.Background()); return err }
func slavesCall(c *Client) error { _, err := c.Slaves(context.Background()); return err }

func TestNewClientFromEnv(t *testing.T) {
	t.Setenv(EnvMasterURL, "")
	if _, err := NewClientFromEnv(); err == nil || !strings.Contains(err.Error(), "MESOS_MASTER_URL is not set") {
		t.Errorf("err = %v", err)
	}
	t.Setenv(EnvMasterURL, "http://127.0.0.1:5050")
	c, err := NewClientFromEnv()
	if err != nil || c.URL() != "http://127.0.0.1:5050" {
		t.Errorf("c=%v err=%v", c, err)
	}
}
