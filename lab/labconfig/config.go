// Package labconfig owns the lab configuration file (lab.yaml): which loopback
// nodes exist and what they hold, where each lab component listens, and how
// container images map to local programs. Every lab component reads the same
// Config; nothing here starts processes or touches the network.
package labconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

// MarkerEnv is the environment variable set on every process the lab starts
// (components, Marathon tasks, pod containers) with the lab's ID as value.
// `lab down` finds leftovers by this marker and stops only those processes.
const MarkerEnv = "SWITCHYARD_LAB_ID"

// Config is the whole lab configuration.
type Config struct {
	// ID names this lab; it is the value of MarkerEnv on its processes and
	// prefixes host-level objects (network namespaces, bridges).
	ID string `json:"id"`
	// Dir is the lab's state directory (logs, pid files, persisted state, PKI).
	// Relative paths are resolved against the config file's directory.
	Dir string `json:"dir"`
	// Nodes are the shared machines: each hosts Marathon tasks and Kubernetes pods.
	Nodes []Node `json:"nodes"`
	// Marathon is the lab's Marathon API endpoint and its authentication.
	Marathon Marathon `json:"marathon"`
	// Mesos is the lab's Mesos master view (/master/state, /master/slaves).
	Mesos Endpoint `json:"mesos"`
	// Kubernetes configures the lab's control plane and node agents.
	Kubernetes Kubernetes `json:"kubernetes"`
	// Nginx configures the shared load balancer.
	Nginx Nginx `json:"nginx"`
	// TaskUser is the account Marathon tasks and pod containers run as when
	// the lab runs as root (default DefaultTaskUser, which scripts/deps.sh
	// creates); a Marathon app's "user" field picks another non-root
	// account. A lab started by another user runs them as that user.
	TaskUser string `json:"taskUser,omitempty"`
}

// DefaultTaskUser is the unprivileged account scripts/deps.sh creates for
// the lab's workloads.
const DefaultTaskUser = "switchyard-lab"

// TaskUserName is TaskUser or its default.
func (c Config) TaskUserName() string {
	if c.TaskUser != "" {
		return c.TaskUser
	}
	return DefaultTaskUser
}

// Endpoint is a listen address for one lab component.
type Endpoint struct {
	// Listen is host:port on loopback, e.g. 127.0.0.1:8080.
	Listen string `json:"listen"`
}

// URL returns the endpoint as an http:// URL.
func (e Endpoint) URL() string { return "http://" + e.Listen }

// Marathon is the lab Marathon's endpoint (listen) and API authentication.
type Marathon struct {
	Endpoint
	// Auth is MarathonAuthToken to make the lab Marathon require a token
	// (DC/OS style, "Authorization: token=<t>", or "Bearer <t>") on every
	// request but GET /ping; the token is generated into <dir>/marathon/token.
	// Empty or MarathonAuthNone requires none: the meaning of a lab.yaml
	// without the key (labs made before token became the default for new
	// labs keep working) and of Default; NewLab, what `lab up` writes for a
	// new lab, sets MarathonAuthToken.
	Auth string `json:"auth,omitempty"`
	// RootApps are the app id prefixes whose "user": "root" the lab honours
	// when it runs as root (default DefaultRootApps: the kubelet wrappers,
	// which start node agents that need root); every other app's tasks run
	// as the lab's taskUser.
	RootApps []string `json:"rootApps,omitempty"`
}

// DefaultRootApps are the kubelet wrapper apps (capacity's default prefix).
var DefaultRootApps = []string{"/switchyard/kubelet-"}

// RootAllowed reports whether the app id may run its tasks as root.
func (m Marathon) RootAllowed(appID string) bool {
	prefixes := m.RootApps
	if prefixes == nil {
		prefixes = DefaultRootApps
	}
	for _, p := range prefixes {
		if p != "" && strings.HasPrefix(appID, p) {
			return true
		}
	}
	return false
}

// Lab Marathon authentication modes (Marathon.Auth).
const (
	MarathonAuthNone  = "none"
	MarathonAuthToken = "token"
)

// MarathonAuthEnabled reports whether the lab Marathon requires a token.
func (c Config) MarathonAuthEnabled() bool { return c.Marathon.Auth == MarathonAuthToken }

// MarathonTokenPath is the file holding the lab Marathon's token (mode 0600).
func (c Config) MarathonTokenPath() string { return c.Path("marathon", "token") }

