package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/switchyard/switchyard/lab/component"
	"github.com/switchyard/switchyard/lab/labconfig"
)

// LogOptions selects what Logs shows.
type LogOptions struct {
	// Tail shows only the last Tail lines (<= 0: the whole log).
	Tail int
	// Follow keeps printing what is appended until ctx is done.
	Follow bool
	// PollInterval is how often Follow looks for new output (default 200ms).
	PollInterval time.Duration
}

// Logs writes the named component's log to out.
func Logs(ctx context.Context, cfg labconfig.Config, specs []component.Spec, name string, o LogOptions, out io.Writer) error {
	path := LogPath(cfg, name)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		if _, ok := indexOf(specs, name); ok {
			return fmt.Errorf("lab logs: %s has not been started yet (no %s): run `switchyard lab up`", name, path)
		}
		return fmt.Errorf("lab logs: no component %q in this lab (components: %s)", name, strings.Join(names(specs), ", "))
	}
	if err != nil {
		return fmt.Errorf("lab logs: %w", err)
	}
	defer f.Close()
	var off int64
	if o.Tail > 0 {
		off, err = tailOffset(f, o.Tail)
		if err != nil {
			return fmt.Errorf("lab logs: %s: %w", path, err)
		}
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return fmt.Errorf("lab logs: %s: %w", path, err)
	}
	n, err := io.Copy(out, f)
	if err != nil {
		return fmt.Errorf("lab logs: %s: %w", path, err)
	}
	off += n
	if !o.Follow {
		return nil
	}
	interval := o.PollInterval
	if interval <= 0 {
		interval = 200 * time.Millisecond
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		st, err := os.Stat(path)
		if err != nil {
			continue // rotated away or lab dir removed; wait for it
		}
		if st.Size() < off { // truncated or replaced: start over
			f.Close()
			if f, err = os.Open(path); err != nil {
				continue
			}
			off = 0
		}
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			return fmt.Errorf("lab logs: %s: %w", path, err)
		}
		n, err := io.Copy(out, f)
		off += n
		if err != nil {
			return fmt.Errorf("lab logs: %s: %w", path, err)
		}
	}
}

// tailOffset returns the offset where the last n lines of f start.
func tailOffset(f *os.File, n int) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := st.Size()
	const chunk = 32 << 10
	pos := size
	lines := 0
	buf := make([]byte, chunk)
	// A final newline ends the last line; it does not start a new one.
	end := size
	for pos > 0 {
		read := int64(chunk)
		if pos < read {
			read = pos
		}
		pos -= read
		if _, err := f.ReadAt(buf[:read], pos); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		b := buf[:read]
		for i := len(b) - 1; i >= 0; i-- {
			if b[i] != '\n' || pos+int64(i) == end-1 {
				continue
			}
			lines++
			if lines == n {
				return pos + int64(i) + 1, nil
			}
		}
	}
	return 0, nil
}
