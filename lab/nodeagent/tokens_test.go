package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// countingTokens issues "t<n>" tokens valid for their requested lifetime
// from now(), or fails when fail is set.
type countingTokens struct {
	now   func() time.Time
	n     int
	fail  bool
	asked []string
}

func (c *countingTokens) ServiceAccountToken(_ context.Context, _ *corev1.Pod, audience string, exp int64) (Token, error) {
	c.asked = append(c.asked, audience)
	if c.fail {
		return Token{}, errors.New("API unreachable")
	}
	c.n++
	return Token{Value: fmt.Sprintf("t%d", c.n), Expires: c.now().Add(time.Duration(exp) * time.Second)}, nil
}

func TestTokenCacheRenewsAtEightyPercent(t *testing.T) {
	start := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		steps    []time.Duration // time since start of each request
		audience []string        // per step ("" when nil)
		failAt   int             // 1-based step at which the API fails (0: never)
		want     []string        // token returned per step ("error" when it failed)
		calls    int             // requests that reached the API
	}{
		{name: "reused before 80%", steps: []time.Duration{0, time.Minute, 47 * time.Minute}, want: []string{"t1", "t1", "t1"}, calls: 1},
		{name: "renewed at 80%", steps: []time.Duration{0, 48 * time.Minute, 49 * time.Minute, 97 * time.Minute}, want: []string{"t1", "t2", "t2", "t3"}, calls: 3},
		{name: "one token per audience", steps: []time.Duration{0, 0, time.Minute},
			audience: []string{"a", "b", "a"}, want: []string{"t1", "t2", "t1"}, calls: 2},
		{name: "a failed renewal is an error and is asked again", steps: []time.Duration{0, 50 * time.Minute, 51 * time.Minute},
			failAt: 2, want: []string{"t1", "error", "t2"}, calls: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := start
			clock := func() time.Time { return now }
			api := &countingTokens{now: clock}
			c := newTokenCache(api, clock)
			for i, d := range tt.steps {
				now = start.Add(d)
				api.fail = tt.failAt == i+1
				aud := ""
				if tt.audience != nil {
					aud = tt.audience[i]
				}
				tok, err := c.ServiceAccountToken(context.Background(), &corev1.Pod{}, aud, 3600)
				got := tok.Value
				if err != nil {
					got = "error"
				}
				if got != tt.want[i] {
					t.Errorf("step %d (%v): got %s, want %s", i+1, d, got, tt.want[i])
				}
			}
			if len(api.asked) != tt.calls {
				t.Errorf("%d requests reached the API, want %d", len(api.asked), tt.calls)
			}
		})
	}
}

// noExpiry issues tokens without an expiry time and counts the requests.
type noExpiry struct{ n int }

func (c *noExpiry) ServiceAccountToken(context.Context, *corev1.Pod, string, int64) (Token, error) {
	c.n++
	return Token{Value: fmt.Sprintf("t%d", c.n)}, nil
}

func TestTokenCacheWithoutExpiryAsksEveryTime(t *testing.T) {
	api := &noExpiry{}
	c := newTokenCache(api, time.Now)
	for i := range 2 {
		tok, err := c.ServiceAccountToken(context.Background(), &corev1.Pod{}, "x", 600)
		if want := fmt.Sprintf("t%d", i+1); err != nil || tok.Value != want {
			t.Fatalf("request %d: token %q, err %v; want %s", i+1, tok.Value, err, want)
		}
	}
	if newTokenCache(nil, time.Now) != nil {
		t.Error("a cache around no requester must stay nil (pods that mount a token do not start)")
	}
}
