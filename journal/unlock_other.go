//go:build !unix

package journal

import "os"

// unlock is a no-op where bbolt does not use flock.
func unlock(*os.File) {}

// writerHolds cannot tell here.
func writerHolds(*os.File) bool { return false }
