//go:build unix

package journal

import (
	"os"
	"syscall"
)

// unlock releases bbolt's flock on f. Closing f alone is not enough after
// a panic inside bolt.Open: the mapping bbolt made keeps the open file
// (and its lock) alive.
func unlock(f *os.File) { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }

// writerHolds says whether another open file holds an exclusive lock on
// f's file (a bbolt writer: one creating the database holds it while the
// file is still empty).
func writerHolds(f *os.File) bool {
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		return err == syscall.EWOULDBLOCK
	}
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false
}