// MarathonToken returns the token clients of the lab Marathon send: "" when
// marathon.auth is not token, else the content of MarathonTokenPath (which
// the lab Marathon writes when it first starts).
func (c Config) MarathonToken() (string, error) {
	if !c.MarathonAuthEnabled() {
		return "", nil
	}
	b, err := os.ReadFile(c.MarathonTokenPath())
	if err != nil {
		return "", fmt.Errorf("lab marathon token (marathon.auth: token): %w (is the lab up?)", err)
	}
	t := strings.TrimSpace(string(b))
	if t == "" {
		return "", fmt.Errorf("lab marathon token %s is empty", c.MarathonTokenPath())
	}
	return t, nil
}

// Resources is an amount of node resources in Mesos units (cpus, MiB).
type Resources struct {
	CPUs float64 `json:"cpus"`
	Mem  float64 `json:"mem"`
	Disk float64 `json:"disk,omitempty"`
	GPUs float64 `json:"gpus,omitempty"`
}

// PortRange is an inclusive range of host ports, as Mesos offers them.
type PortRange struct {
	Begin int `json:"begin"`
	End   int `json:"end"`
}

// Node is one shared lab machine, a loopback address.
type Node struct {
	// Name is the node's hostname for Mesos and its Node name for Kubernetes.
	Name string `json:"name"`
	// Address is the node's loopback IPv4 address (127.0.0.0/8).
	Address string `json:"address"`
	// Resources is the node's total capacity.
	Resources Resources `json:"resources"`
	// Ports are the host port ranges the node offers to Marathon tasks.
	Ports []PortRange `json:"ports"`
	// Attributes are Mesos agent attributes (used by constraints) and become
	// Kubernetes node labels.
	Attributes map[string]string `json:"attributes,omitempty"`
	// KubernetesShare is the part of the node that Kubernetes may use
	// (nil: the node does not join Kubernetes). Zero is a valid share.
	KubernetesShare *Resources `json:"kubernetesShare,omitempty"`
}

// Kubernetes configures the lab's Kubernetes half.
type Kubernetes struct {
	// Enabled starts etcd, the control plane and node agents with the lab.
	Enabled bool `json:"enabled"`
	// Version is the pinned Kubernetes version of the lab's binaries.
	Version string `json:"version"`
	// EtcdClientPort and EtcdPeerPort are etcd's loopback ports.
	EtcdClientPort int `json:"etcdClientPort"`
	EtcdPeerPort   int `json:"etcdPeerPort"`
	// APIServerPort is kube-apiserver's secure port on 127.0.0.1.
	APIServerPort int `json:"apiServerPort"`
	// ControllerManagerPort and SchedulerPort are their secure ports.
	ControllerManagerPort int `json:"controllerManagerPort"`
	SchedulerPort         int `json:"schedulerPort"`
	// ServiceCIDR is the Service cluster IP range.
	ServiceCIDR string `json:"serviceCIDR"`
	// PodCIDR is the lab's pod network; node i gets the i-th /24 of it. Pods
	// run in their own network namespace on a lab bridge (Kubernetes rejects
	// loopback endpoint addresses, so pod IPs cannot be loopback).
	PodCIDR string `json:"podCIDR"`
	// NodeAgentBasePort is the first port for node agents' kubelet APIs
	// (node i uses NodeAgentBasePort+i).
	NodeAgentBasePort int `json:"nodeAgentBasePort"`
	// Images maps a container image (exact "name:tag", or "name" for any tag)
	// to a local program that stands in for it.
	Images map[string]Image `json:"images,omitempty"`
	// KwokNodes adds that many kwok (simulated, process-less) nodes for scale tests.
	KwokNodes int `json:"kwokNodes,omitempty"`
	// NodeAgents is how nodes with a kubernetesShare join Kubernetes:
	// NodeAgentsDirect (default) starts their node agents as lab components
	// and the lab Marathon offers total − share; NodeAgentsWrapper starts
	// them as production does, through the kubelet wrapper running as a
	// Marathon app per node that holds the share (Mesos offers the whole
	// node; the wrapper task's resources are what Kubernetes gets).
	NodeAgents string `json:"nodeAgents,omitempty"`
}

// How nodes join Kubernetes (Kubernetes.NodeAgents).
const (
	NodeAgentsDirect  = "direct"
	NodeAgentsWrapper = "wrapper"
)

