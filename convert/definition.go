package convert

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/switchyard/switchyard/marathon"
)

// source is one app or pod of a document, with its absolute id, the JSON
// path where it sits and the absolute ids it depends on.
type source struct {
	app  *marathon.App
	pod  *marathon.Pod
	id   string
	path string
	deps []string // absolute ids of apps or groups
}

// Definition converts a decoded document: an app, a list of apps, a group
// tree (one release per app and pod, dependencies kept as ordering
// metadata) or a pod. Releases come in a stable order in which every
// release follows those it depends on (document order otherwise).
func Definition(def *marathon.Definition, opts Options) (*Result, error) {
	if def == nil {
		return nil, fmt.Errorf("convert: no definition")
	}
	o, err := opts.complete()
	if err != nil {
		return nil, err
	}
	if err := checkRepresentable(def); err != nil {
		return nil, err
	}
	var srcs []source
	var groupReports []SourceReport
	groupApps := map[string][]string{} // group id -> all app/pod ids below
	switch def.Kind {
	case marathon.KindApp:
		p := ""
		if def.Envelope == marathon.EnvelopeApp {
			p = "app"
		}
		srcs = append(srcs, appSource(def.App, p, "/"))
	case marathon.KindAppList:
		p := ""
		if def.Envelope == marathon.EnvelopeApps {
			p = "apps"
		}
		for i, a := range def.Apps {
			if a == nil {
				continue
			}
			srcs = append(srcs, appSource(a, fmt.Sprintf("%s[%d]", p, i), "/"))
		}
	case marathon.KindPod:
		srcs = append(srcs, source{pod: def.Pod, id: absID(def.Pod.ID, "/")})
	case marathon.KindGroup:
		var walk func(g *marathon.Group, path, parent string, inherited []string) []string
		walk = func(g *marathon.Group, path, parent string, inherited []string) []string {
			gid := absID(g.ID, parent)
			var gdeps []string
			for _, d := range g.Dependencies {
				gdeps = append(gdeps, absID(d, gid))
			}
			deps := append(slices.Clone(inherited), gdeps...)
			var below []string
			rec := &recorder{}
			for i, a := range g.Apps {
				if a == nil {
					continue
				}
				s := appSource(a, joinPath(path, fmt.Sprintf("apps[%d]", i)), gid)
				s.deps = append(s.deps, deps...)
				srcs = append(srcs, s)
				below = append(below, s.id)
			}
			for i, ps := range g.Pods {
				pp := joinPath(path, fmt.Sprintf("pods[%d]", i))
				if ps.Spec == nil {
					rec.unsup(fmt.Sprintf("pods[%d]", i), "a pod status without its spec", "export the pod with GET /v2/pods/ID")
					continue
				}
				s := source{pod: ps.Spec, id: absID(firstNonEmpty(ps.Spec.ID, ps.ID), gid), path: pp + ".spec", deps: deps}
				srcs = append(srcs, s)
				below = append(below, s.id)
				rec.ignore(fmt.Sprintf("pods[%d]", i), "pod status; its spec is converted as "+s.id)
			}
			for i, sub := range g.Groups {
				if sub == nil {
					continue
				}
				below = append(below, walk(sub, joinPath(path, fmt.Sprintf("groups[%d]", i)), gid, deps)...)
				rec.conv(fmt.Sprintf("groups[%d]", i), "", "its apps and pods are releases of their own")
			}
			for i := range g.Apps {
				rec.conv(fmt.Sprintf("apps[%d]", i), "", "a release of its own")
			}
			if g.ID != "" {
				rec.conv("id", "", "prefix of the release names")
			}
			if g.Dependencies != nil {
				rec.conv("dependencies", "metadata.annotations["+AnnotationDependsOn+"]", "every app of the group waits for these (release order and annotation)")
			}
			if g.Version != nil {
				rec.ignore("version", "read-only status of an API response")
			}
			if g.EnforceRole != nil {
				rec.approx("enforceRole", "metadata.namespace", "roles are namespaces with quotas in Kubernetes", "deploy the group into its own namespace")
			}
			if g.ScaleBy != nil {
				rec.unsup("scaleBy", "a one-time scaling command, not a definition", "scale the Deployments after migrating")
			}
			for _, k := range slices.Sorted(maps.Keys(g.Unknown)) {
				rec.unsup(joinKey("", k), "unknown field of the group", "check the spelling against Marathon's API")
			}
			groupApps[gid] = below
			groupReports = append(groupReports, SourceReport{ID: gid, Kind: "group", Path: path, Entries: rec.entries})
			return below
		}
		walk(def.Group, "", "/", nil)
	default:
		return nil, fmt.Errorf("convert: unknown document kind %q", def.Kind)
	}
	var ids []string
	byID := map[string]int{}
	for i, s := range srcs {
		if j, dup := byID[s.id]; dup {
			return nil, fmt.Errorf("convert: %s: id %s is used twice (also at %s); fix: give each app a unique id", pathOr(s.path), s.id, pathOr(srcs[j].path))
		}
		byID[s.id] = i
		ids = append(ids, s.id)
	}
	nm := newNamer(ids)
	// Resolve dependencies to release names (a group stands for its apps).
	depIdx := make([][]int, len(srcs))
	depNames := make([][]string, len(srcs))
	for i, s := range srcs {
		set := map[string]bool{}
		for _, d := range s.deps {
			targets := []string{d}
			if below, ok := groupApps[d]; ok {
				targets = below
			}
			for _, t := range targets {
				if t == s.id {
					continue
				}
				if j, ok := byID[t]; ok {
					depIdx[i] = append(depIdx[i], j)
				}
				set[nm.name(t)] = true
			}
		}
		depNames[i] = slices.Sorted(maps.Keys(set))
	}
	order, err := topoOrder(depIdx)
	if err != nil {
		var cyc []string
		for _, i := range order {
			cyc = append(cyc, srcs[i].id)
		}
		return nil, fmt.Errorf("convert: dependency cycle among %s; fix: remove one of the dependencies", strings.Join(cyc, ", "))
	}
	res := &Result{}
	for _, r := range groupReports {
		res.Report.add(r)
	}
	for _, i := range order {
		s := srcs[i]
		var rel *Release
		var rep SourceReport
		var err error
		if s.app != nil {
			rel, rep, err = convertAppDeps(s.app, s.id, s.path, nm.name(s.id), depNames[i], o)
		} else {
			rel, rep, err = convertPod(s.pod, s.id, s.path, nm.name(s.id), o)
			if err == nil && len(depNames[i]) > 0 {
				rel.DependsOn = depNames[i]
				rel.Workload().GetAnnotations()[AnnotationDependsOn] = strings.Join(depNames[i], ",")
			}
		}
		if err != nil {
			return nil, fmt.Errorf("convert %s: %w", s.id, err)
		}
		res.Releases = append(res.Releases, rel)
		res.Report.add(rep)
	}
	return res, nil
}

