// Package mesos owns the typed model of the Mesos master HTTP API subset that
// operators use to see capacity — /master/state and /master/slaves — and a
// small reader client for it.
//
// Field names and JSON shapes follow Mesos 1.x exactly (the master's
// readonly_handler.cpp and common/http.cpp writers): snake_case keys, times
// as float seconds, the summary resources object ({"cpus":..,"ports":"[a-b]"}),
// reserved resources keyed by role, and the full protobuf form in the
// "*_full" fields of /master/slaves. The lab's Marathon fills these types and
// serves them; the capacity planner reads them with Client.
//
// The package does no I/O except in Client.
package mesos

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// State is the body of GET /master/state. Times are seconds since the epoch.
type State struct {
	// Version is the master's Mesos version, e.g. "1.9.0".
	Version string `json:"version"`
	// GitSHA, GitBranch and GitTag describe the master's build, when known.
	GitSHA    string `json:"git_sha,omitempty"`
	GitBranch string `json:"git_branch,omitempty"`
	GitTag    string `json:"git_tag,omitempty"`
	// BuildDate, BuildTime and BuildUser describe the master's build.
	BuildDate string  `json:"build_date"`
	BuildTime float64 `json:"build_time"`
	BuildUser string  `json:"build_user"`
	// StartTime is when the master started.
	StartTime float64 `json:"start_time"`
	// ElectedTime is when the master was elected leader (absent otherwise).
	ElectedTime float64 `json:"elected_time,omitempty"`
	// ID is the master's id.
	ID string `json:"id"`
	// PID is the master's libprocess pid, "master@127.0.0.1:5050".
	PID string `json:"pid"`
	// Hostname is the master's hostname.
	Hostname string `json:"hostname"`
	// Capabilities are the master's capabilities, e.g. {"type":"AGENT_UPDATE"}.
	Capabilities []MasterCapability `json:"capabilities,omitempty"`
	// ActivatedSlaves, DeactivatedSlaves and UnreachableSlaves count agents.
	ActivatedSlaves   float64 `json:"activated_slaves"`
	DeactivatedSlaves float64 `json:"deactivated_slaves"`
	UnreachableSlaves float64 `json:"unreachable_slaves"`
	// Domain is the master's fault domain, when configured.
	Domain *DomainInfo `json:"domain,omitempty"`
	// Leader is the leading master's pid (deprecated in Mesos for LeaderInfo).
	Leader string `json:"leader,omitempty"`
	// LeaderInfo describes the leading master.
	LeaderInfo *MasterInfo `json:"leader_info,omitempty"`
	// Cluster is the master's --cluster name.
	Cluster string `json:"cluster,omitempty"`
	// LogDir is the master's --log_dir.
	LogDir string `json:"log_dir,omitempty"`
	// ExternalLogFile is the master's --external_log_file.
	ExternalLogFile string `json:"external_log_file,omitempty"`
	// Flags are the master's flags, every value a string.
	Flags map[string]string `json:"flags,omitempty"`
	// Slaves are the registered agents (without the *_full fields).
	Slaves []Slave `json:"slaves"`
	// RecoveredSlaves are agents known from the registry that have not
	// re-registered since the master failed over.
	RecoveredSlaves []SlaveInfo `json:"recovered_slaves"`
	// Frameworks are the registered frameworks with their tasks.
	Frameworks []Framework `json:"frameworks"`
	// CompletedFrameworks are frameworks that were torn down.
	CompletedFrameworks []Framework `json:"completed_frameworks"`
	// OrphanTasks is always empty since Mesos 1.0 (kept for compatibility).
	OrphanTasks []Task `json:"orphan_tasks"`
	// UnregisteredFrameworks is always empty since Mesos 1.0.
	UnregisteredFrameworks []string `json:"unregistered_frameworks"`
}

// Slaves is the body of GET /master/slaves.
type Slaves struct {
	Slaves          []Slave     `json:"slaves"`
	RecoveredSlaves []SlaveInfo `json:"recovered_slaves"`
}

// MasterCapability is one entry of the master's capabilities.
type MasterCapability struct {
	Type string `json:"type"`
}

