package marathon

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
)

// This file holds the shapes of Marathon's API answers (tasks, deployments,
// info, queue) as documented in Marathon's RAML (docs/docs/rest-api/public/api/v2/types).
// Timestamps and versions stay strings: Marathon versions are identifiers
// (GET /v2/apps/{id}/versions/{version}) and must round-trip byte for byte.

// Mesos task states (Task.State, StatusUpdateEvent.TaskStatus).
const (
	TaskStaging     = "TASK_STAGING"
	TaskStarting    = "TASK_STARTING"
	TaskRunning     = "TASK_RUNNING"
	TaskKilling     = "TASK_KILLING"
	TaskFinished    = "TASK_FINISHED"
	TaskFailed      = "TASK_FAILED"
	TaskKilled      = "TASK_KILLED"
	TaskLost        = "TASK_LOST"
	TaskError       = "TASK_ERROR"
	TaskUnreachable = "TASK_UNREACHABLE"
	TaskGone        = "TASK_GONE"
	TaskDropped     = "TASK_DROPPED"
	TaskUnknown     = "TASK_UNKNOWN"
)

// Task is one running (or staging) task of an app, as /v2/tasks and
// /v2/apps/{id}/tasks list them.
type Task struct {
	ID                 string              `json:"id"`
	AppID              string              `json:"appId"`
	Host               string              `json:"host"`
	Ports              []int               `json:"ports,omitempty"`
	ServicePorts       []int               `json:"servicePorts,omitempty"`
	SlaveID            string              `json:"slaveId,omitempty"`
	State              string              `json:"state,omitempty"`
	StagedAt           string              `json:"stagedAt,omitempty"`
	StartedAt          string              `json:"startedAt,omitempty"`
	Version            string              `json:"version,omitempty"`
	IPAddresses        []TaskIPAddress     `json:"ipAddresses,omitempty"`
	HealthCheckResults []HealthCheckResult `json:"healthCheckResults,omitempty"`
	CheckResult        json.RawMessage     `json:"checkResult,omitempty"`
	LocalVolumes       json.RawMessage     `json:"localVolumes,omitempty"`
	Region             string              `json:"region,omitempty"`
	Zone               string              `json:"zone,omitempty"`
	Role               string              `json:"role,omitempty"`
}

// Healthy reports whether the task has health check results and all of them are alive.
func (t Task) Healthy() bool {
	if len(t.HealthCheckResults) == 0 {
		return false
	}
	for _, h := range t.HealthCheckResults {
		if !h.Alive {
			return false
		}
	}
	return true
}

// TaskIPAddress is an IP address of a task (Marathon's task.IpAddr).
type TaskIPAddress struct {
	IPAddress string `json:"ipAddress"`
	Protocol  string `json:"protocol,omitempty"`
}

// HealthCheckResult is the state of one health check of one task (Marathon's health.Health).
type HealthCheckResult struct {
	Alive               bool   `json:"alive"`
	ConsecutiveFailures int    `json:"consecutiveFailures"`
	FirstSuccess        string `json:"firstSuccess,omitempty"`
	LastSuccess         string `json:"lastSuccess,omitempty"`
	LastFailure         string `json:"lastFailure,omitempty"`
	LastFailureCause    string `json:"lastFailureCause,omitempty"`
	InstanceID          string `json:"instanceId,omitempty"`
	TaskID              string `json:"taskId,omitempty"`
}

// taskList is the wire shape of a task list ({"tasks": [...]}).
type taskList struct {
	Tasks []Task `json:"tasks"`
}

// KillResult is the answer to a task kill: the killed tasks, or (with
// scale=true) the deployment that scales the app down.
type KillResult struct {
	Tasks      []Task            `json:"tasks,omitempty"`
	Deployment *DeploymentResult `json:"deployment,omitempty"`
}

// DeploymentResult is the answer to a change: the deployment that carries it
// out and the new version.
type DeploymentResult struct {
	DeploymentID string `json:"deploymentId"`
	Version      string `json:"version"`
}

// Deployment actions (DeploymentAction.Action).
const (
	ActionStartApplication   = "StartApplication"
	ActionStopApplication    = "StopApplication"
	ActionScaleApplication   = "ScaleApplication"
	ActionRestartApplication = "RestartApplication"
	ActionResolveArtifacts   = "ResolveArtifacts"
	ActionStartPod           = "StartPod"
	ActionStopPod            = "StopPod"
	ActionScalePod           = "ScalePod"
	ActionRestartPod         = "RestartPod"
)

// Deployment is a running deployment as /v2/deployments lists it.
type Deployment struct {
	ID             string             `json:"id"`
	Version        string             `json:"version"`
	AffectedApps   []string           `json:"affectedApps"`
	AffectedPods   []string           `json:"affectedPods,omitempty"`
	Steps          []DeploymentStep   `json:"steps"`
	CurrentActions []DeploymentAction `json:"currentActions"`
	CurrentStep    int                `json:"currentStep"`
	TotalSteps     int                `json:"totalSteps"`
}

