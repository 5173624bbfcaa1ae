package config

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestContextMarathonConfig(t *testing.T) {
	dir := t.TempDir()
	tok := writeFile(t, dir, "token", "s3cret\n")
	pw := writeFile(t, dir, "pw", "hunter2\n")
	empty := writeFile(t, dir, "empty", "\n")
	tests := []struct {
		name                      string
		m                         Marathon
		token, user, pass, errHas string
	}{
		{name: "none", m: Marathon{URL: "http://m:8080"}},
		{name: "dcos-token", m: Marathon{URL: "http://m:8080", Auth: MarathonAuth{Type: AuthDCOSToken, TokenFile: tok}}, token: "s3cret"},
		{name: "inline token wins", m: Marathon{URL: "http://m:8080", Auth: MarathonAuth{Type: AuthDCOSToken, TokenFile: tok, Token: "flag"}}, token: "flag"},
		{name: "basic", m: Marathon{URL: "http://m:8080", Auth: MarathonAuth{Type: AuthBasic, Username: "u", PasswordFile: pw}}, user: "u", pass: "hunter2"},
		{name: "missing token file", m: Marathon{URL: "http://m:8080", Auth: MarathonAuth{Type: AuthDCOSToken, TokenFile: filepath.Join(dir, "nope")}},
			errHas: "context c: marathon.auth.tokenFile: open "},
		{name: "empty token file", m: Marathon{URL: "http://m:8080", Auth: MarathonAuth{Type: AuthDCOSToken, TokenFile: empty}}, errHas: "is empty"},
		{name: "no url", m: Marathon{}, errHas: "context c has no marathon.url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Context{Name: "c", Marathon: tt.m}.MarathonConfig()
			if wantError(t, err, tt.errHas) {
				return
			}
			if cfg.URL != tt.m.URL || cfg.Token != tt.token || cfg.Username != tt.user || cfg.Password != tt.pass {
				t.Fatalf("MarathonConfig = %+v", cfg)
			}
		})
	}
}

// fakeDCOS is a DC/OS login endpoint that verifies the service login JWT
// against the account's public key.
func fakeDCOS(t *testing.T, uid string, pub *rsa.PublicKey) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/acs/api/v1/auth/login" {
			http.Error(w, `{"title":"Not found"}`, http.StatusNotFound)
			return
		}
		var in struct{ UID, Token string }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var claims struct {
			UID string `json:"uid"`
			Exp int64  `json:"exp"`
		}
		if err := VerifyRS256(in.Token, pub, &claims); err != nil || in.UID != uid || claims.UID != uid || claims.Exp < time.Now().Unix() {
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(map[string]string{"title": "Invalid authentication credentials",
				"description": "Service login JWT not valid", "code": "ERR_INVALID_CREDENTIALS"})
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"token": "auth-token-for-" + uid})
	}))
}

func TestContextMarathonConfigDCOSLogin(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	srv := fakeDCOS(t, "switchyard", &key.PublicKey)
	defer srv.Close()
	dir := t.TempDir()
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(key)
	keyFile := writeFile(t, dir, "key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})))
	pkcs1File := writeFile(t, dir, "key1.pem", string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})))
	otherFile := writeFile(t, dir, "other.pem", string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(other)})))
	tests := []struct {
		name, url, loginURL, uid, keyFile, errHas string
	}{
		{name: "derived login URL, PKCS#8", url: srv.URL + "/service/marathon", uid: "switchyard", keyFile: keyFile},
		{name: "explicit login URL, PKCS#1", url: "http://elsewhere:8080", loginURL: srv.URL + "/acs/api/v1/auth/login", uid: "switchyard", keyFile: pkcs1File},
		{name: "wrong key", url: srv.URL + "/service/marathon", uid: "switchyard", keyFile: otherFile, errHas: "401 Unauthorized: Invalid authentication credentials: Service login JWT not valid"},
		{name: "wrong uid", url: srv.URL + "/service/marathon", uid: "intruder", keyFile: keyFile, errHas: "as intruder: 401"},
		{name: "no login URL", url: "http://elsewhere:8080", uid: "switchyard", keyFile: keyFile, errHas: "marathon.auth.loginURL"},
		// A Marathon URL's password never shows in the errors.
		{name: "no login URL, userinfo", url: "http://admin:hunter2@elsewhere:8080", uid: "switchyard", keyFile: keyFile, errHas: "the Marathon URL http://admin:xxxxx@elsewhere:8080 does not end"},
		{name: "wrong uid, userinfo", url: strings.Replace(srv.URL, "http://", "http://admin:hunter2@", 1) + "/service/marathon", uid: "intruder", keyFile: keyFile, errHas: "as intruder: 401"},
		{name: "login refused, userinfo", url: "http://admin:hunter2@127.0.0.1:1/service/marathon", uid: "switchyard", keyFile: keyFile, errHas: "dcos login http://admin:xxxxx@127.0.0.1:1/acs/api/v1/auth/login: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Context{Name: "dcos", Marathon: Marathon{URL: tt.url, Auth: MarathonAuth{Type: AuthDCOSLogin, UID: tt.uid, PrivateKeyFile: tt.keyFile, LoginURL: tt.loginURL}}}
			cfg, err := c.MarathonConfig()
			if wantError(t, err, tt.errHas) {
				return
			}
			if cfg.Token != "auth-token-for-switchyard" || cfg.URL != tt.url {
				t.Fatalf("MarathonConfig = %+v", cfg)
			}
		})
	}
}

func TestSignRS256(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	jwt, err := SignRS256(key, map[string]any{"uid": "a", "exp": 1})
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := VerifyRS256(jwt, &key.PublicKey, &claims); err != nil || claims["uid"] != "a" {
		t.Fatalf("VerifyRS256 = %v, claims %v", err, claims)
	}
	parts := strings.Split(jwt, ".")
	tampered := parts[0] + "." + parts[1] + "x." + parts[2]
	if err := VerifyRS256(tampered, &key.PublicKey, &claims); err == nil {
		t.Fatal("a tampered JWT verified")
	}
	if _, err := ParseRSAPrivateKey([]byte("not pem")); err == nil {
		t.Fatal("ParseRSAPrivateKey accepted garbage")
	}
}

// wantError checks MarathonConfig's error against errHas (a case that
// expects an error: it must name errHas and not show the URL's password)
// and reports whether the case expected one; an unexpected error fails.
func wantError(t *testing.T, err error, errHas string) bool {
	t.Helper()
	if errHas == "" {
		if err != nil {
			t.Fatal(err)
		}
		return false
	}
	if err == nil || !strings.Contains(err.Error(), errHas) {
		t.Fatalf("MarathonConfig error = %v, want %q", err, errHas)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("the error shows the URL's password: %v", err)
	}
	return true
}
