package plan

import (
	"container/heap"
	"fmt"
	"sort"
	"strings"
)

// CycleError reports dependency cycles, each naming its apps in order.
type CycleError struct {
	// Cycles are the apps of each cycle ("a", "b", "c" for a → b → c → a).
	Cycles [][]string
}

// Error names every cycle: "dependency cycle: a → b → a".
func (e *CycleError) Error() string {
	parts := make([]string, len(e.Cycles))
	for i, c := range e.Cycles {
		parts[i] = strings.Join(append(append([]string{}, c...), c[0]), " → ")
	}
	return "dependency cycle(s), no order can migrate these apps: " + strings.Join(parts, "; ") + " (remove one dependsOn of each cycle)"
}

// graph is the apps and their dependency edges by index.
type graph struct {
	apps []App
	deps [][]int // deps[i]: the apps i depends on (in the inventory)
}

func buildGraph(inv Inventory) (graph, error) {
	g := graph{apps: inv.Apps, deps: make([][]int, len(inv.Apps))}
	idx := make(map[string]int, len(inv.Apps))
	var errs []string
	for i, a := range inv.Apps {
		if a.Name == "" {
			errs = append(errs, fmt.Sprintf("apps[%d] (%s): no name", i, a.MarathonID))
			continue
		}
		if j, dup := idx[a.Name]; dup {
			errs = append(errs, fmt.Sprintf("app %s: described twice (apps[%d] and apps[%d]); give each app a unique name", a.Name, j, i))
			continue
		}
		idx[a.Name] = i
	}
	settled := make(map[string]bool, len(inv.Settled))
	for _, s := range inv.Settled {
		settled[s] = true
	}
	for i, a := range inv.Apps {
		seen := map[int]bool{}
		for _, d := range a.DependsOn {
			j, ok := idx[d]
			switch {
			case ok && !seen[j]:
				seen[j] = true
				g.deps[i] = append(g.deps[i], j)
			case ok:
			case settled[d]:
			default:
				errs = append(errs, fmt.Sprintf("app %s: dependsOn %q is no app of the inventory (add its app.yaml to the directory, or remove the dependency)", a.Name, d))
			}
		}
	}
	if len(errs) > 0 {
		return g, fmt.Errorf("plan input: %s", strings.Join(errs, "; "))
	}
	if c := cycles(g); len(c) > 0 {
		return g, &CycleError{Cycles: c}
	}
	return g, nil
}

