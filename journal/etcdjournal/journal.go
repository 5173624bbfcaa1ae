// Package etcdjournal owns the high-availability migration journal: a
// journal.Journal stored in etcd under a prefix, the leader election of the
// replicas sharing that prefix, and the fence that keeps a deposed leader
// from writing.
//
// Under a prefix P (e.g. /switchyard/prod) it owns these keys and nothing
// else:
//
//	P/journal/seq                  the last sequence number assigned (decimal)
//	P/journal/apps/APP/SEQ         one entry (JSON, as the bbolt journal stores it); SEQ is 20 decimal digits
//	P/journal/latest/APP           a copy of APP's latest entry (what LoadAll reads)
//	P/election/LEASE               one candidate per replica (concurrency.Election); the oldest leads
//
// APP is the app name path-escaped (url.PathEscape: "/" and "%" are
// escaped), so any name is a single key segment and no app's keys are a
// prefix of another's.
//
// A Journal from Open reads (linearizable reads: a replica that does not
// lead serves them too). Appends need a term: Leadership.Journal (or
// Journal.Fenced) binds a handle to one leader's term, and each Append is
// then one etcd transaction that writes only if that term's leader key still
// exists with the create revision the campaign got; otherwise nothing is
// written and the error is a *NotLeaderError (errors.Is ErrNotLeader).
//
// It does not run migrations, serve an API or push weights: package
// migrate and the `serve` command do, after a successful Append.
package etcdjournal

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/switchyard/switchyard/internal/capool"
	"github.com/switchyard/switchyard/journal"
)

// Config is how to reach etcd.
type Config struct {
	// Endpoints are etcd's client URLs (https://10.0.0.5:2379).
	Endpoints []string
	// CAFile is a PEM CA bundle trusted for the endpoints (default: the system's).
	CAFile string
	// CertFile and KeyFile are the client certificate and key (PEM), for an
	// etcd that requires client certificates.
	CertFile, KeyFile string
	// Prefix is where Switchyard's keys live: Dial's check reads there
	// (the user may be granted that prefix only). Default "/".
	Prefix string
	// DialTimeout bounds the connection (default 5s).
	DialTimeout time.Duration
}

// Dial connects to etcd and checks that it answers (a count of the keys
// under Prefix, bounded by ctx and DialTimeout), so that a wrong endpoint,
// certificate, CA or permission is reported now.
func Dial(ctx context.Context, c Config) (*clientv3.Client, error) {
	if len(c.Endpoints) == 0 {
		return nil, errors.New("etcd: no endpoints")
	}
	timeout := c.DialTimeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	cfg := clientv3.Config{Endpoints: c.Endpoints, DialTimeout: timeout, Logger: zap.NewNop()}
	if c.CAFile != "" || c.CertFile != "" || strings.HasPrefix(c.Endpoints[0], "https://") {
		t, err := tlsConfig(c)
		if err != nil {
			return nil, err
		}
		cfg.TLS = t
	}
	cli, err := clientv3.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("etcd %s: %w", strings.Join(c.Endpoints, ","), err)
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	prefix := c.Prefix
	if prefix == "" {
		prefix = "/"
	}
	if _, err := cli.Get(pctx, prefix, clientv3.WithPrefix(), clientv3.WithCountOnly()); err != nil {
		cli.Close()
		return nil, fmt.Errorf("etcd %s: %w%s", strings.Join(c.Endpoints, ","), err, diagnose(c.Endpoints, cfg.TLS))
	}
	return cli, nil
}

