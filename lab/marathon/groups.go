package marathon

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"
)

// groupIDs lists every group that exists: the explicit ones, the root, and
// every ancestor of an app.
func (s *Server) groupIDs() map[string]bool {
	out := map[string]bool{"/": true}
	for id := range s.groups {
		for g := id; ; g = parentPath(g) {
			out[g] = true
			if g == "/" {
				break
			}
		}
	}
	for id, a := range s.apps {
		if a.Deleted {
			continue
		}
		for g := parentPath(id); ; g = parentPath(g) {
			out[g] = true
			if g == "/" {
				break
			}
		}
	}
	return out
}

// renderGroup builds a group answer with its apps and child groups.
func (s *Server) renderGroup(id string, all map[string]bool, emb map[string]bool) map[string]any {
	version := time.Time{}
	if g := s.groups[id]; g != nil {
		version = g.Version
	}
	apps := []map[string]any{}
	for _, aid := range slices.Sorted(maps.Keys(s.apps)) {
		a := s.apps[aid]
		if a.Deleted || parentPath(aid) != id {
			continue
		}
		if a.Version.After(version) {
			version = a.Version
		}
		if emb["apps"] {
			apps = append(apps, s.renderApp(a, emb))
		}
	}
	groups := []map[string]any{}
	var children []string
	for g := range all {
		if g != "/" && g != id && parentPath(g) == id {
			children = append(children, g)
		}
	}
	sort.Strings(children)
	for _, c := range children {
		cg := s.renderGroup(c, all, emb)
		if v, err := parseTime(cg["version"].(string)); err == nil && v.After(version) {
			version = v
		}
		if emb["groups"] {
			groups = append(groups, cg)
		}
	}
	deps := []string{}
	if g := s.groups[id]; g != nil && g.Dependencies != nil {
		deps = g.Dependencies
	}
	if version.IsZero() {
		version = s.started.UTC()
	}
	return map[string]any{
		"id": id, "apps": apps, "groups": groups, "pods": []any{}, "dependencies": deps,
		"version": formatTime(version),
	}
}

// handleGroups routes /v2/groups[/{id}][/versions].
func (s *Server) handleGroups(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/v2/groups")
	if strings.HasSuffix(rest, "/versions") && r.Method == http.MethodGet {
		s.groupVersions(w, r, absPath(strings.TrimSuffix(rest, "/versions"), "/"))
		return
	}
	id := absPath(rest, "/")
	switch r.Method {
	case http.MethodGet:
		s.getGroup(w, r, id)
	case http.MethodPost:
		s.putGroup(w, r, id, true)
	case http.MethodPut, http.MethodPatch:
		s.putGroup(w, r, id, false)
	case http.MethodDelete:
		s.deleteGroup(w, r, id)
	default:
		methodNotAllowed(w, r)
	}
}

func (s *Server) getGroup(w http.ResponseWriter, r *http.Request, id string) {
	emb := map[string]bool{}
	q := r.URL.Query()
	if len(q["embed"]) == 0 {
		emb["groups"], emb["apps"], emb["counts"], emb["deployments"] = true, true, true, true
	}
	for _, e := range q["embed"] {
		for _, part := range strings.Split(e, ",") {
			part = strings.TrimPrefix(strings.TrimSpace(part), "group.")
			switch part {
			case "groups", "apps":
				emb[part] = true
			default:
				for k := range embeds(map[string][]string{"embed": {"apps." + strings.TrimPrefix(part, "apps.")}}) {
					emb[k] = true
				}
			}
		}
	}
	s.withGroup(w, id, func(all map[string]bool) {
		writeJSON(w, http.StatusOK, s.renderGroup(id, all, emb))
	})
}

// withGroup runs f under s.mu with the ids of all groups (groupIDs), or
// answers Marathon's 404 when group id is not among them.
func (s *Server) withGroup(w http.ResponseWriter, id string, f func(all map[string]bool)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	all := s.groupIDs()
	if !all[id] {
		writeError(w, notFound("Group '%s' does not exist", id))
		return
	}
	f(all)
}

func (s *Server) groupVersions(w http.ResponseWriter, r *http.Request, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	all := s.groupIDs()
	if !all[id] && len(s.history[id]) == 0 {
		writeError(w, notFound("Group '%s' does not exist", id))
		return
	}
	out := []string{}
	h := s.history[id]
	for i := len(h) - 1; i >= 0; i-- {
		out = append(out, formatTime(h[i].Version))
	}
	if len(out) == 0 {
		g := s.renderGroup(id, all, map[string]bool{})
		out = append(out, g["version"].(string))
	}
	writeJSON(w, http.StatusOK, out)
}

// groupAt returns the snapshot of group id at version v.
func (s *Server) groupAt(id, v string) (groupSnapshot, bool) {
	for _, snap := range s.history[id] {
		if formatTime(snap.Version) == v {
			return snap, true
		}
		if t, err := parseTime(v); err == nil && snap.Version.Equal(t) {
			return snap, true
		}
	}
	return groupSnapshot{}, false
}

