package marathon

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// The tests of this file are the regression tests of issue 13's findings on
// the lab Marathon: it listened wherever lab.yaml said, accepted any number
// of instances, and truncated oversized bodies instead of refusing them.

func TestNewRefusesNonLoopbackListen(t *testing.T) {
	for _, tc := range []struct {
		listen string
		ok     bool
	}{
		{"127.0.0.1:18080", true},
		{"127.8.9.10:18080", true},
		{"localhost:18080", true},
		{"[::1]:18080", true},
		{"0.0.0.0:8080", false},
		{":8080", false},
		{"[::]:8080", false},
		{"192.0.2.10:8080", false},
		{"marathon.example.org:8080", false},
		{"127.0.0.1", false}, // no port
	} {
		for _, field := range []string{"marathon.listen", "mesos.listen"} {
			t.Run(field+"="+tc.listen, func(t *testing.T) {
				cfg := TestConfig(t, 1)
				if field == "marathon.listen" {
					cfg.Marathon.Listen = tc.listen
				} else {
					cfg.Mesos.Listen = tc.listen
				}
				s, err := New(cfg, Options{Logf: t.Logf})
				if s != nil {
					defer s.Close()
				}
				if tc.ok {
					if err != nil {
						t.Fatalf("New with %s %q: %v", field, tc.listen, err)
					}
					return
				}
				if err == nil {
					t.Fatalf("New with %s %q: no error, want a refusal", field, tc.listen)
				}
				if !strings.Contains(err.Error(), field) {
					t.Fatalf("New with %s %q: %v; the error does not name %s", field, tc.listen, err, field)
				}
			})
		}
	}
}

func TestInstancesAreBounded(t *testing.T) {
	// The limit itself passes validation (checked without starting 1000 processes).
	for _, n := range []int{0, 1, MaxInstances} {
		if _, e := finishApp(appDef{"id": json.RawMessage(`"/max"`), "cmd": json.RawMessage(`"sleep 1"`), "instances": json.RawMessage(fmt.Sprint(n))}, "", nil, ""); e != nil {
			t.Errorf("instances %d: %v", n, e)
		}
	}
	ts := StartForTest(t, TestConfig(t, 1))
	mustCall(t, ts, http.StatusCreated, "POST", "/v2/apps", map[string]any{"id": "/g/small", "cmd": "sleep 600", "instances": 0, "cpus": 0.01, "mem": 1})
	mustCall(t, ts, http.StatusCreated, "POST", "/v2/apps", map[string]any{"id": "/g2/ten", "cmd": "sleep 600", "instances": 0, "cpus": 0.01, "mem": 1})
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		// detail is the path of the error detail expected (422 and 400).
		detail string
	}{
		{"create over the limit", "POST", "/v2/apps", fmt.Sprintf(`{"id":"/huge","cmd":"sleep 1","instances":%d}`, MaxInstances+1), http.StatusUnprocessableEntity, "/instances"},
		{"create with a billion", "POST", "/v2/apps", `{"id":"/huge","cmd":"sleep 1","instances":1000000000}`, http.StatusUnprocessableEntity, "/instances"},
		{"create negative", "POST", "/v2/apps", `{"id":"/neg","cmd":"sleep 1","instances":-1}`, http.StatusUnprocessableEntity, "/instances"},
		{"create fractional", "POST", "/v2/apps", `{"id":"/frac","cmd":"sleep 1","instances":1.5}`, http.StatusBadRequest, "/instances"},
		{"create string", "POST", "/v2/apps", `{"id":"/str","cmd":"sleep 1","instances":"3"}`, http.StatusBadRequest, "/instances"},
		{"scale over the limit", "PUT", "/v2/apps/g/small", fmt.Sprintf(`{"instances":%d}`, MaxInstances+1), http.StatusUnprocessableEntity, "/instances"},
		{"scale negative", "PUT", "/v2/apps/g/small", `{"instances":-5}`, http.StatusUnprocessableEntity, "/instances"},
		{"batch update over the limit", "PUT", "/v2/apps", fmt.Sprintf(`[{"id":"/g/small","instances":%d}]`, 5*MaxInstances), http.StatusUnprocessableEntity, "/(0)/instances"},
		{"group with an app over the limit", "POST", "/v2/groups", fmt.Sprintf(`{"id":"/g3","apps":[{"id":"a","cmd":"sleep 1","instances":%d}]}`, MaxInstances+1), http.StatusUnprocessableEntity, "instances"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, _, out := call(t, ts, tc.method, tc.path, tc.body)
			if status != tc.status {
				t.Fatalf("%s %s %s: %d %s, want %d", tc.method, tc.path, tc.body, status, out, tc.status)
			}
			if tc.detail == "" {
				return
			}
			var e apiError
			if err := json.Unmarshal(out, &e); err != nil || e.Message == "" {
				t.Fatalf("error body %s is not Marathon's shape: %v", out, err)
			}
			found := false
			for _, d := range e.Details {
				found = found || strings.HasSuffix(d.Path, tc.detail) && len(d.Errors) > 0
			}
			if !found {
				t.Fatalf("error body %s has no detail for %s", out, tc.detail)
			}
		})
	}
	// A group scale past the limit is refused, and changes nothing.
	mustCall(t, ts, http.StatusOK, "PUT", "/v2/apps/g2/ten?force=true", map[string]any{"instances": 10})
	status, _, out := call(t, ts, "PUT", "/v2/groups/g2?force=true", `{"scaleBy": 1000}`)
	if status != http.StatusUnprocessableEntity || !strings.Contains(string(out), "scaleBy") {
		t.Fatalf("scaleBy 1000 of 10 instances: %d %s, want 422 naming scaleBy", status, out)
	}
	var app struct {
		App struct {
			Instances int `json:"instances"`
		} `json:"app"`
	}
	decodeJSON(t, mustCall(t, ts, http.StatusOK, "GET", "/v2/apps/g2/ten", nil), &app)
	if app.App.Instances != 10 {
		t.Fatalf("after a refused scale the app has %d instances, want 10", app.App.Instances)
	}
}

