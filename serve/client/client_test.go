package client

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/serve"
)

func tokenFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestWatchReconnects: a stream that breaks is opened again and the watch
// goes on from the status the new stream sends; the token goes with every
// request.
func TestWatchReconnects(t *testing.T) {
	var conns atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, `{"error":"no"}`, http.StatusUnauthorized)
			return
		}
		n := conns.Add(1)
		w.Header().Set("Content-Type", "text/event-stream")
		// Each connection sends one status, then ends (a replica that went away).
		fmt.Fprintf(w, ": hello\n\nevent: status\ndata: {\"apps\":[{\"app\":\"web\",\"phase\":\"Shifting[%d%%]\",\"seq\":%d}],\n", 25*n, n)
		fmt.Fprintf(w, "data: \"leader\":\"a\",\"replica\":\"a\"}\n\n")
	}))
	defer ts.Close()
	c, err := New(Options{URL: ts.URL, TokenFile: tokenFile(t, "tok\n"), RetryEvery: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = c.Watch(ctx, func(st serve.Status) (bool, error) {
		seen = append(seen, st.Apps[0].Phase)
		return st.Apps[0].Seq == 3, nil
	})
	if err != nil || strings.Join(seen, " ") != "Shifting[25%] Shifting[50%] Shifting[75%]" {
		t.Fatalf("Watch: %v, saw %q", err, seen)
	}
}

// TestRefusals: a refused token ends a watch at once; a bad URL or an
// empty token file is refused before anything is sent.
func TestRefusals(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":"a bearer token is required"}`)
	}))
	defer ts.Close()
	c, err := New(Options{URL: ts.URL, TokenFile: tokenFile(t, "wrong"), RetryEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Watch(context.Background(), func(serve.Status) (bool, error) { return true, nil })
	if err == nil || !strings.Contains(err.Error(), "GET /api/v1/events: 401 Unauthorized: a bearer token is required (the server does not know the token: check server.tokenFile)") {
		t.Fatalf("Watch with a refused token: %v", err)
	}
	for _, tt := range []struct{ url, token, want string }{
		{"ftp://x", "t", `server URL "ftp://x"`},
		{ts.URL, "", "holds no token"},
		{ts.URL, "a\nb", "holds no token"},
	} {
		if _, err := New(Options{URL: tt.url, TokenFile: tokenFile(t, tt.token)}); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%q, token %q) = %v, want %q", tt.url, tt.token, err, tt.want)
		}
	}
}
