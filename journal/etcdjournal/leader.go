package etcdjournal

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// ErrNotLeader is wrapped by every *NotLeaderError: an append or a check
// by a handle whose term is over, or that has none.
var ErrNotLeader = errors.New("not the leader")

// ErrNoLeader means no candidate leads (none campaigns, or the last
// leader's session expired and no other took over yet).
var ErrNoLeader = errors.New("no leader")

// Term identifies one leader's tenure: the election key its campaign
// created and that key's create revision. A new campaign, even by the same
// replica, is a new term with a higher revision, so Rev also orders terms
// (a fencing token other systems could compare).
type Term struct {
	// Key is the leader's election key (PREFIX/election/LEASE).
	Key string
	// Rev is the key's create revision.
	Rev int64
}

// Leader is who leads.
type Leader struct {
	// ID is the value the leader campaigned with (NewLeadership's id).
	ID string
	// Term is its term.
	Term Term
}

// NotLeaderError is the error of an append or a check made under a term
// that is over (or with no term): nothing was written.
type NotLeaderError struct {
	// Term is the term the handle was bound to (zero: none).
	Term Term
	// Leader is who leads now, when someone does.
	Leader Leader
	// Reason says why the term is over.
	Reason string
}

// Error says why the term is over, which term it was and who leads now.
func (e *NotLeaderError) Error() string {
	s := ErrNotLeader.Error() + ": " + e.Reason
	if e.Term.Key != "" {
		s += fmt.Sprintf(" (term %s@%d)", e.Term.Key, e.Term.Rev)
	}
	if e.Leader.ID != "" {
		s += fmt.Sprintf("; %s leads (term %s@%d)", e.Leader.ID, e.Leader.Term.Key, e.Leader.Term.Rev)
	}
	return s
}

// Is makes errors.Is(err, ErrNotLeader) true.
func (e *NotLeaderError) Is(target error) bool { return target == ErrNotLeader }

// DefaultTTL is the session TTL when NewLeadership is given none: how long
// a leader that stopped answering (crashed, paused, cut off) keeps its
// term before another replica can take over.
const DefaultTTL = 10 * time.Second

// Leadership is one replica's candidacy in the election under a prefix
// (concurrency.Election on a concurrency.Session: the candidate's key
// lives as long as its session's lease, renewed every TTL/3). The oldest
// candidate leads; the others wait in Campaign.
type Leadership struct {
	cli  *clientv3.Client
	keys keys
	id   string
	ttl  int

	campaign sync.Mutex // serializes Campaign and Resign

	mu       sync.Mutex
	closed   bool
	session  *concurrency.Session
	election *concurrency.Election
	term     Term
	termDone <-chan struct{} // closed when term ends
	endTerm  context.CancelFunc
}

// NewLeadership returns a candidate named id (its address or host:pid:
// what followers show and forward writes to) in the election under prefix,
// whose session has the given TTL (rounded up to whole seconds; 0 means
// DefaultTTL). It does not campaign yet.
func NewLeadership(cli *clientv3.Client, prefix, id string, ttl time.Duration) *Leadership {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	return &Leadership{cli: cli, keys: newKeys(prefix), id: id, ttl: int(math.Ceil(ttl.Seconds()))}
}

// ID is the candidate's name.
func (l *Leadership) ID() string { return l.id }

// Campaign waits until this candidate leads (or ctx ends, or its session
// expires while it waits, which are errors). A candidate that leads
// already returns at once. Each successful Campaign after a term ended is
// a new term (a new session when the old one expired). Cancel ctx to stop
// campaigning: Resign waits for Campaign to return.
func (l *Leadership) Campaign(ctx context.Context) error {
	l.campaign.Lock()
	defer l.campaign.Unlock()
	if l.IsLeader() {
		return nil
	}
	s, err := l.liveSession(ctx)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(s.Ctx(), cancel)()
	e := concurrency.NewElection(s, l.keys.election())
	if err := e.Campaign(cctx, l.id); err != nil {
		if s.Ctx().Err() != nil && ctx.Err() == nil {
			return fmt.Errorf("campaign %s: the session's lease expired while waiting: %w", l.keys.election(), err)
		}
		return fmt.Errorf("campaign %s: %w", l.keys.election(), err)
	}
	// Campaign returns once the older candidates' keys are gone; check
	// that ours still exists (the lease may have expired meanwhile).
	t := Term{Key: e.Key(), Rev: e.Rev()}
	if _, err := l.check(ctx, t); err != nil {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = e.Resign(rctx) // so that the others need not wait for the lease
		return fmt.Errorf("campaign %s: %w", l.keys.election(), err)
	}
	termCtx, endTerm := context.WithCancel(s.Ctx())
	l.mu.Lock()
	l.election, l.term, l.termDone, l.endTerm = e, t, termCtx.Done(), endTerm
	l.mu.Unlock()
	go l.watchTerm(termCtx, endTerm, t)
	return nil
}

