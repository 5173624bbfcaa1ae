// This file gives every model object type its JSON methods (kept in step with the types by hand).

package marathon

// MarshalJSON and UnmarshalJSON for every model object type: decoding goes through the
// position-aware decoder (exact member names, unknown members kept), encoding writes the
// known fields then the unknown members back.

// MarshalJSON writes the known fields and then the Unknown members.
func (v App) MarshalJSON() ([]byte, error) {
	type plain App
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *App) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v SecretRef) MarshalJSON() ([]byte, error) {
	type plain SecretRef
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *SecretRef) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v SecretDef) MarshalJSON() ([]byte, error) {
	type plain SecretDef
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *SecretDef) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v Artifact) MarshalJSON() ([]byte, error) {
	type plain Artifact
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *Artifact) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v UpgradeStrategy) MarshalJSON() ([]byte, error) {
	type plain UpgradeStrategy
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *UpgradeStrategy) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v Residency) MarshalJSON() ([]byte, error) {
	type plain Residency
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *Residency) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *UnreachableStrategy) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v VersionInfo) MarshalJSON() ([]byte, error) {
	type plain VersionInfo
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *VersionInfo) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v ExecutorResources) MarshalJSON() ([]byte, error) {
	type plain ExecutorResources
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *ExecutorResources) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v ResourceLimits) MarshalJSON() ([]byte, error) {
	type plain ResourceLimits
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *ResourceLimits) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v AppDeploymentRef) MarshalJSON() ([]byte, error) {
	type plain AppDeploymentRef
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *AppDeploymentRef) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v AppTask) MarshalJSON() ([]byte, error) {
	type plain AppTask
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *AppTask) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v AppTaskIP) MarshalJSON() ([]byte, error) {
	type plain AppTaskIP
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *AppTaskIP) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v AppLocalVolume) MarshalJSON() ([]byte, error) {
	type plain AppLocalVolume
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *AppLocalVolume) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v AppHealthResult) MarshalJSON() ([]byte, error) {
	type plain AppHealthResult
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *AppHealthResult) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v AppCheckStatus) MarshalJSON() ([]byte, error) {
	type plain AppCheckStatus
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *AppCheckStatus) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v AppHTTPCheckStatus) MarshalJSON() ([]byte, error) {
	type plain AppHTTPCheckStatus
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *AppHTTPCheckStatus) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v AppTCPCheckStatus) MarshalJSON() ([]byte, error) {
	type plain AppTCPCheckStatus
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *AppTCPCheckStatus) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v AppCommandCheckStatus) MarshalJSON() ([]byte, error) {
	type plain AppCommandCheckStatus
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *AppCommandCheckStatus) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v AppTaskFailure) MarshalJSON() ([]byte, error) {
	type plain AppTaskFailure
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *AppTaskFailure) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v ReadinessCheckResult) MarshalJSON() ([]byte, error) {
	type plain ReadinessCheckResult
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *ReadinessCheckResult) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v ReadinessCheckResponse) MarshalJSON() ([]byte, error) {
	type plain ReadinessCheckResponse
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *ReadinessCheckResponse) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v AppTaskStatsByVersion) MarshalJSON() ([]byte, error) {
	type plain AppTaskStatsByVersion
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *AppTaskStatsByVersion) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v AppTaskStatsEntry) MarshalJSON() ([]byte, error) {
	type plain AppTaskStatsEntry
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *AppTaskStatsEntry) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v AppTaskStats) MarshalJSON() ([]byte, error) {
	type plain AppTaskStats
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *AppTaskStats) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v AppTaskCounts) MarshalJSON() ([]byte, error) {
	type plain AppTaskCounts
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *AppTaskCounts) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v AppTaskLifeTime) MarshalJSON() ([]byte, error) {
	type plain AppTaskLifeTime
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *AppTaskLifeTime) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v Container) MarshalJSON() ([]byte, error) {
	type plain Container
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *Container) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v Docker) MarshalJSON() ([]byte, error) {
	type plain Docker
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *Docker) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v DockerParameter) MarshalJSON() ([]byte, error) {
	type plain DockerParameter
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *DockerParameter) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v PullConfig) MarshalJSON() ([]byte, error) {
	type plain PullConfig
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *PullConfig) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v DockerCredential) MarshalJSON() ([]byte, error) {
	type plain DockerCredential
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *DockerCredential) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v PortMapping) MarshalJSON() ([]byte, error) {
	type plain PortMapping
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *PortMapping) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v LinuxInfo) MarshalJSON() ([]byte, error) {
	type plain LinuxInfo
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *LinuxInfo) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v Seccomp) MarshalJSON() ([]byte, error) {
	type plain Seccomp
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *Seccomp) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v IPCInfo) MarshalJSON() ([]byte, error) {
	type plain IPCInfo
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *IPCInfo) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v HealthCheck) MarshalJSON() ([]byte, error) {
	type plain HealthCheck
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *HealthCheck) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v CommandCheck) MarshalJSON() ([]byte, error) {
	type plain CommandCheck
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *CommandCheck) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v ReadinessCheck) MarshalJSON() ([]byte, error) {
	type plain ReadinessCheck
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *ReadinessCheck) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v AppCheck) MarshalJSON() ([]byte, error) {
	type plain AppCheck
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *AppCheck) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v AppHTTPCheck) MarshalJSON() ([]byte, error) {
	type plain AppHTTPCheck
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *AppHTTPCheck) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v AppTCPCheck) MarshalJSON() ([]byte, error) {
	type plain AppTCPCheck
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *AppTCPCheck) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v CommandExecCheck) MarshalJSON() ([]byte, error) {
	type plain CommandExecCheck
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *CommandExecCheck) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v MesosCommand) MarshalJSON() ([]byte, error) {
	type plain MesosCommand
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *MesosCommand) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v PodHealthCheck) MarshalJSON() ([]byte, error) {
	type plain PodHealthCheck
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *PodHealthCheck) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v PodHTTPCheck) MarshalJSON() ([]byte, error) {
	type plain PodHTTPCheck
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *PodHTTPCheck) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v PodTCPCheck) MarshalJSON() ([]byte, error) {
	type plain PodTCPCheck
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *PodTCPCheck) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v PodCheck) MarshalJSON() ([]byte, error) {
	type plain PodCheck
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *PodCheck) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v Network) MarshalJSON() ([]byte, error) {
	type plain Network
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *Network) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v PortDefinition) MarshalJSON() ([]byte, error) {
	type plain PortDefinition
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *PortDefinition) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v IPAddress) MarshalJSON() ([]byte, error) {
	type plain IPAddress
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *IPAddress) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v IPDiscovery) MarshalJSON() ([]byte, error) {
	type plain IPDiscovery
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *IPDiscovery) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v IPDiscoveryPort) MarshalJSON() ([]byte, error) {
	type plain IPDiscoveryPort
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *IPDiscoveryPort) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v Endpoint) MarshalJSON() ([]byte, error) {
	type plain Endpoint
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *Endpoint) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v AppVolume) MarshalJSON() ([]byte, error) {
	type plain AppVolume
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *AppVolume) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v PersistentVolume) MarshalJSON() ([]byte, error) {
	type plain PersistentVolume
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *PersistentVolume) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *ExternalVolume) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v CSIVolumeOptions) MarshalJSON() ([]byte, error) {
	type plain CSIVolumeOptions
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *CSIVolumeOptions) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v CSICapability) MarshalJSON() ([]byte, error) {
	type plain CSICapability
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *CSICapability) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v PodVolume) MarshalJSON() ([]byte, error) {
	type plain PodVolume
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *PodVolume) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v VolumeMount) MarshalJSON() ([]byte, error) {
	type plain VolumeMount
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *VolumeMount) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v PodConstraint) MarshalJSON() ([]byte, error) {
	type plain PodConstraint
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *PodConstraint) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v Group) MarshalJSON() ([]byte, error) {
	type plain Group
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *Group) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v Pod) MarshalJSON() ([]byte, error) {
	type plain Pod
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *Pod) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v PodContainer) MarshalJSON() ([]byte, error) {
	type plain PodContainer
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *PodContainer) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v PodExec) MarshalJSON() ([]byte, error) {
	type plain PodExec
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *PodExec) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v Resources) MarshalJSON() ([]byte, error) {
	type plain Resources
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *Resources) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v PodImage) MarshalJSON() ([]byte, error) {
	type plain PodImage
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *PodImage) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v Lifecycle) MarshalJSON() ([]byte, error) {
	type plain Lifecycle
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *Lifecycle) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v PodScaling) MarshalJSON() ([]byte, error) {
	type plain PodScaling
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *PodScaling) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v PodScheduling) MarshalJSON() ([]byte, error) {
	type plain PodScheduling
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *PodScheduling) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v PodBackoff) MarshalJSON() ([]byte, error) {
	type plain PodBackoff
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *PodBackoff) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v PodPlacement) MarshalJSON() ([]byte, error) {
	type plain PodPlacement
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *PodPlacement) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }

// MarshalJSON writes the known fields and then the Unknown members.
func (v PodStatus) MarshalJSON() ([]byte, error) {
	type plain PodStatus
	return marshalObject(plain(v), v.Unknown)
}

// UnmarshalJSON decodes with exact member names and keeps unknown members.
func (v *PodStatus) UnmarshalJSON(data []byte) error { return decodeInto(data, v) }
