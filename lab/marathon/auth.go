package marathon

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/switchyard/switchyard/lab/labconfig"
)

// EnsureToken returns the lab Marathon's token (marathon.auth: token),
// generating it into cfg.MarathonTokenPath() (mode 0600) when the file does
// not exist yet. The token survives restarts of the lab Marathon; `lab down`
// leaves it, so a lab brought up again keeps its clients' token.
func EnsureToken(cfg labconfig.Config) (string, error) {
	path := cfg.MarathonTokenPath()
	if t, err := cfg.MarathonToken(); err == nil {
		return t, nil
	} else if _, serr := os.Stat(path); !errors.Is(serr, fs.ErrNotExist) {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", fmt.Errorf("lab marathon token: %w", err)
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("lab marathon token: %w", err)
	}
	tok := hex.EncodeToString(b)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return cfg.MarathonToken() // written by a concurrent start
	}
	if err != nil {
		return "", fmt.Errorf("lab marathon token: %w", err)
	}
	if _, err := f.WriteString(tok + "\n"); err != nil {
		f.Close()
		return "", fmt.Errorf("lab marathon token: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("lab marathon token: %w", err)
	}
	return tok, nil
}

// requireToken wraps the Marathon API so that every request but GET /ping
// carries the token, as "Authorization: token=<t>" (DC/OS) or "Bearer <t>";
// others get 401 with Marathon's error body.
func requireToken(token string, next http.Handler) http.Handler {
	want := []byte(token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ping" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			next.ServeHTTP(w, r)
			return
		}
		h := strings.TrimSpace(r.Header.Get("Authorization"))
		var got string
		switch {
		case strings.HasPrefix(h, "token="):
			got = strings.TrimPrefix(h, "token=")
		case len(h) > 7 && strings.EqualFold(h[:7], "Bearer "):
			got = strings.TrimSpace(h[7:])
		}
		if got == "" || subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			msg := "Unauthorized: this lab Marathon requires its token (marathon.auth: token): send 'Authorization: token=<t>' or 'Bearer <t>' with the token in <lab-dir>/marathon/token"
			if got != "" {
				msg = "Unauthorized: the token is not this lab Marathon's (see <lab-dir>/marathon/token)"
			}
			w.Header().Set("WWW-Authenticate", `token realm="switchyard-lab-marathon"`)
			writeError(w, &apiError{Status: http.StatusUnauthorized, Message: msg})
			return
		}
		next.ServeHTTP(w, r)
	})
}
