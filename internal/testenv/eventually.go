package testenv

import (
	"testing"
	"time"
)

// Eventually polls cond every poll until it reports true, and fails t
// (naming what, the timeout and cond's last detail) when timeout passes
// first. Tests wait for an outcome with it instead of sleeping a guess.
func Eventually(t testing.TB, timeout, poll time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		ok, detail := cond()
		if ok {
			return
		}
		if detail != "" {
			last = detail
		}
		if time.Now().After(deadline) {
			if last != "" {
				last = "; last: " + last
			}
			t.Fatalf("timed out after %s waiting for %s%s", timeout, what, last)
		}
		time.Sleep(poll)
	}
}

// EventuallyNil is Eventually for a check that returns nil once it holds
// (its error is the detail).
func EventuallyNil(t testing.TB, timeout, poll time.Duration, what string, check func() error) {
	t.Helper()
	Eventually(t, timeout, poll, what, func() (bool, string) {
		if err := check(); err != nil {
			return false, err.Error()
		}
		return true, ""
	})
}
