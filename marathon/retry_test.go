package marathon

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"syscall"
	"testing"
	"time"
)

func TestBackoffDelay(t *testing.T) {
	b := Backoff{Initial: 100 * time.Millisecond, Max: time.Second, Multiplier: 2, Jitter: 0.5}
	tests := []struct {
		attempt int
		rnd     float64
		want    time.Duration
	}{
		{0, 0.5, 100 * time.Millisecond},
		{1, 0.5, 200 * time.Millisecond},
		{2, 0.5, 400 * time.Millisecond},
		{3, 0.5, 800 * time.Millisecond},
		{4, 0.5, time.Second},  // capped
		{60, 0.5, time.Second}, // no overflow
		{0, 0, 50 * time.Millisecond},
		{0, 1, 150 * time.Millisecond},
		{4, 0, 500 * time.Millisecond}, // jitter applies to the cap too
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("attempt%d_rnd%.1f", tt.attempt, tt.rnd), func(t *testing.T) {
			if got := b.Delay(tt.attempt, tt.rnd); got != tt.want {
				t.Errorf("Delay(%d, %v) = %v, want %v", tt.attempt, tt.rnd, got, tt.want)
			}
		})
	}
}

func TestBackoffDefaults(t *testing.T) {
	var zero Backoff
	if got, want := zero.Delay(0, 0.5), DefaultBackoff.Initial; got != want {
		t.Errorf("zero Backoff first delay = %v, want %v", got, want)
	}
	if got, want := zero.Delay(100, 0.5), DefaultBackoff.Max; got != want {
		t.Errorf("zero Backoff capped delay = %v, want %v", got, want)
	}
	bad := Backoff{Initial: time.Second, Max: time.Millisecond, Multiplier: 0.5, Jitter: 3}
	if got := bad.Delay(5, 0.5); got != time.Second {
		t.Errorf("Max below Initial: delay = %v, want Initial (1s)", got)
	}
}

func TestRetryableStatus(t *testing.T) {
	tests := []struct {
		method string
		status int
		want   bool
	}{
		{http.MethodGet, 500, true},
		{http.MethodGet, 502, true},
		{http.MethodGet, 504, true},
		{http.MethodGet, 501, false},
		{http.MethodPut, 500, true},
		{http.MethodDelete, 500, true},
		{http.MethodPost, 500, false},
		{http.MethodPatch, 502, false},
		{http.MethodPost, 503, true},
		{http.MethodPatch, 503, true},
		{http.MethodGet, 400, false},
		{http.MethodGet, 404, false},
		{http.MethodGet, 409, false},
		{http.MethodGet, 429, false},
		{http.MethodGet, 200, false},
	}
	for _, tt := range tests {
		if got := retryableStatus(tt.method, tt.status); got != tt.want {
			t.Errorf("retryableStatus(%s, %d) = %v, want %v", tt.method, tt.status, got, tt.want)
		}
	}
}

func TestRetryableErr(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	reset := &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
	dns := &net.DNSError{Name: "marathon.invalid", Err: "no such host", IsNotFound: true}
	tests := []struct {
		name   string
		method string
		err    error
		want   bool
	}{
		{"refused GET", http.MethodGet, refused, true},
		{"refused POST (never sent)", http.MethodPost, refused, true},
		{"dns POST (never sent)", http.MethodPost, dns, true},
		{"reset GET", http.MethodGet, reset, true},
		{"reset POST (may have been applied)", http.MethodPost, reset, false},
		{"reset PATCH", http.MethodPatch, reset, false},
		{"tls GET", http.MethodGet, errors.New("tls: failed to verify certificate: x509: certificate signed by unknown authority"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := retryableErr(tt.method, tt.err); got != tt.want {
				t.Errorf("retryableErr = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	h := http.Header{}
	if _, ok := retryAfter(h); ok {
		t.Error("no header: want ok=false")
	}
	h.Set("Retry-After", "7")
	if d, ok := retryAfter(h); !ok || d != 7*time.Second {
		t.Errorf("Retry-After 7 = %v, %v", d, ok)
	}
	h.Set("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT")
	if _, ok := retryAfter(h); ok {
		t.Error("HTTP-date form: want ok=false")
	}
}
