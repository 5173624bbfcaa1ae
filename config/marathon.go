package config

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/switchyard/switchyard/internal/capool"
	"github.com/switchyard/switchyard/internal/redact"
	"github.com/switchyard/switchyard/marathon"
)

// LoginTimeout bounds the DC/OS service-account login of MarathonConfig.
const LoginTimeout = 30 * time.Second

// loginTokenLifetime is the exp of the service-login JWT (DC/OS only uses it
// to accept the login; the token it returns has its own lifetime).
const loginTokenLifetime = 5 * time.Minute

// MarathonConfig returns the Marathon client settings of the context,
// reading the token or password file, or logging in as a DC/OS service
// account (AuthDCOSLogin). It is MarathonConfigContext with a background context.
func (c Context) MarathonConfig() (marathon.Config, error) {
	return c.MarathonConfigContext(context.Background())
}

// MarathonConfigContext is MarathonConfig under ctx (which bounds the DC/OS login).
func (c Context) MarathonConfigContext(ctx context.Context) (marathon.Config, error) {
	m := c.Marathon
	if strings.TrimSpace(m.URL) == "" {
		where := "no context is selected"
		if c.Name != "" {
			where = fmt.Sprintf("context %s has no marathon.url", c.Name)
		}
		return marathon.Config{}, fmt.Errorf("no Marathon: %s is not set and %s: export %s=http://HOST:8080 (for the lab: eval \"$(switchyard lab env)\"), "+
			"choose a context with --context NAME or `switchyard config use-context NAME`, or give it one with `switchyard config set-context NAME --marathon-url URL`",
			marathon.EnvURL, where, marathon.EnvURL)
	}
	cfg := marathon.Config{URL: m.URL, CAFile: m.CAFile, InsecureSkipVerify: m.InsecureSkipVerify}
	a := m.Auth
	if a.Token != "" {
		cfg.Token = a.Token
		return cfg, nil
	}
	field := "context " + c.Name + ": marathon.auth."
	switch a.Type {
	case "", AuthNone:
	case AuthDCOSToken:
		t, err := readSecret(a.TokenFile, field+"tokenFile")
		if err != nil {
			return cfg, err
		}
		cfg.Token = t
	case AuthBasic:
		p, err := readSecret(a.PasswordFile, field+"passwordFile")
		if err != nil {
			return cfg, err
		}
		cfg.Username, cfg.Password = a.Username, p
	case AuthDCOSLogin:
		loginURL := a.LoginURL
		if loginURL == "" {
			u, err := defaultLoginURL(m.URL)
			if err != nil {
				return cfg, fmt.Errorf("%sloginURL: %w", field, err)
			}
			loginURL = u
		}
		pemData, err := os.ReadFile(a.PrivateKeyFile)
		if err != nil {
			return cfg, fmt.Errorf("%sprivateKeyFile: %w", field, err)
		}
		key, err := ParseRSAPrivateKey(pemData)
		if err != nil {
			return cfg, fmt.Errorf("%sprivateKeyFile %s: %w", field, a.PrivateKeyFile, err)
		}
		hc, err := loginClient(m)
		if err != nil {
			return cfg, fmt.Errorf("%s: %w", strings.TrimSuffix(field, "."), err)
		}
		t, err := DCOSLogin(ctx, hc, loginURL, a.UID, key)
		if err != nil {
			return cfg, err
		}
		cfg.Token = t
	default:
		return cfg, fmt.Errorf("%stype: %q is not supported", field, a.Type)
	}
	return cfg, nil
}

// readSecret reads a one-line secret file (trailing newline and spaces trimmed).
func readSecret(path, field string) (string, error) {
	if path == "" {
		return "", fmt.Errorf("%s: not set", field)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", field, err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("%s: %s is empty", field, path)
	}
	return s, nil
}

// defaultLoginURL derives DC/OS's login endpoint from a Marathon URL of the
// form <DCOS_URL>/service/marathon.
func defaultLoginURL(marathonURL string) (string, error) {
	u := strings.TrimRight(strings.TrimSpace(strings.Split(marathonURL, ",")[0]), "/")
	base, ok := strings.CutSuffix(u, "/service/marathon")
	if !ok {
		return "", fmt.Errorf("required: the Marathon URL %s does not end in /service/marathon, so the DC/OS login URL cannot be derived (set loginURL: https://DCOS/acs/api/v1/auth/login)", redact.URL(u))
	}
	return base + "/acs/api/v1/auth/login", nil
}

