package marathon

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/switchyard/switchyard/marathon"
)

func (s *Server) appTasks(w http.ResponseWriter, r *http.Request, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var tasks []*taskState
	if a, e := s.liveApp(id); e == nil {
		tasks = s.tasksOf(a.ID)
	} else {
		// A group id lists the tasks of every app below it.
		found := false
		for _, aid := range slices.Sorted(maps.Keys(s.apps)) {
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
	s.writeTasks(w, r, tasks)
}

// writeTasks answers a task list: text/plain when asked (as Marathon's
// /v2/tasks does for marathon-lb's older clients), else JSON {"tasks": [...]}.
func (s *Server) writeTasks(w http.ResponseWriter, r *http.Request, tasks []*taskState) {
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
	for _, id := range slices.Sorted(maps.Keys(byApp)) {
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
	for _, id := range slices.Sorted(maps.Keys(s.tasks)) {
		t := s.tasks[id]
		if len(want) == 0 || want[t.State] {
			tasks = append(tasks, t)
		}
	}
	s.writeTasks(w, r, tasks)
}

func (s *Server) handleTasksDelete(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		methodNotAllowed(w, r)
		return
	}
	raw, ok := readBody(w, r)
	if !ok {
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
	s.withLiveApp(w, id, func(a *appState) {
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
	})
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
