package marathon

// Network modes of app and pod networks.
const (
	NetworkModeContainer       = "container"
	NetworkModeContainerBridge = "container/bridge"
	NetworkModeHost            = "host"
)

// Network is one network an app or pod joins.
type Network struct {
	Name    *string `json:"name,omitempty"`
	Mode    *string `json:"mode,omitempty"`
	Labels  Labels  `json:"labels,omitzero"`
	Unknown Unknown `json:"-"`
}

// PortDefinition is a host port for host networking.
type PortDefinition struct {
	Port     *int    `json:"port,omitempty"`
	Protocol *string `json:"protocol,omitempty"`
	Name     *string `json:"name,omitempty"`
	Labels   Labels  `json:"labels,omitzero"`
	Unknown  Unknown `json:"-"`
}

// IPAddress is the deprecated IP-per-task setting (use networks).
type IPAddress struct {
	Groups      []string     `json:"groups,omitzero"`
	Labels      Labels       `json:"labels,omitzero"`
	NetworkName *string      `json:"networkName,omitempty"`
	Discovery   *IPDiscovery `json:"discovery,omitempty"`
	Unknown     Unknown      `json:"-"`
}

// IPDiscovery lists the ports of an IP-per-task app.
type IPDiscovery struct {
	Ports   []IPDiscoveryPort `json:"ports,omitzero"`
	Unknown Unknown           `json:"-"`
}

// IPDiscoveryPort is one port of an IP-per-task app.
type IPDiscoveryPort struct {
	Number   *int    `json:"number,omitempty"`
	Name     *string `json:"name,omitempty"`
	Protocol *string `json:"protocol,omitempty"`
	Labels   Labels  `json:"labels,omitzero"`
	Unknown  Unknown `json:"-"`
}

// Endpoint is a port of a pod container.
type Endpoint struct {
	Name          string   `json:"name"`
	ContainerPort *int     `json:"containerPort,omitempty"`
	HostPort      *int     `json:"hostPort,omitempty"`
	Protocol      []string `json:"protocol,omitzero"`
	Labels        Labels   `json:"labels,omitzero"`
	NetworkNames  []string `json:"networkNames,omitzero"`
	Unknown       Unknown  `json:"-"`
}