// WrapperMode reports whether node agents run under kubelet wrappers
// (Marathon apps) instead of as lab components.
func (c Config) WrapperMode() bool {
	return c.Kubernetes.Enabled && c.Kubernetes.NodeAgents == NodeAgentsWrapper
}

// Image is the local program that runs a container image in the lab.
type Image struct {
	// Command is the program and arguments used when the container sets no
	// command (the image's ENTRYPOINT); "{switchyard}" is replaced by the
	// path of the running switchyard binary.
	Command []string `json:"command"`
	// Args are the default arguments (the image's CMD).
	Args []string `json:"args,omitempty"`
	// Programs maps the names of programs on the image's PATH to local
	// programs ("{switchyard}" allowed), for containers whose command names
	// one without a path (command: ["switchyard"] runs the switchyard binary).
	Programs map[string]string `json:"programs,omitempty"`
}

// Nginx configures the shared nginx.
type Nginx struct {
	// Enabled starts nginx with the lab.
	Enabled bool `json:"enabled"`
	// Listen is the public address of the load balancer.
	Listen string `json:"listen"`
	// Admin is the loopback-only address of the routing admin API and stub_status.
	Admin string `json:"admin"`
	// Binary is the nginx executable (default /usr/sbin/nginx).
	Binary string `json:"binary,omitempty"`
	// User is the account nginx's workers run as when the lab runs as root
	// (default DefaultNginxUser, Debian's nginx user); the master stays root.
	User string `json:"user,omitempty"`
}

// DefaultNginxUser is the account of Debian's nginx package.
const DefaultNginxUser = "www-data"

// UserName is User or its default.
func (n Nginx) UserName() string {
	if n.User != "" {
		return n.User
	}
	return DefaultNginxUser
}

// Default returns the base lab configuration (NewLab is what `lab up` writes
// on first use, with token auth): three nodes on 127.0.1.1-3, Marathon on
// :8080, Mesos on :5050, nginx on :8000.
func Default() Config {
	c := Config{
		ID:       "switchyard-lab",
		Dir:      ".",
		Marathon: Marathon{Endpoint: Endpoint{Listen: "127.0.0.1:8080"}},
		Mesos:    Endpoint{Listen: "127.0.0.1:5050"},
		Kubernetes: Kubernetes{
			Enabled:               true,
			Version:               "v1.37.2",
			EtcdClientPort:        2379,
			EtcdPeerPort:          2380,
			APIServerPort:         6443,
			ControllerManagerPort: 10257,
			SchedulerPort:         10259,
			ServiceCIDR:           "10.0.0.0/24",
			PodCIDR:               "10.244.0.0/16",
			NodeAgentBasePort:     10250,
			Images: map[string]Image{
				"switchyard/demo-app": {Command: []string{"{switchyard}", "demo-app"}},
				// Switchyard's own image (charts/switchyard): its ENTRYPOINT
				// and the program its chart's command names.
				"switchyard/switchyard": {Command: []string{"{switchyard}"}, Programs: map[string]string{"switchyard": "{switchyard}"}},
			},
		},
		Nginx: Nginx{Enabled: true, Listen: "127.0.0.1:8000", Admin: "127.0.0.1:8001"},
	}
	for i := 1; i <= 3; i++ {
		c.Nodes = append(c.Nodes, Node{
			Name:            fmt.Sprintf("node-%d", i),
			Address:         fmt.Sprintf("127.0.1.%d", i),
			Resources:       Resources{CPUs: 4, Mem: 8192, Disk: 20480},
			Ports:           []PortRange{{Begin: 31000 + (i-1)*1000, End: 31999 + (i-1)*1000}},
			Attributes:      map[string]string{"rack": fmt.Sprintf("r%d", (i+1)/2), "zone": "lab"},
			KubernetesShare: &Resources{CPUs: 2, Mem: 4096, Disk: 10240},
		})
	}
	return c
}

// NewLab returns the configuration `lab up` writes for a new lab: Default
// with marathon.auth token, so a new lab's Marathon, which starts processes
// on request, answers only clients holding <dir>/marathon/token (every
// lab-internal client reads it: lab demo, lab status, the wrappers, lb sync
// via --marathon-token-file, labtest). Default itself keeps no auth: it is
// also the base of configs parsed from files written before, and of test
// labs, which opt in with labtest.Options.MarathonToken.
func NewLab() Config {
	c := Default()
	c.Marathon.Auth = MarathonAuthToken
	return c
}

