// Package wanterr checks an error against what a table test wants of it:
// no error, or an error whose message holds given substrings.
package wanterr

import (
	"strings"
	"testing"
)

// Check checks err against want, the substrings a wanted error's message
// must hold (empty strings are ignored), and reports whether an error was
// wanted, so that a table test can return after it:
//
//	if wanterr.Check(t, err, tc.wantErr) {
//		return
//	}
//
// With no non-empty want, a non-nil err is fatal (t.Fatal). Otherwise a
// nil err is fatal (t.Fatalf) and each substring the message lacks is an
// error (t.Errorf).
func Check(t testing.TB, err error, want ...string) (wantedErr bool) {
	t.Helper()
	var subs []string
	for _, w := range want {
		if w != "" {
			subs = append(subs, w)
		}
	}
	if len(subs) == 0 {
		if err != nil {
			t.Fatal(err)
		}
		return false
	}
	if err == nil {
		t.Fatalf("err = nil, want an error with %q", subs)
	}
	for _, w := range subs {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
	return true
}