func TestOversizedBodyIs413(t *testing.T) {
	ts := StartForTest(t, TestConfig(t, 1))
	// A valid app definition padded with whitespace past the limit: the old
	// server read its first MaxBodyBytes and answered 400 "Invalid JSON"
	// (or, padded the other way, acted on a truncated document).
	big := func(id string, n int) []byte {
		app := []byte(`{"id":"` + id + `","cmd":"sleep 1","instances":0}`)
		return append(bytes.Repeat([]byte(" "), n-len(app)), app...)
	}
	for _, tc := range []struct {
		name      string
		path      string
		body      []byte
		chunked   bool // no Content-Length: the limit bites while reading
		status    int
		tooLarger bool
	}{
		{"at the limit", "/v2/apps", big("/fits", MaxBodyBytes), false, http.StatusCreated, false},
		{"over the limit, with a length", "/v2/apps", big("/big", MaxBodyBytes+1), false, http.StatusRequestEntityTooLarge, true},
		{"over the limit, chunked", "/v2/apps", big("/big", MaxBodyBytes+1), true, http.StatusRequestEntityTooLarge, true},
		{"group over the limit", "/v2/groups", big("/big", MaxBodyBytes+4096), true, http.StatusRequestEntityTooLarge, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rd io.Reader = bytes.NewReader(tc.body)
			if tc.chunked {
				rd = io.MultiReader(rd) // hides the length from net/http
			}
			req, err := http.NewRequest("POST", ts.URL+tc.path, rd)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := httpc.Do(req)
			if err != nil {
				t.Fatalf("POST %s: %v", tc.path, err)
			}
			defer resp.Body.Close()
			out, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status {
				t.Fatalf("POST %s (%d bytes): %d %.300s, want %d", tc.path, len(tc.body), resp.StatusCode, out, tc.status)
			}
			if !tc.tooLarger {
				return
			}
			var e apiError
			if err := json.Unmarshal(out, &e); err != nil || !strings.Contains(e.Message, "too large") {
				t.Fatalf("413 body %s is not a Marathon-style error: %v", out, err)
			}
		})
	}
	mustCall(t, ts, http.StatusNotFound, "GET", "/v2/apps/big", nil)
}
