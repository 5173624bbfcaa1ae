package marathon

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestURLSecretsNotInErrors: the password of a Marathon URL's userinfo
// (MARATHON_URL=http://user:password@host) must not appear in the errors of
// NewClient (ConfigFromEnv then NewClient, as the commands do) nor in those
// of requests, nor in Client.URL.
func TestURLSecretsNotInErrors(t *testing.T) {
	const secret = "hunter2"
	refused := httptest.NewServer(http.NotFoundHandler())
	refused.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer failing.Close()
	notPong := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("hello")) }))
	defer notPong.Close()
	withUser := func(u string) string { return strings.Replace(u, "http://", "http://admin:"+secret+"@", 1) }
	tests := []struct {
		name, url, want string
		ping            bool // the error comes from Ping, not NewClient
	}{
		{name: "invalid escape", url: "http://admin:" + secret + "@m:8080/%zz", want: `URL (invalid URL): invalid URL escape "%zz"`},
		{name: "invalid port", url: "http://admin:" + secret + "@m:80a80", want: "URL (invalid URL): invalid port"},
		{name: "bad scheme", url: "ftp://admin:" + secret + "@m:8080", want: "URL ftp://admin:xxxxx@m:8080: want http://HOST:PORT"},
		{name: "no scheme", url: "admin:" + secret + "@m:8080", want: "want http://HOST:PORT"},
		{name: "second of a list", url: "http://m:8080,ftp://admin:" + secret + "@m2", want: "URL ftp://admin:xxxxx@m2: want"},
		{name: "connection refused", url: withUser(refused.URL), want: "connection refused", ping: true},
		{name: "503", url: withUser(failing.URL), want: "503", ping: true},
		{name: "not pong", url: withUser(notPong.URL), want: "is not pong", ping: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(EnvURL, tt.url)
			t.Setenv(EnvDCOSURL, "")
			cfg, err := ConfigFromEnv()
			if err != nil {
				t.Fatal(err)
			}
			cfg.Retries, cfg.Backoff = -1, testBackoff
			c, err := NewClient(cfg)
			if tt.ping {
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(c.URL(), secret) {
					t.Errorf("URL() = %q", c.URL())
				}
				err = c.Ping(context.Background())
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}
