package labmarathon

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/marathon"
)

// maxBody bounds request bodies (Marathon's default is 1 MiB per app; groups are larger).
const maxBody = 16 << 20

// Handler serves the Marathon v2 REST API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/ping", s.handlePing)
	mux.HandleFunc("/v2/info", s.handleInfo)
	mux.HandleFunc("/v2/leader", s.handleLeader)
	mux.HandleFunc("/v2/apps", s.handleApps)
	mux.HandleFunc("/v2/apps/", s.handleApp)
	mux.HandleFunc("/v2/tasks", s.handleTasks)
	mux.HandleFunc("/v2/tasks/delete", s.handleTasksDelete)
	mux.HandleFunc("/v2/deployments", s.handleDeployments)
	mux.HandleFunc("/v2/deployments/", s.handleDeployment)
	mux.HandleFunc("/v2/groups", s.handleGroups)
	mux.HandleFunc("/v2/groups/", s.handleGroups)
	mux.HandleFunc("/v2/queue", s.handleQueue)
	mux.HandleFunc("/v2/queue/", s.handleQueueDelay)
	mux.HandleFunc("/v2/events", s.handleEvents)
	mux.HandleFunc("/v2/pods", s.handlePods)
	mux.HandleFunc("/v2/pods/", s.handlePods)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &apiError{Status: http.StatusNotFound, Message: fmt.Sprintf("Resource %s does not exist in the lab Marathon", r.URL.Path)})
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, e *apiError) { writeJSON(w, e.Status, e) }

func methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	writeError(w, &apiError{Status: http.StatusMethodNotAllowed, Message: fmt.Sprintf("HTTP method %s is not supported by %s", r.Method, r.URL.Path)})
}

// boolParam reads a boolean query parameter the way Marathon does (any case).
func boolParam(q url.Values, name string) bool {
	v := strings.ToLower(q.Get(name))
	return v == "true" || v == "1"
}

// readBody reads the request body as JSON.
func readBody(r *http.Request) (json.RawMessage, *apiError) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		return nil, badRequest("read request body: %v", err)
	}
	if !json.Valid(b) {
		var v any
		return nil, invalidJSON("", json.Unmarshal(b, &v))
	}
	return b, nil
}

func (s *Server) handlePing(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "must-revalidate,no-cache,no-store")
	_, _ = io.WriteString(w, "pong\n")
}

func (s *Server) leaderHost() string {
	u, err := url.Parse(s.opts.AdvertiseURL)
	if err != nil {
		return s.cfg.Marathon.Listen
	}
	return u.Host
}

func (s *Server) handleInfo(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		methodNotAllowed(w, r)
		return
	}
	host := s.leaderHost()
	port, _ := strconv.Atoi(host[strings.LastIndex(host, ":")+1:])
	info := marathon.Info{
		Name: "marathon", Version: MarathonVersion, Buildref: "switchyard-lab", Elected: true, Leader: host,
		FrameworkID: s.frameworkID(),
		MarathonConfig: marathon.MarathonConfig{
			Master: "http://" + s.cfg.Mesos.Listen, Hostname: host[:strings.LastIndex(host, ":")],
			FrameworkName: "marathon", Features: []string{"task_killing"}, Checkpoint: true, MesosRole: "*",
			MesosUser: "root", MesosLeaderUIURL: "http://" + s.cfg.Mesos.Listen + "/", WebUIURL: s.opts.AdvertiseURL,
			LocalPortMin: 10000, LocalPortMax: 20000, TaskLaunchTimeout: 300000, EnvVarsPrefix: "",
			FailoverTimeout: 604800, Executor: "//cmd",
		},
		HTTPConfig: &marathon.HTTPConfig{HTTPPort: port},
		// The lab keeps Marathon's state in files, not ZooKeeper; the "zk"
		// member says where (clients such as python-marathon need the object).
		ZooKeeperConfig: &marathon.ZooKeeperConfig{ZK: "file://" + s.store.dir, ZKMaxVersions: maxVersions},
	}
	writeJSON(w, http.StatusOK, info)
}

// MarathonVersion is the Marathon version the lab's API follows.
const MarathonVersion = "1.10.17"

func (s *Server) frameworkID() string { return s.cfg.ID + "-marathon-0000" }