// liveSession returns the session, starting a new one (a new lease,
// granted within ctx) when there is none or it ended.
func (l *Leadership) liveSession(ctx context.Context) (*concurrency.Session, error) {
	errClosed := fmt.Errorf("campaign %s: leadership is closed", l.keys.election())
	l.mu.Lock()
	s, closed := l.session, l.closed
	l.mu.Unlock()
	if closed {
		return nil, errClosed
	}
	if s != nil && s.Ctx().Err() == nil {
		return s, nil
	}
	g, err := l.cli.Grant(ctx, int64(l.ttl))
	if err != nil {
		return nil, fmt.Errorf("campaign %s: lease: %w", l.keys.election(), err)
	}
	s, err = concurrency.NewSession(l.cli, concurrency.WithLease(g.ID), concurrency.WithTTL(l.ttl))
	if err != nil {
		return nil, fmt.Errorf("campaign %s: session: %w", l.keys.election(), err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed { // Close ran meanwhile
		_ = s.Close()
		return nil, errClosed
	}
	l.session = s
	return s, nil
}

// watchTerm ends the term when its leader key is deleted (Resign, the
// lease expired, an operator deleted it) or the session ends.
func (l *Leadership) watchTerm(ctx context.Context, end context.CancelFunc, t Term) {
	defer end()
	rev := t.Rev
	for ctx.Err() == nil {
		for resp := range l.cli.Watch(ctx, t.Key, clientv3.WithRev(rev)) {
			for _, ev := range resp.Events {
				if ev.Type == mvccpb.DELETE {
					return
				}
			}
			if resp.Err() == nil && resp.Header.Revision >= rev {
				rev = resp.Header.Revision + 1
			}
		}
		// The watch ended (compaction, a lost stream): look again; an
		// error reaching etcd does not end the term, only its answer does.
		if ctx.Err() != nil {
			return
		}
		at, err := l.check(ctx, t)
		if errors.Is(err, ErrNotLeader) {
			return
		}
		if err == nil {
			rev = at + 1
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Resign ends the term (deleting the leader key, so another candidate
// takes over at once) and keeps the session for a later Campaign. Not
// leading, it does nothing.
func (l *Leadership) Resign(ctx context.Context) error {
	l.campaign.Lock()
	defer l.campaign.Unlock()
	l.mu.Lock()
	e, t, end := l.election, l.term, l.endTerm
	l.election, l.term = nil, Term{}
	l.mu.Unlock()
	if e == nil {
		return nil
	}
	end()
	if err := e.Resign(ctx); err != nil {
		return fmt.Errorf("resign %s@%d: %w", t.Key, t.Rev, err)
	}
	return nil
}

// Close ends the candidacy: the session's lease is revoked, which deletes
// its election key (a leader resigns, a waiting Campaign fails). Later
// Campaigns fail.
func (l *Leadership) Close() error {
	l.mu.Lock()
	s, end := l.session, l.endTerm
	l.closed, l.election, l.term = true, nil, Term{}
	l.mu.Unlock()
	if end != nil {
		end()
	}
	if s == nil {
		return nil
	}
	if err := s.Close(); err != nil {
		return fmt.Errorf("leadership %s: revoke lease: %w", l.keys.election(), err)
	}
	return nil
}

// Term is the current term (zero when not leading, by this process's
// view: see IsLeader).
func (l *Leadership) Term() Term {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.election == nil || l.isDone() {
		return Term{}
	}
	return l.term
}

// IsLeader says whether this candidate leads, by its own view: it won a
// campaign and has seen neither the end of its session nor the deletion of
// its key. A paused process still believes it leads when it resumes, until
// it notices: that is why CheckLeader asks etcd and appends are fenced.
func (l *Leadership) IsLeader() bool { return l.Term() != Term{} }

// Done is closed when the current term ends (Resign, Close, the session's
// lease expired or was lost, the leader key was deleted); when not
// leading, it is closed already.
func (l *Leadership) Done() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.election == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	return l.termDone
}

func (l *Leadership) isDone() bool {
	select {
	case <-l.termDone:
		return true
	default:
		return false
	}
}

// Leader returns who leads now (a linearizable read), or ErrNoLeader.
func (l *Leadership) Leader(ctx context.Context) (Leader, error) {
	resp, err := l.cli.Get(ctx, l.keys.election()+"/", clientv3.WithFirstCreate()...)
	if err != nil {
		return Leader{}, fmt.Errorf("leader of %s: %w", l.keys.election(), err)
	}
	if len(resp.Kvs) == 0 {
		return Leader{}, fmt.Errorf("leader of %s: %w", l.keys.election(), ErrNoLeader)
	}
	kv := resp.Kvs[0]
	return Leader{ID: string(kv.Value), Term: Term{Key: string(kv.Key), Rev: kv.CreateRevision}}, nil
}

// CheckLeader asks etcd (a linearizable read, serializable=false: the
// answer of the cluster's quorum, not of a possibly stale member) whether
// this candidate's term still holds; if not, the error is a
// *NotLeaderError naming who leads now.
//
// Call it right before acting on something outside the journal (pushing
// weights to the load balancers, scaling Marathon), after the successful
// Append of the transition that decided the action. It is a check, not a
// fence: between its answer and the action the process can be paused past
// its TTL and lose the term. The fence is the Append: a transaction
// conditioned on the term's leader key, which a deposed leader cannot pass,
// so a deposed leader never records a transition, and an action taken
// only after its transition was appended is at worst one a new leader
// finds journaled (the executor's actions are idempotent). Systems that
// can compare a number can close the remaining window by checking the
// term's Rev (Term.Rev only grows) with each request.
func (l *Leadership) CheckLeader(ctx context.Context) error {
	t := l.Term()
	if t == (Term{}) {
		return &NotLeaderError{Reason: "this candidate does not lead"}
	}
	_, err := l.check(ctx, t)
	return err
}

// check is CheckLeader for term t: one transaction reads t's key and the
// current leader's. It returns the revision it read at.
func (l *Leadership) check(ctx context.Context, t Term) (int64, error) {
	resp, err := l.cli.Txn(ctx).Then(
		clientv3.OpGet(t.Key),
		clientv3.OpGet(l.keys.election()+"/", clientv3.WithFirstCreate()...),
	).Commit()
	if err != nil {
		return 0, fmt.Errorf("check term %s@%d: %w", t.Key, t.Rev, err)
	}
	if nl := termOver(t, resp.Responses[0].GetResponseRange().Kvs, resp.Responses[1].GetResponseRange().Kvs); nl != nil {
		return resp.Header.Revision, nl
	}
	return resp.Header.Revision, nil
}

// termOver returns the *NotLeaderError of term t given its key (termKV)
// and the current leader's (leaderKV) as read in one revision, or nil when
// t still holds.
func termOver(t Term, termKV, leaderKV []*mvccpb.KeyValue) *NotLeaderError {
	if len(termKV) > 0 && termKV[0].CreateRevision == t.Rev {
		return nil
	}
	nl := &NotLeaderError{Term: t, Reason: "the term's leader key is gone (resigned, or its session's lease expired)"}
	if len(termKV) > 0 {
		nl.Reason = fmt.Sprintf("the term's leader key was created again (revision %d)", termKV[0].CreateRevision)
	}
	if len(leaderKV) > 0 {
		kv := leaderKV[0]
		nl.Leader = Leader{ID: string(kv.Value), Term: Term{Key: string(kv.Key), Rev: kv.CreateRevision}}
	}
	return nl
}

// Journal returns a handle on the journal under the same prefix whose
// appends are fenced by the current term; not leading, a *NotLeaderError.
// A new term needs a new handle: the executor reloads what the journal
// holds before it acts again.
func (l *Leadership) Journal() (*Journal, error) {
	t := l.Term()
	if t == (Term{}) {
		return nil, &NotLeaderError{Reason: "this candidate does not lead"}
	}
	return Open(l.cli, l.keys.prefix).Fenced(t), nil
}
