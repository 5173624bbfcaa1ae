package lbsync

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/traffic"
)

func TestReconcile(t *testing.T) {
	b1, b2, b3 := mb("/a", "t1", "127.0.0.2:1"), mb("/a", "t2", "127.0.0.2:2"), mb("/a", "t3", "127.0.0.2:3")
	r := func(name, prefix, owner string, bs ...traffic.Backend) traffic.Route {
		return traffic.Route{Name: name, PathPrefix: prefix, Owner: owner, Backends: bs}
	}
	for _, tc := range []struct {
		name    string
		current []traffic.Route
		desired []traffic.Route
		want    []traffic.Route
		changes []string
		held    []string
	}{
		{name: "add", desired: []traffic.Route{r("/a", "/a", "", b2, b1)},
			want: []traffic.Route{r("/a", "/a", Owner, b1, b2)}, changes: []string{"add route /a: /a → 2 backend(s) (marathon 127.0.0.2:1 127.0.0.2:2)"}},
		{name: "unchanged (pool order aside)", current: []traffic.Route{r("/a", "/a", Owner, b2, b1)}, desired: []traffic.Route{r("/a", "/a", "", b1, b2)},
			want: []traffic.Route{r("/a", "/a", Owner, b2, b1)}},
		{name: "a task restarted elsewhere", current: []traffic.Route{r("/a", "/a", Owner, b1, b2)}, desired: []traffic.Route{r("/a", "/a", "", b1, b3)},
			want: []traffic.Route{r("/a", "/a", Owner, b1, b3)}, changes: []string{"update route /a: +127.0.0.2:3 -127.0.0.2:2; now 2 backend(s)"}},
		{name: "prefix \"\" is nginx's \"/\"", current: []traffic.Route{r("/a", "/", Owner, b1)}, desired: []traffic.Route{r("/a", "", "", b1)},
			want: []traffic.Route{r("/a", "/", Owner, b1)}},
		{name: "a route of nobody with a derived name is adopted", current: []traffic.Route{r("/a", "/a", "", b1)}, desired: []traffic.Route{r("/a", "/a", "", b1)},
			want: []traffic.Route{r("/a", "/a", Owner, b1)}, changes: []string{`update route /a: owner "" → "sync"; now 1 backend(s)`}},
		{name: "a migration's route is left alone", current: []traffic.Route{r("/a", "/a", "migrate/a", b1)}, desired: []traffic.Route{r("/a", "/a", "", b3)},
			want: []traffic.Route{r("/a", "/a", "migrate/a", b1)}, held: []string{"/a (owner migrate/a)"}},
		{name: "an unknown owner's route is left alone", current: []traffic.Route{r("/a", "/a", "ops", b1)}, desired: []traffic.Route{r("/a", "/a", "", b3)},
			want: []traffic.Route{r("/a", "/a", "ops", b1)}, held: []string{"/a (owner ops)"}},
		{name: "hand-made routes are never removed; gone sync routes are", current: []traffic.Route{r("hand", "/h", "", b1), r("/gone", "/g", Owner, b2), r("m", "/m", "migrate/m", b3)},
			want: []traffic.Route{r("hand", "/h", "", b1), r("m", "/m", "migrate/m", b3)}, changes: []string{"remove route /gone: its source is gone (/g)"}},
		{name: "host and path taken by a hand-made route", current: []traffic.Route{r("hand", "/a", "", b1)}, desired: []traffic.Route{r("/a", "/a/", "", b2)},
			want: []traffic.Route{r("hand", "/a", "", b1)}, held: []string{`/a (/a already routed by "hand" (owner nobody))`}},
		{name: "host and path freed by a sync route that goes", current: []traffic.Route{r("/old", "/a", Owner, b1)}, desired: []traffic.Route{r("/new", "/a", "", b2)},
			want: []traffic.Route{r("/new", "/a", Owner, b2)}, changes: []string{"remove route /old", "add route /new"}},
		{name: "an empty pool is pushed when the app has no ready task", current: []traffic.Route{r("/a", "/a", Owner, b1)}, desired: []traffic.Route{r("/a", "/a", "")},
			want: []traffic.Route{r("/a", "/a", Owner)}, changes: []string{"update route /a: -127.0.0.2:1; now no backend"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cur := traffic.State{Version: 7, Routes: tc.current}
			before := cur.Clone()
			res := Reconcile(cur, tc.desired)
			if fmt.Sprint(cur) != fmt.Sprint(before) {
				t.Fatal("Reconcile changed its input")
			}
			if res.State.Version != 7 || !sameRoutes(sortRoutes(res.State.Routes), sortRoutes(tc.want)) {
				t.Errorf("state\n got %+v\nwant %+v", res.State.Routes, tc.want)
			}
			if len(res.Changes) != len(tc.changes) {
				t.Errorf("changes %v, want %q", res.Changes, tc.changes)
			}
			for i := range res.Changes {
				if i < len(tc.changes) && !strings.HasPrefix(res.Changes[i].String(), tc.changes[i]) {
					t.Errorf("change %d: %q, want prefix %q", i, res.Changes[i], tc.changes[i])
				}
			}
			if !reflect.DeepEqual(res.Held, tc.held) {
				t.Errorf("held %q, want %q", res.Held, tc.held)
			}
			if _, changed := Merge(cur, tc.desired); changed != (len(tc.changes) > 0) {
				t.Errorf("Merge changed=%v", changed)
			}
			if err := traffic.Validate(res.State, []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}); err != nil {
				t.Errorf("next state invalid: %v", err)
			}
		})
	}
}

func sortRoutes(rs []traffic.Route) []traffic.Route {
	out := append([]traffic.Route(nil), rs...)
	for i := range out {
		out[i].Backends = sortedUnique(out[i].Backends)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].Name < out[j-1].Name; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
