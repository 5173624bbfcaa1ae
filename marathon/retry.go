package marathon

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"
)

// Backoff is an exponential backoff with jitter: attempt n (0-based) waits
// Initial*Multiplier^n, capped at Max, then randomised by ±Jitter (a fraction).
type Backoff struct {
	// Initial is the wait before the first retry.
	Initial time.Duration
	// Max caps every wait (also a server's Retry-After).
	Max time.Duration
	// Multiplier grows the wait from one retry to the next (at least 1).
	Multiplier float64
	// Jitter is the fraction (0 to 1) by which each wait is randomised either way.
	Jitter float64
}

// DefaultBackoff is used when Config.Backoff is the zero value.
var DefaultBackoff = Backoff{Initial: 200 * time.Millisecond, Max: 5 * time.Second, Multiplier: 2, Jitter: 0.2}

// withDefaults fills zero fields from DefaultBackoff.
func (b Backoff) withDefaults() Backoff {
	if b.Initial <= 0 {
		b.Initial = DefaultBackoff.Initial
	}
	if b.Max <= 0 {
		b.Max = DefaultBackoff.Max
	}
	if b.Max < b.Initial {
		b.Max = b.Initial
	}
	if b.Multiplier < 1 {
		b.Multiplier = DefaultBackoff.Multiplier
	}
	if b.Jitter < 0 || b.Jitter > 1 {
		b.Jitter = DefaultBackoff.Jitter
	}
	return b
}

// Delay returns the wait before retry number attempt (0 = first retry).
// rnd is a number in [0,1) (rand.Float64()); 0.5 gives the centre value.
func (b Backoff) Delay(attempt int, rnd float64) time.Duration {
	b = b.withDefaults()
	d := float64(b.Initial) * math.Pow(b.Multiplier, float64(attempt))
	if d > float64(b.Max) || math.IsInf(d, 0) || math.IsNaN(d) {
		d = float64(b.Max)
	}
	d *= 1 + b.Jitter*(2*rnd-1)
	return time.Duration(d)
}

// idempotent reports whether a request with this method may be replayed
// after it may have reached the server.
func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// retryableStatus reports whether an answer with this status is retried:
// 503 for every method (Marathon answers 503 while it has no leader), other
// 5xx (except 501) only for idempotent methods; 4xx never.
func retryableStatus(method string, status int) bool {
	switch {
	case status == http.StatusServiceUnavailable:
		return true
	case status >= 500 && status != http.StatusNotImplemented:
		return idempotent(method)
	}
	return false
}

// retryableErr reports whether a transport error is retried: errors that
// happened before the request was sent (connection refused, DNS) for every
// method, other network errors only for idempotent methods.
func retryableErr(method string, err error) bool {
	if errors.Is(err, context.Canceled) || isTLSError(err) {
		return false
	}
	if notSent(err) {
		return true
	}
	return idempotent(method)
}

// notSent reports whether err proves the request never reached the server.
func notSent(err error) bool {
	if errors.Is(err, syscall.ECONNREFUSED) {
		return true
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return true
	}
	var opErr *net.OpError
	return errors.As(err, &opErr) && opErr.Op == "dial"
}

// retryAfter parses a Retry-After header in seconds (the HTTP-date form is ignored).
func retryAfter(h http.Header) (time.Duration, bool) {
	v := h.Get("Retry-After")
	if v == "" {
		return 0, false
	}
	s, err := strconv.Atoi(v)
	if err != nil || s < 0 {
		return 0, false
	}
	return time.Duration(s) * time.Second, true
}

// jitterSource returns a random number in [0,1).
func jitterSource() float64 { return rand.Float64() }
