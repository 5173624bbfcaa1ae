package marathon

import (
	"net/http"
	"strings"

	"github.com/switchyard/switchyard/marathon"
)

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
