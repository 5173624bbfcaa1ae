package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/switchyard/switchyard/lb"
	"github.com/switchyard/switchyard/traffic"
	"github.com/switchyard/switchyard/traffic/follow"
)

// RefusalKind is how NginxFaults makes the real nginx refuse a push.
type RefusalKind string

// RefuseInvalid pushes the change with one of the route's backends listed
// twice: nginx's admin API validates the state and answers 400 with its
// reason. RefuseStale pushes the change with the active version instead of
// the next one: nginx answers 409 (version not newer than the active one),
// as when another writer got there first and kept winning.
const (
	RefuseInvalid RefusalKind = "invalid"
	RefuseStale   RefusalKind = "stale"
)

// Refusal arms NginxFaults: the next Times pushes that give Route's
// Kubernetes backends at least MinKubePercent of its weight are made to be
// refused by nginx.
type Refusal struct {
	Kind           RefusalKind
	Route          string
	MinKubePercent float64
	Times          int
}

// NginxFaults (test support of these end-to-end tests, not product code) is a fault hook between the followers and the shared nginx
// (a follow.Pusher around the real traffic.Fleet): armed with a Refusal,
// it sends the matching pushes to the real nginx admin API in a form nginx
// refuses, so tests see the executor's handling of nginx's own refusal
// (status, message). Every other push passes through unchanged. Use it as
// a Lab's Pusher: lab.Pusher = &follow.Serial{Pusher: faults}.
type NginxFaults struct {
	// Client is the real admin API client (its first instance gets the
	// faulty pushes).
	Client *traffic.Fleet

	mu      sync.Mutex
	armed   []Refusal
	refused []error
}

var _ follow.Pusher = (*NginxFaults)(nil)

// Arm adds a refusal.
func (f *NginxFaults) Arm(r Refusal) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Times <= 0 {
		r.Times = 1
	}
	f.armed = append(f.armed, r)
}

// Refused returns the errors nginx's refusals produced, oldest first.
func (f *NginxFaults) Refused() []error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]error(nil), f.refused...)
}

// Update implements follow.Pusher.
func (f *NginxFaults) Update(ctx context.Context, change func(traffic.State) (traffic.State, error)) (traffic.State, error) {
	var hit *Refusal
	var cur, next traffic.State
	f.mu.Lock()
	if len(f.armed) > 0 {
		c, err := f.Client.Get(ctx)
		if err != nil {
			f.mu.Unlock()
			return traffic.State{}, err
		}
		n, err := change(c.Clone())
		if err != nil {
			f.mu.Unlock()
			return traffic.State{}, err
		}
		cur, next = c, n
		for i := range f.armed {
			r := &f.armed[i]
			nr, ok := next.Route(r.Route)
			or, _ := cur.Route(r.Route)
			if ok && traffic.Percents(nr.Backends)[traffic.Kubernetes] >= r.MinKubePercent && !sameBackends(or.Backends, nr.Backends) {
				cp := *r
				hit = &cp
				if r.Times--; r.Times == 0 {
					f.armed = append(f.armed[:i], f.armed[i+1:]...)
				}
				break
			}
		}
	}
	f.mu.Unlock()
	if hit == nil {
		return f.Client.Update(ctx, change)
	}
	var err error
	switch hit.Kind {
	case RefuseStale:
		next.Version = cur.Version // not newer: nginx answers 409
		_, err = f.Client.Instances[0].Put(ctx, next)
	default:
		err = f.putInvalid(ctx, next, hit.Route)
	}
	if err == nil {
		err = fmt.Errorf("fault %s on route %s: nginx accepted the state it should have refused", hit.Kind, hit.Route)
	}
	f.mu.Lock()
	f.refused = append(f.refused, err)
	f.mu.Unlock()
	return traffic.State{}, err
}

// putInvalid PUTs s to nginx with the route's first backend listed twice,
// bypassing the client's own validation, and returns nginx's refusal.
func (f *NginxFaults) putInvalid(ctx context.Context, s traffic.State, route string) error {
	s.Version++
	for i := range s.Routes {
		if s.Routes[i].Name == route && len(s.Routes[i].Backends) > 0 {
			s.Routes[i].Backends = append(s.Routes[i].Backends, s.Routes[i].Backends[0])
		}
	}
	body, err := json.Marshal(s)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, f.Client.Instances[0].AdminURL+"/routes", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	in := f.Client.Instances[0]
	token := in.Token
	if token == "" && in.TokenFile != "" {
		var err error
		if token, err = lb.ReadToken(in.TokenFile); err != nil {
			return fmt.Errorf("nginx admin token: %w", err)
		}
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("nginx admin %s: %w", f.Client.Instances[0].AdminURL, err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	var e struct {
		Error string `json:"error"`
	}
	msg := strings.TrimSpace(string(rb))
	if json.Unmarshal(rb, &e) == nil && e.Error != "" {
		msg = e.Error
	}
	return fmt.Errorf("routing state version %d not applied, nginx keeps its previous state: nginx admin %s refused the state: %s: %s", s.Version, f.Client.Instances[0].AdminURL, resp.Status, msg)
}

func sameBackends(a, b []traffic.Backend) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}
