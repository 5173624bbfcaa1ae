package marathon

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/lab/labconfig"
	"github.com/switchyard/switchyard/marathon"
)

// TestMarathonTokenAuth: with marathon.auth: token the lab Marathon writes
// its token (0600) and refuses requests without it, but answers /ping; the
// marathon client with a context's dcos-token settings gets through.
func TestMarathonTokenAuth(t *testing.T) {
	cfg := TestConfig(t, 1)
	cfg.Marathon.Auth = labconfig.MarathonAuthToken
	ts := StartForTest(t, cfg)

	st, err := os.Stat(cfg.MarathonTokenPath())
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v, mode %v; want 0600", err, st.Mode().Perm())
	}
	tok, err := cfg.MarathonToken()
	if err != nil || len(tok) < 32 {
		t.Fatalf("token %q, %v", tok, err)
	}
	tests := []struct {
		method, path, auth string
		want               int
	}{
		{"GET", "/ping", "", 200},
		{"GET", "/v2/apps", "", 401},
		{"GET", "/v2/info", "token=wrong", 401},
		{"POST", "/v2/apps", "Bearer nope", 401},
		{"GET", "/v2/apps", "token=" + tok, 200},
		{"GET", "/v2/apps", "Bearer " + tok, 200},
		{"GET", "/v2/nothing", "", 401},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, ts.URL+tt.path, strings.NewReader("{}"))
		if tt.auth != "" {
			req.Header.Set("Authorization", tt.auth)
		}
		resp, err := httpc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body [512]byte
		n, _ := resp.Body.Read(body[:])
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s %s (%q) = %d %s, want %d", tt.method, tt.path, tt.auth, resp.StatusCode, body[:n], tt.want)
		}
		if tt.want == 401 && !strings.HasPrefix(string(body[:n]), `{"message":"Unauthorized`) {
			t.Errorf("%s %s: 401 body %q, want Marathon's error body", tt.method, tt.path, body[:n])
		}
	}

	// A restart keeps the token.
	ts.Restart()
	if again, _ := cfg.MarathonToken(); again != tok {
		t.Errorf("token changed across a restart: %q -> %q", tok, again)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sc := config.Context{Name: "lab", Marathon: config.Marathon{URL: ts.URL,
		Auth: config.MarathonAuth{Type: config.AuthDCOSToken, TokenFile: cfg.MarathonTokenPath()}}}
	mcfg, err := sc.MarathonConfig()
	if err != nil {
		t.Fatal(err)
	}
	mc, err := marathon.NewClient(mcfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mc.Apps(ctx, marathon.AppsOptions{}); err != nil {
		t.Fatalf("marathon client with the context's token: %v", err)
	}
	mcfg.Token = ""
	mc, _ = marathon.NewClient(mcfg)
	if _, err := mc.Apps(ctx, marathon.AppsOptions{}); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("marathon client without a token: %v, want a 401", err)
	}
}
