// Command migrate benchmarks live migration on a real lab (it starts one:
// lab Marathon, Kubernetes, node agents, nginx) and prints a table:
// sustained req/s through a cut-over with the number of failed requests,
// the p99 added by a weight step, and Switchyard's own time per migration
// beyond pod readiness and the configured pauses; with -apps N also a wave
// of N apps next to one app's time.
//
//	go run ./bench/migrate [-conns 32] [-apps 0] [-parallel 8]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/switchyard/switchyard/internal/connect"
	"github.com/switchyard/switchyard/journal"
	"github.com/switchyard/switchyard/lab"
	"github.com/switchyard/switchyard/lab/labtest"
	"github.com/switchyard/switchyard/migrate"
	"github.com/switchyard/switchyard/migrate/edge"
	"github.com/switchyard/switchyard/migrate/edge/edgetest"
	"github.com/switchyard/switchyard/traffic/loadgen"
)

func main() {
	conns := flag.Int("conns", 32, "keep-alive client connections of the load generator")
	apps := flag.Int("apps", 0, "also migrate a wave of this many demo apps (0: skip)")
	parallel := flag.Int("parallel", 8, "migrations at once in the wave")
	pause := flag.Duration("pause", 2*time.Second, "pause per weight step")
	flag.Parse()
	if err := run(*conns, *apps, *parallel, *pause); err != nil {
		fmt.Fprintln(os.Stderr, "bench migrate:", err)
		os.Exit(1)
	}
}

// timedTraffic records when each weight change was applied.
type timedTraffic struct {
	migrate.Traffic
	mu      sync.Mutex
	changes []time.Time
}

func (t *timedTraffic) SetKubePercent(ctx context.Context, a migrate.App, pct int) error {
	err := t.Traffic.SetKubePercent(ctx, a, pct)
	t.mu.Lock()
	t.changes = append(t.changes, time.Now())
	t.mu.Unlock()
	return err
}

func run(conns, napps, parallel int, pause time.Duration) error {
	fmt.Fprintln(os.Stderr, "starting a lab (Marathon, Kubernetes, nginx)...")
	l, err := labtest.Start(labtest.Options{Kubernetes: true, Nginx: true, Nodes: 3})
	if err != nil {
		return err
	}
	defer func() {
		if err := l.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "lab down:", err)
		}
	}()
	fmt.Fprintf(os.Stderr, "lab up in %s\n", l.UpDuration.Round(time.Millisecond))
	el, err := connect.Migration(context.Background(), lab.ContextFor(l.Config))
	if err != nil {
		return err
	}
	defer el.Close()
	dir, err := os.MkdirTemp("", "bench-migrate-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	j, err := journal.Open(filepath.Join(dir, "journal.db"), time.Second)
	if err != nil {
		return err
	}
	defer j.Close()
	plan := migrate.Spec{Steps: migrate.DefaultSteps, PausePerStep: pause, Soak: time.Second, MaxErrorRate: 0.01}
	x := el.Executor(j)
	x.Drain = time.Second
	tt := &timedTraffic{Traffic: x.Traffic}
	x.Traffic = tt
	ctx := context.Background()

	tgt, err := deploy(ctx, el, j, "bench", plan)
	if err != nil {
		return err
	}
	load := loadgen.Start(ctx, loadgen.Config{Target: l.Config.Nginx.Listen, Path: "/bench/", Conns: conns, PostEvery: 3})
	time.Sleep(3 * time.Second)
	load.Begin()
	r := x.Migrate(ctx, tgt.App)
	load.End()
	time.Sleep(2 * time.Second)
	lg := load.Stop()
	if r.Err != nil {
		return fmt.Errorf("migration: %w", r.Err)
	}
	t0, t1, during := lg.Begin, lg.End, lg.During
	base := lg.Between(t0.Add(-2*time.Second), t0)
	var worst time.Duration
	for _, c := range tt.changes {
		if s := lg.Between(c, c.Add(time.Second)); s.P99-base.P99 > worst {
			worst = s.P99 - base.P99
		}
	}
	waits := r.Spent[migrate.ActWaitReady] + r.Spent[migrate.ActObserve] + r.Spent[migrate.ActWait] + r.Spent[migrate.ActScaleMarathon]
	own := r.Duration - waits

	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "measure\tvalue\ttarget")
	fmt.Fprintf(w, "req/s through the cut-over (%d conns, 1/3 POST, no retries)\t%.0f\t>= 2000\n", conns, float64(during.Sent)/t1.Sub(t0).Seconds())
	fmt.Fprintf(w, "failed requests (before/during/after)\t%d/%d/%d of %d\t0\n", lg.Before.Failed, during.Failed, lg.After.Failed, lg.Sent)
	fmt.Fprintf(w, "p99 steady before\t%s\t\n", base.P99.Round(time.Microsecond))
	fmt.Fprintf(w, "p99 added by a weight step (worst 1 s after a change)\t%s\t\n", worst.Round(time.Microsecond))
	fmt.Fprintf(w, "migration total\t%s\t\n", r.Duration.Round(time.Millisecond))
	fmt.Fprintf(w, "  waiting for pods ready\t%s\t\n", r.Spent[migrate.ActWaitReady].Round(time.Millisecond))
	fmt.Fprintf(w, "  configured pauses + soak\t%s\t\n", (r.Spent[migrate.ActObserve] + r.Spent[migrate.ActWait]).Round(time.Millisecond))
	fmt.Fprintf(w, "  Marathon scale-down (drain %s + task kill)\t%s\t\n", x.Drain, r.Spent[migrate.ActScaleMarathon].Round(time.Millisecond))
	fmt.Fprintf(w, "Switchyard's own time (install, weights, journal, delete)\t%s\t<= 1s\n", own.Round(time.Millisecond))
	w.Flush()

	if napps > 0 {
		if err := wave(ctx, l, el, j, napps, parallel, plan, r.Duration); err != nil {
			return err
		}
	}
	if during.Failed+base.Failed != 0 || lg.Failed != 0 {
		return fmt.Errorf("%d requests failed: %v", lg.Failed, lg.Errors)
	}
	return nil
}

