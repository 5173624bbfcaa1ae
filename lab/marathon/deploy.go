package marathon

import (
	"maps"
	"net/http"
	"slices"
	"sort"
	"time"

	"github.com/switchyard/switchyard/marathon"
)

// change is one app in a requested change: its new definition, or nil to
// remove it; restart forces a RestartApplication even when nothing changed.
type change struct {
	def     appDef
	restart bool
}

// lockedBy lists the deployments that hold a lock on any of the apps.
func (s *Server) lockedBy(ids []string) []*deploymentState {
	var out []*deploymentState
	for _, d := range s.deployments {
		for _, id := range ids {
			if contains(d.AffectedApps, id) {
				out = append(out, d)
				break
			}
		}
	}
	return out
}

// cancelDeployment drops a running deployment; its apps keep the definitions
// it set and return to steady scheduling (Marathon's force semantics).
func (s *Server) cancelDeployment(d *deploymentState, reason string) {
	var keep []*deploymentState
	for _, x := range s.deployments {
		if x != d {
			keep = append(keep, x)
		}
	}
	s.deployments = keep
	plan := s.planOf(d)
	s.bus.publish(marathon.EventDeploymentFailed, marathon.DeploymentFailedEvent{EventMeta: meta(marathon.EventDeploymentFailed), ID: d.ID, Plan: &plan, Reason: reason})
	if d.Group != "" {
		s.bus.publish(marathon.EventGroupChangeFailed, marathon.GroupChangeEvent{EventMeta: meta(marathon.EventGroupChangeFailed), GroupID: d.Group, Version: formatTime(d.Version), Reason: reason})
	}
	s.logf("deployment %s cancelled: %s", d.ID, reason)
	s.dirty = true
}

// effectiveDeps are an app's dependencies plus those of its enclosing
// groups, as absolute ids.
func (s *Server) effectiveDeps(id string, sp *appSpec) []string {
	var out []string
	for _, d := range sp.Dependencies {
		out = append(out, absPath(d, parentPath(id)))
	}
	for g := parentPath(id); ; g = parentPath(g) {
		if gs := s.groups[g]; gs != nil {
			for _, d := range gs.Dependencies {
				out = append(out, absPath(d, parentPath(g)))
			}
		}
		if g == "/" {
			break
		}
	}
	return out
}

