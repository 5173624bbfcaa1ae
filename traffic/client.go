package traffic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ErrConflict means nginx already holds a newer state than the one pushed
// (another writer got there first); re-read and retry.
var ErrConflict = errors.New("routing state version conflict")

// Client pushes routing states to the shared nginx's admin API and keeps the
// state file nginx reloads on start in step with it.
type Client struct {
	// AdminURL is the admin API base URL, e.g. http://127.0.0.1:8001.
	AdminURL string
	// StateFile is the routing state nginx loads on start
	// (<lab dir>/nginx/routes.json); it is written before each push.
	StateFile string
	// PodNetworks are the non-loopback networks backends may live in.
	PodNetworks []netip.Prefix
	// HTTP is the client used for the admin API (default: 10 s timeout).
	HTTP *http.Client
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return defaultHTTP
}

var defaultHTTP = &http.Client{Timeout: 10 * time.Second}

// Get returns nginx's active routing state.
func (c *Client) Get(ctx context.Context) (State, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.AdminURL+"/routes", nil)
	if err != nil {
		return State{}, fmt.Errorf("get routes: %w", err)
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return State{}, fmt.Errorf("get routes from nginx admin %s: %w", c.AdminURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return State{}, fmt.Errorf("get routes from nginx admin %s: %w", c.AdminURL, err)
	}
	if resp.StatusCode != http.StatusOK {
		return State{}, fmt.Errorf("get routes from nginx admin %s: %s: %s", c.AdminURL, resp.Status, adminError(body))
	}
	var s State
	if err := json.Unmarshal(body, &s); err != nil {
		return State{}, fmt.Errorf("get routes from nginx admin %s: %w", c.AdminURL, err)
	}
	return s, nil
}

// Apply makes s nginx's routing state: it validates s, writes it to the
// state file (atomically: temp file + rename), then PUTs it to nginx. A
// Version of 0 means "the active version + 1". When nginx refuses or cannot
// be reached, the previous state stays active in nginx, the state file is put
// back as it was, and the error says so. It returns the state as applied.
func (c *Client) Apply(ctx context.Context, s State) (State, error) {
	if err := Validate(s, c.PodNetworks...); err != nil {
		return State{}, fmt.Errorf("routing state not applied (nothing changed): %w", err)
	}
	if s.Version == 0 {
		cur, err := c.Get(ctx)
		if err != nil {
			return State{}, fmt.Errorf("routing state not applied (nothing changed): %w", err)
		}
		s.Version = cur.Version + 1
	}
	body, err := json.Marshal(s)
	if err != nil {
		return State{}, fmt.Errorf("routing state not applied: %w", err)
	}
	prev, prevErr := os.ReadFile(c.StateFile)
	if prevErr != nil && !errors.Is(prevErr, os.ErrNotExist) {
		return State{}, fmt.Errorf("routing state not applied (nothing changed): read %s: %w", c.StateFile, prevErr)
	}
	if err := WriteFileAtomic(c.StateFile, append(body, '\n')); err != nil {
		return State{}, fmt.Errorf("routing state not applied (nothing changed): %w", err)
	}
	applied, perr := c.put(ctx, body)
	if errors.Is(perr, ErrConflict) {
		// nginx may already hold exactly this state: it reloaded (and read
		// the file written above) between the write and the PUT.
		if cur, err := c.Get(ctx); err == nil && sameState(cur, s) {
			return cur, nil
		}
	}
	if perr != nil {
		var rerr error
		if prevErr == nil {
			rerr = WriteFileAtomic(c.StateFile, prev)
		} else {
			rerr = os.Remove(c.StateFile)
		}
		if rerr != nil {
			return State{}, fmt.Errorf("routing state version %d not applied, nginx keeps its previous state, and restoring %s failed (%v): %w", s.Version, c.StateFile, rerr, perr)
		}
		return State{}, fmt.Errorf("routing state version %d not applied, nginx keeps its previous state: %w", s.Version, perr)
	}
	return applied, nil
}