// Affects reports whether the deployment touches the app or pod with this id.
func (d Deployment) Affects(id string) bool {
	id = normalizeID(id)
	for _, a := range d.AffectedApps {
		if normalizeID(a) == id {
			return true
		}
	}
	for _, p := range d.AffectedPods {
		if normalizeID(p) == id {
			return true
		}
	}
	return false
}

// DeploymentPlan is the plan carried by deployment events.
type DeploymentPlan struct {
	ID      string           `json:"id"`
	Version string           `json:"version"`
	Steps   []DeploymentStep `json:"steps"`
}

// DeploymentStep is one step of a deployment: actions run in parallel.
type DeploymentStep struct {
	Actions []DeploymentAction `json:"actions"`
}

// UnmarshalJSON accepts the documented {"actions": [...]} and the older
// shapes Marathon versions have sent: a bare array of actions, or one action.
func (s *DeploymentStep) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) > 0 && b[0] == '[':
		return json.Unmarshal(b, &s.Actions)
	case len(b) > 0 && b[0] == '{':
		var probe map[string]json.RawMessage
		if err := json.Unmarshal(b, &probe); err != nil {
			return err
		}
		if raw, ok := probe["actions"]; ok {
			return json.Unmarshal(raw, &s.Actions)
		}
		var a DeploymentAction
		if err := json.Unmarshal(b, &a); err != nil {
			return err
		}
		s.Actions = []DeploymentAction{a}
		return nil
	case string(b) == "null":
		return nil
	}
	return fmt.Errorf("deployment step: want an object or an array, got %.20s", b)
}

// DeploymentAction is one action of a deployment step, with readiness check
// results for the current step.
type DeploymentAction struct {
	Action                string                 `json:"action"`
	App                   string                 `json:"app,omitempty"`
	Pod                   string                 `json:"pod,omitempty"`
	ReadinessCheckResults []ReadinessCheckResult `json:"readinessCheckResults,omitempty"`
}