// diagnose says why the endpoints do not answer when the client only
// timed out: the first one's connection or TLS error.
func diagnose(endpoints []string, t *tls.Config) string {
	u, err := url.Parse(endpoints[0])
	if err != nil {
		return ""
	}
	d := &net.Dialer{Timeout: time.Second}
	if u.Scheme != "https" {
		conn, err := d.Dial("tcp", u.Host)
		if err != nil {
			return " (" + err.Error() + ")"
		}
		conn.Close()
		return ""
	}
	conn, err := tls.DialWithDialer(d, "tcp", u.Host, t)
	if err != nil {
		return " (" + err.Error() + ")"
	}
	defer conn.Close()
	// A refused client certificate shows after the handshake (TLS 1.3).
	_ = conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := conn.Read(make([]byte, 1)); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) && !errors.Is(err, io.EOF) {
		return " (" + err.Error() + ")"
	}
	return ""
}

func tlsConfig(c Config) (*tls.Config, error) {
	t := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pool, err := capool.Load(c.CAFile, false)
		if err != nil {
			return nil, fmt.Errorf("etcd caFile: %w", err)
		}
		t.RootCAs = pool
	}
	if c.CertFile != "" || c.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("etcd certFile/keyFile: %w", err)
		}
		t.Certificates = []tls.Certificate{cert}
	}
	return t, nil
}

// ReadTimeout bounds Load and LoadAll (journal.Journal gives them no context).
const ReadTimeout = 10 * time.Second

// Journal is the etcd-backed journal.Journal under one prefix. A handle
// from Open reads; one bound to a term (Fenced, Leadership.Journal) also
// appends. Handles do not own the client: closing one leaves it open.
type Journal struct {
	cli    *clientv3.Client
	keys   keys
	term   Term // zero: not bound, Append fails with ErrNotLeader
	closed chan struct{}
	once   sync.Once

	mu sync.Mutex
	// seq and seqRev are the last sequence number seen and its key's mod
	// revision: the next Append's guess, corrected by a failed transaction.
	seq    uint64
	seqRev int64
}

var _ journal.Journal = (*Journal)(nil)

// Open returns a handle on the journal under prefix (e.g. /switchyard/prod;
// a trailing "/" is ignored). It reads; Fenced binds a handle that appends.
func Open(cli *clientv3.Client, prefix string) *Journal {
	return &Journal{cli: cli, keys: newKeys(prefix), closed: make(chan struct{})}
}

// Fenced returns a new handle on the same journal whose appends are
// conditioned on term: they write only while term's leader key exists with
// term's create revision.
func (j *Journal) Fenced(t Term) *Journal {
	f := Open(j.cli, j.keys.prefix)
	f.term = t
	return f
}

// Term is the term this handle's appends are bound to (zero: none).
func (j *Journal) Term() Term { return j.term }

// keys are the key names under one prefix.
type keys struct{ prefix string }

func newKeys(prefix string) keys { return keys{prefix: strings.TrimRight(prefix, "/")} }

func (k keys) seq() string                       { return k.prefix + "/journal/seq" }
func (k keys) apps(app string) string            { return k.prefix + "/journal/apps/" + escape(app) + "/" }
func (k keys) entry(app string, s uint64) string { return fmt.Sprintf("%s%020d", k.apps(app), s) }
func (k keys) latestDir() string                 { return k.prefix + "/journal/latest/" }
func (k keys) latest(app string) string          { return k.latestDir() + escape(app) }
func (k keys) election() string                  { return k.prefix + "/election" }

// escape makes an app name one key segment: url.PathEscape escapes "/"
// and "%" (url.PathUnescape inverts it, so two names never share a key).
func escape(app string) string { return url.PathEscape(app) }

func (j *Journal) isClosed() bool {
	select {
	case <-j.closed:
		return true
	default:
		return false
	}
}

