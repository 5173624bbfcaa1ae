package edge

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/marathon"
	"github.com/switchyard/switchyard/migrate"
)

// fakeMarathon serves /v2/apps/shop/web: GET answers the stored app with
// its status fields, PUT stores the body (its tasks then run), DELETE
// removes it; an absent app answers 404.
type fakeMarathon struct {
	mu  sync.Mutex
	app map[string]any // nil: absent
	put []map[string]any
}

func (f *fakeMarathon) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.URL.Path != "/v2/apps/shop/web" {
		http.NotFound(w, r)
		return
	}
	switch {
	case r.Method == http.MethodPut:
		body, _ := io.ReadAll(r.Body)
		var a map[string]any
		if err := json.Unmarshal(body, &a); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.put = append(f.put, a)
		if f.app == nil && a["cmd"] == nil {
			w.WriteHeader(http.StatusUnprocessableEntity)
			_, _ = w.Write([]byte(`{"message":"Object is not valid","details":[{"path":"/","errors":["AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'."]}]}`))
			return
		}
		if f.app == nil || r.URL.Query().Get("partialUpdate") == "false" {
			f.app = map[string]any{}
		}
		for k, v := range a {
			f.app[k] = v
		}
		f.app["tasksRunning"], f.app["tasksStaged"], f.app["version"] = f.app["instances"], 0, "2026-12-04T10:00:00.000Z"
		_ = json.NewEncoder(w).Encode(map[string]any{"deploymentId": "d1", "version": "v2"})
	case f.app == nil:
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"message":"App '/shop/web' does not exist"}`))
	case r.Method == http.MethodGet:
		_ = json.NewEncoder(w).Encode(map[string]any{"app": f.app})
	case r.Method == http.MethodDelete:
		f.app = nil
		_ = json.NewEncoder(w).Encode(map[string]any{"deploymentId": "d2", "version": "v3"})
	default:
		http.Error(w, "unexpected", http.StatusMethodNotAllowed)
	}
}

// TestMarathonDefinitionCreate: the journaled definition has no read-only
// status fields; Create writes it back (PUT) with the plan's instances and
// waits until they run; scaling an absent app to 0 is done.
func TestMarathonDefinitionCreate(t *testing.T) {
	f := &fakeMarathon{app: map[string]any{"id": "/shop/web", "cmd": "serve", "instances": 3, "cpus": 0.25, "mem": 128,
		"version": "2026-12-01T00:00:00.000Z", "tasksRunning": 3, "tasksHealthy": 0, "tasks": []any{map[string]any{"id": "t1"}},
		"deployments": []any{}, "labels": map[string]any{"team": "shop"}}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c, err := marathon.NewClient(marathon.Config{URL: srv.URL, Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	m := Marathon{Client: c, Poll: 10 * time.Millisecond}
	app := migrate.App{Name: "web", MarathonID: "/shop/web"}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	def, err := m.Definition(ctx, app)
	if err != nil {
		t.Fatal(err)
	}
	for _, ro := range []string{"version", "tasksRunning", "tasksHealthy", `"tasks"`, "deployments"} {
		if strings.Contains(string(def), ro) {
			t.Errorf("definition keeps %s: %s", ro, def)
		}
	}
	if !strings.Contains(string(def), `"cmd":"serve"`) || !strings.Contains(string(def), `"team":"shop"`) {
		t.Fatalf("definition %s", def)
	}

	if err := m.Delete(ctx, app); err != nil {
		t.Fatal(err)
	}
	if err := m.Scale(ctx, app, 0); err != nil {
		t.Fatalf("scale an absent app to 0: %v", err)
	}
	if err := m.Scale(ctx, app, 2); err == nil {
		t.Fatal("scaled an absent app up")
	}
	for i := 0; i < 2; i++ { // idempotent
		if err := m.Create(ctx, app, def, 2); err != nil {
			t.Fatal(err)
		}
	}
	f.put = f.put[1:] // the refused scale-up
	if len(f.put) != 2 || f.put[0]["instances"] != float64(2) || f.put[0]["cmd"] != "serve" || f.put[0]["version"] != nil {
		t.Fatalf("PUT bodies %v", f.put)
	}
	if n, err := m.Instances(ctx, app); err != nil || n != 2 {
		t.Fatalf("instances after create: %d %v", n, err)
	}
	if err := m.Create(ctx, app, json.RawMessage(`{"id":`), 2); err == nil || !strings.Contains(err.Error(), "the journaled definition of /shop/web") {
		t.Fatalf("bad definition: %v", err)
	}
}
