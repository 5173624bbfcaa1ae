package appspec

import (
	"time"

	"github.com/switchyard/switchyard/marathon"
)

// Type says which platform runs an app.
type Type string

// Platforms.
const (
	// TypeMarathon deploys the Marathon definition to Marathon.
	TypeMarathon Type = "marathon"
	// TypeHelm installs or upgrades a Helm release on Kubernetes (a chart,
	// or the Marathon definition converted into one).
	TypeHelm Type = "helm"
)

// FileName is the name LoadDir looks for.
const FileName = "app.yaml"

// Spec is one parsed app.yaml.
type Spec struct {
	// Name identifies the app (a DNS label: it is also the Helm release and
	// the route name unless they are given).
	Name string `json:"name"`
	// Owner is the team that owns the app.
	Owner string `json:"owner,omitempty"`
	// Priority orders migrations (higher first); 0 when not given.
	Priority int `json:"priority,omitempty"`
	// Type is the platform that runs the app.
	Type Type `json:"type"`
	// Marathon is the Marathon definition (required for type marathon; for
	// type helm without a chart it is converted into one).
	Marathon *MarathonSource `json:"marathon,omitempty"`
	// Helm is the chart and release (type helm).
	Helm *HelmSource `json:"helm,omitempty"`
	// Route is where the app answers at the shared load balancer.
	Route *Route `json:"route,omitempty"`
	// Resources are the Kubernetes requests and limits of the app's containers.
	Resources *Resources `json:"resources,omitempty"`
	// DependsOn names apps that must be deployed first.
	DependsOn []string `json:"dependsOn,omitempty"`
	// Migration holds the gates of a Marathon → Kubernetes migration.
	Migration *Migration `json:"migration,omitempty"`

	// File is the app.yaml the spec was read from ("" when parsed from bytes
	// without a name); Dir is its directory, against which relative paths
	// are resolved.
	File string `json:"-"`
	Dir  string `json:"-"`
}

// MarathonSource is a Marathon app definition, inline or in a JSON file.
type MarathonSource struct {
	// Path is the JSON file, relative to the app.yaml ("" when inline).
	Path string `json:"path,omitempty"`
	// JSON is the definition as JSON (the inline mapping, or the file's content).
	JSON []byte `json:"-"`
	// App is the decoded definition (set by Load, and by Parse when inline).
	App *marathon.App `json:"-"`
}

// HelmSource is the chart a type helm app installs.
type HelmSource struct {
	// Path is a local chart directory or .tgz, relative to the app.yaml.
	Path string `json:"path,omitempty"`
	// Repository, Chart and Version name a chart in a chart repository
	// (https://... or oci://...).
	Repository string `json:"repository,omitempty"`
	Chart      string `json:"chart,omitempty"`
	Version    string `json:"version,omitempty"`
	// Values are inline values, merged over ValuesFiles (files relative to
	// the app.yaml, later files win).
	Values      map[string]any `json:"values,omitempty"`
	ValuesFiles []string       `json:"valuesFiles,omitempty"`
	// Release is the release name (default: Name); Namespace its namespace
	// (default: the kubeconfig's or the command line's).
	Release   string `json:"release,omitempty"`
	Namespace string `json:"namespace,omitempty"`
}

// HasChart reports whether a chart is named (otherwise the Marathon
// definition is converted into one).
func (h *HelmSource) HasChart() bool { return h != nil && (h.Path != "" || h.Chart != "") }

// Route is the app's public route at the shared load balancer.
type Route struct {
	// Host is the public host name ("" matches any host).
	Host string `json:"host,omitempty"`
	// Path is the public path prefix (default "/<name>").
	Path string `json:"path,omitempty"`
	// Port selects the backend port: a port name, or a number (a container
	// port on Kubernetes; a port index is not a port). "" is the first port.
	Port string `json:"port,omitempty"`
}

// Resources are Kubernetes requests and limits (cpu, memory,
// ephemeral-storage), as Kubernetes quantities ("100m", "64Mi").
type Resources struct {
	Requests map[string]string `json:"requests,omitempty"`
	Limits   map[string]string `json:"limits,omitempty"`
}

// Migration holds the gates a migration step must pass before traffic moves on.
type Migration struct {
	// MaxErrorRate is the highest tolerated fraction of 5xx answers (0..1).
	MaxErrorRate *float64 `json:"maxErrorRate,omitempty"`
	// MaxP99Latency is the highest tolerated 99th percentile latency.
	MaxP99Latency time.Duration `json:"maxP99Latency,omitempty"`
	// Steps are the percentages of traffic sent to Kubernetes, increasing,
	// ending at 100 (default 5, 25, 50, 100).
	Steps []int `json:"steps,omitempty"`
	// PausePerStep is how long each step is watched before the next.
	PausePerStep time.Duration `json:"pausePerStep,omitempty"`
	// Soak is how long the app runs at 100% before Marathon is scaled down.
	Soak time.Duration `json:"soak,omitempty"`
	// MinRequests is how many requests a step must see before it is judged.
	MinRequests int `json:"minRequests,omitempty"`
	// AutoRollback moves traffic back to Marathon when a gate fails (default true).
	AutoRollback *bool `json:"autoRollback,omitempty"`
}

// DefaultSteps are the migration steps when none are given.
var DefaultSteps = []int{5, 25, 50, 100}

// The migration gates an app gets when its app.yaml leaves them out (the
// planner and the executor both apply these).
const (
	DefaultPausePerStep = 10 * time.Second
	DefaultSoak         = 30 * time.Second
	DefaultMaxErrorRate = 0.01
)

// ReleaseName is the Helm release of the app.
func (s *Spec) ReleaseName() string {
	if s.Helm != nil && s.Helm.Release != "" {
		return s.Helm.Release
	}
	return s.Name
}

// RoutePath is the app's public path prefix.
func (s *Spec) RoutePath() string {
	if s.Route != nil && s.Route.Path != "" {
		return s.Route.Path
	}
	return "/" + s.Name
}

// Label names the app and its file for messages: "web (examples/web/app.yaml)".
func (s *Spec) Label() string {
	if s.File == "" {
		return s.Name
	}
	return s.Name + " (" + s.File + ")"
}