// loginClient is an HTTP client with the Marathon section's TLS settings.
func loginClient(m Marathon) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if m.CAFile != "" || m.InsecureSkipVerify {
		tc := &tls.Config{InsecureSkipVerify: m.InsecureSkipVerify} //nolint:gosec // the operator asked for it
		if m.CAFile != "" {
			pool, err := capool.Load(m.CAFile, true)
			if err != nil {
				return nil, fmt.Errorf("caFile: %w", err)
			}
			tc.RootCAs = pool
		}
		tr.TLSClientConfig = tc
	}
	return &http.Client{Transport: tr, Timeout: LoginTimeout}, nil
}

// DCOSLogin logs in as a DC/OS service account: it POSTs
// {"uid": uid, "token": <RS256 JWT {"uid": uid, "exp": ...} signed with key>}
// to loginURL (https://DCOS/acs/api/v1/auth/login) and returns the
// authentication token of the answer {"token": "..."}.
func DCOSLogin(ctx context.Context, hc *http.Client, loginURL, uid string, key *rsa.PrivateKey) (string, error) {
	if hc == nil {
		hc = &http.Client{Timeout: LoginTimeout}
	}
	jwt, err := SignRS256(key, map[string]any{"uid": uid, "exp": time.Now().Add(loginTokenLifetime).Unix()})
	if err != nil {
		return "", fmt.Errorf("dcos login: %w", err)
	}
	body, _ := json.Marshal(map[string]string{"uid": uid, "token": jwt})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, loginURL, bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("dcos login %s: %w", redact.URL(loginURL), redact.Cause(err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("dcos login %s: %w", redact.URL(loginURL), redact.Cause(err))
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Title       string `json:"title"`
			Description string `json:"description"`
		}
		msg := strings.TrimSpace(string(b))
		if json.Unmarshal(b, &e) == nil && e.Description != "" {
			msg = strings.TrimSpace(e.Title + ": " + e.Description)
		}
		return "", fmt.Errorf("dcos login %s as %s: %s: %s (check the service account's uid and private key)", redact.URL(loginURL), uid, resp.Status, msg)
	}
	var out struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(b, &out); err != nil || out.Token == "" {
		return "", fmt.Errorf("dcos login %s: the answer holds no token (%v)", redact.URL(loginURL), err)
	}
	return out.Token, nil
}

// SignRS256 returns a compact JWT (RFC 7519) of claims signed with key
// using RS256 (RSASSA-PKCS1-v1_5 with SHA-256).
func SignRS256(key *rsa.PrivateKey, claims any) (string, error) {
	enc := base64.RawURLEncoding
	hdr, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT"})
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("jwt claims: %w", err)
	}
	signing := enc.EncodeToString(hdr) + "." + enc.EncodeToString(payload)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("jwt sign: %w", err)
	}
	return signing + "." + enc.EncodeToString(sig), nil
}

// VerifyRS256 checks a compact RS256 JWT against pub and decodes its claims
// into claims (for tests and for servers standing in for DC/OS).
func VerifyRS256(token string, pub *rsa.PublicKey, claims any) error {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return errors.New("jwt: want three dot-separated parts")
	}
	enc := base64.RawURLEncoding
	hb, err := enc.DecodeString(parts[0])
	if err != nil {
		return fmt.Errorf("jwt header: %w", err)
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(hb, &hdr); err != nil || hdr.Alg != "RS256" {
		return fmt.Errorf("jwt header: alg %q: want RS256 (%v)", hdr.Alg, err)
	}
	sig, err := enc.DecodeString(parts[2])
	if err != nil {
		return fmt.Errorf("jwt signature: %w", err)
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		return fmt.Errorf("jwt signature: %w", err)
	}
	pb, err := enc.DecodeString(parts[1])
	if err != nil {
		return fmt.Errorf("jwt claims: %w", err)
	}
	return json.Unmarshal(pb, claims)
}

// ParseRSAPrivateKey decodes a PEM RSA private key (PKCS#1 "RSA PRIVATE KEY"
// or PKCS#8 "PRIVATE KEY", as `dcos security org service-accounts keypair` writes).
func ParseRSAPrivateKey(pemData []byte) (*rsa.PrivateKey, error) {
	for {
		var blk *pem.Block
		blk, pemData = pem.Decode(pemData)
		if blk == nil {
			return nil, errors.New("no PEM private key in it")
		}
		switch blk.Type {
		case "RSA PRIVATE KEY":
			return x509.ParsePKCS1PrivateKey(blk.Bytes)
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
			if err != nil {
				return nil, err
			}
			rk, ok := k.(*rsa.PrivateKey)
			if !ok {
				return nil, fmt.Errorf("the key is a %T, want an RSA key (RS256)", k)
			}
			return rk, nil
		}
	}
}
