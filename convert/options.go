package convert

import (
	"fmt"
	"strconv"
	"strings"
)

// LimitPolicy says how resource limits are derived from the requests that
// Marathon's cpus/mem/disk give.
type LimitPolicy struct {
	// Kind is LimitEqual, LimitFactor or LimitNoCPU.
	Kind string
	// Factor multiplies requests to give limits when Kind is LimitFactor (>= 1).
	Factor float64
}

// Limit policy kinds.
const (
	// LimitEqual sets limits equal to requests (Guaranteed QoS).
	LimitEqual = "equal"
	// LimitFactor sets limits to Factor times the requests (Burstable QoS).
	LimitFactor = "factor"
	// LimitNoCPU sets memory and disk limits equal to requests and no cpu
	// limit, as Mesos does by default (cpu shares without a CFS quota).
	LimitNoCPU = "no-cpu-limit"
)

// ParseLimitPolicy reads "equal", "no-cpu-limit" or "factor:F" (F >= 1).
func ParseLimitPolicy(s string) (LimitPolicy, error) {
	switch {
	case s == LimitEqual || s == LimitNoCPU:
		return LimitPolicy{Kind: s}, nil
	case strings.HasPrefix(s, LimitFactor+":") || strings.HasPrefix(s, LimitFactor+"="):
		f, err := strconv.ParseFloat(s[len(LimitFactor)+1:], 64)
		if err != nil || f < 1 || f > 100 {
			return LimitPolicy{}, fmt.Errorf("limit policy %q: the factor must be a number between 1 and 100, e.g. factor:1.5", s)
		}
		return LimitPolicy{Kind: LimitFactor, Factor: f}, nil
	}
	return LimitPolicy{}, fmt.Errorf("limit policy %q: want equal, no-cpu-limit or factor:F (e.g. factor:2)", s)
}

// String renders the policy as ParseLimitPolicy reads it.
func (p LimitPolicy) String() string {
	if p.Kind == LimitFactor {
		return LimitFactor + ":" + strconv.FormatFloat(p.Factor, 'f', -1, 64)
	}
	return p.Kind
}

// Host address choices for $HOST.
const (
	// HostPodIP gives $HOST the pod's IP (status.podIP): the address the
	// task's own network answers on, where programs that bind $HOST work.
	HostPodIP = "pod-ip"
	// HostNodeIP gives $HOST the node's IP (status.hostIP), as on Mesos
	// with host networking; a program binding it inside a pod network fails.
	HostNodeIP = "host-ip"
)

// Options tune a conversion. The zero value is completed by defaults
// (see DefaultOptions).
type Options struct {
	// Namespace is set on every namespaced object when not empty.
	Namespace string
	// Limits is the limit policy (default no-cpu-limit).
	Limits LimitPolicy
	// FetcherImage runs the init container that downloads fetch/uris
	// artifacts into the sandbox (default switchyard/fetcher:1).
	FetcherImage string
	// BaseImage runs apps that have a cmd but no container image (on Mesos
	// they ran on the agent's own filesystem; default debian:bookworm-slim).
	BaseImage string
	// GPUResource is the extended resource name for gpus (default nvidia.com/gpu).
	GPUResource string
	// SandboxPath is where the Mesos sandbox (an emptyDir) is mounted and
	// what $MESOS_SANDBOX says (default /mnt/mesos/sandbox).
	SandboxPath string
	// FirstDynamicPort is the first container port given to ports that
	// Marathon assigned dynamically (port 0; default 8080).
	FirstDynamicPort int
	// HostAddress says what $HOST becomes: HostPodIP (default) or HostNodeIP.
	HostAddress string
	// StorageClasses maps an external volume provider or DVDI driver
	// ("dvdi", "rexray", "csi", a CSI plugin name) to a StorageClass; a
	// missing entry leaves the cluster's default class.
	StorageClasses map[string]string
	// ExternalVolumeSize is the size of an external volume without one
	// (default 1Gi).
	ExternalVolumeSize string
	// RoleNodeLabel is the node label that acceptedResourceRoles select on
	// (default switchyard.io/mesos-role).
	RoleNodeLabel string
}

// DefaultOptions returns the options used for unset fields.
func DefaultOptions() Options {
	return Options{
		Limits:             LimitPolicy{Kind: LimitNoCPU},
		FetcherImage:       "switchyard/fetcher:1",
		BaseImage:          "debian:bookworm-slim",
		GPUResource:        "nvidia.com/gpu",
		SandboxPath:        "/mnt/mesos/sandbox",
		FirstDynamicPort:   8080,
		HostAddress:        HostPodIP,
		ExternalVolumeSize: "1Gi",
		RoleNodeLabel:      "switchyard.io/mesos-role",
	}
}

// complete fills unset fields with defaults and checks the rest.
func (o Options) complete() (Options, error) {
	d := DefaultOptions()
	if o.Limits.Kind == "" {
		o.Limits = d.Limits
	}
	if o.FetcherImage == "" {
		o.FetcherImage = d.FetcherImage
	}
	if o.BaseImage == "" {
		o.BaseImage = d.BaseImage
	}
	if o.GPUResource == "" {
		o.GPUResource = d.GPUResource
	}
	if o.SandboxPath == "" {
		o.SandboxPath = d.SandboxPath
	}
	if o.FirstDynamicPort == 0 {
		o.FirstDynamicPort = d.FirstDynamicPort
	}
	if o.HostAddress == "" {
		o.HostAddress = d.HostAddress
	}
	if o.ExternalVolumeSize == "" {
		o.ExternalVolumeSize = d.ExternalVolumeSize
	}
	if o.RoleNodeLabel == "" {
		o.RoleNodeLabel = d.RoleNodeLabel
	}
	switch o.Limits.Kind {
	case LimitEqual, LimitNoCPU:
	case LimitFactor:
		if o.Limits.Factor < 1 {
			return o, fmt.Errorf("options: limit factor %v: must be >= 1", o.Limits.Factor)
		}
	default:
		return o, fmt.Errorf("options: limit policy %q: want equal, no-cpu-limit or factor", o.Limits.Kind)
	}
	if o.HostAddress != HostPodIP && o.HostAddress != HostNodeIP {
		return o, fmt.Errorf("options: host address %q: want %s or %s", o.HostAddress, HostPodIP, HostNodeIP)
	}
	if o.FirstDynamicPort < 1 || o.FirstDynamicPort > 65535 {
		return o, fmt.Errorf("options: first dynamic port %d: must be 1-65535", o.FirstDynamicPort)
	}
	if o.Namespace != "" {
		if errs := dns1123Label(o.Namespace); errs != "" {
			return o, fmt.Errorf("options: namespace %q: %s", o.Namespace, errs)
		}
	}
	return o, nil
}