// deploy applies a validated change to the apps and starts its deployment:
// it checks locks (409 unless force, which cancels the holders), plans the
// steps, stores the new definitions with a new version, and returns the
// deployment. Nothing changes when it fails.
func (s *Server) deploy(changes map[string]change, force bool, group string) (*deploymentState, *apiError) {
	ids := slices.Sorted(maps.Keys(changes))
	if holders := s.lockedBy(ids); len(holders) > 0 {
		if !force {
			var hid []string
			for _, h := range holders {
				hid = append(hid, h.ID)
			}
			kind := "App"
			if group != "" {
				kind = "Group"
			}
			return nil, lockedError(kind, hid)
		}
		for _, h := range holders {
			s.cancelDeployment(h, "cancelled by a forced change")
		}
	}
	from, to := map[string]planApp{}, map[string]planApp{}
	specs := map[string]*appSpec{}
	for _, id := range ids {
		if a := s.apps[id]; a != nil && !a.Deleted {
			from[id] = planApp{Def: a.Def, Instances: a.spec.Instances, Dependencies: s.effectiveDeps(id, a.spec)}
		}
		c := changes[id]
		if c.def == nil {
			continue
		}
		sp, errs := parseSpec(c.def)
		if len(errs) > 0 {
			return nil, invalidJSON("", nil)
		}
		specs[id] = sp
		pa := planApp{Def: c.def, Instances: sp.Instances, Dependencies: s.effectiveDeps(id, sp)}
		to[id] = pa
	}
	steps, err := planDeployment(from, to)
	if err != nil {
		return nil, invalidObject([]errorDetail{{Path: "/dependencies", Errors: []string{err.Error()}}})
	}
	// Forced restarts of unchanged apps.
	for _, id := range ids {
		if changes[id].restart {
			found := false
			for _, st := range steps {
				for _, a := range st.Actions {
					if a.App == id && a.Action == actRestart {
						found = true
					}
				}
			}
			if !found {
				steps = appendRestart(steps, id)
			}
		}
	}
	now := time.Now()
	version := s.clock.next(now)
	dep := &deploymentState{
		ID: newUUID(), Version: version, Steps: steps, AffectedApps: affectedApps(steps),
		Original: map[string]appDef{}, Target: map[string]appDef{}, Group: group,
	}
	touched := map[string]bool{}
	for _, id := range dep.AffectedApps {
		touched[id] = true
	}
	for _, id := range ids {
		c := changes[id]
		a := s.apps[id]
		if a != nil && !a.Deleted {
			dep.Original[id] = a.Def
		}
		if !touched[id] {
			continue
		}
		if c.def == nil {
			if a != nil {
				a.Deleted = true
			}
			continue
		}
		dep.Target[id] = c.def
		if a == nil || a.Deleted {
			old := a
			a = &appState{ID: id, Versions: map[string]appDef{}, LastConfigChangeAt: version}
			if old != nil {
				// A re-created app inherits nothing but its leftover tasks.
				a.Versions = old.Versions
			}
			s.apps[id] = a
		} else if !configEqual(a.Def, c.def) || c.restart {
			a.LastConfigChangeAt = version
			a.Delay, a.DelayUntil = 0, time.Time{}
		}
		a.Def = c.def
		a.spec = specs[id]
		a.Version = version
		a.LastScalingAt = version
		a.Versions[formatTime(version)] = c.def
		trimVersions(a)
	}
	s.deployments = append(s.deployments, dep)
	s.snapshotGroups(ids, version)
	s.dirty = true
	if len(steps) > 0 {
		s.bus.publish(marathon.EventDeploymentInfo, s.stepEvent(marathon.EventDeploymentInfo, dep, steps[0]))
	}
	s.logf("deployment %s started: %s", dep.ID, describeSteps(steps))
	s.flush()
	s.kickNow()
	return dep, nil
}

// appendRestart adds a RestartApplication for id to the last step (or a new one).
func appendRestart(steps []step, id string) []step {
	if len(steps) == 0 {
		return []step{{Actions: []action{{actRestart, id}}}}
	}
	last := &steps[len(steps)-1]
	last.Actions = append(last.Actions, action{actRestart, id})
	return steps
}

// trimVersions keeps the newest maxVersions versions.
func trimVersions(a *appState) {
	if len(a.Versions) <= maxVersions {
		return
	}
	vs := slices.Sorted(maps.Keys(a.Versions))
	sort.Strings(vs)
	for _, v := range vs[:len(vs)-maxVersions] {
		delete(a.Versions, v)
	}
}

// deploymentResult is the {deploymentId, version} answer of changes.
func deploymentResult(w http.ResponseWriter, status int, d *deploymentState) {
	w.Header().Set("Marathon-Deployment-Id", d.ID)
	writeJSON(w, status, marathon.DeploymentResult{DeploymentID: d.ID, Version: formatTime(d.Version)})
}

// snapshotGroups records a new version of every group above the changed
// apps (the root included), as Marathon versions its group tree.
func (s *Server) snapshotGroups(changed []string, version time.Time) {
	groups := map[string]bool{}
	for _, id := range changed {
		for g := parentPath(id); ; g = parentPath(g) {
			groups[g] = true
			if g == "/" {
				break
			}
		}
	}
	for g := range groups {
		snap := groupSnapshot{Version: version, Apps: map[string]appDef{}}
		for id, a := range s.apps {
			if !a.Deleted && isUnder(id, g) {
				snap.Apps[id] = a.Def
			}
		}
		h := append(s.history[g], snap)
		if len(h) > maxGroupVersions {
			h = h[len(h)-maxGroupVersions:]
		}
		s.history[g] = h
	}
}
