// Package control owns the operator channel to a running executor: while
// `switchyard migrate` runs (and holds the journal's lock), it serves a
// unix socket next to the journal (<journal dir>/control.sock, or in the
// user's private runtime directory when that path is too long) on which
// other `switchyard` processes of the same user (or root: both ends check
// the peer's uid) ask for the live state of every migration and send
// pause, resume and abort. The protocol is one JSON request and
// one JSON response per connection. It also writes a consistent backup of
// the journal on request (the journal is locked while the executor runs).
package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/switchyard/switchyard/journal"
	"github.com/switchyard/switchyard/migrate"
)

// Operations a Request may ask for.
const (
	OpStatus = "status"
	OpPause  = "pause"
	OpResume = "resume"
	OpAbort  = "abort"
	// OpBackup asks the executor for a consistent copy of its journal,
	// written to Request.Path (an absolute path, mode 0600).
	OpBackup = "backup"
)

// Request is one operator request.
type Request struct {
	// Op is status, pause, resume or abort; App names the migration
	// (commands only); Reason is journaled with a command (optional).
	Op     string `json:"op"`
	App    string `json:"app,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Path is where OpBackup writes the copy.
	Path string `json:"path,omitempty"`
}

// Response answers a Request.
type Response struct {
	// Error says why a request was refused (empty: accepted).
	Error string `json:"error,omitempty"`
	// Entries are the latest journal entry of every app (status), or of
	// the commanded app when the command was delivered.
	Entries []journal.Entry `json:"entries,omitempty"`
}

// Sender delivers a command to a running migration (*migrate.Executor).
type Sender interface {
	Send(app string, ev migrate.Event) bool
}

// maxRequest bounds the size of a request.
const maxRequest = 64 << 10

// Server serves the control socket of one executor.
type Server struct {
	path string
	ln   net.Listener
	j    journal.Journal
	wg   sync.WaitGroup

	mu sync.Mutex
	x  Sender
}

// Serve listens on path for requests to the executor x, whose journal is
// j. Only clients running as our user or as root are answered. The caller must hold j's lock (a socket left by a killed executor is
// replaced: no other executor can be running). x may be nil while the
// executor is being set up (status is served from j; commands are refused
// until Attach).
func Serve(path string, x Sender, j journal.Journal) (*Server, error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("control socket %s: remove a stale one: %w", path, err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	s := &Server{path: path, ln: ln, x: x, j: j}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Attach sets the executor that receives commands.
func (s *Server) Attach(x Sender) {
	s.mu.Lock()
	s.x = x
	s.mu.Unlock()
}

// Path is the socket's path.
func (s *Server) Path() string { return s.path }

// Close stops serving and removes the socket.
func (s *Server) Close() error {
	err := s.ln.Close()
	s.wg.Wait()
	_ = os.Remove(s.path)
	return err
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			// The request is read (bounded) before a refusal, so that the
			// client, still writing, reads the refusal, not a broken pipe;
			// nothing of it is acted on.
			var req Request
			derr := json.NewDecoder(io.LimitReader(c, maxRequest)).Decode(&req)
			if err := checkPeer(c); err != nil {
				_ = json.NewEncoder(c).Encode(Response{Error: fmt.Sprintf("refused: %v", err)})
				return
			}
			if derr != nil {
				_ = json.NewEncoder(c).Encode(Response{Error: fmt.Sprintf("bad request: %v", derr)})
				return
			}
			_ = json.NewEncoder(c).Encode(s.handle(req))
		}()
	}
}

// handle answers one request. A command is first given to the state
// machine (migrate.Next) with the app's journaled state, so one that does
// not apply is refused with the machine's reason instead of being silently
// ignored by the executor.
func (s *Server) handle(req Request) Response {
	if req.Op == OpStatus {
		es, err := s.j.LoadAll()
		if err != nil {
			return Response{Error: err.Error()}
		}
		return Response{Entries: es}
	}
	if req.Op == OpBackup {
		return s.backup(req.Path)
	}
	s.mu.Lock()
	x := s.x
	s.mu.Unlock()
	e, err := Deliver(s.j, x, req.Op, req.App, req.Reason)
	if err != nil {
		return Response{Error: err.Error()}
	}
	if e == nil {
		return Response{}
	}
	return Response{Entries: []journal.Entry{*e}}
}

// Deliver sends an operator command (pause, resume or abort) for app to
// the executor x, once the machine (migrate.Next) says it applies to the
// app's journaled state: a command that does not apply is refused with
// the machine's reason instead of being silently ignored. It returns the
// app's latest journal entry (nil when it could not be read). x nil is an
// executor still starting. The control socket and serve's API both
// deliver commands through it.
func Deliver(j journal.Reader, x Sender, op, app, reason string) (*journal.Entry, error) {
	var kind migrate.EventKind
	switch op {
	case OpPause:
		kind = migrate.EvPause
	case OpResume:
		kind = migrate.EvResume
	case OpAbort:
		kind = migrate.EvAbort
	default:
		return nil, fmt.Errorf("unknown operation %q (want status, pause, resume, abort or backup)", op)
	}
	if app == "" {
		return nil, errors.New(op + ": name the app")
	}
	st, found, err := migrate.Latest(j, app)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("%s: no migration of this app in the journal", app)
	}
	if reason == "" {
		reason = "operator: " + op
	}
	ev := migrate.Event{Kind: kind, Reason: reason}
	if _, _, err := migrate.Next(st, ev); err != nil {
		return nil, fmt.Errorf("%s %s: %v", op, app, err)
	}
	if x == nil {
		return nil, fmt.Errorf("%s %s: the executor is still starting (try again in a moment)", op, app)
	}
	if !x.Send(app, ev) {
		return nil, fmt.Errorf("%s %s: this executor is not migrating the app (or its command queue is full; try again)", op, app)
	}
	es, err := j.Load(app)
	if err != nil || len(es) == 0 {
		return nil, nil
	}
	return &es[len(es)-1], nil
}

// Backuper is a journal that writes a consistent copy of itself
// (*journal.Bolt).
type Backuper interface {
	Backup(dest string) error
}

// backup answers OpBackup: a copy of the journal at path.
func (s *Server) backup(path string) Response {
	b, ok := s.j.(Backuper)
	if !ok {
		return Response{Error: "backup: this executor's journal cannot be copied"}
	}
	if !filepath.IsAbs(path) {
		return Response{Error: fmt.Sprintf("backup: %q is not an absolute path", path)}
	}
	if err := b.Backup(path); err != nil {
		return Response{Error: err.Error()}
	}
	return Response{}
}

// ErrNotRunning says no executor answers on the socket.
var ErrNotRunning = errors.New("no running `switchyard migrate` answers on the control socket")

// Call sends req to the executor serving path. It returns ErrNotRunning
// (wrapped) when no executor listens, and the executor's refusal as an
// error. A server that runs as another user (not us, not root) is not
// talked to.
func Call(ctx context.Context, path string, req Request) (Response, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return Response{}, fmt.Errorf("%w (%s): %v", ErrNotRunning, path, err)
	}
	defer c.Close()
	if err := checkPeer(c); err != nil {
		return Response{}, fmt.Errorf("control socket %s: refusing to talk to its server: %w", path, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return Response{}, fmt.Errorf("control socket %s: %w", path, err)
	}
	var resp Response
	if err := json.NewDecoder(c).Decode(&resp); err != nil {
		return Response{}, fmt.Errorf("control socket %s: read the answer: %w", path, err)
	}
	if resp.Error != "" {
		return resp, errors.New(resp.Error)
	}
	return resp, nil
}
