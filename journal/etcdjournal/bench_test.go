package etcdjournal

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/switchyard/switchyard/journal"
)

// BenchmarkAppend measures one Append (durable when it returns) on the
// bbolt journal (fsync'd file) and on the etcd journal (fenced transaction
// on a one-member etcd that fsyncs, over TLS on loopback), in the same
// run, and prints the ratio of their latencies.
func BenchmarkAppend(b *testing.B) {
	cfg := etcdFor(b)
	entry := func(i int) *journal.Entry {
		return &journal.Entry{App: "web", From: "Shifting", To: "Shifting", Event: "gate", State: []byte(`{"weight":50,"step":3}`), Time: time.Unix(int64(i), 0)}
	}
	perOp := map[string]time.Duration{}
	run := func(name string, open func(b *testing.B) journal.Journal) {
		b.Run(name, func(b *testing.B) {
			j := open(b)
			defer j.Close()
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := j.Append(ctx, entry(i)); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			perOp[name] = b.Elapsed() / time.Duration(b.N)
		})
	}
	run("bbolt", func(b *testing.B) journal.Journal {
		j, err := journal.Open(filepath.Join(b.TempDir(), "journal.db"), time.Second)
		if err != nil {
			b.Fatal(err)
		}
		return j
	})
	run("etcd", func(b *testing.B) journal.Journal {
		l := NewLeadership(newClient(b, cfg), newPrefix(b), "bench", 0)
		b.Cleanup(func() { l.Close() })
		if err := l.Campaign(context.Background()); err != nil {
			b.Fatal(err)
		}
		j, err := l.Journal()
		if err != nil {
			b.Fatal(err)
		}
		return j
	})
	if perOp["bbolt"] > 0 && perOp["etcd"] > 0 {
		// Printed, not logged: a benchmark's log shows only with -v.
		fmt.Printf("BenchmarkAppend: append latency bbolt %s, etcd %s: etcd/bbolt = %.2f\n", perOp["bbolt"], perOp["etcd"], float64(perOp["etcd"])/float64(perOp["bbolt"]))
	}
}

// BenchmarkTakeover measures the time from a leader's loss (its client
// stops without resigning or revoking its lease: what SIGKILL or a cut
// network leaves) until the waiting candidate leads, for a few session
// TTLs, and prints min, median and max with the TTL as the baseline: the
// takeover is the lease's expiry plus the election's own latency.
func BenchmarkTakeover(b *testing.B) {
	cfg := etcdFor(b)
	fmt.Printf("\n%-6s %6s %10s %10s %10s   %s\n", "ttl", "runs", "min", "median", "max", "median - ttl")
	for _, ttl := range []time.Duration{time.Second, 2 * time.Second} {
		b.Run(ttl.String(), func(b *testing.B) {
			var took []time.Duration
			for i := 0; i < b.N; i++ {
				prefix := newPrefix(b)
				lost, err := Dial(context.Background(), cfg)
				if err != nil {
					b.Fatal(err)
				}
				a := NewLeadership(lost, prefix, "a", ttl)
				if err := a.Campaign(context.Background()); err != nil {
					b.Fatal(err)
				}
				next := NewLeadership(newClient(b, cfg), prefix, "b", ttl)
				won := make(chan time.Time, 1)
				go func() {
					if err := next.Campaign(context.Background()); err == nil {
						won <- time.Now()
					}
					close(won)
				}()
				time.Sleep(200 * time.Millisecond) // b waits in the election
				stopped := time.Now()
				lost.Close() // no Resign, no revoke: the lease runs out
				at, ok := <-won
				if !ok {
					b.Fatal("the second candidate never led")
				}
				took = append(took, at.Sub(stopped))
				_ = next.Close()
			}
			slices.Sort(took)
			med := took[len(took)/2]
			fmt.Printf("%-6s %6d %10s %10s %10s   %s\n", ttl, len(took), took[0].Round(time.Millisecond), med.Round(time.Millisecond),
				took[len(took)-1].Round(time.Millisecond), (med - ttl).Round(time.Millisecond))
		})
	}
}
