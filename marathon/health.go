package marathon

// Health check protocols of apps.
const (
	ProtocolHTTP       = "HTTP"
	ProtocolHTTPS      = "HTTPS"
	ProtocolTCP        = "TCP"
	ProtocolCommand    = "COMMAND"
	ProtocolMesosHTTP  = "MESOS_HTTP"
	ProtocolMesosHTTPS = "MESOS_HTTPS"
	ProtocolMesosTCP   = "MESOS_TCP"
)

// HealthCheck is an app health check (RAML AppHealthCheck).
type HealthCheck struct {
	Protocol               *string       `json:"protocol,omitempty"`
	Path                   *string       `json:"path,omitempty"`
	PortIndex              *int          `json:"portIndex,omitempty"`
	Port                   *int          `json:"port,omitempty"`
	Command                *CommandCheck `json:"command,omitempty"`
	GracePeriodSeconds     *int          `json:"gracePeriodSeconds,omitempty"`
	IntervalSeconds        *int          `json:"intervalSeconds,omitempty"`
	TimeoutSeconds         *int          `json:"timeoutSeconds,omitempty"`
	MaxConsecutiveFailures *int          `json:"maxConsecutiveFailures,omitempty"`
	DelaySeconds           *int          `json:"delaySeconds,omitempty"`
	IgnoreHTTP1xx          *bool         `json:"ignoreHttp1xx,omitempty"`
	IPProtocol             *string       `json:"ipProtocol,omitempty"`
	Unknown                Unknown       `json:"-"`
}

// CommandCheck is the command of a COMMAND health check: {"value": "..."}.
type CommandCheck struct {
	Value   string  `json:"value"`
	Unknown Unknown `json:"-"`
}

// ReadinessCheck gates a deployment step until the task answers ready.
type ReadinessCheck struct {
	Name                    *string `json:"name,omitempty"`
	Protocol                *string `json:"protocol,omitempty"`
	Path                    *string `json:"path,omitempty"`
	PortName                *string `json:"portName,omitempty"`
	IntervalSeconds         *int    `json:"intervalSeconds,omitempty"`
	TimeoutSeconds          *int    `json:"timeoutSeconds,omitempty"`
	HTTPStatusCodesForReady []int   `json:"httpStatusCodesForReady,omitzero"`
	PreserveLastResponse    *bool   `json:"preserveLastResponse,omitempty"`
	Unknown                 Unknown `json:"-"`
}

// AppCheck is an app's Mesos check (RAML check.AppCheck).
type AppCheck struct {
	HTTP            *AppHTTPCheck     `json:"http,omitempty"`
	TCP             *AppTCPCheck      `json:"tcp,omitempty"`
	Exec            *CommandExecCheck `json:"exec,omitempty"`
	IntervalSeconds *int              `json:"intervalSeconds,omitempty"`
	TimeoutSeconds  *int              `json:"timeoutSeconds,omitempty"`
	DelaySeconds    *int              `json:"delaySeconds,omitempty"`
	Unknown         Unknown           `json:"-"`
}

// AppHTTPCheck is the http part of an AppCheck.
type AppHTTPCheck struct {
	PortIndex *int    `json:"portIndex,omitempty"`
	Port      *int    `json:"port,omitempty"`
	Path      *string `json:"path,omitempty"`
	Scheme    *string `json:"scheme,omitempty"`
	Unknown   Unknown `json:"-"`
}

// AppTCPCheck is the tcp part of an AppCheck.
type AppTCPCheck struct {
	PortIndex *int    `json:"portIndex,omitempty"`
	Port      *int    `json:"port,omitempty"`
	Unknown   Unknown `json:"-"`
}

// CommandExecCheck runs a Mesos command: {"command": {"shell": ...} | {"argv": [...]}}.
type CommandExecCheck struct {
	Command MesosCommand `json:"command"`
	Unknown Unknown      `json:"-"`
}

// MesosCommand is a shell command line or an argv vector.
type MesosCommand struct {
	Shell   *string  `json:"shell,omitempty"`
	Argv    []string `json:"argv,omitzero"`
	Unknown Unknown  `json:"-"`
}

// PodHealthCheck is a pod container's health check (RAML health.HealthCheck).
type PodHealthCheck struct {
	HTTP                   *PodHTTPCheck     `json:"http,omitempty"`
	TCP                    *PodTCPCheck      `json:"tcp,omitempty"`
	Exec                   *CommandExecCheck `json:"exec,omitempty"`
	GracePeriodSeconds     *int              `json:"gracePeriodSeconds,omitempty"`
	IntervalSeconds        *int              `json:"intervalSeconds,omitempty"`
	MaxConsecutiveFailures *int              `json:"maxConsecutiveFailures,omitempty"`
	TimeoutSeconds         *int              `json:"timeoutSeconds,omitempty"`
	DelaySeconds           *int              `json:"delaySeconds,omitempty"`
	Unknown                Unknown           `json:"-"`
}

// PodHTTPCheck checks an endpoint of a pod container over HTTP(S).
type PodHTTPCheck struct {
	Endpoint string  `json:"endpoint"`
	Path     *string `json:"path,omitempty"`
	Scheme   *string `json:"scheme,omitempty"`
	Unknown  Unknown `json:"-"`
}

// PodTCPCheck checks an endpoint of a pod container over TCP.
type PodTCPCheck struct {
	Endpoint string  `json:"endpoint"`
	Unknown  Unknown `json:"-"`
}

// PodCheck is a pod container's Mesos check (RAML check.Check).
type PodCheck struct {
	HTTP            *PodHTTPCheck     `json:"http,omitempty"`
	TCP             *PodTCPCheck      `json:"tcp,omitempty"`
	Exec            *CommandExecCheck `json:"exec,omitempty"`
	IntervalSeconds *int              `json:"intervalSeconds,omitempty"`
	TimeoutSeconds  *int              `json:"timeoutSeconds,omitempty"`
	DelaySeconds    *int              `json:"delaySeconds,omitempty"`
	Unknown         Unknown           `json:"-"`
}
