package serve

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	authv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"
)

// Role is what a caller may do: a viewer reads, an operator also changes
// (starts, pauses, resumes, aborts and rolls back migrations).
type Role int

// Roles, weakest first.
const (
	// RoleNone may call nothing but /healthz and /readyz.
	RoleNone Role = iota
	// RoleViewer reads: status, history, plan, capacity, routes, events,
	// metrics, the dashboard.
	RoleViewer
	// RoleOperator also changes things.
	RoleOperator
)

// String is the role's name as the tokens file spells it.
func (r Role) String() string {
	switch r {
	case RoleViewer:
		return "viewer"
	case RoleOperator:
		return "operator"
	}
	return "none"
}

// Identity is an authenticated caller.
type Identity struct {
	// Name says who (the tokens file's name, or the Kubernetes user).
	Name string
	// Role is what it may do.
	Role Role
}

// ErrUnauthenticated is the error for a token no authenticator knows.
var ErrUnauthenticated = errors.New("unknown or missing bearer token")

// Authenticator maps a bearer token to an identity, or ErrUnauthenticated.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (Identity, error)
}

// Chain tries each authenticator in turn; the first that knows the token
// answers. Errors other than ErrUnauthenticated (an API server that does
// not answer) are returned when no authenticator knew the token.
type Chain []Authenticator

// Authenticate implements Authenticator.
func (c Chain) Authenticate(ctx context.Context, token string) (Identity, error) {
	var errs []error
	for _, a := range c {
		id, err := a.Authenticate(ctx, token)
		if err == nil {
			return id, nil
		}
		if !errors.Is(err, ErrUnauthenticated) {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return Identity{}, errors.Join(errs...)
	}
	return Identity{}, ErrUnauthenticated
}

// TokensFile is the static tokens file of `serve --tokens-file`:
//
//	tokens:
//	- name: alice
//	  role: operator
//	  sha256: 9f86d08...   # hex SHA-256 of the token (preferred)
//	- name: grafana
//	  role: viewer
//	  token: s3cr3t        # or the token itself
type TokensFile struct {
	// Tokens are the accepted tokens.
	Tokens []TokenEntry `json:"tokens"`
}

// TokenEntry is one accepted token.
type TokenEntry struct {
	// Name names the holder in logs and the API's answers.
	Name string `json:"name"`
	// Role is "viewer" or "operator".
	Role string `json:"role"`
	// SHA256 is the hex SHA-256 of the token (64 hex digits).
	SHA256 string `json:"sha256,omitempty"`
	// Token is the token itself (when SHA256 is not given).
	Token string `json:"token,omitempty"`
}

// MinTokenLength is the shortest token the tokens file may hold in clear.
const MinTokenLength = 16

// Tokens authenticates the static tokens of a tokens file.
type Tokens struct {
	entries []tokenHash
}

type tokenHash struct {
	id   Identity
	hash [sha256.Size]byte
}

// LoadTokens reads a tokens file. The file must not be readable or
// writable by group or others (it holds credentials); every entry needs a
// name, a role (viewer or operator) and one of sha256 or token.
func LoadTokens(path string) (*Tokens, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("tokens file: %w", err)
	}
	// Its group may read it (a Kubernetes Secret mounted for a non-root
	// serve is 0440 with the pod's fsGroup), nobody else.
	if st.Mode().Perm()&0o037 != 0 {
		return nil, fmt.Errorf("tokens file %s: mode %v lets other users read or change it: chmod 600 %s (or 640 for a group that must read it)", path, st.Mode().Perm(), path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokens file: %w", err)
	}
	t, err := ParseTokens(data)
	if err != nil {
		return nil, fmt.Errorf("tokens file %s: %w", path, err)
	}
	return t, nil
}

// ParseTokens parses a tokens file's content (unknown fields are errors).
func ParseTokens(data []byte) (*Tokens, error) {
	var f TokensFile
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		return nil, err
	}
	if len(f.Tokens) == 0 {
		return nil, errors.New("tokens: no token (add entries with name, role and sha256)")
	}
	t := &Tokens{}
	names := map[string]bool{}
	for i, e := range f.Tokens {
		at := fmt.Sprintf("tokens[%d]", i)
		if e.Name == "" {
			return nil, fmt.Errorf("%s.name: required", at)
		}
		if names[e.Name] {
			return nil, fmt.Errorf("%s.name: %q is listed twice", at, e.Name)
		}
		names[e.Name] = true
		var role Role
		switch e.Role {
		case "viewer":
			role = RoleViewer
		case "operator":
			role = RoleOperator
		default:
			return nil, fmt.Errorf("%s.role: %q: use viewer or operator", at, e.Role)
		}
		th := tokenHash{id: Identity{Name: e.Name, Role: role}}
		switch {
		case e.SHA256 != "" && e.Token != "":
			return nil, fmt.Errorf("%s: give sha256 or token, not both", at)
		case e.SHA256 != "":
			b, err := hex.DecodeString(e.SHA256)
			if err != nil || len(b) != sha256.Size {
				return nil, fmt.Errorf("%s.sha256: want 64 hex digits (sha256sum of the token)", at)
			}
			copy(th.hash[:], b)
		case len(e.Token) >= MinTokenLength:
			th.hash = sha256.Sum256([]byte(e.Token))
		case e.Token != "":
			return nil, fmt.Errorf("%s.token: shorter than %d characters (e.g. openssl rand -hex 32)", at, MinTokenLength)
		default:
			return nil, fmt.Errorf("%s: sha256 (or token) required", at)
		}
		t.entries = append(t.entries, th)
	}
	return t, nil
}

