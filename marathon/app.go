package marathon

// App is a Marathon v2 app definition (RAML type App) together with the
// read-only status fields that /v2/apps and /v2/groups responses add (AppInfo).
type App struct {
	ID                         string               `json:"id,omitempty"`
	Cmd                        *string              `json:"cmd,omitempty"`
	Args                       []string             `json:"args,omitzero"`
	User                       *string              `json:"user,omitempty"`
	Env                        map[string]EnvValue  `json:"env,omitzero"`
	Instances                  *int                 `json:"instances,omitempty"`
	CPUs                       *float64             `json:"cpus,omitempty"`
	Mem                        *float64             `json:"mem,omitempty"`
	Disk                       *float64             `json:"disk,omitempty"`
	GPUs                       *int                 `json:"gpus,omitempty"`
	Executor                   *string              `json:"executor,omitempty"`
	ExecutorResources          *ExecutorResources   `json:"executorResources,omitempty"`
	ResourceLimits             *ResourceLimits      `json:"resourceLimits,omitempty"`
	Constraints                []Constraint         `json:"constraints,omitzero"`
	Fetch                      []Artifact           `json:"fetch,omitzero"`
	URIs                       []string             `json:"uris,omitzero"`
	StoreURLs                  []string             `json:"storeUrls,omitzero"`
	BackoffSeconds             *int                 `json:"backoffSeconds,omitempty"`
	BackoffFactor              *float64             `json:"backoffFactor,omitempty"`
	MaxLaunchDelaySeconds      *int                 `json:"maxLaunchDelaySeconds,omitempty"`
	Container                  *Container           `json:"container,omitempty"`
	HealthChecks               []HealthCheck        `json:"healthChecks,omitzero"`
	Check                      *AppCheck            `json:"check,omitempty"`
	ReadinessChecks            []ReadinessCheck     `json:"readinessChecks,omitzero"`
	Dependencies               []string             `json:"dependencies,omitzero"`
	UpgradeStrategy            *UpgradeStrategy     `json:"upgradeStrategy,omitempty"`
	Labels                     Labels               `json:"labels,omitzero"`
	AcceptedResourceRoles      []string             `json:"acceptedResourceRoles,omitzero"`
	IPAddress                  *IPAddress           `json:"ipAddress,omitempty"`
	Version                    *string              `json:"version,omitempty"`
	Residency                  *Residency           `json:"residency,omitempty"`
	Secrets                    map[string]SecretDef `json:"secrets,omitzero"`
	TaskKillGracePeriodSeconds *int                 `json:"taskKillGracePeriodSeconds,omitempty"`
	PortDefinitions            []PortDefinition     `json:"portDefinitions,omitzero"`
	Ports                      []int                `json:"ports,omitzero"`
	RequirePorts               *bool                `json:"requirePorts,omitempty"`
	Networks                   []Network            `json:"networks,omitzero"`
	UnreachableStrategy        *UnreachableStrategy `json:"unreachableStrategy,omitempty"`
	KillSelection              *string              `json:"killSelection,omitempty"`
	Role                       *string              `json:"role,omitempty"`
	TTY                        *bool                `json:"tty,omitempty"`
	VersionInfo                *VersionInfo         `json:"versionInfo,omitempty"`

	// Read-only status fields of /v2/apps and /v2/groups responses (AppInfo).
	// They are accepted and kept, and ignored by validation and conversion.
	TasksStaged           *int                   `json:"tasksStaged,omitempty"`
	TasksRunning          *int                   `json:"tasksRunning,omitempty"`
	TasksHealthy          *int                   `json:"tasksHealthy,omitempty"`
	TasksUnhealthy        *int                   `json:"tasksUnhealthy,omitempty"`
	Deployments           []AppDeploymentRef     `json:"deployments,omitzero"`
	Tasks                 []AppTask              `json:"tasks,omitzero"`
	LastTaskFailure       *AppTaskFailure        `json:"lastTaskFailure,omitempty"`
	ReadinessCheckResults []ReadinessCheckResult `json:"readinessCheckResults,omitzero"`
	AppTaskStats          *AppTaskStatsByVersion `json:"taskStats,omitempty"`

	// Unknown keeps members this model does not know.
	Unknown Unknown `json:"-"`
}

// EnvValue is the value of an environment variable: either a literal string
// or a reference to a secret declared in the app's secrets ({"secret": "name"}).
type EnvValue struct {
	// Value is the literal value; meaningful when Secret is nil.
	Value string
	// Secret is set when the variable refers to a secret.
	Secret *SecretRef
}

// SecretRef is `{"secret": "name"}`: a reference to an entry of secrets.
type SecretRef struct {
	Secret  string  `json:"secret"`
	Unknown Unknown `json:"-"`
}

