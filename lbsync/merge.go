package lbsync

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/switchyard/switchyard/traffic"
)

// Change is one route the reconcile adds, updates or removes.
type Change struct {
	// Action is "add", "update" or "remove".
	Action string
	// Route is the route's name.
	Route string
	// Detail says what changed ("+127.0.0.2:31005 -127.0.0.2:31002").
	Detail string
}

// String is the change as one log line.
func (c Change) String() string {
	return c.Action + " route " + c.Route + ": " + c.Detail
}

// Result is what Reconcile decided.
type Result struct {
	// State is the next routing state (Version unchanged: the pusher sets it).
	State traffic.State
	// Changes are the routes added, updated and removed, by name.
	Changes []Change
	// Held are desired routes left alone because someone else owns them
	// (a migration, or an owner the sync does not know) or because a route
	// it does not own already routes their host and path.
	Held []string
}

// Merge returns current with the desired routes applied (see Reconcile)
// and whether anything changed.
func Merge(current traffic.State, desired []traffic.Route) (traffic.State, bool) {
	r := Reconcile(current, desired)
	return r.State, len(r.Changes) > 0
}

// Reconcile applies the desired routes to nginx's current state: a desired
// route is added, or replaces the route of its name when that route is the
// sync's (owner "sync") or nobody's (owner "": adopted), each with owner
// "sync"; a route held by a migration ("migrate/...") or another owner is
// left as it is, and so is a desired route whose host and path another
// route (not the sync's) already serves. Routes of owner "sync" that are no
// longer desired are removed. Other routes are never touched. It does no I/O.
func Reconcile(current traffic.State, desired []traffic.Route) Result {
	next := current.Clone()
	res := Result{}
	want := map[string]bool{}
	for _, d := range desired {
		want[d.Name] = true
	}
	// Remove first, so a desired route can take the host and path of a
	// sync route that goes.
	for _, r := range current.Routes {
		if r.Owner == Owner && !want[r.Name] {
			next = next.WithoutRoute(r.Name)
			res.Changes = append(res.Changes, Change{Action: "remove", Route: r.Name, Detail: "its source is gone (" + where(r) + ")"})
		}
	}
	for _, d := range desired {
		d.Owner = Owner
		d.PathPrefix = traffic.NormPrefix(d.PathPrefix)
		d.Backends = sortedUnique(d.Backends)
		cur, exists := next.Route(d.Name)
		if exists {
			if cur.Owner != Owner && cur.Owner != "" {
				res.Held = append(res.Held, d.Name+" (owner "+cur.Owner+")")
				continue
			}
			if sameRoute(cur, d) {
				continue
			}
			if other, taken := routedBy(next, d); taken {
				res.Held = append(res.Held, fmt.Sprintf("%s (%s already routed by %s)", d.Name, where(d), other))
				continue
			}
			next = next.WithRoute(d)
			res.Changes = append(res.Changes, Change{Action: "update", Route: d.Name, Detail: describeUpdate(cur, d)})
			continue
		}
		if other, taken := routedBy(next, d); taken {
			res.Held = append(res.Held, fmt.Sprintf("%s (%s already routed by %s)", d.Name, where(d), other))
			continue
		}
		next = next.WithRoute(d)
		res.Changes = append(res.Changes, Change{Action: "add", Route: d.Name, Detail: where(d) + " → " + pool(d.Backends)})
	}
	res.State = next
	return res
}

// routedBy names another route of s that serves d's host and path.
func routedBy(s traffic.State, d traffic.Route) (string, bool) {
	for _, r := range s.Routes {
		if r.Name != d.Name && r.Host == d.Host && traffic.NormPrefix(r.PathPrefix) == traffic.NormPrefix(d.PathPrefix) {
			owner := r.Owner
			if owner == "" {
				owner = "nobody"
			}
			return fmt.Sprintf("%q (owner %s)", r.Name, owner), true
		}
	}
	return "", false
}

func sameRoute(a, b traffic.Route) bool {
	if a.Host != b.Host || traffic.NormPrefix(a.PathPrefix) != traffic.NormPrefix(b.PathPrefix) || a.Owner != b.Owner || len(a.Backends) != len(b.Backends) {
		return false
	}
	ab, bb := sortedUnique(a.Backends), sortedUnique(b.Backends)
	if len(ab) != len(a.Backends) {
		return false
	}
	for i := range ab {
		if ab[i] != bb[i] {
			return false
		}
	}
	return true
}

func where(r traffic.Route) string { return r.Host + traffic.NormPrefix(r.PathPrefix) }

// pool summarizes a pool: "2 backends (marathon 127.0.0.2:31001 127.0.0.3:31002)".
func pool(bs []traffic.Backend) string {
	if len(bs) == 0 {
		return "no backend"
	}
	by := map[string][]string{}
	for _, b := range bs {
		by[b.Platform] = append(by[b.Platform], b.Address)
	}
	var parts []string
	for _, p := range slices.Sorted(maps.Keys(by)) {
		parts = append(parts, p+" "+strings.Join(by[p], " "))
	}
	return fmt.Sprintf("%d backend(s) (%s)", len(bs), strings.Join(parts, "; "))
}

// describeUpdate says how a route changed: owner, host/path, backends in
// and out.
func describeUpdate(cur, d traffic.Route) string {
	var parts []string
	if cur.Owner != d.Owner {
		parts = append(parts, fmt.Sprintf("owner %q → %q", cur.Owner, d.Owner))
	}
	if where(cur) != where(d) {
		parts = append(parts, where(cur)+" → "+where(d))
	}
	old := map[string]traffic.Backend{}
	for _, b := range cur.Backends {
		old[b.Address] = b
	}
	var diff []string
	for _, b := range d.Backends {
		o, ok := old[b.Address]
		switch {
		case !ok:
			diff = append(diff, "+"+b.Address)
		case o != b:
			diff = append(diff, "~"+b.Address)
		}
		delete(old, b.Address)
	}
	for _, a := range slices.Sorted(maps.Keys(old)) {
		diff = append(diff, "-"+a)
	}
	if len(diff) > 0 {
		parts = append(parts, strings.Join(diff, " "))
	}
	parts = append(parts, "now "+pool(d.Backends))
	return strings.Join(parts, "; ")
}