// groupBody is a group definition in a request (GroupUpdate).
type groupBody struct {
	ID           *string           `json:"id"`
	Apps         []json.RawMessage `json:"apps"`
	Groups       []json.RawMessage `json:"groups"`
	Dependencies []string          `json:"dependencies"`
	ScaleBy      *float64          `json:"scaleBy"`
	Version      *string           `json:"version"`
	hasApps      bool
	hasGroups    bool
}

// flattenGroup reads the body of group id (already resolved by the caller)
// into its apps and groups (ids resolved against the group), validating each app with error paths such as
// "/apps(0)/id" or "/groups(1)/apps(0)/cmd".
func (s *Server) flattenGroup(raw json.RawMessage, id, prefix string, apps map[string]appDef, groups map[string]*groupState) (*groupBody, *apiError) {
	var gb groupBody
	if err := json.Unmarshal(raw, &gb); err != nil {
		return nil, invalidJSON(prefix, err)
	}
	var members map[string]json.RawMessage
	_ = json.Unmarshal(raw, &members)
	_, gb.hasApps = members["apps"]
	_, gb.hasGroups = members["groups"]
	if e := validPathErrors(id); e != nil && id != "/" {
		return nil, invalidObject([]errorDetail{{Path: prefix + "/id", Errors: e}})
	}
	groups[id] = &groupState{ID: id, Dependencies: gb.Dependencies}
	for i, ar := range gb.Apps {
		p := fmt.Sprintf("%s/apps(%d)", prefix, i)
		d, e := decodeAppDef(ar)
		if e != nil {
			e.Details[0].Path = p + e.Details[0].Path
			return nil, e
		}
		rawID := d.id()
		if rawID == "" {
			return nil, invalidObject([]errorDetail{{Path: p + "/id", Errors: []string{"error.path.missing"}}})
		}
		aid := absPath(rawID, id)
		if !isUnder(aid, id) || aid == id {
			return nil, invalidObject([]errorDetail{{Path: p + "/id", Errors: []string{fmt.Sprintf("identifier %s is not child of %s. Hint: use relative paths.", aid, id)}}})
		}
		nd, e := finishApp(d, aid, nil, p)
		if e != nil {
			return nil, e
		}
		if _, dup := apps[aid]; dup {
			return nil, invalidObject([]errorDetail{{Path: p + "/id", Errors: []string{fmt.Sprintf("app %s is defined twice", aid)}}})
		}
		apps[aid] = nd
	}
	for i, gr := range gb.Groups {
		var sub struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(gr, &sub)
		p := fmt.Sprintf("%s/groups(%d)", prefix, i)
		if sub.ID == "" {
			return nil, invalidObject([]errorDetail{{Path: p + "/id", Errors: []string{"error.path.missing"}}})
		}
		gid := absPath(sub.ID, id)
		if !isUnder(gid, id) || gid == id {
			return nil, invalidObject([]errorDetail{{Path: p + "/id", Errors: []string{fmt.Sprintf("identifier %s is not child of %s. Hint: use relative paths.", gid, id)}}})
		}
		subRaw := map[string]json.RawMessage{}
		_ = json.Unmarshal(gr, &subRaw)
		subRaw["id"], _ = json.Marshal(gid)
		b, _ := json.Marshal(subRaw)
		if _, e := s.flattenGroup(b, gid, p, apps, groups); e != nil {
			return nil, e
		}
	}
	return &gb, nil
}

