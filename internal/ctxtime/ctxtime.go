// Package ctxtime waits on the clock and a context at once.
package ctxtime

import (
	"context"
	"time"
)

// Sleep waits d, or until ctx ends: then it returns ctx.Err() (at once
// when ctx has ended already, whatever d). A d of zero or less does not
// wait.
func Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil || d <= 0 {
		return err
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