// Load reads and validates a lab config file. Unknown keys are errors.
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read lab config: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return Config{}, fmt.Errorf("lab config %s: %w", path, err)
	}
	if !filepath.IsAbs(c.Dir) {
		abs, err := filepath.Abs(filepath.Join(filepath.Dir(path), c.Dir))
		if err != nil {
			return Config{}, fmt.Errorf("lab config %s: dir: %w", path, err)
		}
		c.Dir = abs
	}
	return c, nil
}

// Parse decodes YAML or JSON strictly and validates the result.
func Parse(data []byte) (Config, error) {
	c := Default()
	c.Nodes = nil
	c.Kubernetes.Images = nil
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return Config{}, fmt.Errorf("not valid YAML: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("%w (see lab/labconfig for the fields)", err)
	}
	return c, c.Validate()
}

// Marshal renders the config as YAML.
func (c Config) Marshal() ([]byte, error) { return yaml.Marshal(c) }

// Validate checks that the config is usable: names and addresses unique,
// addresses on loopback, shares within totals, ports well-formed.
func (c Config) Validate() error {
	var errs []error
	if c.ID == "" {
		errs = append(errs, errors.New("id: must not be empty"))
	}
	if len(c.Nodes) == 0 {
		errs = append(errs, errors.New("nodes: at least one node is required"))
	}
	names, addrs := map[string]bool{}, map[string]bool{}
	for i, n := range c.Nodes {
		p := "nodes[" + strconv.Itoa(i) + "]"
		if n.Name == "" {
			errs = append(errs, fmt.Errorf("%s.name: must not be empty", p))
		}
		if names[n.Name] {
			errs = append(errs, fmt.Errorf("%s.name: %q is used twice", p, n.Name))
		}
		names[n.Name] = true
		a, err := netip.ParseAddr(n.Address)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s.address: %q is not an IP address", p, n.Address))
		case !a.Is4() || !a.IsLoopback():
			errs = append(errs, fmt.Errorf("%s.address: %q must be an IPv4 loopback address (127.0.0.0/8)", p, n.Address))
		case addrs[n.Address]:
			errs = append(errs, fmt.Errorf("%s.address: %q is used twice", p, n.Address))
		}
		addrs[n.Address] = true
		if n.Resources.CPUs <= 0 || n.Resources.Mem <= 0 || n.Resources.Disk < 0 {
			errs = append(errs, fmt.Errorf("%s.resources: cpus and mem must be > 0 and disk >= 0", p))
		}
		for j, r := range n.Ports {
			if r.Begin < 1 || r.End > 65535 || r.Begin > r.End {
				errs = append(errs, fmt.Errorf("%s.ports[%d]: %d-%d is not a valid port range", p, j, r.Begin, r.End))
			}
		}
		if s := n.KubernetesShare; s != nil {
			if s.CPUs < 0 || s.Mem < 0 || s.Disk < 0 || s.CPUs > n.Resources.CPUs || s.Mem > n.Resources.Mem || s.Disk > n.Resources.Disk {
				errs = append(errs, fmt.Errorf("%s.kubernetesShare: must be between 0 and the node's resources", p))
			}
		}
	}
	switch c.Marathon.Auth {
	case "", MarathonAuthNone, MarathonAuthToken:
	default:
		errs = append(errs, fmt.Errorf("marathon.auth: %q: use %s (the lab Marathon requires a token, written to <dir>/marathon/token) or %s", c.Marathon.Auth, MarathonAuthToken, MarathonAuthNone))
	}
	if c.Kubernetes.Enabled {
		switch c.Kubernetes.NodeAgents {
		case "", NodeAgentsDirect, NodeAgentsWrapper:
		default:
			errs = append(errs, fmt.Errorf("kubernetes.nodeAgents: %q: use %s (node agents as lab components) or %s (kubelet wrappers as Marathon apps)", c.Kubernetes.NodeAgents, NodeAgentsDirect, NodeAgentsWrapper))
		}
		if _, err := netip.ParsePrefix(c.Kubernetes.PodCIDR); err != nil {
			errs = append(errs, fmt.Errorf("kubernetes.podCIDR: %w", err))
		}
		if _, err := netip.ParsePrefix(c.Kubernetes.ServiceCIDR); err != nil {
			errs = append(errs, fmt.Errorf("kubernetes.serviceCIDR: %w", err))
		}
	}
	errs = append(errs, c.validateListen()...)
	return errors.Join(errs...)
}