// MasterInfo is a protobuf MasterInfo as Mesos writes it in leader_info.
type MasterInfo struct {
	ID       string `json:"id"`
	PID      string `json:"pid"`
	Port     int    `json:"port"`
	Hostname string `json:"hostname"`
	// IP is the master's IPv4 address as a number (protobuf uint32).
	IP      uint32          `json:"ip,omitempty"`
	Address json.RawMessage `json:"address,omitempty"`
	Domain  *DomainInfo     `json:"domain,omitempty"`
	Version string          `json:"version,omitempty"`
	// Capabilities are the master's capabilities.
	Capabilities []MasterCapability `json:"capabilities,omitempty"`
}

// DomainInfo is a protobuf DomainInfo (fault domain: region and zone).
type DomainInfo struct {
	FaultDomain *FaultDomain `json:"fault_domain,omitempty"`
}

// FaultDomain names an agent's region and zone.
type FaultDomain struct {
	Region NamedInfo `json:"region"`
	Zone   NamedInfo `json:"zone"`
}

// NamedInfo is a {"name": "..."} object (region, zone).
type NamedInfo struct {
	Name string `json:"name"`
}

// SlaveInfo is the agent identity part Mesos writes for every agent
// (and alone for recovered agents).
type SlaveInfo struct {
	ID         string      `json:"id"`
	Hostname   string      `json:"hostname"`
	Port       int         `json:"port"`
	Attributes Attributes  `json:"attributes"`
	Domain     *DomainInfo `json:"domain,omitempty"`
}

// Slave is one registered agent in /master/state and /master/slaves.
type Slave struct {
	SlaveInfo
	// PID is the agent's libprocess pid, "slave(1)@127.0.1.1:5051".
	PID string `json:"pid"`
	// RegisteredTime is when the agent registered, seconds since the epoch.
	RegisteredTime float64 `json:"registered_time"`
	// ReregisteredTime is set when the agent re-registered.
	ReregisteredTime float64 `json:"reregistered_time,omitempty"`
	// Resources is the agent's total.
	Resources Resources `json:"resources"`
	// UsedResources is what tasks and executors use (all frameworks).
	UsedResources Resources `json:"used_resources"`
	// OfferedResources is what is currently offered to frameworks.
	OfferedResources Resources `json:"offered_resources"`
	// ReservedResources is the agent's total reserved per role.
	ReservedResources map[string]Resources `json:"reserved_resources"`
	// UnreservedResources is the agent's total not reserved for any role.
	UnreservedResources Resources `json:"unreserved_resources"`
	Active              bool      `json:"active"`
	// Version is the agent's Mesos version.
	Version string `json:"version"`
	// Capabilities are agent capability names, e.g. "MULTI_ROLE".
	Capabilities []string `json:"capabilities"`

	// The full protobuf forms, only in /master/slaves.

	ReservedResourcesFull   map[string][]Resource `json:"reserved_resources_full,omitempty"`
	UnreservedResourcesFull []Resource            `json:"unreserved_resources_full,omitempty"`
	UsedResourcesFull       []Resource            `json:"used_resources_full,omitempty"`
	OfferedResourcesFull    []Resource            `json:"offered_resources_full,omitempty"`
}

// Framework is one framework (e.g. Marathon) in /master/state.
type Framework struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// PID is omitted for HTTP frameworks.
	PID              string    `json:"pid,omitempty"`
	UsedResources    Resources `json:"used_resources"`
	OfferedResources Resources `json:"offered_resources"`
	// Capabilities are capability names, e.g. "PARTITION_AWARE".
	Capabilities     []string  `json:"capabilities"`
	Hostname         string    `json:"hostname"`
	WebuiURL         string    `json:"webui_url"`
	Active           bool      `json:"active"`
	Connected        bool      `json:"connected"`
	Recovered        bool      `json:"recovered"`
	User             string    `json:"user"`
	FailoverTimeout  float64   `json:"failover_timeout"`
	Checkpoint       bool      `json:"checkpoint"`
	RegisteredTime   float64   `json:"registered_time"`
	UnregisteredTime float64   `json:"unregistered_time"`
	Principal        string    `json:"principal,omitempty"`
	Resources        Resources `json:"resources"`
	// ReregisteredTime is set when it differs from RegisteredTime.
	ReregisteredTime float64 `json:"reregistered_time,omitempty"`
	// Role is set for single-role frameworks, Roles for MULTI_ROLE ones.
	Role             string          `json:"role,omitempty"`
	Roles            []string        `json:"roles,omitempty"`
	Tasks            []Task          `json:"tasks"`
	UnreachableTasks []Task          `json:"unreachable_tasks"`
	CompletedTasks   []Task          `json:"completed_tasks"`
	Offers           []Offer         `json:"offers"`
	Executors        json.RawMessage `json:"executors"`
	Labels           []Label         `json:"labels,omitempty"`
}