func (s *Server) handleLeader(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		methodNotAllowed(w, r)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"leader": s.leaderHost()})
}

// ---- apps -------------------------------------------------------------

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
	for _, id := range sortedKeys(s.apps) {
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
	raw, e := readBody(r)
	if e != nil {
		writeError(w, e)
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
	raw, e := readBody(r)
	if e != nil {
		writeError(w, e)
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
		for _, aid := range sortedKeys(s.apps) {
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
	raw, e := readBody(r)
	if e != nil {
		writeError(w, e)
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
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, e := s.liveApp(id); e != nil {
		writeError(w, e)
		return
	}
	dep, e := s.deploy(map[string]change{id: {}}, boolParam(r.URL.Query(), "force"), "")
	if e != nil {
		writeError(w, e)
		return
	}
	s.apiPost(r, nil)
	deploymentResult(w, http.StatusOK, dep)
}

func (s *Server) restartApp(w http.ResponseWriter, r *http.Request, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, e := s.liveApp(id)
	if e != nil {
		writeError(w, e)
		return
	}
	dep, e := s.deploy(map[string]change{id: {def: a.Def, restart: true}}, boolParam(r.URL.Query(), "force"), "")
	if e != nil {
		writeError(w, e)
		return
	}
	deploymentResult(w, http.StatusOK, dep)
}

func (s *Server) appVersions(w http.ResponseWriter, r *http.Request, id, version string) {
	if r.Method != http.MethodGet {
		methodNotAllowed(w, r)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, e := s.liveApp(id)
	if e != nil {
		writeError(w, e)
		return
	}
	if version == "" {
		vs := sortedKeys(a.Versions)
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

// ---- tasks ------------------------------------------------------------

func (s *Server) appTasks(w http.ResponseWriter, r *http.Request, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var tasks []*taskState
	if a, e := s.liveApp(id); e == nil {
		tasks = s.tasksOf(a.ID)
	} else {
		// A group id lists the tasks of every app below it.
		found := false
		for _, aid := range sortedKeys(s.apps) {
			if x := s.apps[aid]; !x.Deleted && isUnder(aid, id) {
				found = true
				tasks = append(tasks, s.tasksOf(aid)...)
			}
		}
		if !found {
			writeError(w, e)
			return
		}
	}
	if wantsText(r) {
		s.writeTasksText(w, tasks)
		return
	}
	out := []marathon.Task{}
	for _, t := range tasks {
		out = append(out, s.renderTask(t))
	}
	writeJSON(w, http.StatusOK, map[string]any{"tasks": out})
}

func wantsText(r *http.Request) bool {
	acc := r.Header.Get("Accept")
	return strings.Contains(acc, "text/plain") && !strings.Contains(acc, "application/json")
}

// writeTasksText is the text/plain task list: one line per app and service
// port, "<app>\t<servicePort>\t<host:port>...".
func (s *Server) writeTasksText(w http.ResponseWriter, tasks []*taskState) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	byApp := map[string][]*taskState{}
	for _, t := range tasks {
		byApp[t.AppID] = append(byApp[t.AppID], t)
	}
	for _, id := range sortedKeys(byApp) {
		a := s.apps[id]
		name := strings.ReplaceAll(strings.TrimPrefix(id, "/"), "/", "_")
		svc := []int{0}
		if a != nil {
			if sp := a.spec.servicePorts(); len(sp) > 0 {
				svc = sp
			}
		}
		for i, port := range svc {
			line := []string{name, strconv.Itoa(port)}
			for _, t := range byApp[id] {
				if t.State == taskRunning && i < len(t.Ports) {
					line = append(line, t.Host+":"+strconv.Itoa(t.Ports[i]))
				}
			}
			fmt.Fprintln(w, strings.Join(line, "\t")+"\t")
		}
	}
}

func (s *Server) handleTasks(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		methodNotAllowed(w, r)
		return
	}
	q := r.URL.Query()
	want := map[string]bool{}
	for _, st := range append(q["status"], q["status[]"]...) {
		switch strings.ToLower(st) {
		case "running":
			want[taskRunning] = true
		case "staging":
			want[taskStaging] = true
		default:
			writeError(w, badRequest("Invalid status %q: use running or staging", st))
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var tasks []*taskState
	for _, id := range sortedKeys(s.tasks) {
		t := s.tasks[id]
		if len(want) == 0 || want[t.State] {
			tasks = append(tasks, t)
		}
	}
	if wantsText(r) {
		s.writeTasksText(w, tasks)
		return
	}
	out := []marathon.Task{}
	for _, t := range tasks {
		out = append(out, s.renderTask(t))
	}
	writeJSON(w, http.StatusOK, map[string]any{"tasks": out})
}

func (s *Server) handleTasksDelete(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		methodNotAllowed(w, r)
		return
	}
	raw, e := readBody(r)
	if e != nil {
		writeError(w, e)
		return
	}
	var body struct {
		IDs []string `json:"ids"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		writeError(w, invalidJSON("", err))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var tasks []*taskState
	for _, id := range body.IDs {
		t := s.tasks[id]
		if t == nil {
			writeError(w, badRequest("Invalid task id %s", id))
			return
		}
		tasks = append(tasks, t)
	}
	s.killTasks(w, r, tasks)
}

// killAppTasks is DELETE /v2/apps/{id}/tasks[/{taskId}] (host, scale, wipe).
func (s *Server) killAppTasks(w http.ResponseWriter, r *http.Request, id, taskID string) {
	q := r.URL.Query()
	if boolParam(q, "scale") && boolParam(q, "wipe") {
		writeError(w, badRequest("You cannot use scale and wipe at the same time."))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, e := s.liveApp(id)
	if e != nil {
		writeError(w, e)
		return
	}
	var tasks []*taskState
	if taskID != "" {
		t := s.tasks[taskID]
		if t == nil || t.AppID != a.ID {
			writeError(w, notFound("Task '%s' does not exist", taskID))
			return
		}
		tasks = []*taskState{t}
	} else {
		host := q.Get("host")
		for _, t := range s.tasksOf(a.ID) {
			if host == "" || host == "*" || t.Host == host || t.AgentID == host {
				tasks = append(tasks, t)
			}
		}
	}
	if taskID != "" && !boolParam(q, "scale") {
		s.killTask(tasks[0].ID, "killed through the API")
		s.flush()
		s.kickNow()
		writeJSON(w, http.StatusOK, map[string]any{"task": s.renderTask(tasks[0])})
		return
	}
	s.killTasks(w, r, tasks)
}

// killTasks kills tasks; with scale=true the apps' instances shrink by the
// number of their killed tasks in a deployment, whose result is returned.
func (s *Server) killTasks(w http.ResponseWriter, r *http.Request, tasks []*taskState) {
	q := r.URL.Query()
	if !boolParam(q, "scale") {
		out := []marathon.Task{}
		for _, t := range tasks {
			s.killTask(t.ID, "killed through the API")
			out = append(out, s.renderTask(t))
		}
		s.flush()
		s.kickNow()
		writeJSON(w, http.StatusOK, map[string]any{"tasks": out})
		return
	}
	perApp := map[string]int{}
	for _, t := range tasks {
		if t.State != taskKilling {
			perApp[t.AppID]++
		}
	}
	changes := map[string]change{}
	for id, n := range perApp {
		a := s.apps[id]
		if a == nil || a.Deleted {
			continue
		}
		nd := a.Def.clone()
		nd.set("instances", max(0, a.spec.Instances-n))
		changes[id] = change{def: nd}
	}
	dep, e := s.deploy(changes, boolParam(q, "force"), "")
	if e != nil {
		writeError(w, e)
		return
	}
	for _, t := range tasks {
		s.killTask(t.ID, "killed through the API with scale=true")
	}
	s.flush()
	deploymentResult(w, http.StatusOK, dep)
}

// ---- deployments ------------------------------------------------------

func (s *Server) handleDeployments(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		methodNotAllowed(w, r)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []marathon.Deployment{}
	for _, d := range s.deployments {
		md := marathon.Deployment{
			ID: d.ID, Version: formatTime(d.Version), AffectedApps: d.AffectedApps,
			CurrentStep: min(d.CurrentStep+1, len(d.Steps)), TotalSteps: len(d.Steps),
			Steps: []marathon.DeploymentStep{}, CurrentActions: []marathon.DeploymentAction{},
		}
		if md.AffectedApps == nil {
			md.AffectedApps = []string{}
		}
		for _, st := range d.Steps {
			md.Steps = append(md.Steps, wireStep(st))
		}
		if d.CurrentStep < len(d.Steps) {
			for _, act := range d.Steps[d.CurrentStep].Actions {
				da := marathon.DeploymentAction{Action: act.Action, App: act.App}
				if a := s.apps[act.App]; a != nil && len(a.spec.Readiness) > 0 {
					da.ReadinessCheckResults = s.readinessResults(a, s.tasksOf(a.ID))
				}
				md.CurrentActions = append(md.CurrentActions, da)
			}
		}
		out = append(out, md)
	}
	writeJSON(w, http.StatusOK, out)
}

// handleDeployment is DELETE /v2/deployments/{id}: roll back (a new
// deployment restoring the previous definitions) or, with force=true,
// cancel without rollback (202).
func (s *Server) handleDeployment(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodDelete {
		methodNotAllowed(w, r)
		return
	}
	id := strings.TrimPrefix(r.URL.Path, "/v2/deployments/")
	s.mu.Lock()
	defer s.mu.Unlock()
	var d *deploymentState
	for _, x := range s.deployments {
		if x.ID == id {
			d = x
		}
	}
	if d == nil {
		writeError(w, notFound("DeploymentPlan %s does not exist", id))
		return
	}
	if boolParam(r.URL.Query(), "force") {
		s.cancelDeployment(d, "cancelled through the API")
		s.flush()
		s.kickNow()
		w.WriteHeader(http.StatusAccepted)
		return
	}
	s.cancelDeployment(d, "rolled back through the API")
	changes := map[string]change{}
	for _, app := range d.AffectedApps {
		if orig, ok := d.Original[app]; ok {
			changes[app] = change{def: orig.clone()}
		} else {
			changes[app] = change{}
		}
	}
	dep, e := s.deploy(changes, true, d.Group)
	if e != nil {
		writeError(w, e)
		return
	}
	deploymentResult(w, http.StatusOK, dep)
}

// ---- queue ------------------------------------------------------------

func (s *Server) handleQueue(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		methodNotAllowed(w, r)
		return
	}
	withOffers := false
	for _, e := range r.URL.Query()["embed"] {
		if strings.Contains(e, "lastUnusedOffers") {
			withOffers = true
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	out := []marathon.QueueItem{}
	for _, id := range sortedKeys(s.apps) {
		a := s.apps[id]
		if a.Deleted || a.queue == nil {
			continue
		}
		m, _ := s.appMode(a)
		tasks := s.tasksOf(a.ID)
		d := decide(m, a.spec.Instances, strategy{a.spec.MinHealth, a.spec.MaxOver, a.spec.KillSelection}, s.views(a, tasks))
		if d.Launch == 0 {
			continue
		}
		// No "role": python-marathon 0.13 rejects members it does not know.
		item := marathon.QueueItem{Count: d.Launch, Since: formatTime(a.queue.Since)}
		var app marathon.App
		if b, err := json.Marshal(s.renderApp(a, nil)); err == nil && json.Unmarshal(b, &app) == nil {
			item.App = &app
		}
		left := a.DelayUntil.Sub(now)
		item.Delay = marathon.QueueDelay{TimeLeftSeconds: int64(max(0, left.Seconds())), Overdue: left <= 0}
		pos := &marathon.ProcessedOffersSummary{ProcessedOffersCount: a.queue.Processed, UnusedOffersCount: a.queue.Unused}
		if !a.queue.LastUnusedAt.IsZero() {
			pos.LastUnusedOfferAt = formatTime(a.queue.LastUnusedAt)
		}
		if !a.queue.LastUsedAt.IsZero() {
			pos.LastUsedOfferAt = formatTime(a.queue.LastUsedAt)
		}
		for _, reason := range sortedKeys(a.queue.Reasons) {
			pos.RejectSummaryLastOffers = append(pos.RejectSummaryLastOffers, marathon.DeclinedOfferStep{Reason: reason, Declined: a.queue.Reasons[reason], Processed: len(s.agents)})
			pos.RejectSummaryLaunchAttempt = append(pos.RejectSummaryLaunchAttempt, marathon.DeclinedOfferStep{Reason: reason, Declined: a.queue.Reasons[reason], Processed: len(s.agents)})
		}
		item.ProcessedOffersSummary = pos
		if withOffers {
			for _, ag := range s.agents {
				reasons := a.queue.LastOfferReason[ag.ID]
				if len(reasons) == 0 {
					continue
				}
				item.LastUnusedOffers = append(item.LastUnusedOffers, marathon.UnusedOffer{
					Offer:     s.offerOf(ag),
					Reason:    reasons,
					Timestamp: formatTime(a.queue.LastUnusedAt),
				})
			}
		}
		out = append(out, item)
	}
	writeJSON(w, http.StatusOK, map[string]any{"queue": out})
}

// handleQueueDelay is DELETE /v2/queue/{appId}/delay.
func (s *Server) handleQueueDelay(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/v2/queue")
	if !strings.HasSuffix(rest, "/delay") {
		writeError(w, notFound("Resource %s does not exist", r.URL.Path))
		return
	}
	if r.Method != http.MethodDelete {
		methodNotAllowed(w, r)
		return
	}
	id := resolveAppID(strings.TrimSuffix(rest, "/delay"))
	s.mu.Lock()
	defer s.mu.Unlock()
	a, e := s.liveApp(id)
	if e != nil {
		writeError(w, notFound("Application %s not found in tasks queue.", id))
		return
	}
	a.Delay, a.DelayUntil = 0, time.Time{}
	s.dirty = true
	s.flush()
	s.kickNow()
	w.WriteHeader(http.StatusNoContent)
}

// ---- pods -------------------------------------------------------------

// handlePods serves the listing endpoints of /v2/pods (the lab runs no pods):
// GET /v2/pods and /v2/pods/::status answer empty lists; creating pods is
// not supported by the lab and answers 501 with a message saying so.
func (s *Server) handlePods(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/v2/pods")
	switch {
	case r.Method == http.MethodGet && (rest == "" || rest == "/"):
		writeJSON(w, http.StatusOK, []any{})
	case r.Method == http.MethodGet && rest == "/::status":
		writeJSON(w, http.StatusOK, []any{})
	case r.Method == http.MethodGet || r.Method == http.MethodDelete:
		writeError(w, notFound("Pod '%s' does not exist", strings.TrimSuffix(rest, "::status")))
	default:
		writeError(w, &apiError{Status: http.StatusNotImplemented, Message: "The lab Marathon does not run pods: deploy the pod's containers as apps instead."})
	}
}

// ---- events -----------------------------------------------------------

// handleEvents is the /v2/events server-sent event stream, filtered by
// event_type parameters.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		methodNotAllowed(w, r)
		return
	}
	if acc := r.Header.Get("Accept"); acc != "" && !strings.Contains(acc, "text/event-stream") && !strings.Contains(acc, "*/*") {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusNotAcceptable)
		_, _ = io.WriteString(w, "<html><body><h2>HTTP ERROR: 406</h2><p>/v2/events needs Accept: text/event-stream</p></body></html>\n")
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeError(w, &apiError{Status: http.StatusInternalServerError, Message: "streaming is not supported by this connection"})
		return
	}
	filter := map[string]bool{}
	for _, t := range r.URL.Query()["event_type"] {
		for _, part := range strings.Split(t, ",") {
			filter[strings.TrimSpace(part)] = true
		}
	}
	ch, leave := s.bus.subscribe()
	defer func() {
		leave()
		s.bus.publish(marathon.EventStreamDetached, marathon.StreamAttachEvent{EventMeta: meta(marathon.EventStreamDetached), RemoteAddress: clientIP(r)})
	}()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	flusher.Flush() // clients wait for the headers before the first event
	send := func(ev busEvent) bool {
		if len(filter) > 0 && !filter[ev.Type] {
			return true
		}
		_, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev.Type, ev.Data)
		flusher.Flush()
		return err == nil
	}
	att, _ := json.Marshal(marathon.StreamAttachEvent{EventMeta: meta(marathon.EventStreamAttached), RemoteAddress: clientIP(r)})
	if !send(busEvent{Type: marathon.EventStreamAttached, Data: att}) {
		return
	}
	keepalive := time.NewTicker(15 * time.Second)
	defer keepalive.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-keepalive.C:
			if _, err := io.WriteString(w, ": keep-alive\n\n"); err != nil {
				return
			}
			flusher.Flush()
		case ev, ok := <-ch:
			if !ok {
				return
			}
			if !send(ev) {
				return
			}
		}
	}
}
