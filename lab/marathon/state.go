package marathon

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/switchyard/switchyard/lab/proc"
)

// maxVersions is how many versions of an app are kept (Marathon's zk_max_versions).
const maxVersions = 50

// appState is one app as the scheduler holds it.
type appState struct {
	ID                 string            `json:"id"`
	Def                appDef            `json:"def"`
	Version            time.Time         `json:"version"`
	LastScalingAt      time.Time         `json:"lastScalingAt"`
	LastConfigChangeAt time.Time         `json:"lastConfigChangeAt"`
	Versions           map[string]appDef `json:"versions"`
	LastTaskFailure    *taskFailure      `json:"lastTaskFailure,omitempty"`
	// Delay is the current launch backoff; DelayUntil when launches resume.
	Delay      time.Duration `json:"delay,omitempty"`
	DelayUntil time.Time     `json:"delayUntil,omitzero"`
	// Deleted marks an app removed from the API that still has tasks to stop.
	Deleted bool `json:"deleted,omitempty"`

	spec  *appSpec
	queue *queueInfo
}

// queueInfo is what /v2/queue shows about an app waiting to launch.
type queueInfo struct {
	Since           time.Time
	Processed       int
	Unused          int
	LastUnusedAt    time.Time
	LastUsedAt      time.Time
	Reasons         map[string]int
	LastOfferReason map[string][]string // agent id -> reasons
	LastError       string              // the last placement error, logged once
}

// taskFailure is an app's lastTaskFailure.
type taskFailure struct {
	AppID     string `json:"appId"`
	Host      string `json:"host"`
	Message   string `json:"message"`
	State     string `json:"state"`
	TaskID    string `json:"taskId"`
	Timestamp string `json:"timestamp"`
	Version   string `json:"version"`
	SlaveID   string `json:"slaveId,omitempty"`
}

// healthState is the running result of one health check of one task.
type healthState struct {
	Alive               bool      `json:"alive"`
	ConsecutiveFailures int       `json:"consecutiveFailures"`
	FirstSuccess        time.Time `json:"firstSuccess,omitzero"`
	LastSuccess         time.Time `json:"lastSuccess,omitzero"`
	LastFailure         time.Time `json:"lastFailure,omitzero"`
	LastFailureCause    string    `json:"lastFailureCause,omitempty"`
	Checked             bool      `json:"checked"`
}

// readyState is the last readiness check result of a task.
type readyState struct {
	Name        string `json:"name"`
	Ready       bool   `json:"ready"`
	Status      int    `json:"status,omitempty"`
	ContentType string `json:"contentType,omitempty"`
	Body        string `json:"body,omitempty"`
	Checked     bool   `json:"checked"`
}

// taskState is one task (a local process) as the scheduler holds it.
type taskState struct {
	ID            string        `json:"id"`
	AppID         string        `json:"appId"`
	Version       string        `json:"version"`       // app version at launch
	ConfigVersion string        `json:"configVersion"` // app lastConfigChangeAt at launch
	AgentID       string        `json:"agentId"`
	Host          string        `json:"host"`
	Ports         []int         `json:"ports"`
	ServicePorts  []int         `json:"servicePorts"`
	State         string        `json:"state"`
	StagedAt      time.Time     `json:"stagedAt"`
	StartedAt     time.Time     `json:"startedAt,omitzero"`
	Proc          proc.ID       `json:"proc"`
	CPUs          float64       `json:"cpus"`
	Mem           float64       `json:"mem"`
	Disk          float64       `json:"disk"`
	GPUs          float64       `json:"gpus"`
	Health        []healthState `json:"health,omitempty"`
	Readiness     []readyState  `json:"readiness,omitempty"`
	KillReason    string        `json:"killReason,omitempty"`
	KillGrace     time.Duration `json:"killGrace,omitempty"`
	Sandbox       string        `json:"sandbox"`
}