// SecretDef declares a secret: `{"source": "path/in/store"}`.
type SecretDef struct {
	Source  string  `json:"source"`
	Unknown Unknown `json:"-"`
}

// Artifact is a URI fetched into the sandbox before the task starts.
type Artifact struct {
	URI        string  `json:"uri"`
	Extract    *bool   `json:"extract,omitempty"`
	Executable *bool   `json:"executable,omitempty"`
	Cache      *bool   `json:"cache,omitempty"`
	DestPath   *string `json:"destPath,omitempty"`
	Unknown    Unknown `json:"-"`
}

// UpgradeStrategy controls rolling upgrades (fractions of instances, 0..1).
type UpgradeStrategy struct {
	MinimumHealthCapacity *float64 `json:"minimumHealthCapacity,omitempty"`
	MaximumOverCapacity   *float64 `json:"maximumOverCapacity,omitempty"`
	Unknown               Unknown  `json:"-"`
}

// Residency is the deprecated (no-effect) residency of apps with local volumes.
type Residency struct {
	RelaunchEscalationTimeoutSeconds *int64  `json:"relaunchEscalationTimeoutSeconds,omitempty"`
	TaskLostBehavior                 *string `json:"taskLostBehavior,omitempty"`
	Unknown                          Unknown `json:"-"`
}

// UnreachableStrategy says what to do with unreachable tasks: either the
// string "disabled" (Disabled is true) or an object with timeouts.
type UnreachableStrategy struct {
	// Disabled is true for the string form "disabled".
	Disabled             bool    `json:"-"`
	InactiveAfterSeconds *int64  `json:"inactiveAfterSeconds,omitempty"`
	ExpungeAfterSeconds  *int64  `json:"expungeAfterSeconds,omitempty"`
	Unknown              Unknown `json:"-"`
}

// VersionInfo is the read-only version information of an app.
type VersionInfo struct {
	LastScalingAt      *string `json:"lastScalingAt,omitempty"`
	LastConfigChangeAt *string `json:"lastConfigChangeAt,omitempty"`
	Unknown            Unknown `json:"-"`
}

// ExecutorResources are the resources of the executor (apps and pods).
type ExecutorResources struct {
	CPUs    *float64 `json:"cpus,omitempty"`
	Mem     *float64 `json:"mem,omitempty"`
	Disk    *float64 `json:"disk,omitempty"`
	Unknown Unknown  `json:"-"`
}

// ResourceLimits lets a task use more cpu/mem than requested.
type ResourceLimits struct {
	CPUs    *ResourceLimit `json:"cpus,omitempty"`
	Mem     *ResourceLimit `json:"mem,omitempty"`
	Unknown Unknown        `json:"-"`
}

// ResourceLimit is a number or the string "unlimited".
type ResourceLimit struct {
	// Unlimited is true for the string form "unlimited".
	Unlimited bool
	// Value is the limit when Unlimited is false.
	Value float64
}

// Read-only status types carried by /v2/apps and /v2/groups responses.

// AppDeploymentRef is `{"id": "..."}` in an app's deployments list.
type AppDeploymentRef struct {
	ID      string  `json:"id,omitempty"`
	Unknown Unknown `json:"-"`
}

// AppTask is a task as embedded in an app response (RAML task.Task).
type AppTask struct {
	ID                 string            `json:"id,omitempty"`
	AppID              string            `json:"appId,omitempty"`
	Host               *string           `json:"host,omitempty"`
	State              *string           `json:"state,omitempty"`
	Role               *string           `json:"role,omitempty"`
	SlaveID            *string           `json:"slaveId,omitempty"`
	StagedAt           *string           `json:"stagedAt,omitempty"`
	StartedAt          *string           `json:"startedAt,omitempty"`
	Version            *string           `json:"version,omitempty"`
	Ports              []int             `json:"ports,omitzero"`
	ServicePorts       []int             `json:"servicePorts,omitzero"`
	IPAddresses        []AppTaskIP       `json:"ipAddresses,omitzero"`
	HealthCheckResults []AppHealthResult `json:"healthCheckResults,omitzero"`
	CheckResult        *AppCheckStatus   `json:"checkResult,omitempty"`
	LocalVolumes       []AppLocalVolume  `json:"localVolumes,omitzero"`
	Region             *string           `json:"region,omitempty"`
	Zone               *string           `json:"zone,omitempty"`
	Unknown            Unknown           `json:"-"`
}

// AppTaskIP is one IP address of a task.
type AppTaskIP struct {
	IPAddress string  `json:"ipAddress,omitempty"`
	Protocol  *string `json:"protocol,omitempty"`
	Unknown   Unknown `json:"-"`
}

// AppLocalVolume identifies a persistent local volume of a task.
type AppLocalVolume struct {
	ContainerPath *string `json:"containerPath,omitempty"`
	PersistenceID *string `json:"persistenceId,omitempty"`
	Unknown       Unknown `json:"-"`
}