// putGroup is POST (create) and PUT/PATCH (update) of a group, including
// scaleBy, dryRun and force.
func (s *Server) putGroup(w http.ResponseWriter, r *http.Request, urlID string, create bool) {
	raw, ok := readBody(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	force := boolParam(q, "force")
	s.mu.Lock()
	defer s.mu.Unlock()
	var peek struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(raw, &peek)
	// POST resolves the body's id under the URL's group; PUT changes the
	// group the URL names (the body's id only matters on the root URL).
	id := urlID
	if peek.ID != "" && (create || urlID == "/") {
		id = absPath(peek.ID, urlID)
	}
	apps := map[string]appDef{}
	groups := map[string]*groupState{}
	gb, e := s.flattenGroup(raw, id, "", apps, groups)
	if e != nil {
		writeError(w, e)
		return
	}
	all := s.groupIDs()
	if create && all[id] && (id != "/" || len(s.apps) > 0 || len(s.groups) > 0) {
		writeError(w, conflict("Group %s is already created. Use PUT to change this group.", id))
		return
	}
	changes := map[string]change{}
	// "version" or "scaleBy" alone ask for a rollback or a scale; in a full
	// group document (a saved /v2/groups answer) they are read-only members.
	special := !gb.hasApps && !gb.hasGroups
	switch {
	case !create && special && gb.Version != nil:
		snap, ok := s.groupAt(id, *gb.Version)
		if !ok {
			writeError(w, notFound("Group '%s' does not exist in version %s", id, *gb.Version))
			return
		}
		for aid, a := range s.apps {
			if _, keep := snap.Apps[aid]; !keep && !a.Deleted && isUnder(aid, id) {
				changes[aid] = change{}
			}
		}
		for aid, d := range snap.Apps {
			changes[aid] = change{def: d.clone()}
		}
		groups = map[string]*groupState{}
	case !create && special && gb.ScaleBy != nil:
		if !all[id] {
			writeError(w, notFound("Group '%s' does not exist", id))
			return
		}
		for _, aid := range slices.Sorted(maps.Keys(s.apps)) {
			a := s.apps[aid]
			if a.Deleted || !isUnder(aid, id) {
				continue
			}
			n := float64(a.spec.Instances) * *gb.ScaleBy
			if !(n >= 0) || n > MaxInstances {
				writeError(w, invalidObject([]errorDetail{{Path: "/scaleBy", Errors: []string{fmt.Sprintf(
					"app %s: %d instances scaled by %v is not between 0 and %d (the lab Marathon's limit)", aid, a.spec.Instances, *gb.ScaleBy, MaxInstances)}}}))
				return
			}
			nd := a.Def.clone()
			nd.set("instances", ceilInt(n))
			changes[aid] = change{def: nd}
		}
		groups = map[string]*groupState{}
	default:
		for aid, d := range apps {
			var prev appDef
			if a := s.apps[aid]; a != nil && !a.Deleted {
				prev = a.Def
			}
			s.assignServicePorts(d, prev)
			changes[aid] = change{def: d}
		}
		if !create {
			for aid, a := range s.apps {
				if a.Deleted || !isUnder(aid, id) {
					continue
				}
				if _, keep := apps[aid]; keep {
					continue
				}
				direct := parentPath(aid) == id
				if (direct && gb.hasApps) || (!direct && gb.hasGroups) {
					changes[aid] = change{}
				}
			}
		}
		for gid := range groups {
			if all[gid] {
				continue
			}
			for aid, a := range s.apps {
				if !a.Deleted && aid == gid {
					writeError(w, conflict("A group with id [%s] cannot be created: an app with this id exists.", gid))
					return
				}
			}
		}
	}
	if boolParam(q, "dryRun") {
		from, to := map[string]planApp{}, map[string]planApp{}
		for aid, c := range changes {
			if a := s.apps[aid]; a != nil && !a.Deleted {
				from[aid] = planApp{Def: a.Def, Instances: a.spec.Instances, Dependencies: s.effectiveDeps(aid, a.spec)}
			}
			if c.def != nil {
				sp, _ := parseSpec(c.def)
				to[aid] = planApp{Def: c.def, Instances: sp.Instances, Dependencies: s.effectiveDeps(aid, sp)}
			}
		}
		steps, err := planDeployment(from, to)
		if err != nil {
			writeError(w, invalidObject([]errorDetail{{Path: "/dependencies", Errors: []string{err.Error()}}}))
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"steps": wireSteps(steps)})
		return
	}
	// Group dependencies must be known before planning.
	prevGroups := map[string]*groupState{}
	for gid, g := range groups {
		prevGroups[gid] = s.groups[gid]
		if gid == id || gb.Dependencies != nil || s.groups[gid] == nil {
			s.groups[gid] = g
		}
	}
	dep, e := s.deploy(changes, force, id)
	if e != nil {
		for gid, g := range prevGroups {
			if g == nil {
				delete(s.groups, gid)
			} else {
				s.groups[gid] = g
			}
		}
		writeError(w, e)
		return
	}
	for gid := range groups {
		s.groups[gid].Version = dep.Version
	}
	s.dirty = true
	s.flush()
	for _, c := range changes {
		s.apiPost(r, c.def)
	}
	status := http.StatusOK
	if create {
		status = http.StatusCreated
		w.Header().Set("Location", "/v2/groups"+id)
	}
	deploymentResult(w, status, dep)
}

func wireSteps(steps []step) []any {
	out := []any{}
	for _, st := range steps {
		out = append(out, wireStep(st))
	}
	return out
}

func (s *Server) deleteGroup(w http.ResponseWriter, r *http.Request, id string) {
	s.withGroup(w, id, func(map[string]bool) {
		changes := map[string]change{}
		for aid, a := range s.apps {
			if !a.Deleted && isUnder(aid, id) {
				changes[aid] = change{}
			}
		}
		dep, e := s.deploy(changes, boolParam(r.URL.Query(), "force"), id)
		if e != nil {
			writeError(w, e)
			return
		}
		for gid := range s.groups {
			if isUnder(gid, id) {
				delete(s.groups, gid)
			}
		}
		s.dirty = true
		s.flush()
		deploymentResult(w, http.StatusOK, dep)
	})
}