// validateListen checks the components' listen addresses: well-formed, and
// no two components on the same address (the second would fail to start).
func (c Config) validateListen() []error {
	var errs []error
	type use struct{ field, addr string }
	uses := []use{{"marathon.listen", c.Marathon.Listen}, {"mesos.listen", c.Mesos.Listen}}
	if c.Nginx.Enabled {
		uses = append(uses, use{"nginx.listen", c.Nginx.Listen}, use{"nginx.admin", c.Nginx.Admin})
	} else {
		// Still well-formed, so enabling nginx later does not surprise.
		for _, u := range []use{{"nginx.listen", c.Nginx.Listen}, {"nginx.admin", c.Nginx.Admin}} {
			if _, _, err := splitHostPort(u.addr); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", u.field, err))
			}
		}
	}
	if k := c.Kubernetes; k.Enabled {
		for _, p := range []struct {
			field string
			port  int
		}{{"kubernetes.etcdClientPort", k.EtcdClientPort}, {"kubernetes.etcdPeerPort", k.EtcdPeerPort},
			{"kubernetes.apiServerPort", k.APIServerPort}, {"kubernetes.controllerManagerPort", k.ControllerManagerPort},
			{"kubernetes.schedulerPort", k.SchedulerPort}} {
			if p.port < 1 || p.port > 65535 {
				errs = append(errs, fmt.Errorf("%s: %d is not a valid port (1-65535)", p.field, p.port))
				continue
			}
			uses = append(uses, use{p.field, "127.0.0.1:" + strconv.Itoa(p.port)})
		}
		if k.NodeAgentBasePort < 1 || k.NodeAgentBasePort+len(c.Nodes) > 65535 {
			errs = append(errs, fmt.Errorf("kubernetes.nodeAgentBasePort: %d leaves no valid port for each of the %d nodes", k.NodeAgentBasePort, len(c.Nodes)))
		}
	}
	seen := map[string]string{}
	for _, u := range uses {
		host, port, err := splitHostPort(u.addr)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", u.field, err))
			continue
		}
		key := normHost(host) + ":" + strconv.Itoa(port)
		if other, dup := seen[key]; dup {
			errs = append(errs, fmt.Errorf("%s: %s is already used by %s; give each component its own port", u.field, u.addr, other))
			continue
		}
		seen[key] = u.field
	}
	return errs
}

// normHost maps the spellings of loopback/any to one form for comparisons.
func normHost(h string) string {
	switch h {
	case "localhost", "127.0.0.1":
		return "127.0.0.1"
	case "", "0.0.0.0", "[::]", "::":
		return "*"
	}
	return h
}

// NodeByName returns the node with that name.
func (c Config) NodeByName(name string) (Node, bool) {
	for _, n := range c.Nodes {
		if n.Name == name {
			return n, true
		}
	}
	return Node{}, false
}

// Path returns a path inside the lab's state directory.
func (c Config) Path(elem ...string) string {
	return filepath.Join(append([]string{c.Dir}, elem...)...)
}

func splitHostPort(s string) (string, int, error) {
	i := strings.LastIndex(s, ":")
	if i < 0 {
		return "", 0, fmt.Errorf("%q must be host:port", s)
	}
	port, err := strconv.Atoi(s[i+1:])
	if err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("%q has no valid port", s)
	}
	return s[:i], port, nil
}

// LookupImage finds the local program that stands in for a container image:
// the exact reference ("name:tag") first, then its name without tag or
// digest. The lab's Marathon and its node agents both resolve images here.
func (k Kubernetes) LookupImage(ref string) (Image, bool) {
	if img, ok := k.Images[ref]; ok {
		return img, true
	}
	img, ok := k.Images[ImageName(ref)]
	return img, ok
}

// ImageName strips the tag or digest from an image reference
// ("registry:5000/app:1" → "registry:5000/app").
func ImageName(ref string) string {
	if i := strings.Index(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref = ref[:i]
	}
	return ref
}

// PodGateway is the host's address on the lab's pod network: the first
// address of PodCIDR, held by the lab bridge. Pods reach the host, and
// through the node agents the API server, there.
func (k Kubernetes) PodGateway() (netip.Addr, error) {
	p, err := netip.ParsePrefix(k.PodCIDR)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("kubernetes.podCIDR: %w", err)
	}
	return p.Masked().Addr().Next(), nil
}