// AppHealthResult is the state of one health check of one task (RAML health.Health).
type AppHealthResult struct {
	Alive               *bool   `json:"alive,omitempty"`
	ConsecutiveFailures *int    `json:"consecutiveFailures,omitempty"`
	FirstSuccess        *string `json:"firstSuccess,omitempty"`
	LastSuccess         *string `json:"lastSuccess,omitempty"`
	LastFailure         *string `json:"lastFailure,omitempty"`
	LastFailureCause    *string `json:"lastFailureCause,omitempty"`
	InstanceID          *string `json:"instanceId,omitempty"`
	TaskID              *string `json:"taskId,omitempty"`
	Unknown             Unknown `json:"-"`
}

// AppCheckStatus is the result of an app's (Mesos) check.
type AppCheckStatus struct {
	HTTP    *AppHTTPCheckStatus    `json:"http,omitempty"`
	TCP     *AppTCPCheckStatus     `json:"tcp,omitempty"`
	Command *AppCommandCheckStatus `json:"command,omitempty"`
	Unknown Unknown                `json:"-"`
}

// AppHTTPCheckStatus is the result of an HTTP check.
type AppHTTPCheckStatus struct {
	StatusCode *int    `json:"statusCode,omitempty"`
	Unknown    Unknown `json:"-"`
}

// AppTCPCheckStatus is the result of a TCP check.
type AppTCPCheckStatus struct {
	Succeeded *bool   `json:"succeeded,omitempty"`
	Unknown   Unknown `json:"-"`
}

// AppCommandCheckStatus is the result of a command check.
type AppCommandCheckStatus struct {
	ExitCode *int    `json:"exitCode,omitempty"`
	Unknown  Unknown `json:"-"`
}

// AppTaskFailure describes the last task failure of an app.
type AppTaskFailure struct {
	AppID     string  `json:"appId,omitempty"`
	Host      *string `json:"host,omitempty"`
	Message   *string `json:"message,omitempty"`
	State     *string `json:"state,omitempty"`
	TaskID    *string `json:"taskId,omitempty"`
	Timestamp *string `json:"timestamp,omitempty"`
	Version   *string `json:"version,omitempty"`
	SlaveID   *string `json:"slaveId,omitempty"`
	Unknown   Unknown `json:"-"`
}

// ReadinessCheckResult is the state of one readiness check of one task.
type ReadinessCheckResult struct {
	Name         string                  `json:"name,omitempty"`
	TaskID       string                  `json:"taskId,omitempty"`
	Ready        *bool                   `json:"ready,omitempty"`
	LastResponse *ReadinessCheckResponse `json:"lastResponse,omitempty"`
	Unknown      Unknown                 `json:"-"`
}

// ReadinessCheckResponse is the last HTTP response of a readiness check.
type ReadinessCheckResponse struct {
	Status      *int    `json:"status,omitempty"`
	ContentType string  `json:"contentType,omitempty"`
	Body        string  `json:"body,omitempty"`
	Unknown     Unknown `json:"-"`
}

// AppTaskStatsByVersion groups task statistics (embed=apps.taskStats).
type AppTaskStatsByVersion struct {
	StartedAfterLastScaling *AppTaskStatsEntry `json:"startedAfterLastScaling,omitempty"`
	WithLatestConfig        *AppTaskStatsEntry `json:"withLatestConfig,omitempty"`
	WithOutdatedConfig      *AppTaskStatsEntry `json:"withOutdatedConfig,omitempty"`
	TotalSummary            *AppTaskStatsEntry `json:"totalSummary,omitempty"`
	Unknown                 Unknown            `json:"-"`
}

// AppTaskStatsEntry wraps AppTaskStats as {"stats": {...}}.
type AppTaskStatsEntry struct {
	Stats   *AppTaskStats `json:"stats,omitempty"`
	Unknown Unknown       `json:"-"`
}

// AppTaskStats are task counts and lifetimes.
type AppTaskStats struct {
	Counts   *AppTaskCounts   `json:"counts,omitempty"`
	LifeTime *AppTaskLifeTime `json:"lifeTime,omitempty"`
	Unknown  Unknown          `json:"-"`
}

// AppTaskCounts counts tasks by state.
type AppTaskCounts struct {
	Staged    *int    `json:"staged,omitempty"`
	Running   *int    `json:"running,omitempty"`
	Healthy   *int    `json:"healthy,omitempty"`
	Unhealthy *int    `json:"unhealthy,omitempty"`
	Unknown   Unknown `json:"-"`
}

// AppTaskLifeTime are task lifetime statistics.
type AppTaskLifeTime struct {
	AverageSeconds *float64 `json:"averageSeconds,omitempty"`
	MedianSeconds  *float64 `json:"medianSeconds,omitempty"`
	Unknown        Unknown  `json:"-"`
}
