package traffic

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"
)

// Tailer follows nginx's access log and feeds a Window. It reads only
// complete lines, survives truncation and rotation (a new file at the same
// path), and counts lines it could not parse instead of stopping.
type Tailer struct {
	// Path is the access log.
	Path string
	// Window receives every parsed entry.
	Window *Window
	// Interval is the polling period of Run (default 200 ms).
	Interval time.Duration

	mu        sync.Mutex
	f         *os.File
	ino       uint64
	offset    int64
	partial   []byte
	started   bool
	fromStart bool
	bad       int
	lastErr   error
}

// NewTailer returns a tailer of the access log at path feeding a new window
// of the given length. With fromStart it also counts the lines already in
// the file; otherwise it starts at the current end.
func NewTailer(path string, window time.Duration, fromStart bool) *Tailer {
	return &Tailer{Path: path, Window: NewWindow(window), fromStart: fromStart}
}

// Run polls the log until ctx is done.
func (t *Tailer) Run(ctx context.Context) error {
	iv := t.Interval
	if iv <= 0 {
		iv = 200 * time.Millisecond
	}
	tick := time.NewTicker(iv)
	defer tick.Stop()
	defer t.Close()
	for {
		_ = t.Poll()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// Poll reads the lines appended since the last call. A missing file is not
// an error (nginx has not logged yet).
func (t *Tailer) Poll() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	err := t.pollLocked()
	t.lastErr = err
	return err
}

func (t *Tailer) pollLocked() error {
	st, err := os.Stat(t.Path)
	if errors.Is(err, os.ErrNotExist) {
		t.started = true
		return nil
	}
	if err != nil {
		return fmt.Errorf("access log: %w", err)
	}
	ino := inode(st)
	if t.f == nil || ino != t.ino || st.Size() < t.offset {
		// First open, rotation or truncation: (re)open at the start, except
		// on the very first open without fromStart. After a rotation, first
		// read what was appended to the old file since the last poll.
		if t.f != nil {
			if ino != t.ino {
				if err := t.readFrom(t.f); err != nil {
					return err
				}
				t.partial = nil
			}
			t.f.Close()
		}
		f, err := os.Open(t.Path)
		if err != nil {
			return fmt.Errorf("access log: %w", err)
		}
		t.f, t.ino, t.offset, t.partial = f, ino, 0, nil
		if !t.started && !t.fromStart {
			t.offset = st.Size()
		}
		t.started = true
	}
	return t.readFrom(t.f)
}

// readFrom consumes f from the current offset to its end.
func (t *Tailer) readFrom(f *os.File) error {
	buf := make([]byte, 256<<10)
	for {
		n, err := f.ReadAt(buf, t.offset)
		if n > 0 {
			t.offset += int64(n)
			t.consume(buf[:n])
		}
		if err == io.EOF || n == 0 {
			return nil
		}
		if err != nil {
			return fmt.Errorf("access log: %w", err)
		}
	}
}

func (t *Tailer) consume(chunk []byte) {
	data := chunk
	if len(t.partial) > 0 {
		data = append(t.partial, chunk...)
		t.partial = nil
	}
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			t.partial = append([]byte(nil), data...)
			return
		}
		line := bytes.TrimSpace(data[:i])
		data = data[i+1:]
		if len(line) == 0 {
			continue
		}
		e, err := ParseLine(line)
		if err != nil {
			t.bad++
			continue
		}
		t.Window.Add(e)
	}
}

// BadLines is the number of lines that could not be parsed.
func (t *Tailer) BadLines() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.bad
}

// Err is the error of the last poll, if any.
func (t *Tailer) Err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lastErr
}

// Close releases the open log file.
func (t *Tailer) Close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.f != nil {
		t.f.Close()
		t.f = nil
	}
}

func inode(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}
