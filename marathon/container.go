package marathon

// Container engine types.
const (
	// ContainerDocker is the Docker containerizer.
	ContainerDocker = "DOCKER"
	// ContainerMesos is the Mesos (universal) containerizer.
	ContainerMesos = "MESOS"
)

// Container is an app's container (RAML appContainer.Container).
type Container struct {
	Type         *string       `json:"type,omitempty"`
	Docker       *Docker       `json:"docker,omitempty"`
	LinuxInfo    *LinuxInfo    `json:"linuxInfo,omitempty"`
	Volumes      []AppVolume   `json:"volumes,omitzero"`
	PortMappings []PortMapping `json:"portMappings,omitzero"`
	Unknown      Unknown       `json:"-"`
}

// Docker is the docker part of an app container (RAML DockerContainer).
type Docker struct {
	Image          string            `json:"image"`
	Network        *string           `json:"network,omitempty"`
	PortMappings   []PortMapping     `json:"portMappings,omitzero"`
	Privileged     *bool             `json:"privileged,omitempty"`
	Parameters     []DockerParameter `json:"parameters,omitzero"`
	ForcePullImage *bool             `json:"forcePullImage,omitempty"`
	PullConfig     *PullConfig       `json:"pullConfig,omitempty"`
	Credential     *DockerCredential `json:"credential,omitempty"`
	Unknown        Unknown           `json:"-"`
}

// DockerParameter is one `docker run` option (key without leading dashes).
type DockerParameter struct {
	Key     string  `json:"key"`
	Value   *string `json:"value,omitempty"`
	Unknown Unknown `json:"-"`
}

// PullConfig names a secret holding a docker config.json.
type PullConfig struct {
	Secret  string  `json:"secret"`
	Unknown Unknown `json:"-"`
}

// DockerCredential is the deprecated (since 1.5) docker credential.
type DockerCredential struct {
	Principal string  `json:"principal"`
	Secret    *string `json:"secret,omitempty"`
	Unknown   Unknown `json:"-"`
}

// PortMapping maps a container port to host and service ports (bridge or
// container networking).
type PortMapping struct {
	ContainerPort *int     `json:"containerPort,omitempty"`
	HostPort      *int     `json:"hostPort,omitempty"`
	ServicePort   *int     `json:"servicePort,omitempty"`
	Protocol      *string  `json:"protocol,omitempty"`
	Name          *string  `json:"name,omitempty"`
	Labels        Labels   `json:"labels,omitzero"`
	NetworkNames  []string `json:"networkNames,omitzero"`
	Unknown       Unknown  `json:"-"`
}

// LinuxInfo carries Linux-specific container settings.
type LinuxInfo struct {
	Seccomp *Seccomp `json:"seccomp,omitempty"`
	IPCInfo *IPCInfo `json:"ipcInfo,omitempty"`
	Unknown Unknown  `json:"-"`
}

// Seccomp selects a seccomp profile.
type Seccomp struct {
	ProfileName *string `json:"profileName,omitempty"`
	Unconfined  *bool   `json:"unconfined,omitempty"`
	Unknown     Unknown `json:"-"`
}

// IPCInfo sets the IPC namespace mode and /dev/shm size.
type IPCInfo struct {
	Mode    *string  `json:"mode,omitempty"`
	ShmSize *float64 `json:"shmSize,omitempty"`
	Unknown Unknown  `json:"-"`
}
