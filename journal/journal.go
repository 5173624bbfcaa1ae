// Package journal owns the durable record of migration transitions: every
// transition of an app's migration is appended (and fsync'd) before the
// executor acts on it, so a restarted executor knows exactly where each
// migration stood. It stores entries; it does not know what a state means.
//
// The default store is an embedded bbolt database (bbolt syncs every
// committed transaction to disk: NoSync stays false). Entries are JSON, one
// bucket per app keyed by a global sequence number. Package
// journal/etcdjournal stores them in etcd instead, for replicas sharing one
// journal under a leader election; package journal/journaltest is the
// contract both keep.
//
// A journal is checked whenever it is opened (open.go): a corrupt or
// truncated file is a *CorruptError naming it, never a crash, and is not
// written. OpenReadOnly never creates nor writes; Backup copies a journal
// consistently while it is in use.
package journal

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Entry is one transition of one app's migration.
type Entry struct {
	// Seq is the journal-wide sequence number (assigned by Append, from 1).
	Seq uint64 `json:"seq"`
	// App names the migrated app.
	App string `json:"app"`
	// From and To are the state names before and after the transition.
	From string `json:"from"`
	To   string `json:"to"`
	// Event is what caused the transition.
	Event string `json:"event"`
	// Time is when the transition was decided.
	Time time.Time `json:"time"`
	// Reason explains the transition (a gate that failed, an error).
	Reason string `json:"reason,omitempty"`
	// State is the full state after the transition, opaque to the journal.
	State json.RawMessage `json:"state,omitempty"`
}

// Reader reads a journal: what status, serve's followers and the
// operator channel need.
type Reader interface {
	// Load returns every entry of one app, oldest first.
	Load(app string) ([]Entry, error)
	// LoadAll returns the latest entry of every app, sorted by app.
	LoadAll() ([]Entry, error)
}

// Journal is a durable, append-only log of transitions.
type Journal interface {
	Reader
	// Append stores e durably (on disk when it returns nil) and sets its Seq.
	Append(ctx context.Context, e *Entry) error
	// Close releases the store.
	Close() error
}

// ErrClosed is returned by a journal that was closed.
var ErrClosed = errors.New("journal is closed")

// Bolt is the bbolt-backed Journal.
type Bolt struct {
	db   *bolt.DB
	path string
	mu   sync.Mutex
	// AfterAppend, when set, is called after each durable append with the
	// number of entries appended by this handle (a test hook: the crash
	// tests kill the process there).
	AfterAppend func(n int)
	appended    int
}

var appsBucket = []byte("apps")

// Open opens (creating when needed) the journal database at path. Only one
// process may hold it: a second Open waits up to timeout for the lock and
// then fails with an error wrapping ErrLocked. An existing file is checked
// first: a corrupt one is answered with a *CorruptError, never a crash.
func Open(path string, timeout time.Duration) (*Bolt, error) {
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	db, err := openChecked(path, &bolt.Options{Timeout: timeout})
	if err != nil {
		return nil, err
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(appsBucket)
		return err
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	return &Bolt{db: db, path: path}, nil
}

// Path is the database file.
func (b *Bolt) Path() string { return b.path }

// Append implements Journal: the entry is committed and fsync'd in one
// bbolt transaction before Append returns.
func (b *Bolt) Append(ctx context.Context, e *Entry) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("journal append %s: %w", e.App, err)
	}
	if e.App == "" {
		return errors.New("journal append: entry without app")
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.db == nil {
		return ErrClosed
	}
	err := b.db.Update(func(tx *bolt.Tx) error {
		root := tx.Bucket(appsBucket)
		seq, err := root.NextSequence()
		if err != nil {
			return err
		}
		e.Seq = seq
		ab, err := root.CreateBucketIfNotExists([]byte(e.App))
		if err != nil {
			return err
		}
		data, err := json.Marshal(e)
		if err != nil {
			return err
		}
		return ab.Put(key(seq), data)
	})
	if err != nil {
		return fmt.Errorf("journal append %s %s→%s: %w", e.App, e.From, e.To, err)
	}
	b.appended++
	if b.AfterAppend != nil {
		b.AfterAppend(b.appended)
	}
	return nil
}

func key(seq uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return k[:]
}

// Load implements Journal.
func (b *Bolt) Load(app string) ([]Entry, error) {
	var out []Entry
	err := b.view(func(tx *bolt.Tx) error {
		root := tx.Bucket(appsBucket)
		if root == nil {
			return nil
		}
		ab := root.Bucket([]byte(app))
		if ab == nil {
			return nil
		}
		return ab.ForEach(func(k, v []byte) error {
			var e Entry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("entry %d: %w", binary.BigEndian.Uint64(k), err)
			}
			out = append(out, e)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("journal load %s: %w", app, err)
	}
	return out, nil
}

// LoadAll implements Journal.
func (b *Bolt) LoadAll() ([]Entry, error) {
	var out []Entry
	err := b.view(func(tx *bolt.Tx) error {
		root := tx.Bucket(appsBucket)
		if root == nil { // a read-only handle on a journal never written
			return nil
		}
		return root.ForEachBucket(func(name []byte) error {
			_, v := root.Bucket(name).Cursor().Last()
			if v == nil {
				return nil
			}
			var e Entry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			out = append(out, e)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("journal load: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].App < out[j].App })
	return out, nil
}

func (b *Bolt) view(fn func(*bolt.Tx) error) error {
	b.mu.Lock()
	db := b.db
	b.mu.Unlock()
	if db == nil {
		return ErrClosed
	}
	return guard(func() error { return db.View(fn) })
}

// Close implements Journal.
func (b *Bolt) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.db == nil {
		return nil
	}
	err := b.db.Close()
	b.db = nil
	return err
}
