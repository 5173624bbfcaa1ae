package marathon

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
)

// Deployment action types, as Marathon names them in /v2/deployments.
const (
	actStart   = "StartApplication"
	actScale   = "ScaleApplication"
	actRestart = "RestartApplication"
	actStop    = "StopApplication"
)

// action is one deployment action on one app.
type action struct {
	Action string `json:"action"`
	App    string `json:"app"`
}

// step is a set of actions executed together; a deployment runs its steps
// one after the other.
type step struct {
	Actions []action `json:"actions"`
}

// planApp is what the planner needs to know about one app.
type planApp struct {
	Def          appDef
	Instances    int
	Dependencies []string // absolute ids of apps or groups
}

// planDeployment computes the steps that take the apps in from to the apps
// in to, the way Marathon's DeploymentPlan does: stop removed apps, start
// added ones (with 0 instances), then scale or restart apps layer by layer in
// dependency order (an app comes after every app it depends on). It fails on
// a dependency cycle.
func planDeployment(from, to map[string]planApp) ([]step, error) {
	var steps []step
	var stops, starts []action
	for _, id := range slices.Sorted(maps.Keys(from)) {
		if _, ok := to[id]; !ok {
			stops = append(stops, action{actStop, id})
		}
	}
	for _, id := range slices.Sorted(maps.Keys(to)) {
		if _, ok := from[id]; !ok {
			starts = append(starts, action{actStart, id})
		}
	}
	if len(stops) > 0 {
		steps = append(steps, step{stops})
	}
	if len(starts) > 0 {
		steps = append(steps, step{starts})
	}
	layers, err := dependencyLayers(to)
	if err != nil {
		return nil, err
	}
	for _, layer := range layers {
		var acts []action
		for _, id := range layer {
			t := to[id]
			f, existed := from[id]
			switch {
			case !existed:
				if t.Instances > 0 {
					acts = append(acts, action{actScale, id})
				}
			case !configEqual(f.Def, t.Def):
				acts = append(acts, action{actRestart, id})
			case f.Instances != t.Instances:
				acts = append(acts, action{actScale, id})
			}
		}
		if len(acts) > 0 {
			steps = append(steps, step{acts})
		}
	}
	return steps, nil
}

// dependencyLayers orders the apps of to into layers: layer 0 has the apps
// with no dependency inside to, layer n the apps whose dependencies are all in
// earlier layers. A dependency names an app or a group (all apps under it).
func dependencyLayers(to map[string]planApp) ([][]string, error) {
	deps := map[string][]string{}
	ids := slices.Sorted(maps.Keys(to))
	for _, id := range ids {
		for _, d := range to[id].Dependencies {
			for _, other := range ids {
				if other != id && isUnder(other, d) {
					deps[id] = append(deps[id], other)
				}
			}
		}
	}
	layerOf := map[string]int{}
	var visit func(id string, stack map[string]bool) (int, error)
	visit = func(id string, stack map[string]bool) (int, error) {
		if l, ok := layerOf[id]; ok {
			return l, nil
		}
		if stack[id] {
			return 0, fmt.Errorf("Dependency graph has cyclic dependencies: %s", id)
		}
		stack[id] = true
		l := 0
		for _, d := range deps[id] {
			dl, err := visit(d, stack)
			if err != nil {
				return 0, err
			}
			if dl+1 > l {
				l = dl + 1
			}
		}
		delete(stack, id)
		layerOf[id] = l
		return l, nil
	}
	var layers [][]string
	for _, id := range ids {
		l, err := visit(id, map[string]bool{})
		if err != nil {
			return nil, err
		}
		for len(layers) <= l {
			layers = append(layers, nil)
		}
		layers[l] = append(layers[l], id)
	}
	return layers, nil
}

// affectedApps lists the apps a plan touches, sorted.
func affectedApps(steps []step) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range steps {
		for _, a := range s.Actions {
			if !seen[a.App] {
				seen[a.App] = true
				out = append(out, a.App)
			}
		}
	}
	sort.Strings(out)
	return out
}

// describeSteps renders steps for logs ("StartApplication /a; ScaleApplication /a").
func describeSteps(steps []step) string {
	var parts []string
	for _, s := range steps {
		var acts []string
		for _, a := range s.Actions {
			acts = append(acts, a.Action+" "+a.App)
		}
		parts = append(parts, strings.Join(acts, ", "))
	}
	return strings.Join(parts, "; ")
}