// healthy reports whether every health check of the task is alive (true
// when the app has no health checks).
func (t *taskState) healthy(checks int) bool {
	if checks == 0 {
		return true
	}
	if len(t.Health) < checks {
		return false
	}
	for _, h := range t.Health[:checks] {
		if !h.Checked || !h.Alive {
			return false
		}
	}
	return true
}

// ready reports whether every readiness check passed (true without checks).
func (t *taskState) ready(checks int) bool {
	if checks == 0 {
		return true
	}
	if len(t.Readiness) < checks {
		return false
	}
	for _, r := range t.Readiness[:checks] {
		if !r.Ready {
			return false
		}
	}
	return true
}

// deploymentState is one running deployment.
type deploymentState struct {
	ID           string    `json:"id"`
	Version      time.Time `json:"version"`
	Steps        []step    `json:"steps"`
	CurrentStep  int       `json:"currentStep"` // index of the step in progress
	AffectedApps []string  `json:"affectedApps"`
	// Original holds the definitions before the deployment (for rollback);
	// apps created by it are absent, apps removed by it are present.
	Original map[string]appDef `json:"original"`
	// Target holds the definitions the deployment moves to; removed apps are absent.
	Target map[string]appDef `json:"target"`
	// Group is the group the change was made on ("" for app-level changes).
	Group string `json:"group,omitempty"`
}

// groupState is an explicitly created group (groups containing apps exist
// implicitly); it carries the group's dependencies and version.
type groupState struct {
	ID           string    `json:"id"`
	Dependencies []string  `json:"dependencies,omitempty"`
	Version      time.Time `json:"version"`
	Enforce      bool      `json:"enforceRole,omitempty"`
}

// maxGroupVersions is how many snapshots of each group are kept.
const maxGroupVersions = 20

// groupSnapshot is a group at one version: the definitions of every app
// below it, for GET /v2/groups/{id}/versions and rollback by version.
type groupSnapshot struct {
	Version time.Time         `json:"version"`
	Apps    map[string]appDef `json:"apps"`
}

// persisted is the state file's shape.
type persisted struct {
	Apps        []*appState        `json:"apps"`
	Tasks       []*taskState       `json:"tasks"`
	Deployments []*deploymentState `json:"deployments"`
	Groups      []*groupState      `json:"groups"`
	// History holds group snapshots per group id, newest last.
	History     map[string][]groupSnapshot `json:"history,omitempty"`
	LastVersion time.Time                  `json:"lastVersion"`
	Saved       time.Time                  `json:"saved"`
}

// store writes and reads the scheduler state atomically (write to a
// temporary file, fsync, rename) at <labdir>/marathon/state/state.json.
type store struct{ dir string }

func (s store) path() string { return filepath.Join(s.dir, "state.json") }

func (s store) save(p *persisted) error {
	sort.Slice(p.Apps, func(i, j int) bool { return p.Apps[i].ID < p.Apps[j].ID })
	sort.Slice(p.Tasks, func(i, j int) bool { return p.Tasks[i].ID < p.Tasks[j].ID })
	sort.Slice(p.Groups, func(i, j int) bool { return p.Groups[i].ID < p.Groups[j].ID })
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode marathon state: %w", err)
	}
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return fmt.Errorf("marathon state dir: %w", err)
	}
	f, err := os.CreateTemp(s.dir, ".state-*.json")
	if err != nil {
		return fmt.Errorf("write marathon state: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(f.Name())
		return fmt.Errorf("write marathon state: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(f.Name())
		return fmt.Errorf("sync marathon state: %w", err)
	}
	f.Close()
	if err := os.Rename(f.Name(), s.path()); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("replace marathon state: %w", err)
	}
	return nil
}

// load reads the state file; a missing file is an empty state.
func (s store) load() (*persisted, error) {
	b, err := os.ReadFile(s.path())
	if os.IsNotExist(err) {
		return &persisted{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read marathon state: %w", err)
	}
	var p persisted
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("marathon state %s is corrupt (%w): move it away to start with an empty Marathon", s.path(), err)
	}
	return &p, nil
}
