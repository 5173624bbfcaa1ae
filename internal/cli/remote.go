package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/migrate"
	"github.com/switchyard/switchyard/serve"
	"github.com/switchyard/switchyard/serve/client"
)

// serverClient is the client of the context's server (config server:), or
// nil when the context names none.
func serverClient(c config.Context) (*client.Client, error) {
	if c.Server.URL == "" {
		return nil, nil
	}
	cl, err := client.New(client.Options{URL: c.Server.URL, TokenFile: c.Server.TokenFile, CAFile: c.Server.CAFile})
	if err != nil {
		return nil, fmt.Errorf("context %s: server: %w", c.Name, err)
	}
	return cl, nil
}

// executorFlags are the flags of the local executor: with a server they
// are the server's (`switchyard serve` takes them), so giving one is an
// error rather than silently unused.
var executorFlags = []string{"apps", "journal", "plan", "parallel", "on-restart", "action-timeout", "namespace"}

// refuseExecutorFlags names the first executor flag given on cmd.
func refuseExecutorFlags(cmd *cobra.Command, c config.Context) error {
	for _, f := range executorFlags {
		if fl := cmd.Flags().Lookup(f); fl != nil && fl.Changed {
			return fmt.Errorf("context %s runs migrations on its server %s: --%s is the server's setting (`switchyard serve --%s`), not this command's (or use a context without server:)",
				c.Name, c.Server.URL, f, f)
		}
	}
	return nil
}

// remoteError says which context's server a call failed on.
func remoteError(c config.Context, what string, err error) error {
	var ae *client.APIError
	if errors.As(err, &ae) {
		return &ExitError{Code: 1, Err: fmt.Errorf("%s: context %s's server %s answered %w", what, c.Name, c.Server.URL, err)}
	}
	return &ExitError{Code: 1, Err: fmt.Errorf("%s: context %s's server %s: %w (is `switchyard serve` running there? server.url in the context)", what, c.Name, c.Server.URL, err)}
}

// seqs is each app's latest journal sequence on the server: what
// followServer waits to see passed.
func seqs(st serve.Status) map[string]uint64 {
	m := map[string]uint64{}
	for _, s := range st.Apps {
		m[s.App] = s.Seq
	}
	return m
}

// firstEntryWithin bounds the wait for the first journal entry of an app
// the server accepted (it plans the app first, reading both platforms).
var firstEntryWithin = time.Minute

// followServer watches the server until every app has a terminal phase
// journaled after before[app], printing each change of phase or weights to
// progress (nil: nothing), and returns their last summaries by app.
func followServer(ctx context.Context, cl *client.Client, progress io.Writer, apps []string, before map[string]uint64) (map[string]migrate.Summary, error) {
	var mu sync.Mutex // last is read by the silence timer
	last := map[string]migrate.Summary{}
	wctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	silence := time.AfterFunc(firstEntryWithin, func() {
		mu.Lock()
		defer mu.Unlock()
		var silent []string
		for _, a := range apps {
			if _, ok := last[a]; !ok {
				silent = append(silent, a)
			}
		}
		if len(silent) > 0 {
			stop(fmt.Errorf("the server accepted %s but journaled nothing for it in %s: its log says why (e.g. the app could not be planned)", strings.Join(silent, ", "), firstEntryWithin))
		}
	})
	defer silence.Stop()
	err := cl.Watch(wctx, func(st serve.Status) (bool, error) {
		mu.Lock()
		defer mu.Unlock()
		done := 0
		for _, s := range st.Apps {
			if !slices.Contains(apps, s.App) || s.Seq <= before[s.App] {
				continue
			}
			if prev, ok := last[s.App]; progress != nil && (!ok || prev.Phase != s.Phase || prev.Kubernetes != s.Kubernetes) {
				fmt.Fprintf(progress, "%s: %s, %d%% on Kubernetes%s\n", s.App, s.Phase, s.Kubernetes, reasonOf(s.Reason))
			}
			last[s.App] = s
			if s.BasePhase().Terminal() {
				done++
			}
		}
		return done == len(apps), nil
	})
	if cause := context.Cause(wctx); err != nil && ctx.Err() == nil && cause != nil && !errors.Is(cause, context.Canceled) {
		err = cause
	}
	mu.Lock()
	defer mu.Unlock()
	return maps.Clone(last), err
}

// remoteRun asks the server to start (migrate) or roll back apps, then,
// unless detach, follows them to the end and reports them as a local run
// does: an app that did not reach want is an error.
func remoteRun(ctx context.Context, out io.Writer, c config.Context, cl *client.Client, format string, detach bool,
	start func(context.Context) (serve.Accepted, error), want migrate.Phase) error {
	begin := time.Now()
	st, err := cl.Status(ctx)
	if err != nil {
		return remoteError(c, "status", err)
	}
	before := seqs(st)
	acc, err := start(ctx)
	if err != nil {
		return remoteError(c, "start", err)
	}
	fmt.Fprintf(out, "%s %s: accepted by %s\n", acc.Op, strings.Join(acc.Apps, ", "), acc.Replica)
	if detach {
		fmt.Fprintf(out, "follow with `switchyard status --context %s`\n", c.Name)
		return nil
	}
	sctx, cancel := signalContext(ctx)
	defer cancel()
	var progress io.Writer
	if format == "" || format == "table" {
		progress = out
	}
	last, err := followServer(sctx, cl, progress, acc.Apps, before)
	if err != nil {
		if ctx.Err() == nil && sctx.Err() != nil {
			fmt.Fprintf(out, "stopped following; the server goes on with %s (`switchyard status --context %s`)\n", strings.Join(acc.Apps, ", "), c.Name)
			return &ExitError{Code: 130, Err: errors.New("interrupted")}
		}
		return remoteError(c, "follow", err)
	}
	rs := make([]migrate.Result, 0, len(acc.Apps))
	for _, app := range acc.Apps {
		s := last[app]
		r := migrate.Result{App: app, Duration: time.Since(begin),
			State: migrate.State{App: app, Phase: s.BasePhase(), KubePercent: s.Kubernetes, Last: migrate.Observation{Requests: s.Requests}}}
		if r.State.Phase != want {
			r.Err = fmt.Errorf("%s: %s", s.Phase, s.Reason)
		}
		rs = append(rs, r)
	}
	return report(out, format, rs, time.Since(begin))
}