func convertAppDeps(app *marathon.App, id, path, name string, deps []string, o Options) (*Release, SourceReport, error) {
	rel, rep, err := convertAppWith(app, id, path, name, o, deps)
	return rel, rep, err
}

// checkRepresentable refuses what the converter cannot carry into
// Kubernetes objects and chart files faithfully, whatever the validation
// mode: numbers beyond the bounds of counts and quantities (they would
// wrap) and ids with control or space characters (they would break the
// lines of the files that name them). Each error names the JSON path and,
// when the definition was decoded from source, its line and column.
func checkRepresentable(def *marathon.Definition) error {
	var msgs []string
	for _, is := range marathon.Validate(def) {
		if is.Severity != marathon.SeverityError || (is.Category != marathon.CategoryRange && is.Category != marathon.CategoryID) {
			continue
		}
		m := pathOr(is.Path)
		if is.Line > 0 {
			m += fmt.Sprintf(" (line %d, column %d)", is.Line, is.Column)
		}
		m += ": " + is.Message
		if is.Hint != "" {
			m += " (fix: " + is.Hint + ")"
		}
		msgs = append(msgs, m)
	}
	if len(msgs) > 0 {
		return fmt.Errorf("convert: %s", strings.Join(msgs, "; "))
	}
	return nil
}

func appSource(a *marathon.App, path, parent string) source {
	id := absID(a.ID, parent)
	s := source{app: a, id: id, path: path}
	for _, d := range a.Dependencies {
		s.deps = append(s.deps, absID(d, parentOf(id)))
	}
	return s
}

func parentOf(id string) string {
	i := strings.LastIndex(id, "/")
	if i <= 0 {
		return "/"
	}
	return id[:i]
}

func joinPath(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

func pathOr(p string) string {
	if p == "" {
		return "(document)"
	}
	return p
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// topoOrder orders nodes so that each follows its dependencies, keeping
// document order among independent nodes. On a cycle it returns the nodes
// of the cycle and an error.
func topoOrder(deps [][]int) ([]int, error) {
	n := len(deps)
	done := make([]bool, n)
	var order []int
	for len(order) < n {
		progressed := false
		for i := 0; i < n; i++ {
			if done[i] {
				continue
			}
			ready := true
			for _, d := range deps[i] {
				if !done[d] {
					ready = false
					break
				}
			}
			if ready {
				done[i] = true
				order = append(order, i)
				progressed = true
				break // restart from the first node: document order
			}
		}
		if !progressed {
			var cyc []int
			for i := 0; i < n; i++ {
				if !done[i] {
					cyc = append(cyc, i)
				}
			}
			sort.Ints(cyc)
			return cyc, fmt.Errorf("cycle")
		}
	}
	return order, nil
}
