package marathon

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"os"

	"github.com/switchyard/switchyard/internal/capool"
)

// Token schemes for Config.TokenScheme.
const (
	// TokenSchemeDCOS sends "Authorization: token=<token>", as DC/OS's
	// Admin Router and the dcos CLI do (the default).
	TokenSchemeDCOS = "token"
	// TokenSchemeBearer sends "Authorization: Bearer <token>".
	TokenSchemeBearer = "Bearer"
)

// authorize sets the Authorization header: the token when one is set, else
// HTTP basic auth when a username is set.
func (c *Client) authorize(req *http.Request) {
	switch {
	case c.cfg.Token != "":
		if c.cfg.TokenScheme == TokenSchemeBearer || c.cfg.TokenScheme == "bearer" {
			req.Header.Set("Authorization", "Bearer "+c.cfg.Token)
		} else {
			req.Header.Set("Authorization", "token="+c.cfg.Token)
		}
	case c.cfg.Username != "":
		req.SetBasicAuth(c.cfg.Username, c.cfg.Password)
	}
}

// tlsConfig builds the TLS client configuration from CAFile/CAData and
// InsecureSkipVerify; it returns nil when the defaults apply.
func tlsConfig(cfg Config) (*tls.Config, error) {
	if cfg.CAFile == "" && len(cfg.CAData) == 0 && !cfg.InsecureSkipVerify {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.InsecureSkipVerify} //nolint:gosec // opt-in by the user
	pem := cfg.CAData
	if cfg.CAFile != "" {
		b, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read Marathon CA file: %w", err)
		}
		pem = append(append([]byte{}, pem...), b...)
	}
	if len(pem) > 0 {
		pool, ok := capool.FromPEM(pem, true)
		if !ok {
			src := "CAData"
			if cfg.CAFile != "" {
				src = cfg.CAFile
			}
			return nil, fmt.Errorf("Marathon CA %s: no PEM certificate found; give a PEM-encoded CA bundle", src)
		}
		tc.RootCAs = pool
	}
	return tc, nil
}
