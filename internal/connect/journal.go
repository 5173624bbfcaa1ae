package connect

import (
	"context"
	"errors"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/journal"
	"github.com/switchyard/switchyard/journal/etcdjournal"
)

// journalLockWait is how long a bbolt journal held by another process is
// waited for.
const journalLockWait = 2 * time.Second

// Etcd connects to the etcd of the context's journal (journal.type etcd),
// checking that it answers within ctx.
func Etcd(ctx context.Context, c config.Context) (*clientv3.Client, error) {
	if c.JournalType() != config.JournalEtcd {
		return nil, fmt.Errorf("%s: journal.type is %s, not %s", label(c), c.JournalType(), config.JournalEtcd)
	}
	j := c.Journal
	cli, err := etcdjournal.Dial(ctx, etcdjournal.Config{Endpoints: j.Endpoints, CAFile: j.CAFile, CertFile: j.CertFile, KeyFile: j.KeyFile, Prefix: j.Prefix})
	if err != nil {
		return nil, fmt.Errorf("%s: journal.endpoints: %w (check journal.endpoints, caFile, certFile and keyFile, and that the etcd user may read and write under journal.prefix)", label(c), err)
	}
	return cli, nil
}

// Journal opens the context's migration journal for this process to
// write, as id (the candidate's name in the election: host:pid, or a
// replica's address). A bbolt journal is opened (a process holding it is
// waited for 2s). With journal.type etcd, the process campaigns under
// journal.prefix and the journal returned is fenced by the term it wins:
// while another process leads, it waits, until ctx ends (bound it). Close
// resigns and disconnects.
func Journal(ctx context.Context, c config.Context, id string) (journal.Journal, error) {
	if c.JournalType() != config.JournalEtcd {
		return openBolt(c, journal.Open)
	}
	cli, err := Etcd(ctx, c)
	if err != nil {
		return nil, err
	}
	l := etcdjournal.NewLeadership(cli, c.Journal.Prefix, id, 0)
	if err := l.Campaign(ctx); err != nil {
		rctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if ld, lerr := l.Leader(rctx); lerr == nil && ctx.Err() != nil {
			err = fmt.Errorf("%s leads (a `serve` replica runs the migrations; stop it or work through it): %w", ld.ID, err)
		}
		_ = l.Close()
		_ = cli.Close()
		return nil, fmt.Errorf("%s: journal %s: %w", label(c), c.Journal.Prefix, err)
	}
	j, err := l.Journal()
	if err != nil {
		_ = l.Close()
		_ = cli.Close()
		return nil, fmt.Errorf("%s: journal %s: %w", label(c), c.Journal.Prefix, err)
	}
	return &leaderJournal{Journal: j, l: l, cli: cli}, nil
}

// JournalReader opens the context's migration journal for reading: a bbolt
// journal read-only (shared with other readers; a writer holding it is
// waited for 2s), an etcd journal without a term (its Append fails with
// etcdjournal.ErrNotLeader). Close disconnects.
func JournalReader(ctx context.Context, c config.Context) (journal.Journal, error) {
	if c.JournalType() != config.JournalEtcd {
		return openBolt(c, journal.OpenReadOnly)
	}
	cli, err := Etcd(ctx, c)
	if err != nil {
		return nil, err
	}
	return &leaderJournal{Journal: etcdjournal.Open(cli, c.Journal.Prefix), cli: cli}, nil
}

func openBolt(c config.Context, open func(string, time.Duration) (*journal.Bolt, error)) (journal.Journal, error) {
	if c.JournalPath() == "" {
		return nil, fmt.Errorf("%s: no journal path (journal.path, --journal or %s)", label(c), config.EnvJournal)
	}
	j, err := open(c.JournalPath(), journalLockWait)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label(c), err)
	}
	return j, nil
}

// leaderJournal is an etcd journal with what it was opened with: its
// leadership (none for a reader) and its client, released by Close.
type leaderJournal struct {
	*etcdjournal.Journal
	l   *etcdjournal.Leadership
	cli *clientv3.Client
}

// Close closes the handle, resigns (the lease is revoked) and disconnects.
func (j *leaderJournal) Close() error {
	errs := []error{j.Journal.Close()}
	if j.l != nil {
		errs = append(errs, j.l.Close())
	}
	return errors.Join(append(errs, j.cli.Close())...)
}
