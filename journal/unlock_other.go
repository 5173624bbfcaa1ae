//go:build !unix

package journal

import "os"

// unlock is a no-op where bbolt does not use flock.
func unlock(*os.File) {}
