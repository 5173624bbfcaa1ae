package bundle

import (
	"io"
	"os"
	"path"
)

// writeAtomic writes rel inside root through tmp, a name in the same
// directory: write fills tmp, which is then synced, given mode, renamed to
// rel, and the directory synced, so that rel is either what it was or the
// whole new content, also after a crash. On failure tmp is removed.
func writeAtomic(root *os.Root, tmp, rel string, mode os.FileMode, write func(io.Writer) error) error {
	w, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	err = write(w)
	if err == nil {
		err = w.Chmod(mode) // the umask narrowed it, or tmp was left by an earlier run
	}
	if err == nil {
		err = w.Sync()
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = root.Rename(tmp, rel)
	}
	if err != nil {
		root.Remove(tmp)
		return err
	}
	if d, err := root.Open(path.Dir(rel)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