// cycles finds every strongly connected component with a cycle (Tarjan,
// iterative) and returns each as a cycle path through its apps.
func cycles(g graph) [][]string {
	n := len(g.apps)
	index := make([]int, n)
	low := make([]int, n)
	on := make([]bool, n)
	for i := range index {
		index[i] = -1
	}
	var stack []int
	var out [][]string
	next := 0
	type frame struct{ v, e int }
	for s := 0; s < n; s++ {
		if index[s] >= 0 {
			continue
		}
		call := []frame{{s, 0}}
		index[s], low[s] = next, next
		next++
		stack = append(stack, s)
		on[s] = true
		for len(call) > 0 {
			f := &call[len(call)-1]
			if f.e < len(g.deps[f.v]) {
				w := g.deps[f.v][f.e]
				f.e++
				if index[w] < 0 {
					index[w], low[w] = next, next
					next++
					stack = append(stack, w)
					on[w] = true
					call = append(call, frame{w, 0})
				} else if on[w] && index[w] < low[f.v] {
					low[f.v] = index[w]
				}
				continue
			}
			v := f.v
			call = call[:len(call)-1]
			if len(call) > 0 && low[v] < low[call[len(call)-1].v] {
				low[call[len(call)-1].v] = low[v]
			}
			if low[v] != index[v] {
				continue
			}
			var comp []int
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				on[w] = false
				comp = append(comp, w)
				if w == v {
					break
				}
			}
			self := false
			for _, d := range g.deps[v] {
				if d == v {
					self = true
				}
			}
			if len(comp) > 1 || self {
				out = append(out, cyclePath(g, comp))
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

// cyclePath walks a cycle inside a component, from its smallest name.
func cyclePath(g graph, comp []int) []string {
	in := map[int]bool{}
	start := comp[0]
	for _, c := range comp {
		in[c] = true
		if g.apps[c].Name < g.apps[start].Name {
			start = c
		}
	}
	// BFS from start back to start within the component (shortest cycle).
	prev := map[int]int{}
	queue := []int{start}
	seen := map[int]bool{}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		for _, w := range g.deps[v] {
			if !in[w] {
				continue
			}
			if w == start {
				path := []string{g.apps[v].Name}
				for u := v; u != start; {
					u = prev[u]
					path = append(path, g.apps[u].Name)
				}
				for i, j := 0, len(path)-1; i < j; i, j = i+1, j-1 {
					path[i], path[j] = path[j], path[i]
				}
				return path
			}
			if !seen[w] {
				seen[w] = true
				prev[w] = v
				queue = append(queue, w)
			}
		}
	}
	return []string{g.apps[start].Name}
}

// waves groups app indexes into waves: every app after its prerequisites
// (its dependencies, or its dependents with OrderDependentsFirst), higher
// effective priority first, at most size per wave. It also returns each
// app's effective priority.
func waves(g graph, order Order, size int) ([][]int, []int) {
	n := len(g.apps)
	// pre[i]: apps that must be in an earlier wave than i; post the reverse.
	pre := g.deps
	post := make([][]int, n)
	for i, ds := range g.deps {
		for _, d := range ds {
			post[d] = append(post[d], i)
		}
	}
	if order == OrderDependentsFirst {
		pre, post = post, pre
	}
	// Effective priority: the highest of the app and of every app that
	// (transitively) waits on it, computed in reverse topological order.
	eff := make([]int, n)
	topo := topoOrder(pre, post)
	for i := range eff {
		eff[i] = g.apps[i].Priority
	}
	for k := len(topo) - 1; k >= 0; k-- {
		v := topo[k]
		for _, w := range post[v] {
			if eff[w] > eff[v] {
				eff[v] = eff[w]
			}
		}
	}
	indeg := make([]int, n)
	for i := range pre {
		indeg[i] = len(pre[i])
	}
	h := &readyHeap{apps: g.apps, eff: eff}
	for i := 0; i < n; i++ {
		if indeg[i] == 0 {
			h.items = append(h.items, i)
		}
	}
	heap.Init(h)
	var out [][]int
	for h.Len() > 0 {
		var w []int
		for h.Len() > 0 && len(w) < size {
			w = append(w, heap.Pop(h).(int))
		}
		for _, v := range w {
			for _, x := range post[v] {
				indeg[x]--
				if indeg[x] == 0 {
					h.pending = append(h.pending, x)
				}
			}
		}
		for _, x := range h.pending {
			heap.Push(h, x)
		}
		h.pending = h.pending[:0]
		out = append(out, w)
	}
	return out, eff
}

// topoOrder is a topological order (prerequisites first).
func topoOrder(pre, post [][]int) []int {
	n := len(pre)
	indeg := make([]int, n)
	var q []int
	for i := range pre {
		indeg[i] = len(pre[i])
		if indeg[i] == 0 {
			q = append(q, i)
		}
	}
	out := make([]int, 0, n)
	for len(q) > 0 {
		v := q[0]
		q = q[1:]
		out = append(out, v)
		for _, w := range post[v] {
			indeg[w]--
			if indeg[w] == 0 {
				q = append(q, w)
			}
		}
	}
	return out
}

// readyHeap pops the highest effective priority, then the smallest name.
type readyHeap struct {
	apps    []App
	eff     []int
	items   []int
	pending []int
}

func (h *readyHeap) Len() int { return len(h.items) }
func (h *readyHeap) Less(i, j int) bool {
	a, b := h.items[i], h.items[j]
	if h.eff[a] != h.eff[b] {
		return h.eff[a] > h.eff[b]
	}
	return h.apps[a].Name < h.apps[b].Name
}
func (h *readyHeap) Swap(i, j int) { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *readyHeap) Push(x any)    { h.items = append(h.items, x.(int)) }
func (h *readyHeap) Pop() any {
	x := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return x
}