// Offer is an outstanding offer in a framework's "offers".
type Offer struct {
	ID             string          `json:"id"`
	FrameworkID    string          `json:"framework_id"`
	AllocationInfo *AllocationInfo `json:"allocation_info,omitempty"`
	SlaveID        string          `json:"slave_id"`
	Resources      Resources       `json:"resources"`
}

// TaskState is a Mesos task state name such as TASK_RUNNING.
type TaskState string

// Mesos task states (mesos.proto TaskState).
const (
	TaskStaging        TaskState = "TASK_STAGING"
	TaskStarting       TaskState = "TASK_STARTING"
	TaskRunning        TaskState = "TASK_RUNNING"
	TaskKilling        TaskState = "TASK_KILLING"
	TaskFinished       TaskState = "TASK_FINISHED"
	TaskFailed         TaskState = "TASK_FAILED"
	TaskKilled         TaskState = "TASK_KILLED"
	TaskError          TaskState = "TASK_ERROR"
	TaskLost           TaskState = "TASK_LOST"
	TaskDropped        TaskState = "TASK_DROPPED"
	TaskUnreachable    TaskState = "TASK_UNREACHABLE"
	TaskGone           TaskState = "TASK_GONE"
	TaskGoneByOperator TaskState = "TASK_GONE_BY_OPERATOR"
	TaskUnknown        TaskState = "TASK_UNKNOWN"
)

// Terminal reports whether the state is final (the task holds no resources).
func (s TaskState) Terminal() bool {
	switch s {
	case TaskFinished, TaskFailed, TaskKilled, TaskError, TaskLost, TaskDropped, TaskGone, TaskGoneByOperator:
		return true
	}
	return false
}

// Task is one task of a framework.
type Task struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	FrameworkID string    `json:"framework_id"`
	ExecutorID  string    `json:"executor_id"`
	SlaveID     string    `json:"slave_id"`
	State       TaskState `json:"state"`
	// Resources are the task's resources in summary form; ports as "[31000-31000]".
	Resources Resources `json:"resources"`
	// Role is the role the task's resources are allocated to (Mesos ≥ 1.3).
	Role      string          `json:"role,omitempty"`
	Statuses  []TaskStatus    `json:"statuses"`
	User      string          `json:"user,omitempty"`
	Labels    []Label         `json:"labels,omitempty"`
	Discovery *DiscoveryInfo  `json:"discovery,omitempty"`
	Container json.RawMessage `json:"container,omitempty"`
}

// TaskStatus is one status update of a task.
type TaskStatus struct {
	State TaskState `json:"state"`
	// Timestamp is seconds since the epoch.
	Timestamp       float64          `json:"timestamp"`
	Labels          []Label          `json:"labels,omitempty"`
	ContainerStatus *ContainerStatus `json:"container_status,omitempty"`
	// Healthy is set when the task has a (Mesos) health check.
	Healthy *bool `json:"healthy,omitempty"`
}

// ContainerStatus carries a task's container id and network addresses.
type ContainerStatus struct {
	ContainerID  *ContainerID    `json:"container_id,omitempty"`
	NetworkInfos []NetworkInfo   `json:"network_infos,omitempty"`
	CgroupInfo   json.RawMessage `json:"cgroup_info,omitempty"`
}

// ContainerID is a protobuf ContainerID (with an optional parent).
type ContainerID struct {
	Value  string       `json:"value"`
	Parent *ContainerID `json:"parent,omitempty"`
}

