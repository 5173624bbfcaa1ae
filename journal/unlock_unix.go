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
