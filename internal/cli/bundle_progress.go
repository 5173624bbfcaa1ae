package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/switchyard/switchyard/bundle"
)

// progressBar returns a progress callback that draws a bar with bytes done
// of the total on w when w is a terminal (nil otherwise: no bar in logs).
func progressBar(w io.Writer, label string) func(done, total int64) {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	var mu sync.Mutex
	var last, start time.Time
	finished := false
	return func(done, total int64) {
		mu.Lock()
		defer mu.Unlock()
		if start.IsZero() {
			start = time.Now() // the work starts with the first report
		}
		if finished || (time.Since(last) < 200*time.Millisecond && done < total) {
			return
		}
		last = time.Now()
		const width = 30
		frac := 1.0
		if total > 0 {
			frac = min(float64(done)/float64(total), 1)
		}
		full := int(frac * width)
		rate := float64(done) / max(time.Since(start).Seconds(), 1e-3) / 1e6
		fmt.Fprintf(f, "\r%s [%s%s] %s / %s %3.0f%% %.1f MB/s ", label, strings.Repeat("#", full), strings.Repeat(".", width-full),
			bundle.FormatBytes(done), bundle.FormatBytes(total), 100*frac, rate)
		if done >= total {
			fmt.Fprintln(f)
			finished = true
		}
	}
}

// rate renders bytes over a duration as MB/s.
func rate(n int64, d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f MB/s", float64(n)/d.Seconds()/1e6)
}