func deploy(ctx context.Context, el *edge.Edges, j journal.Journal, name string, plan migrate.Spec) (edge.Target, error) {
	app, tgt, err := edgetest.DemoApp(name, "bench", 2, nil, plan)
	if err != nil {
		return tgt, err
	}
	if _, err := el.Marathon.CreateApp(ctx, app); err != nil {
		return tgt, err
	}
	cctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if err := (edge.Marathon{Client: el.Marathon}).Scale(cctx, tgt.App, 2); err != nil {
		return tgt, err
	}
	f, err := el.Add(ctx, tgt, j)
	if err != nil {
		return tgt, err
	}
	return tgt, f.SetKubePercent(ctx, 0)
}

func wave(ctx context.Context, l *labtest.Lab, el *edge.Edges, j journal.Journal, n, parallel int, plan migrate.Spec, one time.Duration) error {
	fmt.Fprintf(os.Stderr, "deploying %d apps on Marathon...\n", n)
	var apps []migrate.App
	for i := 0; i < n; i++ {
		tgt, err := deploy(ctx, el, j, fmt.Sprintf("w%02d", i), plan)
		if err != nil {
			return err
		}
		apps = append(apps, tgt.App)
	}
	loads := make([]*loadgen.Load, len(apps))
	for i, a := range apps {
		loads[i] = loadgen.Start(ctx, loadgen.Config{Target: l.Config.Nginx.Listen, Path: "/" + a.Route + "/", Conns: 1, PostEvery: 3, Rate: 20})
	}
	x := el.Executor(j)
	x.Drain = time.Second
	t0 := time.Now()
	rs := x.Wave(ctx, apps, parallel)
	total := time.Since(t0)
	var sent, failed int64
	for _, ld := range loads {
		r := ld.Stop()
		sent += r.Sent
		failed += r.Failed
	}
	var ds []time.Duration
	notDone := 0
	for _, r := range rs {
		ds = append(ds, r.Duration)
		if r.Err != nil {
			notDone++
			fmt.Fprintf(os.Stderr, "%s: %v\n", r.App, r.Err)
		}
	}
	sort.Slice(ds, func(i, k int) bool { return ds[i] < ds[k] })
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "wave of %d apps, %d at once\t%s total\t(one app alone: %s; median in wave %s)\n", n, parallel, total.Round(time.Millisecond), one.Round(time.Millisecond), ds[len(ds)/2].Round(time.Millisecond))
	fmt.Fprintf(w, "wave requests failed\t%d of %d\t0\n", failed, sent)
	fmt.Fprintf(w, "wave apps not migrated\t%d\t0\n", notDone)
	w.Flush()
	if failed != 0 || notDone != 0 {
		return fmt.Errorf("wave: %d failed requests, %d apps not migrated", failed, notDone)
	}
	return nil
}
