package marathon

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/switchyard/switchyard/marathon"
)

// embeds reads the embed parameters, accepting both the "apps." and "app." prefixes.
func embeds(q url.Values) map[string]bool {
	out := map[string]bool{}
	for _, e := range q["embed"] {
		for _, part := range strings.Split(e, ",") {
			part = strings.TrimSpace(part)
			part = strings.TrimPrefix(part, "apps.")
			part = strings.TrimPrefix(part, "app.")
			part = strings.TrimPrefix(part, "group.apps.")
			if part == "failures" {
				out["lastTaskFailure"], out["tasks"], out["counts"], out["deployments"] = true, true, true, true
			}
			if part == "count" {
				part = "counts"
			}
			out[part] = true
		}
	}
	return out
}

func (s *Server) handleApps(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		s.listApps(w, r)
	case http.MethodPost:
		s.createApp(w, r)
	case http.MethodPut, http.MethodPatch:
		s.updateApps(w, r)
	default:
		methodNotAllowed(w, r)
	}
}

func (s *Server) listApps(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	emb := embeds(q)
	if len(q["embed"]) == 0 {
		emb["counts"], emb["deployments"] = true, true
	}
	sel, err := parseLabelSelector(q.Get("label"))
	if err != nil {
		writeError(w, badRequest("Invalid label selector: %v", err))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []map[string]any{}
	for _, id := range slices.Sorted(maps.Keys(s.apps)) {
		a := s.apps[id]
		if a.Deleted {
			continue
		}
		if c := q.Get("cmd"); c != "" && !strings.Contains(a.spec.Cmd, c) {
			continue
		}
		if f := q.Get("id"); f != "" && !strings.Contains(a.ID, f) {
			continue
		}
		if !sel.matches(a.spec.Labels) {
			continue
		}
		out = append(out, s.renderApp(a, emb))
	}
	writeJSON(w, http.StatusOK, map[string]any{"apps": out})
}

// resolveAppID normalises an id from a URL or body to an absolute path.
func resolveAppID(id string) string { return absPath(strings.Trim(id, " "), "/") }

// decodeApp reads one app definition for id (empty: from the body), with
// defaults, and validates it. base is merged under the body for partial updates.
func decodeApp(raw json.RawMessage, id string, base appDef) (appDef, *apiError) {
	d, e := decodeAppDef(raw)
	if e != nil {
		return nil, e
	}
	return finishApp(d, id, base, "")
}

// finishApp resolves the id, merges, applies defaults and validates. prefix
// is prepended to error paths (e.g. "/apps(0)").
func finishApp(d appDef, id string, base appDef, prefix string) (appDef, *apiError) {
	if id == "" {
		var raw string
		if err := json.Unmarshal(d["id"], &raw); err != nil || raw == "" {
			return nil, invalidObject([]errorDetail{{Path: prefix + "/id", Errors: []string{"error.path.missing"}}})
		}
		id = resolveAppID(raw)
	}
	if base != nil {
		d = base.merge(d)
	}
	d.set("id", id)
	// The model validates what the client sent; defaults come after.
	model := modelIssues(d)
	d.applyDefaults()
	sp, errs := parseSpec(d)
	if len(errs) > 0 {
		for i := range errs {
			errs[i].Path = prefix + errs[i].Path
		}
		return nil, &apiError{Status: http.StatusBadRequest, Message: "Invalid JSON", Details: errs}
	}
	errs = validateSpec(sp, d)
	seen := map[string]bool{}
	for _, e := range errs {
		seen[e.Path] = true
	}
	for _, e := range model {
		if !seen[e.Path] {
			errs = append(errs, e)
		}
	}
	if len(errs) > 0 {
		for i := range errs {
			errs[i].Path = prefix + errs[i].Path
		}
		return nil, invalidObject(errs)
	}
	return d, nil
}

// modelIssues runs the project's Marathon model validation (package
// marathon, strict mode) on the definition and returns the rules Marathon's
// API enforces as 422 details, with Marathon's JSON paths.
func modelIssues(d appDef) []errorDetail {
	raw, err := json.Marshal(d)
	if err != nil {
		return nil
	}
	def, err := marathon.Decode(raw)
	if err != nil || def.Kind != marathon.KindApp {
		return nil
	}
	var out []errorDetail
	for _, is := range marathon.ValidateWith(def, marathon.Options{Strict: true}) {
		if is.Severity != marathon.SeverityError || !is.MarathonRejects || is.Category != "" {
			continue
		}
		msg := is.Message
		if is.Hint != "" {
			msg += " (" + is.Hint + ")"
		}
		out = append(out, errorDetail{Path: marathonPath(is.Path), Errors: []string{msg}})
	}
	return out
}

// marathonPath turns a model path ("healthChecks[0].portIndex") into
// Marathon's form ("/healthChecks(0)/portIndex").
func marathonPath(p string) string {
	if p == "" {
		return "/"
	}
	r := strings.NewReplacer(".", "/", "[", "(", "]", ")")
	return "/" + r.Replace(p)
}

func (s *Server) createApp(w http.ResponseWriter, r *http.Request) {
	raw, ok := readBody(w, r)
	if !ok {
		return
	}
	d, e := decodeApp(raw, "", nil)
	if e != nil {
		writeError(w, e)
		return
	}
	id := d.id()
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.apps[id]; a != nil && !a.Deleted {
		writeError(w, conflict("An app with id [%s] already exists.", id))
		return
	}
	if e := s.checkGroupClash(id); e != nil {
		writeError(w, e)
		return
	}
	s.assignServicePorts(d, nil)
	dep, e := s.deploy(map[string]change{id: {def: d}}, boolParam(r.URL.Query(), "force"), "")
	if e != nil {
		writeError(w, e)
		return
	}
	s.apiPost(r, d)
	w.Header().Set("Location", "/v2/apps"+id)
	w.Header().Set("Marathon-Deployment-Id", dep.ID)
	writeJSON(w, http.StatusCreated, s.renderApp(s.apps[id], map[string]bool{"counts": true, "deployments": true}))
}

// checkGroupClash rejects an app whose id is an existing group's.
func (s *Server) checkGroupClash(id string) *apiError {
	if _, ok := s.groups[id]; ok {
		return conflict("An app with id [%s] cannot be created: a group with this id exists.", id)
	}
	for other, a := range s.apps {
		if !a.Deleted && isUnder(other, id) && other != id {
			return conflict("An app with id [%s] cannot be created: a group with this id exists.", id)
		}
	}
	return nil
}

// apiPost emits api_post_event for a changed app.
func (s *Server) apiPost(r *http.Request, d appDef) {
	ev := marathon.APIPostEvent{EventMeta: meta(marathon.EventAPIPost), ClientIP: clientIP(r), URI: r.URL.Path}
	if d != nil {
		var app marathon.App
		if b, err := json.Marshal(d); err == nil && json.Unmarshal(b, &app) == nil {
			ev.AppDefinition = &app
		}
	}
	s.bus.publish(marathon.EventAPIPost, ev)
}

func clientIP(r *http.Request) string {
	h := r.RemoteAddr
	if i := strings.LastIndex(h, ":"); i >= 0 {
		h = h[:i]
	}
	return strings.Trim(h, "[]")
}

// updateApps is PUT/PATCH /v2/apps: a batch of creates and updates in one deployment.
func (s *Server) updateApps(w http.ResponseWriter, r *http.Request) {
	raw, ok := readBody(w, r)
	if !ok {
		return
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		writeError(w, invalidJSON("", err))
		return
	}
	partial := r.Method == http.MethodPatch || r.URL.Query().Get("partialUpdate") != "false"
	s.mu.Lock()
	defer s.mu.Unlock()
	changes := map[string]change{}
	for i, it := range items {
		d, e := decodeAppDef(it)
		if e != nil {
			writeError(w, e)
			return
		}
		var rawID string
		_ = json.Unmarshal(d["id"], &rawID)
		if rawID == "" {
			writeError(w, invalidObject([]errorDetail{{Path: fmt.Sprintf("/(%d)/id", i), Errors: []string{"error.path.missing"}}}))
			return
		}
		id := resolveAppID(rawID)
		var base appDef
		if a := s.apps[id]; a != nil && !a.Deleted {
			if partial {
				base = a.Def
			}
		} else if r.Method == http.MethodPatch {
			writeError(w, notFound("App '%s' does not exist", id))
			return
		}
		nd, e := finishApp(d, id, base, fmt.Sprintf("/(%d)", i))
		if e != nil {
			writeError(w, e)
			return
		}
		var prev appDef
		if a := s.apps[id]; a != nil && !a.Deleted {
			prev = a.Def
		}
		s.assignServicePorts(nd, prev)
		changes[id] = change{def: nd}
	}
	dep, e := s.deploy(changes, boolParam(r.URL.Query(), "force"), "")
	if e != nil {
		writeError(w, e)
		return
	}
	for _, c := range changes {
		s.apiPost(r, c.def)
	}
	deploymentResult(w, http.StatusOK, dep)
}

// handleApp routes /v2/apps/{id}[/restart|/tasks[/{taskId}]|/versions[/{version}]].
func (s *Server) handleApp(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/v2/apps")
	switch {
	case strings.HasSuffix(rest, "/restart"):
		if r.Method != http.MethodPost {
			methodNotAllowed(w, r)
			return
		}
		s.restartApp(w, r, resolveAppID(strings.TrimSuffix(rest, "/restart")))
	case strings.HasSuffix(rest, "/tasks"):
		id := resolveAppID(strings.TrimSuffix(rest, "/tasks"))
		switch r.Method {
		case http.MethodGet:
			s.appTasks(w, r, id)
		case http.MethodDelete:
			s.killAppTasks(w, r, id, "")
		default:
			methodNotAllowed(w, r)
		}
	case strings.Contains(rest, "/tasks/"):
		i := strings.LastIndex(rest, "/tasks/")
		id, taskID := resolveAppID(rest[:i]), rest[i+len("/tasks/"):]
		if r.Method != http.MethodDelete {
			methodNotAllowed(w, r)
			return
		}
		s.killAppTasks(w, r, id, taskID)
	case strings.HasSuffix(rest, "/versions"):
		s.appVersions(w, r, resolveAppID(strings.TrimSuffix(rest, "/versions")), "")
	case strings.Contains(rest, "/versions/"):
		i := strings.LastIndex(rest, "/versions/")
		s.appVersions(w, r, resolveAppID(rest[:i]), rest[i+len("/versions/"):])
	default:
		id := resolveAppID(rest)
		switch r.Method {
		case http.MethodGet:
			s.getApp(w, r, id)
		case http.MethodPut, http.MethodPatch:
			s.updateApp(w, r, id)
		case http.MethodDelete:
			s.deleteApp(w, r, id)
		default:
			methodNotAllowed(w, r)
		}
	}
}

// liveApp returns the app or Marathon's 404.
func (s *Server) liveApp(id string) (*appState, *apiError) {
	a := s.apps[id]
	if a == nil || a.Deleted {
		return nil, notFound("App '%s' does not exist", id)
	}
	return a, nil
}

// withLiveApp runs f with the app under s.mu, or answers Marathon's 404
// when there is no such app.
func (s *Server) withLiveApp(w http.ResponseWriter, id string, f func(a *appState)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, e := s.liveApp(id)
	if e != nil {
		writeError(w, e)
		return
	}
	f(a)
}

func (s *Server) getApp(w http.ResponseWriter, r *http.Request, id string) {
	q := r.URL.Query()
	emb := embeds(q)
	if len(q["embed"]) == 0 {
		for _, k := range []string{"counts", "deployments", "tasks", "lastTaskFailure", "readiness"} {
			emb[k] = true
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, e := s.liveApp(id)
	if e != nil {
		// GET on a group path lists the group's apps, as Marathon does.
		var apps []map[string]any
		for _, aid := range slices.Sorted(maps.Keys(s.apps)) {
			if x := s.apps[aid]; !x.Deleted && isUnder(aid, id) {
				apps = append(apps, s.renderApp(x, emb))
			}
		}
		if len(apps) > 0 {
			writeJSON(w, http.StatusOK, map[string]any{"*": apps})
			return
		}
		writeError(w, e)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"app": s.renderApp(a, emb)})
}

func (s *Server) updateApp(w http.ResponseWriter, r *http.Request, id string) {
	raw, ok := readBody(w, r)
	if !ok {
		return
	}
	d, e := decodeAppDef(raw)
	if e != nil {
		writeError(w, e)
		return
	}
	q := r.URL.Query()
	force := boolParam(q, "force")
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.apps[id]
	exists := a != nil && !a.Deleted
	// {"version": "..."} alone rolls the app back to that version.
	var full map[string]json.RawMessage
	_ = json.Unmarshal(raw, &full)
	if v, ok := full["version"]; ok && len(full) <= 2 && (len(full) == 1 || full["id"] != nil) {
		if !exists {
			writeError(w, notFound("App '%s' does not exist", id))
			return
		}
		var ver string
		_ = json.Unmarshal(v, &ver)
		old, ok := a.Versions[ver]
		if !ok {
			writeError(w, notFound("Version '%s' of app '%s' does not exist", ver, id))
			return
		}
		dep, e := s.deploy(map[string]change{id: {def: old.clone()}}, force, "")
		if e != nil {
			writeError(w, e)
			return
		}
		s.apiPost(r, old)
		deploymentResult(w, http.StatusOK, dep)
		return
	}
	if r.Method == http.MethodPatch && !exists {
		writeError(w, notFound("App '%s' does not exist", id))
		return
	}
	var base appDef
	if exists && (r.Method == http.MethodPatch || q.Get("partialUpdate") != "false") {
		base = a.Def
	}
	if bodyID := d.id(); bodyID != "" && r.Method == http.MethodPut && resolveAppID(bodyID) != id {
		writeError(w, invalidObject([]errorDetail{{Path: "/id", Errors: []string{fmt.Sprintf("The id %q in the body does not match the id %q in the URL.", bodyID, id)}}}))
		return
	}
	nd, e := finishApp(d, id, base, "")
	if e != nil {
		writeError(w, e)
		return
	}
	if !exists {
		if e := s.checkGroupClash(id); e != nil {
			writeError(w, e)
			return
		}
	}
	var prev appDef
	if exists {
		prev = a.Def
	}
	s.assignServicePorts(nd, prev)
	dep, e := s.deploy(map[string]change{id: {def: nd}}, force, "")
	if e != nil {
		writeError(w, e)
		return
	}
	s.apiPost(r, nd)
	status := http.StatusOK
	if !exists {
		status = http.StatusCreated
		w.Header().Set("Location", "/v2/apps"+id)
	}
	deploymentResult(w, status, dep)
}

func (s *Server) deleteApp(w http.ResponseWriter, r *http.Request, id string) {
	s.withLiveApp(w, id, func(*appState) {
		dep, e := s.deploy(map[string]change{id: {}}, boolParam(r.URL.Query(), "force"), "")
		if e != nil {
			writeError(w, e)
			return
		}
		s.apiPost(r, nil)
		deploymentResult(w, http.StatusOK, dep)
	})
}

func (s *Server) restartApp(w http.ResponseWriter, r *http.Request, id string) {
	s.withLiveApp(w, id, func(a *appState) {
		dep, e := s.deploy(map[string]change{id: {def: a.Def, restart: true}}, boolParam(r.URL.Query(), "force"), "")
		if e != nil {
			writeError(w, e)
			return
		}
		deploymentResult(w, http.StatusOK, dep)
	})
}

func (s *Server) appVersions(w http.ResponseWriter, r *http.Request, id, version string) {
	if r.Method != http.MethodGet {
		methodNotAllowed(w, r)
		return
	}
	s.withLiveApp(w, id, func(a *appState) {
		if version == "" {
			vs := slices.Sorted(maps.Keys(a.Versions))
			sort.Sort(sort.Reverse(sort.StringSlice(vs)))
			writeJSON(w, http.StatusOK, map[string]any{"versions": vs})
			return
		}
		d, ok := a.Versions[version]
		if !ok {
			if t, err := parseTime(version); err == nil {
				d, ok = a.Versions[formatTime(t)]
			}
		}
		if !ok {
			writeError(w, notFound("App '%s' does not exist in version %s", id, version))
			return
		}
		out := map[string]any{}
		for k, v := range d {
			out[k] = v
		}
		out["version"] = version
		writeJSON(w, http.StatusOK, out)
	})
}

// renderApp builds an app answer: the stored definition plus version
// information and the embedded status members.
func (s *Server) renderApp(a *appState, emb map[string]bool) map[string]any {
	out := map[string]any{}
	for k, v := range a.Def {
		out[k] = v
	}
	out["version"] = formatTime(a.Version)
	out["versionInfo"] = map[string]string{
		"lastScalingAt":      formatTime(a.LastScalingAt),
		"lastConfigChangeAt": formatTime(a.LastConfigChangeAt),
	}
	tasks := s.tasksOf(a.ID)
	if emb["counts"] || emb["tasks"] {
		c := s.counts(a, tasks)
		out["tasksStaged"], out["tasksRunning"], out["tasksHealthy"], out["tasksUnhealthy"] = c.Staged, c.Running, c.Healthy, c.Unhealthy
	}
	if emb["deployments"] || emb["tasks"] {
		deps := []deploymentRef{}
		for _, d := range s.lockedBy([]string{a.ID}) {
			deps = append(deps, deploymentRef{ID: d.ID})
		}
		out["deployments"] = deps
	}
	if emb["tasks"] {
		ts := []marathon.Task{}
		for _, t := range tasks {
			ts = append(ts, s.renderTask(t))
		}
		out["tasks"] = ts
	}
	if emb["lastTaskFailure"] && a.LastTaskFailure != nil {
		out["lastTaskFailure"] = a.LastTaskFailure
	}
	if emb["readiness"] {
		out["readinessCheckResults"] = s.readinessResults(a, tasks)
	}
	if emb["taskStats"] {
		out["taskStats"] = s.taskStats(a, tasks)
	}
	return out
}

// taskCounts are an app's task counts.
type taskCounts struct{ Staged, Running, Healthy, Unhealthy int }

func (s *Server) counts(a *appState, tasks []*taskState) taskCounts {
	var c taskCounts
	for _, t := range tasks {
		sp := s.specFor(a, t.Version)
		switch t.State {
		case taskStaging:
			c.Staged++
		case taskRunning:
			c.Running++
			if len(sp.HealthChecks) > 0 {
				if t.healthy(len(sp.HealthChecks)) {
					c.Healthy++
				} else {
					for _, h := range t.Health {
						if h.Checked && !h.Alive {
							c.Unhealthy++
							break
						}
					}
				}
			}
		}
	}
	return c
}

func (s *Server) readinessResults(a *appState, tasks []*taskState) []marathon.ReadinessCheckResult {
	out := []marathon.ReadinessCheckResult{}
	for _, t := range tasks {
		for _, r := range t.Readiness {
			ready, status := r.Ready, r.Status
			res := marathon.ReadinessCheckResult{Name: r.Name, TaskID: t.ID, Ready: &ready}
			if r.Status != 0 {
				res.LastResponse = &marathon.ReadinessCheckResponse{Status: &status, ContentType: r.ContentType, Body: r.Body}
			}
			out = append(out, res)
		}
	}
	return out
}

func (s *Server) taskStats(a *appState, tasks []*taskState) map[string]any {
	stats := func(sel func(*taskState) bool) map[string]any {
		var ts []*taskState
		for _, t := range tasks {
			if sel(t) {
				ts = append(ts, t)
			}
		}
		if len(ts) == 0 {
			return nil
		}
		c := s.counts(a, ts)
		var life []float64
		now := time.Now()
		for _, t := range ts {
			if !t.StartedAt.IsZero() {
				life = append(life, now.Sub(t.StartedAt).Seconds())
			}
		}
		st := map[string]any{"counts": map[string]int{"staged": c.Staged, "running": c.Running, "healthy": c.Healthy, "unhealthy": c.Unhealthy}}
		if len(life) > 0 {
			sort.Float64s(life)
			sum := 0.0
			for _, l := range life {
				sum += l
			}
			st["lifeTime"] = map[string]float64{"averageSeconds": sum / float64(len(life)), "medianSeconds": life[len(life)/2]}
		}
		return map[string]any{"stats": st}
	}
	cur := formatTime(a.LastConfigChangeAt)
	out := map[string]any{}
	put := func(k string, v map[string]any) {
		if v != nil {
			out[k] = v
		}
	}
	put("startedAfterLastScaling", stats(func(t *taskState) bool { return !t.StagedAt.Before(a.LastScalingAt) }))
	put("withLatestConfig", stats(func(t *taskState) bool { return t.ConfigVersion == cur }))
	put("withOutdatedConfig", stats(func(t *taskState) bool { return t.ConfigVersion != cur }))
	put("totalSummary", stats(func(*taskState) bool { return true }))
	return out
}

// renderTask is a task as /v2/tasks and /v2/apps/{id}/tasks show it.
func (s *Server) renderTask(t *taskState) marathon.Task {
	mt := marathon.Task{
		ID: t.ID, AppID: t.AppID, Host: t.Host, Ports: t.Ports, ServicePorts: t.ServicePorts, SlaveID: t.AgentID,
		State: t.State, StagedAt: formatTime(t.StagedAt), Version: t.Version, Role: "*",
		IPAddresses: []marathon.TaskIPAddress{{IPAddress: t.Host, Protocol: "IPv4"}},
	}
	if mt.Ports == nil {
		mt.Ports = []int{}
	}
	if !t.StartedAt.IsZero() {
		mt.StartedAt = formatTime(t.StartedAt)
	}
	for _, h := range t.Health {
		if !h.Checked {
			continue
		}
		r := marathon.HealthCheckResult{Alive: h.Alive, ConsecutiveFailures: h.ConsecutiveFailures, LastFailureCause: h.LastFailureCause, InstanceID: t.ID, TaskID: t.ID}
		if !h.FirstSuccess.IsZero() {
			r.FirstSuccess = formatTime(h.FirstSuccess)
		}
		if !h.LastSuccess.IsZero() {
			r.LastSuccess = formatTime(h.LastSuccess)
		}
		if !h.LastFailure.IsZero() {
			r.LastFailure = formatTime(h.LastFailure)
		}
		mt.HealthCheckResults = append(mt.HealthCheckResults, r)
	}
	return mt
}