// NetworkInfo is a container network and its addresses.
type NetworkInfo struct {
	Groups       []string        `json:"groups,omitempty"`
	Labels       *Labels         `json:"labels,omitempty"`
	IPAddresses  []IPAddress     `json:"ip_addresses,omitempty"`
	Name         string          `json:"name,omitempty"`
	PortMappings json.RawMessage `json:"port_mappings,omitempty"`
}

// IPAddress is one address of a NetworkInfo.
type IPAddress struct {
	Protocol  string `json:"protocol,omitempty"`
	IPAddress string `json:"ip_address,omitempty"`
}

// DiscoveryInfo is a protobuf DiscoveryInfo (Marathon fills name and ports).
type DiscoveryInfo struct {
	Visibility  string          `json:"visibility"`
	Name        string          `json:"name,omitempty"`
	Environment string          `json:"environment,omitempty"`
	Location    string          `json:"location,omitempty"`
	Version     string          `json:"version,omitempty"`
	Ports       *DiscoveryPorts `json:"ports,omitempty"`
	Labels      *Labels         `json:"labels,omitempty"`
}

// DiscoveryPorts is a protobuf Ports message.
type DiscoveryPorts struct {
	Ports []DiscoveryPort `json:"ports"`
}

// DiscoveryPort is a protobuf Port message.
type DiscoveryPort struct {
	Number     int     `json:"number"`
	Name       string  `json:"name,omitempty"`
	Protocol   string  `json:"protocol,omitempty"`
	Visibility string  `json:"visibility,omitempty"`
	Labels     *Labels `json:"labels,omitempty"`
}

// Attributes are an agent's attributes by name. Mesos writes TEXT, RANGES and
// SET attributes as strings and SCALAR ones as numbers.
type Attributes map[string]AttributeValue

// AttributeValue is one attribute value: text, or a scalar number.
type AttributeValue struct {
	// Text is the value of a TEXT (or RANGES/SET, already formatted) attribute.
	Text string
	// Scalar is the value of a SCALAR attribute (when IsScalar).
	Scalar float64
	// IsScalar marks a SCALAR attribute, written as a JSON number.
	IsScalar bool
}

// Text makes a TEXT attribute value.
func Text(s string) AttributeValue { return AttributeValue{Text: s} }

// Scalar makes a SCALAR attribute value.
func Scalar(f float64) AttributeValue { return AttributeValue{Scalar: f, IsScalar: true} }

// String is the value as constraints match it (scalars in shortest form).
func (a AttributeValue) String() string {
	if a.IsScalar {
		return strconv.FormatFloat(a.Scalar, 'f', -1, 64)
	}
	return a.Text
}

// MarshalJSON writes a number for scalars, a string otherwise.
func (a AttributeValue) MarshalJSON() ([]byte, error) {
	if a.IsScalar {
		return json.Marshal(a.Scalar)
	}
	return json.Marshal(a.Text)
}

// UnmarshalJSON reads a string or a number.
func (a *AttributeValue) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err == nil {
		*a = Text(s)
		return nil
	}
	var f float64
	if err := json.Unmarshal(data, &f); err != nil {
		return fmt.Errorf("attribute: want a string or a number, got %s", truncate(data))
	}
	*a = Scalar(f)
	return nil
}

// Strings returns the attributes as plain strings (for constraint matching).
func (as Attributes) Strings() map[string]string {
	out := make(map[string]string, len(as))
	for k, v := range as {
		out[k] = v.String()
	}
	return out
}

// SlaveByID returns the registered agent with the given id.
func (s State) SlaveByID(id string) (Slave, bool) {
	for _, sl := range s.Slaves {
		if sl.ID == id {
			return sl, true
		}
	}
	return Slave{}, false
}

// TasksOn returns the non-terminal tasks of all frameworks on the agent.
func (s State) TasksOn(slaveID string) []Task {
	var out []Task
	for _, f := range s.Frameworks {
		for _, t := range f.Tasks {
			if t.SlaveID == slaveID && !t.State.Terminal() {
				out = append(out, t)
			}
		}
	}
	return out
}
