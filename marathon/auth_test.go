package marathon

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/wanterr"
)

func TestAuthorizationHeader(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config // URL is filled in
		user string // "user:pass" put in the URL userinfo
		want string
	}{
		{"none", Config{}, "", ""},
		{"basic from URL userinfo", Config{}, "alice:s3cret", "Basic YWxpY2U6czNjcmV0"},
		{"explicit basic wins over userinfo", Config{Username: "bob", Password: "pw"}, "alice:s3cret", "Basic Ym9iOnB3"},
		{"DC/OS token", Config{Token: "eyJhbGc"}, "", "token=eyJhbGc"},
		{"bearer token", Config{Token: "eyJhbGc", TokenScheme: TokenSchemeBearer}, "", "Bearer eyJhbGc"},
		{"token wins over basic", Config{Token: "t1"}, "alice:s3cret", "token=t1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := make(chan string, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got <- r.Header.Get("Authorization")
				_, _ = io.WriteString(w, "pong")
			}))
			defer srv.Close()
			cfg := tt.cfg
			cfg.URL = srv.URL
			if tt.user != "" {
				cfg.URL = strings.Replace(srv.URL, "http://", "http://"+tt.user+"@", 1)
			}
			c, err := NewClient(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Ping(context.Background()); err != nil {
				t.Fatal(err)
			}
			if h := <-got; h != tt.want {
				t.Errorf("Authorization = %q, want %q", h, tt.want)
			}
		})
	}
}

func TestUnauthorizedHint(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(401)
		_, _ = io.WriteString(w, `{"message":"Invalid username or password."}`)
	}))
	defer srv.Close()
	c, err := NewClient(Config{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Info(context.Background())
	if !IsUnauthorized(err) {
		t.Fatalf("err = %v, want 401", err)
	}
	for _, want := range []string{"GET /v2/info", "401", "Invalid username or password.", "MARATHON_URL", "DCOS_ACS_TOKEN"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// testPKI is a CA and a server certificate for 127.0.0.1 signed by it.
type testPKI struct {
	caPEM  []byte
	server tls.Certificate
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "switchyard test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "marathon"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return testPKI{
		caPEM:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		server: tls.Certificate{Certificate: [][]byte{srvDER}, PrivateKey: srvKey},
	}
}

func TestTLSWithCustomCA(t *testing.T) {
	pki := newTestPKI(t)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"name":"marathon","version":"1.11.0","elected":true}`)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pki.server}}
	srv.StartTLS()
	defer srv.Close()

	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pki.caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	ok := []struct {
		name string
		cfg  Config
	}{
		{"CAData", Config{URL: srv.URL, CAData: pki.caPEM}},
		{"CAFile", Config{URL: srv.URL, CAFile: caFile}},
		{"InsecureSkipVerify", Config{URL: srv.URL, InsecureSkipVerify: true}},
	}
	for _, tt := range ok {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewClient(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			info, err := c.Info(context.Background())
			if err != nil {
				t.Fatalf("Info over TLS: %v", err)
			}
			if info.Version != "1.11.0" {
				t.Errorf("version = %q", info.Version)
			}
		})
	}

	t.Run("unknown CA is refused and not retried", func(t *testing.T) {
		c, sleeps := testClient(t, Config{URL: srv.URL, Retries: 3})
		_, err := c.Info(context.Background())
		var te *TransportError
		if !errors.As(err, &te) {
			t.Fatalf("err = %v, want *TransportError", err)
		}
		if te.Attempts != 1 || len(*sleeps) != 0 {
			t.Errorf("attempts = %d, sleeps = %v: a certificate error must not be retried", te.Attempts, *sleeps)
		}
		if !strings.Contains(err.Error(), "x509") || !strings.Contains(err.Error(), "check the CA") {
			t.Errorf("error %q should name the certificate problem and say to check the CA", err)
		}
	})
}

func TestConfigFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    Config
		wantErr string
	}{
		{"marathon url", map[string]string{EnvURL: "http://127.0.0.1:8080"}, Config{URL: "http://127.0.0.1:8080"}, ""},
		{"dcos url", map[string]string{EnvDCOSURL: "https://dcos.example/"}, Config{URL: "https://dcos.example/service/marathon"}, ""},
		{"marathon url wins", map[string]string{EnvURL: "http://m:8080", EnvDCOSURL: "https://dcos.example"}, Config{URL: "http://m:8080"}, ""},
		{"token", map[string]string{EnvURL: "http://m", EnvDCOSToken: "abc"}, Config{URL: "http://m", Token: "abc"}, ""},
		{"ssl verify false", map[string]string{EnvURL: "https://m", EnvDCOSSSLVerify: "false"}, Config{URL: "https://m", InsecureSkipVerify: true}, ""},
		{"ssl verify true", map[string]string{EnvURL: "https://m", EnvDCOSSSLVerify: "true"}, Config{URL: "https://m"}, ""},
		{"ssl verify CA path", map[string]string{EnvURL: "https://m", EnvDCOSSSLVerify: "/etc/ca.pem"}, Config{URL: "https://m", CAFile: "/etc/ca.pem"}, ""},
		{"nothing set", map[string]string{}, Config{}, "MARATHON_URL is not set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{EnvURL, EnvDCOSURL, EnvDCOSToken, EnvDCOSSSLVerify} {
				t.Setenv(k, tt.env[k])
			}
			got, err := ConfigFromEnv()
			if wanterr.Check(t, err, tt.wantErr) {
				return
			}
			if got.URL != tt.want.URL || got.Token != tt.want.Token || got.InsecureSkipVerify != tt.want.InsecureSkipVerify || got.CAFile != tt.want.CAFile {
				t.Errorf("ConfigFromEnv = %+v, want %+v", got, tt.want)
			}
		})
	}
}
