package nodeagent

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// tokenRenewAt is the part of a token's lifetime after which a new one is
// requested (the kubelet's token manager renews at 80%).
const tokenRenewAt = 0.8

// tokenCache keeps the ServiceAccount tokens of one pod and asks next for
// a new one only when a token is due (tokenRenewAt of its lifetime has
// passed), so that rewriting a pod's volumes every resync renews a token
// file when it must, not every time.
type tokenCache struct {
	next TokenRequester
	now  func() time.Time

	mu     sync.Mutex
	tokens map[tokenKey]cachedToken
}

// tokenKey is what a serviceAccountToken projection asks for.
type tokenKey struct {
	audience string
	seconds  int64
}

type cachedToken struct {
	Token
	issued time.Time
}

// newTokenCache wraps next (nil stays nil: pods that mount a token do not
// start) with a cache for one pod.
func newTokenCache(next TokenRequester, now func() time.Time) TokenRequester {
	if next == nil {
		return nil
	}
	return &tokenCache{next: next, now: now, tokens: map[tokenKey]cachedToken{}}
}

// ServiceAccountToken returns the cached token of the projection unless it
// is due, else a new one from the API.
func (c *tokenCache) ServiceAccountToken(ctx context.Context, pod *corev1.Pod, audience string, expirationSeconds int64) (Token, error) {
	k := tokenKey{audience, expirationSeconds}
	now := c.now()
	c.mu.Lock()
	t, ok := c.tokens[k]
	c.mu.Unlock()
	if ok && !t.due(now) {
		return t.Token, nil
	}
	nt, err := c.next.ServiceAccountToken(ctx, pod, audience, expirationSeconds)
	if err != nil {
		return Token{}, err
	}
	c.mu.Lock()
	c.tokens[k] = cachedToken{Token: nt, issued: now}
	c.mu.Unlock()
	return nt, nil
}

// due tells whether the token has lived tokenRenewAt of its lifetime. A
// token without an expiry (a requester that gives none) is always due.
func (t cachedToken) due(now time.Time) bool {
	if t.Expires.IsZero() {
		return true
	}
	life := t.Expires.Sub(t.issued)
	return !now.Before(t.issued.Add(time.Duration(float64(life) * tokenRenewAt)))
}