func (c *Client) put(ctx context.Context, body []byte) (State, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, c.AdminURL+"/routes", bytes.NewReader(body))
	if err != nil {
		return State{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http().Do(req)
	if err != nil {
		return State{}, fmt.Errorf("nginx admin %s: %w", c.AdminURL, err)
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(resp.Body)
	if err != nil {
		return State{}, fmt.Errorf("nginx admin %s: %w", c.AdminURL, err)
	}
	switch {
	case resp.StatusCode == http.StatusConflict:
		return State{}, fmt.Errorf("%w: nginx admin says: %s", ErrConflict, adminError(rb))
	case resp.StatusCode != http.StatusOK:
		return State{}, fmt.Errorf("nginx admin %s refused the state: %s: %s", c.AdminURL, resp.Status, adminError(rb))
	}
	var s State
	if err := json.Unmarshal(rb, &s); err != nil {
		return State{}, fmt.Errorf("nginx admin %s: unreadable answer: %w", c.AdminURL, err)
	}
	return s, nil
}

// Update reads the active state, applies change to it and pushes the result
// as the next version, retrying (up to 20 times) when another writer got
// there first. change may be called several times.
func (c *Client) Update(ctx context.Context, change func(State) (State, error)) (State, error) {
	var last error
	for attempt := 0; attempt < 20; attempt++ {
		if attempt > 0 {
			// Another writer won: back off a little (jittered) and re-read.
			select {
			case <-ctx.Done():
				return State{}, fmt.Errorf("%w (gave up: %w)", last, ctx.Err())
			case <-time.After(time.Duration(attempt*5+rand.IntN(20)) * time.Millisecond):
			}
		}
		cur, err := c.Get(ctx)
		if err != nil {
			return State{}, err
		}
		next, err := change(cur.Clone())
		if err != nil {
			return State{}, err
		}
		next.Version = cur.Version + 1
		applied, err := c.Apply(ctx, next)
		if err == nil {
			return applied, nil
		}
		if !errors.Is(err, ErrConflict) {
			return State{}, err
		}
		last = err
	}
	return State{}, last
}

// SetRoute adds a route or replaces the route of the same name.
func (c *Client) SetRoute(ctx context.Context, r Route) (State, error) {
	return c.Update(ctx, func(s State) (State, error) { return s.WithRoute(r), nil })
}

// RemoveRoute removes a route; removing a missing route is not an error.
func (c *Client) RemoveRoute(ctx context.Context, name string) (State, error) {
	return c.Update(ctx, func(s State) (State, error) { return s.WithoutRoute(name), nil })
}

// RemoveBackend takes a backend out of service in the only safe order:
// first it is removed from the route in nginx (no new request goes to it),
// then requests already sent to it get drain to finish, then stop is called
// (may be nil) to stop the task or pod. A backend that is already absent from
// the route is only drained and stopped, so the call can be repeated.
func (c *Client) RemoveBackend(ctx context.Context, route, address string, drain time.Duration, stop func(context.Context) error) error {
	_, err := c.Update(ctx, func(s State) (State, error) {
		r, ok := s.Route(route)
		if !ok {
			return s, nil
		}
		kept := r.Backends[:0]
		for _, b := range r.Backends {
			if b.Address != address {
				kept = append(kept, b)
			}
		}
		r.Backends = kept
		return s.WithRoute(r), nil
	})
	if err != nil {
		return fmt.Errorf("remove backend %s from route %q: %w (it was not stopped)", address, route, err)
	}
	if drain > 0 {
		t := time.NewTimer(drain)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return fmt.Errorf("remove backend %s from route %q: removed from nginx, drain interrupted (not stopped): %w", address, route, ctx.Err())
		case <-t.C:
		}
	}
	if stop != nil {
		if err := stop(ctx); err != nil {
			return fmt.Errorf("remove backend %s from route %q: removed from nginx and drained, but stopping it failed: %w", address, route, err)
		}
	}
	return nil
}

// WriteFileAtomic writes data to path through a temp file in the same
// directory and a rename, so readers see the old or the new content, never a
// mix. The file is synced before the rename.
func WriteFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, werr := tmp.Write(data)
	serr := tmp.Sync()
	cerr := tmp.Close()
	if err := errors.Join(werr, serr, cerr, os.Chmod(tmp.Name(), 0o644)); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// sameState compares two states as nginx stores them (nil and empty lists
// are the same).
func sameState(a, b State) bool {
	norm := func(s State) State {
		s = s.Clone()
		if s.Routes == nil {
			s.Routes = []Route{}
		}
		for i := range s.Routes {
			if s.Routes[i].Backends == nil {
				s.Routes[i].Backends = []Backend{}
			}
			if s.Routes[i].PathPrefix == "" {
				s.Routes[i].PathPrefix = "/"
			}
		}
		return s
	}
	ja, err1 := json.Marshal(norm(a))
	jb, err2 := json.Marshal(norm(b))
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

func adminError(body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return e.Error
	}
	return strings.TrimSpace(string(body))
}
