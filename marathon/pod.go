package marathon

// Pod is a Marathon pod definition (RAML pod.Pod).
type Pod struct {
	ID                  string               `json:"id"`
	Labels              Labels               `json:"labels,omitzero"`
	Version             *string              `json:"version,omitempty"`
	User                *string              `json:"user,omitempty"`
	Environment         map[string]EnvValue  `json:"environment,omitzero"`
	Containers          []PodContainer       `json:"containers,omitzero"`
	Secrets             map[string]SecretDef `json:"secrets,omitzero"`
	Volumes             []PodVolume          `json:"volumes,omitzero"`
	Networks            []Network            `json:"networks,omitzero"`
	Scaling             *PodScaling          `json:"scaling,omitempty"`
	Scheduling          *PodScheduling       `json:"scheduling,omitempty"`
	ExecutorResources   *ExecutorResources   `json:"executorResources,omitempty"`
	Role                *string              `json:"role,omitempty"`
	LinuxInfo           *LinuxInfo           `json:"linuxInfo,omitempty"`
	LegacySharedCgroups *bool                `json:"legacySharedCgroups,omitempty"`
	Unknown             Unknown              `json:"-"`
}

// PodContainer is one container of a pod.
type PodContainer struct {
	Name           string              `json:"name"`
	Exec           *PodExec            `json:"exec,omitempty"`
	Resources      *Resources          `json:"resources,omitempty"`
	ResourceLimits *ResourceLimits     `json:"resourceLimits,omitempty"`
	Endpoints      []Endpoint          `json:"endpoints,omitzero"`
	Image          *PodImage           `json:"image,omitempty"`
	Environment    map[string]EnvValue `json:"environment,omitzero"`
	User           *string             `json:"user,omitempty"`
	HealthCheck    *PodHealthCheck     `json:"healthCheck,omitempty"`
	Check          *PodCheck           `json:"check,omitempty"`
	VolumeMounts   []VolumeMount       `json:"volumeMounts,omitzero"`
	Artifacts      []Artifact          `json:"artifacts,omitzero"`
	Labels         Labels              `json:"labels,omitzero"`
	Lifecycle      *Lifecycle          `json:"lifecycle,omitempty"`
	LinuxInfo      *LinuxInfo          `json:"linuxInfo,omitempty"`
	TTY            *bool               `json:"tty,omitempty"`
	Unknown        Unknown             `json:"-"`
}

// PodExec is the command of a pod container.
type PodExec struct {
	Command            MesosCommand `json:"command"`
	OverrideEntrypoint *bool        `json:"overrideEntrypoint,omitempty"`
	Unknown            Unknown      `json:"-"`
}

// Resources are the resources of a pod container.
type Resources struct {
	CPUs    *float64 `json:"cpus,omitempty"`
	Mem     *float64 `json:"mem,omitempty"`
	Disk    *float64 `json:"disk,omitempty"`
	GPUs    *int     `json:"gpus,omitempty"`
	Unknown Unknown  `json:"-"`
}

// PodImage is the image of a pod container.
type PodImage struct {
	Kind       *string     `json:"kind,omitempty"`
	ID         string      `json:"id"`
	PullConfig *PullConfig `json:"pullConfig,omitempty"`
	ForcePull  *bool       `json:"forcePull,omitempty"`
	Labels     Labels      `json:"labels,omitzero"`
	Unknown    Unknown     `json:"-"`
}

// Lifecycle holds a pod container's kill grace period.
type Lifecycle struct {
	KillGracePeriodSeconds *float64 `json:"killGracePeriodSeconds,omitempty"`
	Unknown                Unknown  `json:"-"`
}

// PodScaling is a pod's scaling policy (kind "fixed").
type PodScaling struct {
	Kind         *string `json:"kind,omitempty"`
	Instances    *int    `json:"instances,omitempty"`
	MaxInstances *int    `json:"maxInstances,omitempty"`
	Unknown      Unknown `json:"-"`
}

// PodScheduling is a pod's scheduling policy.
type PodScheduling struct {
	Backoff             *PodBackoff          `json:"backoff,omitempty"`
	Upgrade             *UpgradeStrategy     `json:"upgrade,omitempty"`
	Placement           *PodPlacement        `json:"placement,omitempty"`
	KillSelection       *string              `json:"killSelection,omitempty"`
	UnreachableStrategy *UnreachableStrategy `json:"unreachableStrategy,omitempty"`
	Unknown             Unknown              `json:"-"`
}

// PodBackoff is a pod's launch backoff.
type PodBackoff struct {
	Backoff        *float64 `json:"backoff,omitempty"`
	BackoffFactor  *float64 `json:"backoffFactor,omitempty"`
	MaxLaunchDelay *float64 `json:"maxLaunchDelay,omitempty"`
	Unknown        Unknown  `json:"-"`
}

// PodPlacement holds a pod's placement constraints and accepted roles.
type PodPlacement struct {
	Constraints           []PodConstraint `json:"constraints,omitzero"`
	AcceptedResourceRoles []string        `json:"acceptedResourceRoles,omitzero"`
	Unknown               Unknown         `json:"-"`
}

// PodStatus is a pod as listed in a /v2/groups response (spec plus status).
type PodStatus struct {
	ID                 string    `json:"id"`
	Spec               *Pod      `json:"spec,omitempty"`
	Status             *string   `json:"status,omitempty"`
	StatusSince        *string   `json:"statusSince,omitempty"`
	Message            *string   `json:"message,omitempty"`
	LastUpdated        *string   `json:"lastUpdated,omitempty"`
	LastChanged        *string   `json:"lastChanged,omitempty"`
	Instances          []RawJSON `json:"instances,omitzero"`
	TerminationHistory []RawJSON `json:"terminationHistory,omitzero"`
	Unknown            Unknown   `json:"-"`
}
