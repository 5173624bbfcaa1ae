package marathon

import (
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

var (
	legacyName     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	networkName    = regexp.MustCompile(`^[a-z0-9]([-a-z0-9_]*[a-z0-9])?$`)
	mesosLiteral   = regexp.MustCompile(`^[a-zA-Z0-9_/.-]*$`)
	executorRegexp = regexp.MustCompile(`^((//cmd)|(/?[^/]+(/[^/]+)*)|)$`)
)

var protocols = map[string]bool{ProtocolHTTP: true, ProtocolHTTPS: true, ProtocolTCP: true, ProtocolCommand: true, ProtocolMesosHTTP: true, ProtocolMesosHTTPS: true, ProtocolMesosTCP: true}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func (v *validator) app(a *App, path, base string) {
	v.checkID(a.ID, path, "app")
	at := func(f string) string { return joinKey(path, f) }

	// Command.
	hasCmd := a.Cmd != nil && *a.Cmd != ""
	hasArgs := len(a.Args) > 0
	if a.Cmd != nil && *a.Cmd == "" {
		v.reject(at("cmd"), "cmd is an empty string", "remove cmd or give the command to run")
	}
	if hasCmd && hasArgs {
		v.reject(at("args"), "cmd and args are mutually exclusive", "use cmd for a shell command line, or args for an argument vector, not both")
	}
	hasContainer := false
	if c := a.Container; c != nil {
		t := str(c.Type)
		hasContainer = c.Docker != nil || t == ContainerMesos
	}
	if !hasCmd && !hasArgs && !hasContainer {
		v.err(path, "the app has nothing to run: it needs cmd, args or a container", `add "cmd": "...", "args": [...] or a "container" with a docker image`)
	}

	// Resources.
	v.resource(a.CPUs, at("cpus"), MaxCPUs)
	if a.CPUs != nil && *a.CPUs == 0 {
		v.warn(at("cpus"), "cpus is 0: the task gets no CPU share", "request at least 0.001 cpus")
	}
	v.resource(a.Mem, at("mem"), MaxMiB)
	if a.Mem != nil && *a.Mem > 0 && *a.Mem < 32 {
		v.warn(at("mem"), fmt.Sprintf("mem is %g MB: most processes need more than 32 MB", *a.Mem), "mem is in megabytes")
	}
	if a.Mem != nil && *a.Mem > 4*1024*1024 {
		v.warn(at("mem"), fmt.Sprintf("mem is %g MB (over 4 TB): no agent can offer this", *a.Mem), "mem is in megabytes")
	}
	if a.CPUs != nil && *a.CPUs > 1024 {
		v.warn(at("cpus"), fmt.Sprintf("cpus is %g: no agent can offer this", *a.CPUs), "")
	}
	v.resource(a.Disk, at("disk"), MaxMiB)
	v.count(a.GPUs, at("gpus"), MaxGPUs)
	v.count(a.Instances, at("instances"), MaxInstances)
	v.nonNegInt(a.BackoffSeconds, at("backoffSeconds"))
	v.nonNegInt(a.MaxLaunchDelaySeconds, at("maxLaunchDelaySeconds"))
	v.nonNegInt(a.TaskKillGracePeriodSeconds, at("taskKillGracePeriodSeconds"))
	if a.BackoffFactor != nil && *a.BackoffFactor < 1 {
		v.reject(at("backoffFactor"), fmt.Sprintf("backoffFactor is %g; it must be at least 1", *a.BackoffFactor), "1.15 is the default")
	}
	if a.GPUs != nil && *a.GPUs > 0 && a.Container != nil && str(a.Container.Type) != ContainerMesos {
		v.reject(at("gpus"), "GPU resources only work with the Mesos containerizer", `set container.type to "MESOS"`)
	}
	if a.ExecutorResources != nil {
		v.resource(a.ExecutorResources.CPUs, joinKey(at("executorResources"), "cpus"), MaxCPUs)
		v.resource(a.ExecutorResources.Mem, joinKey(at("executorResources"), "mem"), MaxMiB)
		v.resource(a.ExecutorResources.Disk, joinKey(at("executorResources"), "disk"), MaxMiB)
	}
	v.resourceLimits(a.ResourceLimits, at("resourceLimits"), a.CPUs, a.Mem)
	if a.Executor != nil && !executorRegexp.MatchString(*a.Executor) {
		v.reject(at("executor"), fmt.Sprintf("invalid executor %q", *a.Executor), `use "//cmd", an executor path, or leave it out`)
	}
	if a.KillSelection != nil {
		v.killSelection(*a.KillSelection, at("killSelection"))
	}
	for i, r := range a.AcceptedResourceRoles {
		if strings.TrimSpace(r) == "" {
			v.err(joinIndex(at("acceptedResourceRoles"), i), "empty resource role", `use "*" for unreserved resources`)
		}
	}
	if a.AcceptedResourceRoles != nil && len(a.AcceptedResourceRoles) == 0 {
		v.reject(at("acceptedResourceRoles"), "acceptedResourceRoles is an empty list", `leave it out, or list roles such as ["*"]`)
	}
	for i, d := range a.Dependencies {
		v.dependency(d, joinIndex(at("dependencies"), i))
	}

	// Strategies.
	resident := a.Container != nil && hasPersistentVolume(a.Container.Volumes)
	if u := a.UpgradeStrategy; u != nil {
		p := at("upgradeStrategy")
		v.fraction(u.MinimumHealthCapacity, joinKey(p, "minimumHealthCapacity"))
		v.fraction(u.MaximumOverCapacity, joinKey(p, "maximumOverCapacity"))
		if resident && u.MaximumOverCapacity != nil && *u.MaximumOverCapacity != 0 {
			v.reject(joinKey(p, "maximumOverCapacity"), "apps with persistent volumes must have maximumOverCapacity 0", "a resident task cannot run twice next to its own volume")
		}
		if a.Labels["MARATHON_SINGLE_INSTANCE_APP"] == "true" && (u.MaximumOverCapacity != nil && *u.MaximumOverCapacity != 0 || u.MinimumHealthCapacity != nil && *u.MinimumHealthCapacity != 0) {
			v.reject(p, "single-instance apps must have minimumHealthCapacity 0 and maximumOverCapacity 0", "")
		}
	}
	if a.Labels["MARATHON_SINGLE_INSTANCE_APP"] == "true" && a.Instances != nil && *a.Instances > 1 {
		v.reject(at("instances"), "single-instance app (label MARATHON_SINGLE_INSTANCE_APP) may only have one instance", "")
	}
	v.unreachable(a.UnreachableStrategy, at("unreachableStrategy"))
	if resident && a.UnreachableStrategy != nil && !a.UnreachableStrategy.Disabled {
		v.reject(at("unreachableStrategy"), "unreachableStrategy must be disabled for apps with persistent volumes", `set "unreachableStrategy": "disabled"`)
	}
	if a.Residency != nil {
		v.issues = append(v.issues, Issue{Path: at("residency"), Severity: SeverityWarning, Message: "residency is deprecated and has no effect", Hint: "remove it", Category: CategoryDeprecated})
	}

	// Constraints.
	for i, c := range a.Constraints {
		v.constraint(c, joinIndex(at("constraints"), i), false)
	}

	// Secrets and environment.
	for name, s := range a.Secrets {
		if s.Source == "" {
			v.reject(joinKey(joinKey(at("secrets"), name), "source"), "secret has no source", `set "source" to the secret's path in the secret store`)
		}
	}
	v.env(a.Env, at("env"), a.Secrets, false)

	// Fetch and legacy fields.
	for i, f := range a.Fetch {
		if f.URI == "" {
			v.err(joinKey(joinIndex(at("fetch"), i), "uri"), "fetch entry has no uri", "")
		}
	}
	if a.URIs != nil {
		v.deprecated(path, "uris", "fetch")
		if len(a.URIs) > 0 && len(a.Fetch) > 0 {
			v.reject(at("uris"), "uris may not be set together with fetch", "move the uris into fetch")
		}
		for i, u := range a.URIs {
			if u == "" {
				v.err(joinIndex(at("uris"), i), "empty uri", "")
			}
		}
	}
	if a.StoreURLs != nil {
		v.issues = append(v.issues, Issue{Path: at("storeUrls"), Severity: SeverityWarning, Message: "storeUrls is deprecated and has no effect", Hint: "remove it", Category: CategoryDeprecated})
	}
	if a.Ports != nil {
		v.deprecated(path, "ports", "portDefinitions")
		if a.PortDefinitions != nil && !samePorts(a.Ports, a.PortDefinitions) {
			v.reject(at("ports"), "cannot specify both ports and portDefinitions", "keep only portDefinitions")
		}
		seen := map[int]bool{}
		for i, p := range a.Ports {
			v.port(p, joinIndex(at("ports"), i), true)
			if p != 0 && seen[p] {
				v.reject(joinIndex(at("ports"), i), fmt.Sprintf("port %d is listed twice", p), "ports must be unique")
			}
			seen[p] = true
		}
	}
	if a.IPAddress != nil {
		v.deprecated(path, "ipAddress", "networks")
		if len(a.Networks) > 0 {
			v.reject(at("ipAddress"), "must not specify both networks and ipAddress", "keep networks")
		}
		if len(a.Ports) > 0 || len(a.PortDefinitions) > 0 {
			v.reject(at("ipAddress"), "cannot specify both an IP address and ports", "with ipAddress, declare ports in ipAddress.discovery or container port mappings")
		}
		if a.Container != nil && str(a.Container.Type) != ContainerMesos && a.IPAddress.Discovery != nil {
			v.reject(joinKey(at("ipAddress"), "discovery"), "ipAddress.discovery is not allowed for Docker containers", "use container.portMappings")
		}
	}

	// Ports and networks.
	v.portDefinitions(a.PortDefinitions, at("portDefinitions"), a.RequirePorts)
	v.networks(a.Networks, at("networks"), false)
	hostNet := len(a.Networks) == 0 || str(a.Networks[0].Mode) == NetworkModeHost
	if a.Container != nil {
		v.container(a, path)
		if a.Container.Docker != nil && a.Container.Docker.Network != nil && len(a.Networks) > 0 {
			v.reject(joinKey(at("container"), "docker.network"), "must not specify both container.docker.network and networks", "keep networks")
		}
		if a.Container.Docker != nil && a.Container.Docker.Network != nil {
			hostNet = *a.Container.Docker.Network == "HOST"
		}
	}
	if len(a.Networks) > 0 && !hostNet && len(a.PortDefinitions) > 0 {
		v.reject(at("portDefinitions"), "portDefinitions are only allowed with host networking", "use container.portMappings with container or bridge networks")
	}
	if len(a.Networks) > 0 && str(a.Networks[0].Mode) == NetworkModeHost && a.Container != nil && len(a.Container.PortMappings) > 0 {
		v.reject(joinKey(at("container"), "portMappings"), "portMappings are not allowed with host networking", "use portDefinitions")
	}

	// Health and readiness.
	nports := portCount(a)
	v.healthChecks(a, path, nports)
	names := portNames(a)
	for i, rc := range a.ReadinessChecks {
		p := joinIndex(at("readinessChecks"), i)
		if rc.Protocol != nil && *rc.Protocol != "HTTP" && *rc.Protocol != "HTTPS" {
			v.reject(joinKey(p, "protocol"), fmt.Sprintf("invalid readiness check protocol %q", *rc.Protocol), "use HTTP or HTTPS")
		}
		pn := "http-api"
		if rc.PortName != nil {
			pn = *rc.PortName
		}
		if !names[pn] {
			v.err(joinKey(p, "portName"), fmt.Sprintf("no port named %q for the readiness check", pn), "name a port in portDefinitions or portMappings and refer to it here")
		}
		v.count(rc.IntervalSeconds, joinKey(p, "intervalSeconds"), MaxCheckValue)
		if rc.TimeoutSeconds != nil && *rc.TimeoutSeconds < 1 {
			v.reject(joinKey(p, "timeoutSeconds"), "timeoutSeconds must be at least 1", "")
		}
		v.count(rc.TimeoutSeconds, joinKey(p, "timeoutSeconds"), MaxCheckValue)
		for j, code := range rc.HTTPStatusCodesForReady {
			if code < 100 || code > 999 {
				v.err(joinIndex(joinKey(p, "httpStatusCodesForReady"), j), fmt.Sprintf("%d is not an HTTP status code", code), "")
			}
		}
	}
	if a.Check != nil {
		v.appCheck(a.Check, at("check"), nports)
	}
}

func samePorts(ports []int, defs []PortDefinition) bool {
	if len(ports) != len(defs) {
		return false
	}
	for i, d := range defs {
		p := 0
		if d.Port != nil {
			p = *d.Port
		}
		if p != ports[i] {
			return false
		}
	}
	return true
}

func hasPersistentVolume(vols []AppVolume) bool {
	for _, vol := range vols {
		if vol.Persistent != nil {
			return true
		}
	}
	return false
}

// portMappings returns the app's port mappings (container or legacy docker)
// and whether any were given.
func portMappings(a *App) ([]PortMapping, bool) {
	if a.Container == nil {
		return nil, false
	}
	if a.Container.PortMappings != nil {
		return a.Container.PortMappings, true
	}
	if a.Container.Docker != nil && a.Container.Docker.PortMappings != nil {
		return a.Container.Docker.PortMappings, true
	}
	return nil, false
}

// portCount is the number of ports a task of the app gets (what portIndex
// indexes): port mappings, else port definitions, else ports, else the
// single default port Marathon assigns.
func portCount(a *App) int {
	pm, hasPM := portMappings(a)
	if len(pm) > 0 {
		return len(pm)
	}
	if a.PortDefinitions != nil {
		return len(a.PortDefinitions)
	}
	if a.Ports != nil {
		return len(a.Ports)
	}
	if hasPM {
		return 0
	}
	if a.IPAddress != nil {
		if a.IPAddress.Discovery != nil {
			return len(a.IPAddress.Discovery.Ports)
		}
		return 0
	}
	return 1
}

func portNames(a *App) map[string]bool {
	names := map[string]bool{}
	pm, _ := portMappings(a)
	for _, m := range pm {
		if m.Name != nil {
			names[*m.Name] = true
		}
	}
	for _, d := range a.PortDefinitions {
		if d.Name != nil {
			names[*d.Name] = true
		}
	}
	return names
}

// Bounds of the numbers that become Kubernetes counts and quantities:
// beyond them the converted value would overflow (replicas are int32; a
// quantity holds at most 2^63-1 of its unit: millicores for cpus, bytes
// for mem and disk). They are far above anything an agent can offer.
const (
	// MaxInstances is the largest instance count: replicas are int32.
	MaxInstances = math.MaxInt32
	// MaxCPUs is the largest cpus value (1e6 cpus = 1e9 millicores).
	MaxCPUs = 1e6
	// MaxMiB is the largest mem or disk value in MiB (1e12 MiB, about
	// 1.05e18 bytes, below 2^63).
	MaxMiB = 1e12
	// MaxGPUs is the largest gpus value.
	MaxGPUs = 1_000_000
	// MaxCheckValue bounds the seconds and counts of health and readiness
	// checks: probe fields are int32, and a startup probe's failure
	// threshold adds gracePeriodSeconds/intervalSeconds to
	// maxConsecutiveFailures (two values below 2^30 cannot overflow).
	MaxCheckValue = 1<<30 - 1
)

// resource checks a cpus, mem or disk value: finite, not negative, at most
// max. It reports whether the value is usable.
func (v *validator) resource(f *float64, path string, max float64) bool {
	if f == nil {
		return true
	}
	switch {
	case math.IsNaN(*f) || math.IsInf(*f, 0):
		v.rangeErr(path, fmt.Sprintf("%s is %g; it must be a finite number", lastSeg(path), *f), "")
	case *f < 0:
		v.rangeErr(path, fmt.Sprintf("%s is %g; it must not be negative", lastSeg(path), *f), "")
	case *f > max:
		v.rangeErr(path, fmt.Sprintf("%s is %g; it must be at most %g", lastSeg(path), *f, max), "larger values overflow Kubernetes quantities; no agent offers them")
	default:
		return true
	}
	return false
}

// count checks an instance or GPU count: not negative, at most max.
func (v *validator) count(i *int, path string, max int) {
	switch {
	case i == nil:
	case *i < 0:
		v.rangeErr(path, fmt.Sprintf("%s is %d; it must not be negative", lastSeg(path), *i), "")
	case *i > max:
		v.rangeErr(path, fmt.Sprintf("%s is %d; it must be at most %d", lastSeg(path), *i, max), "Kubernetes counts are 32-bit")
	}
}

// rangeErr records a number out of the bounds the converter can represent.
func (v *validator) rangeErr(path, msg, hint string) {
	v.issues = append(v.issues, Issue{Path: path, Severity: SeverityError, Message: msg, Hint: hint, Category: CategoryRange})
}

func (v *validator) nonNegFloat(f *float64, path string) {
	if f != nil && *f < 0 {
		v.err(path, fmt.Sprintf("%s is %g; it must not be negative", lastSeg(path), *f), "")
	}
}

func (v *validator) nonNegInt(i *int, path string) {
	if i != nil && *i < 0 {
		v.err(path, fmt.Sprintf("%s is %d; it must not be negative", lastSeg(path), *i), "")
	}
}

func (v *validator) fraction(f *float64, path string) {
	if f != nil && (*f < 0 || *f > 1) {
		v.err(path, fmt.Sprintf("%s is %g; it must be between 0 and 1", lastSeg(path), *f), "it is a fraction of the instance count")
	}
}

func lastSeg(path string) string {
	if i := strings.LastIndexAny(path, ".["); i >= 0 {
		return strings.Trim(path[i:], ".[]\"")
	}
	return path
}

func (v *validator) killSelection(k, path string) {
	if k != "YOUNGEST_FIRST" && k != "OLDEST_FIRST" {
		v.reject(path, fmt.Sprintf("invalid killSelection %q", k), "use YOUNGEST_FIRST or OLDEST_FIRST")
	}
}

func (v *validator) unreachable(u *UnreachableStrategy, path string) {
	if u == nil || u.Disabled {
		return
	}
	for _, f := range []struct {
		name string
		val  *int64
	}{{"inactiveAfterSeconds", u.InactiveAfterSeconds}, {"expungeAfterSeconds", u.ExpungeAfterSeconds}} {
		if f.val != nil && *f.val < 0 {
			v.err(joinKey(path, f.name), f.name+" must not be negative", "")
		}
	}
	if u.InactiveAfterSeconds != nil && u.ExpungeAfterSeconds != nil && *u.ExpungeAfterSeconds < *u.InactiveAfterSeconds {
		v.reject(joinKey(path, "expungeAfterSeconds"), "expungeAfterSeconds must not be smaller than inactiveAfterSeconds", "")
	}
}

func (v *validator) resourceLimits(rl *ResourceLimits, path string, cpus, mem *float64) {
	if rl == nil {
		return
	}
	check := func(l *ResourceLimit, name string, req *float64, def float64) {
		if l == nil || l.Unlimited {
			return
		}
		bound := MaxCPUs
		if name == "mem" {
			bound = MaxMiB
		}
		if !v.resource(&l.Value, joinKey(path, name), bound) {
			return
		}
		r := def
		if req != nil {
			r = *req
		}
		if l.Value < r {
			v.err(joinKey(path, name), fmt.Sprintf("resource limit %g is below the requested %s %g", l.Value, name, r), `the limit must be at least the request, or "unlimited"`)
		}
	}
	check(rl.CPUs, "cpus", cpus, 1)
	check(rl.Mem, "mem", mem, 128)
}

// constraint checks an app (or volume) constraint as Marathon does.
func (v *validator) constraint(c Constraint, path string, volume bool) {
	form := `["field", "OPERATOR"] or ["field", "OPERATOR", "value"]`
	if c.Legacy {
		v.warn(path, fmt.Sprintf("legacy constraint string %q", c.String()), "write it as "+legacyAsArray(c))
	}
	if len(c.Parts) < 2 || len(c.Parts) > 3 {
		v.err(path, fmt.Sprintf("a constraint has 2 or 3 elements, got %d", len(c.Parts)), "write "+form)
		return
	}
	field, op := c.Field(), strings.ToUpper(c.Operator())
	value, hasValue := c.Value()
	if field == "" {
		v.err(path, "constraint has an empty field name", `name an agent attribute or "hostname"`)
		return
	}
	if volume {
		if field != "path" || (op != OpLike && op != OpUnlike) || !hasValue {
			v.err(path, "volume constraints must be [\"path\", \"LIKE\"|\"UNLIKE\", \"regex\"]", "")
			return
		}
	}
	switch op {
	case OpUnique:
		if hasValue {
			v.reject(path, "UNIQUE does not take a value", `write ["`+field+`", "UNIQUE"]`)
		}
	case OpCluster:
	case OpGroupBy:
		if hasValue {
			if _, err := strconv.Atoi(value); err != nil {
				v.reject(path, fmt.Sprintf("GROUP_BY takes no value or an integer, got %q", value), "the value is the number of distinct attribute values to spread over")
			}
		}
	case OpMaxPer:
		if !hasValue {
			v.err(path, "MAX_PER requires an integer value", `write ["`+field+`", "MAX_PER", "2"]`)
		} else if n, err := strconv.Atoi(value); err != nil {
			v.err(path, fmt.Sprintf("MAX_PER requires an integer value, got %q", value), "")
		} else if n < 1 {
			v.err(path, fmt.Sprintf("MAX_PER %d can never be met", n), "use a value of 1 or more")
		}
	case OpLike, OpUnlike:
		if !hasValue {
			v.err(path, op+" requires a regular expression value", `write ["`+field+`", "`+op+`", "regex"]`)
		} else if _, err := regexp.Compile(value); err != nil {
			v.err(path, fmt.Sprintf("invalid regular expression %q: %v", value, err), "")
		}
	case OpIs:
		if !mesosLiteral.MatchString(value) {
			v.err(path, fmt.Sprintf("IS requires a text or number value, got %q", value), "")
		}
	default:
		v.err(path, fmt.Sprintf("unknown constraint operator %q", c.Operator()), "use one of UNIQUE, CLUSTER, GROUP_BY, LIKE, UNLIKE, MAX_PER, IS")
		return
	}
	if op != c.Operator() && !c.Legacy {
		v.warn(path, fmt.Sprintf("constraint operator %q is not upper case", c.Operator()), "write "+op)
	}
}

func legacyAsArray(c Constraint) string {
	q := make([]string, len(c.Parts))
	for i, p := range c.Parts {
		q[i] = strconv.Quote(p)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func (v *validator) env(env map[string]EnvValue, path string, secrets map[string]SecretDef, strict bool) {
	for _, k := range slices.Sorted(maps.Keys(env)) {
		e := env[k]
		p := joinKey(path, k)
		if k == "" {
			v.err(p, "environment variable with an empty name", "")
		} else if strict && !envName.MatchString(k) {
			v.reject(p, fmt.Sprintf("invalid environment variable name %q", k), "use letters, digits and '_', not starting with a digit")
		}
		if e.Secret != nil {
			if _, ok := secrets[e.Secret.Secret]; !ok {
				v.reject(joinKey(p, "secret"), fmt.Sprintf("environment variable %s refers to secret %q, which is not declared in secrets", k, e.Secret.Secret), `declare it: "secrets": {"`+e.Secret.Secret+`": {"source": "..."}}`)
			}
		}
	}
}

var envName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

func (v *validator) port(p int, path string, allowZero bool) {
	if p < 0 || p > 65535 || (!allowZero && p == 0) {
		v.err(path, fmt.Sprintf("port %d is out of range", p), "ports are 0..65535 (0 picks one)")
	}
}

func (v *validator) protocol(p *string, path string) {
	if p == nil {
		return
	}
	switch *p {
	case "tcp", "udp", "udp,tcp", "tcp,udp":
	default:
		v.reject(path, fmt.Sprintf("invalid protocol %q", *p), `use "tcp", "udp" or "udp,tcp"`)
	}
}

func (v *validator) portDefinitions(defs []PortDefinition, path string, requirePorts *bool) {
	names := map[string]bool{}
	ports := map[int]bool{}
	for i, d := range defs {
		p := joinIndex(path, i)
		if d.Port != nil {
			v.port(*d.Port, joinKey(p, "port"), true)
			if *d.Port != 0 {
				if ports[*d.Port] {
					v.reject(joinKey(p, "port"), fmt.Sprintf("port %d is defined twice", *d.Port), "ports must be unique")
				}
				ports[*d.Port] = true
			}
		}
		v.protocol(d.Protocol, joinKey(p, "protocol"))
		v.portName(d.Name, joinKey(p, "name"), names)
	}
	if requirePorts != nil && *requirePorts && len(ports) == 0 && len(defs) > 0 {
		v.warn(joinKey(parentPath(path), "requirePorts"), "requirePorts is true but every port is 0 (dynamic)", "give fixed port numbers or drop requirePorts")
	}
}

func (v *validator) portName(n *string, path string, names map[string]bool) {
	if n == nil {
		return
	}
	if !legacyName.MatchString(*n) {
		v.warn(path, fmt.Sprintf("port name %q is not a DNS label", *n), "Marathon requires lowercase letters, digits and '-' (and Kubernetes port names too)")
	}
	if names[*n] {
		v.reject(path, fmt.Sprintf("port name %q is used twice", *n), "port names must be unique")
	}
	names[*n] = true
}

func (v *validator) networks(nets []Network, path string, pod bool) {
	host, container := 0, 0
	for i, n := range nets {
		p := joinIndex(path, i)
		mode := NetworkModeContainer
		if n.Mode != nil {
			mode = *n.Mode
		}
		switch mode {
		case NetworkModeHost:
			host++
			if n.Name != nil {
				v.reject(joinKey(p, "name"), "host networks have no name", "remove the name")
			}
		case NetworkModeContainer:
			container++
			if n.Name != nil && !networkName.MatchString(*n.Name) {
				v.reject(joinKey(p, "name"), fmt.Sprintf("invalid network name %q", *n.Name), "use lowercase letters, digits, '-' and '_'")
			}
		case NetworkModeContainerBridge:
			if n.Name != nil {
				v.reject(joinKey(p, "name"), "container/bridge networks have no name", "remove the name")
			}
		default:
			v.reject(joinKey(p, "mode"), fmt.Sprintf("invalid network mode %q", mode), `use "container", "container/bridge" or "host"`)
		}
	}
	if host > 0 && len(nets) > 1 {
		v.reject(path, "host networking cannot be combined with other networks", "use a single {\"mode\": \"host\"}")
	}
}

func (v *validator) container(a *App, path string) {
	c := a.Container
	p := joinKey(path, "container")
	t := ContainerDocker
	if c.Type != nil {
		t = *c.Type
	}
	switch t {
	case ContainerDocker, ContainerMesos:
	default:
		v.reject(joinKey(p, "type"), fmt.Sprintf("invalid container type %q", t), "use DOCKER or MESOS")
	}
	if d := c.Docker; d != nil {
		dp := joinKey(p, "docker")
		if d.Image == "" {
			v.reject(joinKey(dp, "image"), "docker image is empty", `set "image", e.g. "nginx:1.25"`)
		}
		if d.Network != nil {
			v.deprecated(dp, "network", "networks")
			switch *d.Network {
			case "BRIDGE", "HOST", "NONE", "USER":
			default:
				v.reject(joinKey(dp, "network"), fmt.Sprintf("invalid docker network %q", *d.Network), "use BRIDGE, HOST, NONE or USER")
			}
		}
		if d.PortMappings != nil {
			v.deprecated(dp, "portMappings", "container.portMappings")
			if c.PortMappings != nil {
				v.reject(joinKey(dp, "portMappings"), "portMappings given both in container and in container.docker", "keep container.portMappings")
			}
		}
		if d.Credential != nil {
			v.reject(joinKey(dp, "credential"), "docker credentials are not supported since Marathon 1.5", "use pullConfig with a secret")
		}
		if t == ContainerMesos {
			for _, f := range []struct {
				set  bool
				name string
			}{{d.Network != nil, "network"}, {d.Parameters != nil, "parameters"}, {d.PortMappings != nil, "portMappings"}, {d.Privileged != nil && *d.Privileged, "privileged"}} {
				if f.set {
					v.reject(joinKey(dp, f.name), "docker."+f.name+" is not supported by the Mesos containerizer", `remove it or use "type": "DOCKER"`)
				}
			}
		}
		if d.PullConfig != nil {
			if t == ContainerDocker {
				v.reject(joinKey(dp, "pullConfig"), "pullConfig is not supported with the Docker containerizer", `use "type": "MESOS"`)
			} else if _, ok := a.Secrets[d.PullConfig.Secret]; !ok {
				v.reject(joinKey(joinKey(dp, "pullConfig"), "secret"), fmt.Sprintf("pullConfig.secret %q is not declared in secrets", d.PullConfig.Secret), "")
			}
		}
		for i, prm := range d.Parameters {
			if prm.Key == "" {
				v.reject(joinKey(joinIndex(joinKey(dp, "parameters"), i), "key"), "docker parameter with an empty key", `write {"key": "label", "value": "..."}`)
			}
		}
	} else if t == ContainerDocker {
		v.err(p, "a DOCKER container needs container.docker with an image", `add "docker": {"image": "..."}`)
	}
	pms, _ := portMappings(a)
	pmPath := joinKey(p, "portMappings")
	if c.PortMappings == nil && c.Docker != nil && c.Docker.PortMappings != nil {
		pmPath = joinKey(joinKey(p, "docker"), "portMappings")
	}
	names := map[string]bool{}
	for i, m := range pms {
		mp := joinIndex(pmPath, i)
		if m.ContainerPort != nil {
			v.port(*m.ContainerPort, joinKey(mp, "containerPort"), true)
		}
		if m.HostPort != nil {
			v.port(*m.HostPort, joinKey(mp, "hostPort"), true)
		}
		if m.ServicePort != nil {
			v.port(*m.ServicePort, joinKey(mp, "servicePort"), true)
		}
		v.protocol(m.Protocol, joinKey(mp, "protocol"))
		v.portName(m.Name, joinKey(mp, "name"), names)
	}
	v.appVolumes(a, p)
}

func (v *validator) appVolumes(a *App, cpath string) {
	seen := map[string]bool{}
	for i, vol := range a.Container.Volumes {
		p := joinIndex(joinKey(cpath, "volumes"), i)
		kinds := 0
		for _, set := range []bool{vol.HostPath != nil, vol.Persistent != nil, vol.External != nil, vol.Secret != nil} {
			if set {
				kinds++
			}
		}
		cp := str(vol.ContainerPath)
		if cp == "" {
			v.err(joinKey(p, "containerPath"), "volume has no containerPath", "say where the volume is mounted in the container")
		} else if seen[cp] {
			v.err(joinKey(p, "containerPath"), fmt.Sprintf("containerPath %q is mounted twice", cp), "")
		}
		seen[cp] = true
		if vol.Mode != nil && *vol.Mode != VolumeModeRO && *vol.Mode != VolumeModeRW {
			v.reject(joinKey(p, "mode"), fmt.Sprintf("invalid volume mode %q", *vol.Mode), "use RO or RW")
		}
		switch {
		case kinds == 0:
			v.err(p, "volume is neither a host, persistent, external nor secret volume", `set one of "hostPath", "persistent", "external" or "secret"`)
		case kinds > 1:
			v.err(p, "volume mixes hostPath, persistent, external and secret", "declare one kind per volume")
		case vol.HostPath != nil:
			if *vol.HostPath == "" {
				v.err(joinKey(p, "hostPath"), "hostPath is empty", "")
			}
		case vol.Persistent != nil:
			v.persistent(vol.Persistent, joinKey(p, "persistent"))
			if strings.Contains(cp, "/") {
				v.reject(joinKey(p, "containerPath"), fmt.Sprintf("persistent volume containerPath %q must not contain \"/\"", cp), "persistent volumes are mounted relative to the sandbox: use a plain name such as \"data\"")
			}
			if vol.Mode != nil && *vol.Mode != VolumeModeRW {
				v.reject(joinKey(p, "mode"), "persistent volumes must be mounted RW", "")
			}
		case vol.External != nil:
			v.external(vol.External, joinKey(p, "external"))
		case vol.Secret != nil:
			if _, ok := a.Secrets[*vol.Secret]; !ok {
				v.reject(joinKey(p, "secret"), fmt.Sprintf("volume refers to secret %q, which is not declared in secrets", *vol.Secret), "")
			}
		}
	}
}

func (v *validator) persistent(pv *PersistentVolume, path string) {
	if pv.Size == nil || *pv.Size <= 0 {
		v.err(joinKey(path, "size"), "persistent volume size must be greater than 0 (MiB)", `set "size", e.g. 1024`)
	}
	t := "root"
	if pv.Type != nil {
		t = *pv.Type
	}
	switch t {
	case "root", "path", "mount":
	default:
		v.reject(joinKey(path, "type"), fmt.Sprintf("invalid persistent volume type %q", t), "use root, path or mount")
	}
	if pv.MaxSize != nil {
		if t != "mount" {
			v.reject(joinKey(path, "maxSize"), "only mount volumes can have maxSize", "")
		} else if pv.Size != nil && *pv.MaxSize <= *pv.Size {
			v.reject(joinKey(path, "maxSize"), "maxSize must be larger than size", "")
		}
	}
	if len(pv.Constraints) > 0 && t == "root" {
		v.reject(joinKey(path, "constraints"), "constraints on root volumes are not supported", `set "type": "path" or "mount"`)
	}
	for i, c := range pv.Constraints {
		v.constraint(c, joinIndex(joinKey(path, "constraints"), i), true)
	}
}

func (v *validator) external(x *ExternalVolume, path string) {
	if str(x.Name) == "" {
		v.reject(joinKey(path, "name"), "external volume has no name", "")
	}
	prov := str(x.Provider)
	switch {
	case prov == "":
		v.reject(joinKey(path, "provider"), "external volume has no provider", `use "dvdi" (or "csi")`)
	case prov == "csi":
		if x.CSI == nil || x.CSI.PluginName == "" {
			v.reject(joinKey(path, "options"), "CSI volumes need options.pluginName and options.capability", "")
		}
	default:
		if x.Options["dvdi/driver"] == "" {
			v.reject(joinKey(path, "options"), `DVDI volumes need the option "dvdi/driver"`, `e.g. "options": {"dvdi/driver": "rexray"}`)
		}
	}
}

func (v *validator) healthChecks(a *App, path string, nports int) {
	mesos := 0
	for i, hc := range a.HealthChecks {
		p := joinIndex(joinKey(path, "healthChecks"), i)
		proto := ProtocolHTTP
		if hc.Protocol != nil {
			proto = *hc.Protocol
		}
		if !protocols[proto] {
			v.err(joinKey(p, "protocol"), fmt.Sprintf("invalid health check protocol %q", proto), "use HTTP, HTTPS, TCP, COMMAND, MESOS_HTTP, MESOS_HTTPS or MESOS_TCP")
			continue
		}
		if proto != ProtocolCommand && hc.Command == nil && strings.HasPrefix(proto, "MESOS_") {
			mesos++
		}
		if proto == ProtocolCommand || hc.Command != nil {
			if hc.Command == nil || hc.Command.Value == "" {
				v.err(joinKey(p, "command"), "a COMMAND health check needs command.value", `add "command": {"value": "curl -f http://$HOST:$PORT0/"}`)
			} else if proto != ProtocolCommand {
				v.reject(joinKey(p, "command"), "command is only used by COMMAND health checks", `set "protocol": "COMMAND" or remove command`)
			}
		} else {
			if hc.Port != nil && hc.PortIndex != nil {
				v.reject(p, "a health check takes port or portIndex, not both", "")
			}
			if hc.PortIndex != nil {
				if *hc.PortIndex < 0 || *hc.PortIndex >= nports {
					v.err(joinKey(p, "portIndex"), fmt.Sprintf("portIndex %d does not address one of the app's %d port(s)", *hc.PortIndex, nports), "portIndex counts from 0 over portDefinitions or container port mappings")
				}
			} else if hc.Port != nil {
				v.port(*hc.Port, joinKey(p, "port"), false)
			} else if nports == 0 {
				v.err(p, "health check has no port: the app has no ports", "give the app a port (portDefinitions or portMappings) or set port")
			}
		}
		if hc.Path != nil && proto != ProtocolHTTP && proto != ProtocolHTTPS && proto != ProtocolMesosHTTP && proto != ProtocolMesosHTTPS {
			v.warn(joinKey(p, "path"), "path is only used by HTTP health checks", "")
		}
		if hc.IgnoreHTTP1xx != nil && *hc.IgnoreHTTP1xx && proto != ProtocolHTTP && proto != ProtocolHTTPS {
			v.warn(joinKey(p, "ignoreHttp1xx"), "ignoreHttp1xx is only used by HTTP and HTTPS health checks", "")
		}
		if hc.IPProtocol != nil {
			switch *hc.IPProtocol {
			case "IPv4":
			case "IPv6":
				if !strings.HasPrefix(proto, "MESOS_") || a.Container == nil || str(a.Container.Type) == ContainerMesos {
					v.reject(joinKey(p, "ipProtocol"), "IPv6 can only be used for container type DOCKER and Mesos http/https/tcp health checks", "")
				}
			default:
				v.reject(joinKey(p, "ipProtocol"), fmt.Sprintf("invalid ipProtocol %q", *hc.IPProtocol), "use IPv4 or IPv6")
			}
		}
		for _, f := range []struct {
			name string
			val  *int
		}{{"gracePeriodSeconds", hc.GracePeriodSeconds}, {"intervalSeconds", hc.IntervalSeconds}, {"timeoutSeconds", hc.TimeoutSeconds}, {"maxConsecutiveFailures", hc.MaxConsecutiveFailures}, {"delaySeconds", hc.DelaySeconds}} {
			v.count(f.val, joinKey(p, f.name), MaxCheckValue)
		}
		interval, timeout := 60, 20
		if hc.IntervalSeconds != nil {
			interval = *hc.IntervalSeconds
		}
		if hc.TimeoutSeconds != nil {
			timeout = *hc.TimeoutSeconds
		}
		if timeout > interval && interval > 0 {
			v.warn(joinKey(p, "timeoutSeconds"), fmt.Sprintf("timeoutSeconds (%d) is longer than intervalSeconds (%d)", timeout, interval), "checks will overlap; make the timeout shorter than the interval")
		}
	}
	if mesos > 1 {
		v.reject(joinKey(path, "healthChecks"), "an app can have at most one Mesos health check (MESOS_HTTP, MESOS_HTTPS, MESOS_TCP)", "")
	}
}

func (v *validator) appCheck(c *AppCheck, path string, nports int) {
	kinds := 0
	if c.HTTP != nil {
		kinds++
		if c.HTTP.PortIndex != nil && (*c.HTTP.PortIndex < 0 || *c.HTTP.PortIndex >= nports) {
			v.err(joinKey(path, "http.portIndex"), fmt.Sprintf("portIndex %d does not address one of the app's %d port(s)", *c.HTTP.PortIndex, nports), "")
		}
	}
	if c.TCP != nil {
		kinds++
		if c.TCP.PortIndex != nil && (*c.TCP.PortIndex < 0 || *c.TCP.PortIndex >= nports) {
			v.err(joinKey(path, "tcp.portIndex"), fmt.Sprintf("portIndex %d does not address one of the app's %d port(s)", *c.TCP.PortIndex, nports), "")
		}
	}
	if c.Exec != nil {
		kinds++
		v.mesosCommand(&c.Exec.Command, joinKey(joinKey(path, "exec"), "command"))
	}
	if kinds != 1 {
		v.err(path, "a check needs exactly one of http, tcp or exec", "")
	}
}

func (v *validator) mesosCommand(c *MesosCommand, path string) {
	hasShell, hasArgv := c.Shell != nil && *c.Shell != "", len(c.Argv) > 0
	switch {
	case hasShell && hasArgv:
		v.err(path, "a command has shell or argv, not both", "")
	case !hasShell && !hasArgv:
		v.err(path, "the command is empty", `set "shell": "..." or "argv": [...]`)
	}
}