// Authenticate implements Authenticator: the token's SHA-256 is compared
// with every entry's in constant time.
func (t *Tokens) Authenticate(_ context.Context, token string) (Identity, error) {
	if token == "" {
		return Identity{}, ErrUnauthenticated
	}
	h := sha256.Sum256([]byte(token))
	found := -1
	for i := range t.entries {
		if subtle.ConstantTimeCompare(h[:], t.entries[i].hash[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return Identity{}, ErrUnauthenticated
	}
	return t.entries[found].id, nil
}

// TokenReview authenticates Kubernetes tokens (ServiceAccount or user)
// with the API server's TokenReview; the role comes from the user's
// groups.
type TokenReview struct {
	// Client reaches the API server (serve's own ServiceAccount needs
	// create on tokenreviews).
	Client kubernetes.Interface
	// OperatorGroup and ViewerGroup are the groups that grant each role.
	OperatorGroup, ViewerGroup string
	// Audiences, when set, are the audiences the token must be for.
	Audiences []string
}

// Authenticate implements Authenticator. An authenticated user in neither
// group is refused (ErrUnauthenticated names no group: the answer does not
// say which tokens exist).
func (r *TokenReview) Authenticate(ctx context.Context, token string) (Identity, error) {
	if token == "" {
		return Identity{}, ErrUnauthenticated
	}
	tr, err := r.Client.AuthenticationV1().TokenReviews().Create(ctx, &authv1.TokenReview{
		Spec: authv1.TokenReviewSpec{Token: token, Audiences: r.Audiences},
	}, metav1.CreateOptions{})
	if err != nil {
		return Identity{}, fmt.Errorf("token review: %w", err)
	}
	if !tr.Status.Authenticated {
		return Identity{}, ErrUnauthenticated
	}
	u := tr.Status.User
	switch {
	case r.OperatorGroup != "" && slices.Contains(u.Groups, r.OperatorGroup):
		return Identity{Name: u.Username, Role: RoleOperator}, nil
	case r.ViewerGroup != "" && slices.Contains(u.Groups, r.ViewerGroup):
		return Identity{Name: u.Username, Role: RoleViewer}, nil
	}
	return Identity{}, ErrUnauthenticated
}

// bearer returns the token of an Authorization header ("Bearer TOKEN").
func bearer(h string) string {
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}