// Append implements journal.Journal: one transaction, conditioned on the
// handle's term (the fence) and on the sequence key not having moved since
// it was read, puts the entry, its copy as the app's latest and the new
// sequence number. When another handle took the sequence number first, it
// retries with the one the failed transaction read; when the term is over,
// it fails with a *NotLeaderError and writes nothing.
//
// An error from etcd itself (unreachable, timeout) leaves it unknown
// whether the entry was written: Load tells.
func (j *Journal) Append(ctx context.Context, e *journal.Entry) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("journal append %s: %w", e.App, err)
	}
	if e.App == "" {
		return errors.New("journal append: entry without app")
	}
	if j.isClosed() {
		return journal.ErrClosed
	}
	if j.term.Key == "" {
		return fmt.Errorf("journal append %s: %w", e.App, &NotLeaderError{Reason: "this handle is bound to no term (read-only)"})
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	for {
		c := *e
		c.Seq = j.seq + 1
		data, err := json.Marshal(&c)
		if err != nil {
			return fmt.Errorf("journal append %s: %w", e.App, err)
		}
		resp, err := j.cli.Txn(ctx).If(
			clientv3.Compare(clientv3.CreateRevision(j.term.Key), "=", j.term.Rev),
			clientv3.Compare(clientv3.ModRevision(j.keys.seq()), "=", j.seqRev),
		).Then(
			clientv3.OpPut(j.keys.seq(), strconv.FormatUint(c.Seq, 10)),
			clientv3.OpPut(j.keys.entry(c.App, c.Seq), string(data)),
			clientv3.OpPut(j.keys.latest(c.App), string(data)),
		).Else(
			clientv3.OpGet(j.term.Key),
			clientv3.OpGet(j.keys.seq()),
			clientv3.OpGet(j.keys.election()+"/", clientv3.WithFirstCreate()...),
		).Commit()
		if err != nil {
			return fmt.Errorf("journal append %s %s→%s: %w", e.App, e.From, e.To, err)
		}
		if resp.Succeeded {
			j.seq, j.seqRev = c.Seq, resp.Header.Revision
			e.Seq = c.Seq
			return nil
		}
		rs := resp.Responses
		if nl := termOver(j.term, rs[0].GetResponseRange().Kvs, rs[2].GetResponseRange().Kvs); nl != nil {
			return fmt.Errorf("journal append %s %s→%s: %w", e.App, e.From, e.To, nl)
		}
		seq := rs[1].GetResponseRange().Kvs
		j.seq, j.seqRev = 0, 0
		if len(seq) > 0 {
			if j.seq, err = strconv.ParseUint(string(seq[0].Value), 10, 64); err != nil {
				return fmt.Errorf("journal append %s: %s: %w", e.App, j.keys.seq(), err)
			}
			j.seqRev = seq[0].ModRevision
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("journal append %s: %w", e.App, err)
		}
	}
}

// Load implements journal.Journal (a linearizable read).
func (j *Journal) Load(app string) ([]journal.Entry, error) {
	out, err := j.read(j.keys.apps(app), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
	if err != nil {
		return nil, fmt.Errorf("journal load %s: %w", app, err)
	}
	return out, nil
}

// LoadAll implements journal.Journal (a linearizable read).
func (j *Journal) LoadAll() ([]journal.Entry, error) {
	out, err := j.read(j.keys.latestDir())
	if err != nil {
		return nil, fmt.Errorf("journal load: %w", err)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].App < out[b].App })
	return out, nil
}

// read decodes the entries under a key prefix.
func (j *Journal) read(prefix string, opts ...clientv3.OpOption) ([]journal.Entry, error) {
	if j.isClosed() {
		return nil, journal.ErrClosed
	}
	ctx, cancel := context.WithTimeout(context.Background(), ReadTimeout)
	defer cancel()
	resp, err := j.cli.Get(ctx, prefix, append(opts, clientv3.WithPrefix())...)
	if err != nil {
		return nil, err
	}
	out := make([]journal.Entry, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		var e journal.Entry
		if err := json.Unmarshal(kv.Value, &e); err != nil {
			return nil, fmt.Errorf("%s: %w", kv.Key, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// Close implements journal.Journal: the handle is closed; the client is
// not (the caller owns it).
func (j *Journal) Close() error {
	j.once.Do(func() { close(j.closed) })
	return nil
}