// UnmarshalJSON also accepts "type" for "action" (as some Marathon events spell it).
func (a *DeploymentAction) UnmarshalJSON(b []byte) error {
	type plain DeploymentAction
	var v struct {
		plain
		Type string `json:"type"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*a = DeploymentAction(v.plain)
	if a.Action == "" {
		a.Action = v.Type
	}
	return nil
}

// Info is Marathon's /v2/info answer.
type Info struct {
	Name            string           `json:"name"`
	Version         string           `json:"version"`
	Buildref        string           `json:"buildref,omitempty"`
	Elected         bool             `json:"elected"`
	Leader          string           `json:"leader,omitempty"`
	FrameworkID     string           `json:"frameworkId,omitempty"`
	MarathonConfig  MarathonConfig   `json:"marathon_config"`
	ZooKeeperConfig *ZooKeeperConfig `json:"zookeeper_config,omitempty"`
	HTTPConfig      *HTTPConfig      `json:"http_config,omitempty"`
}

// MarathonConfig is the part of Marathon's command-line configuration /v2/info reports.
type MarathonConfig struct {
	Master            string   `json:"master,omitempty"`
	Hostname          string   `json:"hostname,omitempty"`
	FrameworkName     string   `json:"framework_name,omitempty"`
	Features          []string `json:"features"`
	HA                bool     `json:"ha,omitempty"`
	Checkpoint        bool     `json:"checkpoint,omitempty"`
	MesosRole         string   `json:"mesos_role,omitempty"`
	MesosUser         string   `json:"mesos_user,omitempty"`
	MesosLeaderUIURL  string   `json:"mesos_leader_ui_url,omitempty"`
	WebUIURL          string   `json:"webui_url,omitempty"`
	LocalPortMin      int      `json:"local_port_min,omitempty"`
	LocalPortMax      int      `json:"local_port_max,omitempty"`
	TaskLaunchTimeout int64    `json:"task_launch_timeout,omitempty"`
	DefaultNetwork    string   `json:"default_network_name,omitempty"`
	EnvVarsPrefix     string   `json:"env_vars_prefix,omitempty"`
	FailoverTimeout   int64    `json:"failover_timeout,omitempty"`
	Executor          string   `json:"executor,omitempty"`
}

// ZooKeeperConfig is the ZooKeeper part of /v2/info.
type ZooKeeperConfig struct {
	ZK                  string `json:"zk"`
	ZKTimeout           int64  `json:"zk_timeout,omitempty"`
	ZKSessionTimeout    int64  `json:"zk_session_timeout,omitempty"`
	ZKConnectionTimeout int64  `json:"zk_connection_timeout,omitempty"`
	ZKMaxVersions       int    `json:"zk_max_versions,omitempty"`
}

// HTTPConfig is the HTTP part of /v2/info.
type HTTPConfig struct {
	HTTPPort  int `json:"http_port"`
	HTTPSPort int `json:"https_port"`
}

// QueueItem is one app (or pod) waiting in /v2/queue for instances to launch,
// with the reasons offers were declined.
type QueueItem struct {
	// App is the queued app definition (nil for a pod).
	App *App `json:"app,omitempty"`
	// Pod is the queued pod definition (nil for an app).
	Pod *Pod `json:"pod,omitempty"`
	// Count is the number of instances left to launch.
	Count                  int                     `json:"count"`
	Role                   string                  `json:"role,omitempty"`
	Delay                  QueueDelay              `json:"delay"`
	Since                  string                  `json:"since,omitempty"`
	ProcessedOffersSummary *ProcessedOffersSummary `json:"processedOffersSummary,omitempty"`
	LastUnusedOffers       []UnusedOffer           `json:"lastUnusedOffers,omitempty"`
}

// queueList is the wire shape of /v2/queue.
type queueList struct {
	Queue []QueueItem `json:"queue"`
}

// QueueDelay is the launch backoff of a queued app.
type QueueDelay struct {
	TimeLeftSeconds int64 `json:"timeLeftSeconds"`
	Overdue         bool  `json:"overdue"`
}

// ProcessedOffersSummary counts the offers processed for a queued app and why they were declined.
type ProcessedOffersSummary struct {
	ProcessedOffersCount       int                 `json:"processedOffersCount"`
	UnusedOffersCount          int                 `json:"unusedOffersCount"`
	LastUnusedOfferAt          string              `json:"lastUnusedOfferAt,omitempty"`
	LastUsedOfferAt            string              `json:"lastUsedOfferAt,omitempty"`
	RejectSummaryLastOffers    []DeclinedOfferStep `json:"rejectSummaryLastOffers,omitempty"`
	RejectSummaryLaunchAttempt []DeclinedOfferStep `json:"rejectSummaryLaunchAttempt,omitempty"`
}

// DeclinedOfferStep counts the offers declined for one reason (e.g. InsufficientCpus).
type DeclinedOfferStep struct {
	Reason    string `json:"reason"`
	Declined  int    `json:"declined"`
	Processed int    `json:"processed"`
}

// UnusedOffer is an offer that could not be used and why.
type UnusedOffer struct {
	Offer     Offer    `json:"offer"`
	Reason    []string `json:"reason"`
	Timestamp string   `json:"timestamp,omitempty"`
}

// Offer is a Mesos resource offer as Marathon reports it.
type Offer struct {
	ID         string           `json:"id"`
	Hostname   string           `json:"hostname"`
	AgentID    string           `json:"agentId"`
	Resources  []OfferResource  `json:"resources,omitempty"`
	Attributes []AgentAttribute `json:"attributes,omitempty"`
}

// OfferResource is one resource of an offer.
type OfferResource struct {
	Name   string        `json:"name"`
	Role   string        `json:"role,omitempty"`
	Scalar *float64      `json:"scalar,omitempty"`
	Ranges []NumberRange `json:"ranges,omitempty"`
	Set    []string      `json:"set,omitempty"`
}

// AgentAttribute is one attribute of the agent that made an offer.
type AgentAttribute struct {
	Name   string        `json:"name"`
	Text   string        `json:"text,omitempty"`
	Scalar *float64      `json:"scalar,omitempty"`
	Ranges []NumberRange `json:"ranges,omitempty"`
	Set    []string      `json:"set,omitempty"`
}

// NumberRange is an inclusive range (e.g. of ports).
type NumberRange struct {
	Begin int64 `json:"begin"`
	End   int64 `json:"end"`
}

// DeclineReasons returns the reasons offers were declined for this item, most
// frequent first, from the launch-attempt summary (falling back to the last
// offers summary and the unused offers), skipping reasons with no declines.
func (q QueueItem) DeclineReasons() []string {
	var out []string
	seen := map[string]bool{}
	add := func(r string) {
		if r != "" && !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	if s := q.ProcessedOffersSummary; s != nil {
		for _, list := range [][]DeclinedOfferStep{s.RejectSummaryLaunchAttempt, s.RejectSummaryLastOffers} {
			sorted := slices.Clone(list)
			slices.SortStableFunc(sorted, func(a, b DeclinedOfferStep) int { return b.Declined - a.Declined })
			for _, d := range sorted {
				if d.Declined > 0 {
					add(d.Reason)
				}
			}
		}
	}
	for _, u := range q.LastUnusedOffers {
		for _, r := range u.Reason {
			add(r)
		}
	}
	return out
}

// versionList is the wire shape of /v2/apps/{id}/versions.
type versionList struct {
	Versions []string `json:"versions"`
}

// normalizeID returns a Marathon path id in its absolute form ("/a/b").
func normalizeID(id string) string {
	return "/" + trimSlashes(id)
}

func trimSlashes(s string) string {
	for len(s) > 0 && s[0] == '/' {
		s = s[1:]
	}
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}
