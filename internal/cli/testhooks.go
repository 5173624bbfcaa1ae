//go:build testhooks

package cli

import (
	"os"
	"strconv"
	"syscall"

	"github.com/switchyard/switchyard/journal"
)

// CrashAfterEnv makes a test build of `switchyard migrate` (go build -tags
// testhooks) kill itself with SIGKILL right after its Nth journal append:
// the crash tests (migrate/e2e) restart it from every transition.
const CrashAfterEnv = "SWITCHYARD_MIGRATE_CRASH_AFTER"

func init() {
	afterJournalOpen = func(j *journal.Bolt) {
		n, _ := strconv.Atoi(os.Getenv(CrashAfterEnv))
		if n <= 0 {
			return
		}
		j.AfterAppend = func(k int) {
			if k == n {
				_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {}
			}
		}
	}
}
