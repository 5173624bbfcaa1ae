package marathon

import (
	"sort"
	"time"
)

// mode is what the scheduler is doing with an app right now.
type mode int

const (
	// modeSteady keeps the app at its instance count (no deployment): tasks
	// that die are replaced, nothing is killed.
	modeSteady mode = iota
	// modeScale is a ScaleApplication action (also the second half of a new app).
	modeScale
	// modeRestart is a RestartApplication action: a rolling upgrade.
	modeRestart
	// modeStop is a StopApplication action.
	modeStop
	// modeHold is an app affected by a deployment whose turn has not come
	// (or a StartApplication action): nothing is launched or killed.
	modeHold
)

// taskView is what a decision needs to know about one task of the app.
type taskView struct {
	ID       string
	Current  bool // launched with the app's current configuration
	Killing  bool // a kill was requested; not counted as live
	Running  bool // TASK_RUNNING
	Healthy  bool // running and every health check alive (true without checks)
	Ready    bool // readiness checks passed (true without checks)
	StagedAt time.Time
}

// live reports whether the task counts as an instance (staging or running,
// not being killed).
func (t taskView) live() bool { return !t.Killing }

// decision is what to do with an app now.
type decision struct {
	// Launch is how many new tasks (of the current configuration) to start.
	Launch int
	// Kill lists the tasks to kill, in order.
	Kill []string
	// Done reports that the deployment action is complete.
	Done bool
}

// strategy is an app's upgradeStrategy plus its kill selection.
type strategy struct {
	MinHealth     float64
	MaxOver       float64
	KillSelection string
}

// decide is the pure core of the scheduler: given the action the app is
// under, its target instance count, its upgrade strategy and its tasks, it
// says how many tasks to launch, which to kill, and whether the action is done.
//
// Rolling restarts follow Marathon's upgradeStrategy: at least
// ceil(target*minimumHealthCapacity) healthy tasks stay up, at most
// floor(target*(1+maximumOverCapacity)) tasks exist at once (tasks being
// killed included, as they still hold resources); old tasks are
// killed as new ones become healthy and ready. When the strategy leaves no
// room at all (minimumHealthCapacity=1, maximumOverCapacity=0), one old task
// is killed at a time, as Marathon does.
func decide(m mode, target int, st strategy, tasks []taskView) decision {
	var live, killing int
	for _, t := range tasks {
		if t.Killing {
			killing++
		} else {
			live++
		}
	}
	switch m {
	case modeStop:
		var d decision
		for _, t := range tasks {
			if !t.Killing {
				d.Kill = append(d.Kill, t.ID)
			}
		}
		d.Done = len(tasks) == 0
		return d
	case modeHold:
		return decision{Done: true}
	case modeSteady:
		if live < target {
			return decision{Launch: target - live}
		}
		return decision{}
	case modeScale:
		var d decision
		if live < target {
			d.Launch = target - live
		} else if live > target {
			d.Kill = pickVictims(tasks, live-target, st.KillSelection)
		}
		d.Done = live == target && killing == 0 && allUp(tasks)
		return d
	default:
		return decideRestart(target, st, tasks)
	}
}

func allUp(tasks []taskView) bool {
	for _, t := range tasks {
		if !t.Killing && !(t.Running && t.Healthy && t.Ready) {
			return false
		}
	}
	return true
}

func decideRestart(target int, st strategy, tasks []taskView) decision {
	minHealthy := ceilInt(float64(target) * st.MinHealth)
	maxCap := floorInt(float64(target) * (1 + st.MaxOver))
	if maxCap < target {
		maxCap = target
	}
	var old, newLive []taskView
	var killing, oldHealthy, newReady int
	for _, t := range tasks {
		switch {
		case t.Killing:
			killing++
		case t.Current:
			newLive = append(newLive, t)
			if t.Running && t.Healthy && t.Ready {
				newReady++
			}
		default:
			old = append(old, t)
			if t.Running && t.Healthy {
				oldHealthy++
			}
		}
	}
	var d decision
	// New tasks beyond the target (a scale-down during the restart) go first.
	if len(newLive) > target {
		d.Kill = pickVictims(newLive, len(newLive)-target, st.KillSelection)
		victims := map[string]bool{}
		for _, id := range d.Kill {
			victims[id] = true
		}
		kept := newLive[:0:0]
		newReady = 0
		for _, t := range newLive {
			if !victims[t.ID] {
				kept = append(kept, t)
				if t.Running && t.Healthy && t.Ready {
					newReady++
				}
			}
		}
		newLive = kept
		killing += len(victims)
	}
	// Old tasks that do not count as healthy can always go; healthy ones only
	// while enough healthy tasks remain.
	sortForKill(old, st.KillSelection)
	canKill := oldHealthy + newReady - minHealthy
	killedOld := 0
	for _, t := range old {
		if !(t.Running && t.Healthy) {
			d.Kill = append(d.Kill, t.ID)
			killedOld++
		} else if canKill > 0 {
			d.Kill = append(d.Kill, t.ID)
			killedOld++
			canKill--
		}
	}
	// Tasks being killed still hold their resources, so they count against
	// maxCapacity until they are gone.
	total := len(old) + len(newLive) + killing
	d.Launch = min(target-len(newLive), maxCap-total)
	if d.Launch < 0 {
		d.Launch = 0
	}
	remainingOld := len(old) - killedOld
	pendingNew := len(newLive) - newReady
	if d.Launch == 0 && killedOld == 0 && remainingOld > 0 && pendingNew == 0 && killing == 0 && len(newLive) < target {
		// No headroom either way: replace one task at a time.
		d.Kill = append(d.Kill, old[0].ID)
	}
	d.Done = len(old) == 0 && killing == 0 && len(newLive) == target && newReady == target
	return d
}

// pickVictims chooses n tasks to kill: tasks that are not up first, then by
// the app's killSelection (YOUNGEST_FIRST by default).
func pickVictims(tasks []taskView, n int, sel string) []string {
	cand := make([]taskView, 0, len(tasks))
	for _, t := range tasks {
		if !t.Killing {
			cand = append(cand, t)
		}
	}
	sortForKill(cand, sel)
	var out []string
	for i := 0; i < n && i < len(cand); i++ {
		out = append(out, cand[i].ID)
	}
	return out
}

// sortForKill orders tasks by kill preference: not running, then not
// healthy, then by age according to sel.
func sortForKill(ts []taskView, sel string) {
	rank := func(t taskView) int {
		switch {
		case !t.Running:
			return 0
		case !t.Healthy:
			return 1
		default:
			return 2
		}
	}
	sort.SliceStable(ts, func(i, j int) bool {
		ri, rj := rank(ts[i]), rank(ts[j])
		if ri != rj {
			return ri < rj
		}
		if sel == "OLDEST_FIRST" {
			return ts[i].StagedAt.Before(ts[j].StagedAt)
		}
		return ts[i].StagedAt.After(ts[j].StagedAt)
	})
}
