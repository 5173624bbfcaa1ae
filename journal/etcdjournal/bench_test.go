package etcdjournal

import (
	"context"
	"fmt"
	"path/filepath"
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
