package connect

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/journal"
	"github.com/switchyard/switchyard/journal/etcdjournal"
	"github.com/switchyard/switchyard/journal/etcdjournal/etcdtest"
	"github.com/switchyard/switchyard/lab/kube"
)

var etcd = etcdtest.Shared{Binary: func() (string, error) { return kube.Binary(kube.PinnedVersion, "etcd") }}

func TestMain(m *testing.M) {
	code := m.Run()
	if err := etcd.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}

// etcdContext is a context whose journal is in the shared test etcd.
func etcdContext(t *testing.T) config.Context {
	s := etcd.Server(t)
	return config.Context{Name: "ha", Journal: config.Journal{Type: config.JournalEtcd, Endpoints: []string{s.Endpoint},
		Prefix: "/switchyard/" + strings.ReplaceAll(t.Name(), "/", "_"), CAFile: s.CAFile, CertFile: s.CertFile, KeyFile: s.KeyFile}}
}

func appendTo(t *testing.T, j journal.Journal, to string) error {
	t.Helper()
	return j.Append(context.Background(), &journal.Entry{App: "web", To: to})
}

// TestJournal: each journal type opens for writing and for reading; an
// etcd writer leads, and a second one waits for it.
func TestJournal(t *testing.T) {
	tests := []struct {
		name string
		ctx  func(t *testing.T) config.Context
	}{
		{"bbolt", func(t *testing.T) config.Context {
			return config.Context{Name: "one", Journal: config.Journal{Path: filepath.Join(t.TempDir(), "journal.db")}}
		}},
		{"etcd", etcdContext},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.ctx(t)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			w, err := Journal(ctx, c, "first")
			if err != nil {
				t.Fatal(err)
			}
			if err := appendTo(t, w, "A"); err != nil {
				t.Fatal(err)
			}
			short, cancelShort := context.WithTimeout(ctx, 500*time.Millisecond)
			defer cancelShort()
			if _, err := Journal(short, c, "second"); err == nil {
				t.Fatal("a second writer opened the journal")
			} else if c.JournalType() == config.JournalEtcd && !strings.Contains(err.Error(), "first leads") {
				t.Fatalf("second writer: %v, want it to name the leader", err)
			} else {
				t.Logf("second writer: %v", err)
			}
			if err := w.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}
			w, err = Journal(ctx, c, "second")
			if err != nil {
				t.Fatal(err)
			}
			if err := appendTo(t, w, "B"); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			r, err := JournalReader(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			es, err := r.Load("web")
			if err != nil || len(es) != 2 || es[1].To != "B" || es[1].Seq != 2 {
				t.Fatalf("read back %+v %v", es, err)
			}
			if err := appendTo(t, r, "C"); err == nil {
				t.Fatal("the reader appended")
			} else if c.JournalType() == config.JournalEtcd && !errors.Is(err, etcdjournal.ErrNotLeader) {
				t.Fatalf("reader append: %v, want ErrNotLeader", err)
			}
		})
	}
}

// TestJournalErrors: what cannot be opened says which context and field.
func TestJournalErrors(t *testing.T) {
	tests := []struct {
		name   string
		change func(c *config.Context)
		want   string
	}{
		{"no bbolt path", func(c *config.Context) { c.Journal = config.Journal{} }, "context ha: no journal path"},
		{"etcd with another CA", func(c *config.Context) { c.Journal.CAFile = c.Journal.CertFile }, "certificate signed by unknown authority"},
		{"etcd without a client certificate", func(c *config.Context) { c.Journal.CertFile, c.Journal.KeyFile = "", "" }, "certificate required"},
		{"etcd unreachable", func(c *config.Context) { c.Journal.Endpoints = []string{"https://127.0.0.1:1"} }, "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := etcdContext(t)
			tt.change(&c)
			for _, open := range []func(ctx context.Context) (journal.Journal, error){
				func(ctx context.Context) (journal.Journal, error) { return Journal(ctx, c, "x") },
				func(ctx context.Context) (journal.Journal, error) { return JournalReader(ctx, c) },
			} {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				if j, err := open(ctx); err == nil || !strings.Contains(err.Error(), tt.want) {
					if j != nil {
						j.Close()
					}
					t.Fatalf("open: %v, want %q", err, tt.want)
				} else {
					t.Logf("%v", err)
				}
			}
		})
	}
}
