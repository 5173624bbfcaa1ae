package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/switchyard/switchyard/traffic"
)

// TestLBSyncOnce runs `lb sync --once` against a fake Marathon (one app
// with marathon-lb labels, one ready and one unhealthy task) and a fake
// admin API that wants a bearer token.
func TestLBSyncOnce(t *testing.T) {
	mar := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v2/apps" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, `{"apps":[{"id":"/demo/web","labels":{"HAPROXY_GROUP":"external","HAPROXY_0_PATH":"/demo/web"},
			"healthChecks":[{"protocol":"HTTP","path":"/health"}],"portDefinitions":[{"port":0,"name":"http"}],
			"tasks":[{"id":"t1","host":"127.0.0.2","ports":[31001],"state":"TASK_RUNNING","healthCheckResults":[{"alive":true}]},
			         {"id":"t2","host":"127.0.0.3","ports":[31002],"state":"TASK_RUNNING","healthCheckResults":[{"alive":false}]}]}]}`)
	}))
	defer mar.Close()
	var mu sync.Mutex
	state := traffic.State{Version: 4, Routes: []traffic.Route{{Name: "hand", PathPrefix: "/hand"}}}
	var auth []string
	lb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		auth = append(auth, r.Header.Get("Authorization"))
		if r.Header.Get("Authorization") != "Bearer s3cret" {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":"token"}`)
			return
		}
		switch r.Method {
		case http.MethodGet:
			json.NewEncoder(w).Encode(state)
		case http.MethodPut:
			var s traffic.State
			if err := json.NewDecoder(r.Body).Decode(&s); err != nil {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			state = s
			json.NewEncoder(w).Encode(s)
		}
	}))
	defer lb.Close()
	dir := t.TempDir()
	tok := filepath.Join(dir, "token")
	if err := os.WriteFile(tok, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	status := filepath.Join(dir, "status.json")
	cmd := NewRoot()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs([]string{"lb", "sync", "--once", "--marathon-url", mar.URL, "--kubeconfig", "", "--lb-admin", lb.URL,
		"--lb-token-file", tok, "--status-file", status})
	if err := cmd.Execute(); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	mu.Lock()
	defer mu.Unlock()
	r, ok := state.Route("/demo/web")
	if !ok || r.Owner != "sync" || len(r.Backends) != 1 || r.Backends[0].Address != "127.0.0.2:31001" || state.Version != 5 {
		t.Fatalf("state %+v", state)
	}
	if _, ok := state.Route("hand"); !ok {
		t.Fatal("a hand-made route was dropped")
	}
	for _, a := range auth {
		if a != "Bearer s3cret" {
			t.Fatalf("a request without the token: %q", auth)
		}
	}
	if !strings.Contains(out.String(), "add route /demo/web: /demo/web → 1 backend(s) (marathon 127.0.0.2:31001) (version 5)") {
		t.Fatalf("log:\n%s", out.String())
	}
	if b, err := os.ReadFile(status); err != nil || !strings.Contains(string(b), `"syncs":1`) {
		t.Fatalf("status file: %s %v", b, err)
	}

	// Without the load balancer's address: a clear error.
	t.Setenv("SWITCHYARD_LB_ADMIN", "")
	cmd = NewRoot()
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	cmd.SetArgs([]string{"lb", "sync", "--once", "--marathon-url", mar.URL, "--kubeconfig", ""})
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), "--lb-admin") {
		t.Fatalf("err %v", err)
	}
}
