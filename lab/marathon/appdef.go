package marathon

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"

	"github.com/switchyard/switchyard/lab/placement"
	"github.com/switchyard/switchyard/marathon"
)

// appDef is an app definition as Marathon stores it: every member the client
// sent (known or not, so nothing is lost), with Marathon's defaults filled in
// and the read-only status members removed. The scheduler reads it through
// appSpec.
type appDef map[string]json.RawMessage

// readOnlyAppFields are the status members of an app answer; a client may
// send them back (saved API responses) and Marathon ignores them.
var readOnlyAppFields = []string{
	"tasksStaged", "tasksRunning", "tasksHealthy", "tasksUnhealthy", "deployments",
	"tasks", "lastTaskFailure", "taskStats", "readinessCheckResults", "versionInfo", "version",
}

// clone copies the definition (values are immutable raw JSON).
func (d appDef) clone() appDef {
	out := make(appDef, len(d))
	for k, v := range d {
		out[k] = v
	}
	return out
}

// set stores v under key.
func (d appDef) set(key string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("marshal %s: %v", key, err))
	}
	d[key] = b
}

// has reports whether key is present and not null.
func (d appDef) has(key string) bool {
	v, ok := d[key]
	return ok && !bytes.Equal(bytes.TrimSpace(v), []byte("null"))
}

// id returns the definition's id member ("" when absent).
func (d appDef) id() string {
	var s string
	_ = json.Unmarshal(d["id"], &s)
	return s
}

// knownAppFields are the members of Marathon's AppDefinition (the JSON
// names of marathon.App, the project's model of it).
var knownAppFields = func() map[string]bool {
	out := map[string]bool{}
	t := reflect.TypeOf(marathon.App{})
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out[name] = true
		}
	}
	return out
}()

// decodeAppDef parses one app object. Syntax and type errors are reported as
// Marathon's 400 "Invalid JSON" details. Members that are not part of
// Marathon's AppDefinition are dropped, as Marathon drops them (clients
// such as python-marathon reject unknown members in answers); they are
// returned so the caller can log them.
func decodeAppDef(raw json.RawMessage) (appDef, *apiError) {
	var d appDef
	if err := json.Unmarshal(raw, &d); err != nil || d == nil {
		return nil, invalidJSON("", err)
	}
	for _, k := range readOnlyAppFields {
		delete(d, k)
	}
	for k := range d {
		if !knownAppFields[k] {
			delete(d, k)
		}
	}
	return d, nil
}

// configEqual reports whether two definitions differ only in instances
// (a scale, which Marathon applies without restarting tasks).
func configEqual(a, b appDef) bool {
	ca, cb := a.clone(), b.clone()
	delete(ca, "instances")
	delete(cb, "instances")
	ja, _ := json.Marshal(ca)
	jb, _ := json.Marshal(cb)
	return bytes.Equal(ja, jb)
}

// merge applies a partial update (PATCH semantics, and PUT without
// partialUpdate=false): members present in patch replace those in d.
func (d appDef) merge(patch appDef) appDef {
	out := d.clone()
	for k, v := range patch {
		out[k] = v
	}
	return out
}

// applyDefaults fills in the members Marathon always returns, and converts
// the legacy "ports" member into portDefinitions.
func (d appDef) applyDefaults() {
	def := func(key string, v any) {
		if !d.has(key) {
			d.set(key, v)
		}
	}
	def("instances", 1)
	def("cpus", 1)
	def("mem", 128)
	def("disk", 0)
	def("gpus", 0)
	def("backoffSeconds", 1)
	def("backoffFactor", 1.15)
	def("maxLaunchDelaySeconds", 300)
	def("requirePorts", false)
	def("env", map[string]any{})
	def("labels", map[string]any{})
	def("constraints", []any{})
	def("healthChecks", []any{})
	def("readinessChecks", []any{})
	def("dependencies", []any{})
	def("executor", "")
	def("killSelection", "YOUNGEST_FIRST")
	// Apps with persistent volumes (resident apps) get Marathon's resident
	// defaults: no unreachable replacement, upgrade in place.
	resident := hasPersistentVolume(d)
	minHealth, maxOver := "1", "1"
	if resident {
		def("unreachableStrategy", "disabled")
		minHealth, maxOver = "0.5", "0"
	} else {
		def("unreachableStrategy", map[string]any{"inactiveAfterSeconds": 0, "expungeAfterSeconds": 0})
	}
	var us map[string]json.RawMessage
	_ = json.Unmarshal(d["upgradeStrategy"], &us)
	if us == nil {
		us = map[string]json.RawMessage{}
	}
	if _, ok := us["minimumHealthCapacity"]; !ok {
		us["minimumHealthCapacity"] = json.RawMessage(minHealth)
	}
	if _, ok := us["maximumOverCapacity"]; !ok {
		us["maximumOverCapacity"] = json.RawMessage(maxOver)
	}
	d.set("upgradeStrategy", us)
	if d.has("ports") && !d.has("portDefinitions") {
		var ports []int
		_ = json.Unmarshal(d["ports"], &ports)
		pds := make([]map[string]any, 0, len(ports))
		for _, p := range ports {
			pds = append(pds, map[string]any{"port": p, "protocol": "tcp"})
		}
		d.set("portDefinitions", pds)
	}
	delete(d, "ports")
	if !d.has("portDefinitions") && !hasPortMappings(d) && !isContainerNetwork(d) {
		d.set("portDefinitions", []map[string]any{{"port": 0, "protocol": "tcp"}})
	}
}

// hasPersistentVolume reports whether the app declares a local persistent volume.
func hasPersistentVolume(d appDef) bool {
	var c struct {
		Volumes []struct {
			Persistent json.RawMessage `json:"persistent"`
		} `json:"volumes"`
	}
	_ = json.Unmarshal(d["container"], &c)
	for _, v := range c.Volumes {
		if len(v.Persistent) > 0 && string(v.Persistent) != "null" {
			return true
		}
	}
	return false
}

func hasPortMappings(d appDef) bool {
	s, _ := parseSpec(d)
	return s != nil && len(s.PortMappings) > 0
}

func isContainerNetwork(d appDef) bool {
	var nets []struct {
		Mode string `json:"mode"`
	}
	_ = json.Unmarshal(d["networks"], &nets)
	for _, n := range nets {
		if n.Mode == "container" || n.Mode == "container/bridge" {
			return true
		}
	}
	return false
}

// appSpec is the scheduler's typed view of an appDef: only what placement,
// launching, health checking and deployment need.
type appSpec struct {
	ID             string
	Cmd            string
	Args           []string
	Image          string
	Instances      int
	CPUs, Mem      float64
	Disk, GPUs     float64
	Env            map[string]string
	Labels         map[string]string
	Constraints    [][]string
	PortDefs       []portDef
	PortMappings   []portMapping
	ContainerNet   bool
	RequirePorts   bool
	HealthChecks   []healthCheckSpec
	Readiness      []readinessSpec
	Dependencies   []string
	MinHealth      float64
	MaxOver        float64
	BackoffSeconds float64
	BackoffFactor  float64
	MaxLaunchDelay float64
	KillGrace      float64
	KillSelection  string
	// User is the account the app asks to run as (Marathon's "user"); see
	// Server.taskUser for what the lab does with it.
	User string
}

// portDef is one of portDefinitions (host networking).
type portDef struct {
	Port     int               `json:"port"`
	Name     string            `json:"name,omitempty"`
	Protocol string            `json:"protocol,omitempty"`
	Labels   map[string]string `json:"labels,omitempty"`
}

// portMapping is one of container.portMappings (bridge/container networking).
type portMapping struct {
	ContainerPort int    `json:"containerPort"`
	HostPort      *int   `json:"hostPort"`
	ServicePort   int    `json:"servicePort"`
	Name          string `json:"name"`
	Protocol      string `json:"protocol"`
}

// healthCheckSpec is one app health check with defaults applied.
type healthCheckSpec struct {
	Protocol               string
	Path                   string
	PortIndex              int
	Port                   int
	Command                string
	GracePeriod            float64
	Interval               float64
	Timeout                float64
	MaxConsecutiveFailures int
	IgnoreHTTP1xx          bool
	DelaySeconds           float64
	Raw                    json.RawMessage
}

// readinessSpec is one readiness check with defaults applied.
type readinessSpec struct {
	Name                 string
	Protocol             string
	Path                 string
	PortName             string
	Interval             float64
	Timeout              float64
	ReadyStatusCodes     []int
	PreserveLastResponse bool
}

// hostPortCount is how many host ports one task of the app needs.
func (s *appSpec) hostPortCount() int { return len(s.hostPortRequests()) }

// hostPortRequests lists the host ports a task asks for: 0 means any port
// from the node's ranges, anything else that exact port. In the lab every
// port mapping gets a host port, also on container networks: tasks are
// processes on their node's loopback address, with no container address of
// their own.
func (s *appSpec) hostPortRequests() []int {
	var out []int
	if len(s.PortMappings) > 0 {
		for _, m := range s.PortMappings {
			if m.HostPort != nil {
				out = append(out, *m.HostPort)
			} else {
				out = append(out, 0)
			}
		}
		return out
	}
	if s.ContainerNet {
		return nil
	}
	for _, p := range s.PortDefs {
		if s.RequirePorts {
			out = append(out, p.Port)
		} else {
			out = append(out, 0)
		}
	}
	return out
}

// portNames lists the name of each host port (same order as hostPortRequests).
func (s *appSpec) portNames() []string {
	var out []string
	if len(s.PortMappings) > 0 {
		for _, m := range s.PortMappings {
			out = append(out, m.Name)
		}
		return out
	}
	if s.ContainerNet {
		return nil
	}
	for _, p := range s.PortDefs {
		out = append(out, p.Name)
	}
	return out
}

// servicePorts lists the service ports of the app (ports of portDefinitions or
// servicePort of portMappings).
func (s *appSpec) servicePorts() []int {
	var out []int
	if len(s.PortMappings) > 0 {
		for _, m := range s.PortMappings {
			out = append(out, m.ServicePort)
		}
		return out
	}
	for _, p := range s.PortDefs {
		out = append(out, p.Port)
	}
	return out
}

// wireApp mirrors the members of an app definition that the scheduler reads.
type wireApp struct {
	ID          string                     `json:"id"`
	Cmd         *string                    `json:"cmd"`
	Args        []string                   `json:"args"`
	Instances   *int                       `json:"instances"`
	CPUs        *float64                   `json:"cpus"`
	Mem         *float64                   `json:"mem"`
	Disk        *float64                   `json:"disk"`
	GPUs        *float64                   `json:"gpus"`
	Env         map[string]json.RawMessage `json:"env"`
	Labels      map[string]string          `json:"labels"`
	Constraints json.RawMessage            `json:"constraints"`
	PortDefs    []portDef                  `json:"portDefinitions"`
	Ports       []int                      `json:"ports"`
	Container   *struct {
		Type   string `json:"type"`
		Docker *struct {
			Image        string        `json:"image"`
			Network      string        `json:"network"`
			PortMappings []portMapping `json:"portMappings"`
		} `json:"docker"`
		PortMappings []portMapping `json:"portMappings"`
	} `json:"container"`
	Networks []struct {
		Mode string `json:"mode"`
	} `json:"networks"`
	RequirePorts    *bool             `json:"requirePorts"`
	HealthChecks    []json.RawMessage `json:"healthChecks"`
	ReadinessChecks []struct {
		Name                    string   `json:"name"`
		Protocol                string   `json:"protocol"`
		Path                    string   `json:"path"`
		PortName                string   `json:"portName"`
		IntervalSeconds         *float64 `json:"intervalSeconds"`
		TimeoutSeconds          *float64 `json:"timeoutSeconds"`
		HTTPStatusCodesForReady []int    `json:"httpStatusCodesForReady"`
		PreserveLastResponse    bool     `json:"preserveLastResponse"`
	} `json:"readinessChecks"`
	Dependencies    []string `json:"dependencies"`
	UpgradeStrategy *struct {
		MinimumHealthCapacity *float64 `json:"minimumHealthCapacity"`
		MaximumOverCapacity   *float64 `json:"maximumOverCapacity"`
	} `json:"upgradeStrategy"`
	BackoffSeconds             *float64 `json:"backoffSeconds"`
	BackoffFactor              *float64 `json:"backoffFactor"`
	MaxLaunchDelaySeconds      *float64 `json:"maxLaunchDelaySeconds"`
	TaskKillGracePeriodSeconds *float64 `json:"taskKillGracePeriodSeconds"`
	KillSelection              string   `json:"killSelection"`
	User                       string   `json:"user"`
}

type wireHealthCheck struct {
	Protocol  string `json:"protocol"`
	Path      string `json:"path"`
	PortIndex *int   `json:"portIndex"`
	Port      *int   `json:"port"`
	Command   *struct {
		Value string `json:"value"`
	} `json:"command"`
	GracePeriodSeconds     *float64 `json:"gracePeriodSeconds"`
	IntervalSeconds        *float64 `json:"intervalSeconds"`
	TimeoutSeconds         *float64 `json:"timeoutSeconds"`
	MaxConsecutiveFailures *int     `json:"maxConsecutiveFailures"`
	IgnoreHTTP1xx          bool     `json:"ignoreHttp1xx"`
	DelaySeconds           *float64 `json:"delaySeconds"`
}

func orF(p *float64, d float64) float64 {
	if p == nil {
		return d
	}
	return *p
}

// parseSpec reads the scheduler's view of a definition. Type errors are
// reported per JSON path, as Marathon's 400 details.
func parseSpec(d appDef) (*appSpec, []errorDetail) {
	raw, _ := json.Marshal(d)
	var w wireApp
	if err := json.Unmarshal(raw, &w); err != nil {
		return nil, []errorDetail{jsonErrorDetail(err)}
	}
	s := &appSpec{
		ID:             w.ID,
		Args:           w.Args,
		Env:            map[string]string{},
		Labels:         w.Labels,
		PortDefs:       w.PortDefs,
		Dependencies:   w.Dependencies,
		MinHealth:      1,
		MaxOver:        1,
		BackoffSeconds: orF(w.BackoffSeconds, 1),
		BackoffFactor:  orF(w.BackoffFactor, 1.15),
		MaxLaunchDelay: orF(w.MaxLaunchDelaySeconds, 300),
		KillGrace:      orF(w.TaskKillGracePeriodSeconds, 3),
		KillSelection:  w.KillSelection,
		User:           w.User,
		Instances:      1,
		CPUs:           orF(w.CPUs, 1),
		Mem:            orF(w.Mem, 128),
		Disk:           orF(w.Disk, 0),
		GPUs:           orF(w.GPUs, 0),
	}
	var errs []errorDetail
	if w.Cmd != nil {
		s.Cmd = *w.Cmd
	}
	if w.Instances != nil {
		s.Instances = *w.Instances
	}
	if w.RequirePorts != nil {
		s.RequirePorts = *w.RequirePorts
	}
	if s.PortDefs == nil && w.Ports != nil {
		for _, p := range w.Ports {
			s.PortDefs = append(s.PortDefs, portDef{Port: p, Protocol: "tcp"})
		}
	}
	for k, v := range w.Env {
		var str string
		if err := json.Unmarshal(v, &str); err == nil {
			s.Env[k] = str
		} // secret references are not resolved in the lab
	}
	if c := w.Container; c != nil {
		s.PortMappings = c.PortMappings
		if c.Docker != nil {
			s.Image = c.Docker.Image
			if len(s.PortMappings) == 0 {
				s.PortMappings = c.Docker.PortMappings
			}
		}
	}
	for _, n := range w.Networks {
		if n.Mode == "container" {
			s.ContainerNet = true
		}
	}
	if u := w.UpgradeStrategy; u != nil {
		s.MinHealth = orF(u.MinimumHealthCapacity, 1)
		s.MaxOver = orF(u.MaximumOverCapacity, 1)
	}
	cons, err := parseConstraints(w.Constraints)
	if err != nil {
		errs = append(errs, errorDetail{Path: "/constraints", Errors: []string{err.Error()}})
	}
	s.Constraints = cons
	for i, hraw := range w.HealthChecks {
		var h wireHealthCheck
		if err := json.Unmarshal(hraw, &h); err != nil {
			errs = append(errs, errorDetail{Path: fmt.Sprintf("/healthChecks(%d)", i), Errors: []string{err.Error()}})
			continue
		}
		hc := healthCheckSpec{
			Protocol:               strings.ToUpper(h.Protocol),
			Path:                   h.Path,
			GracePeriod:            orF(h.GracePeriodSeconds, 300),
			Interval:               orF(h.IntervalSeconds, 60),
			Timeout:                orF(h.TimeoutSeconds, 20),
			MaxConsecutiveFailures: 3,
			IgnoreHTTP1xx:          h.IgnoreHTTP1xx,
			DelaySeconds:           orF(h.DelaySeconds, 15),
			Raw:                    hraw,
		}
		if hc.Protocol == "" {
			hc.Protocol = "HTTP"
		}
		if hc.Path == "" {
			hc.Path = "/"
		}
		if h.MaxConsecutiveFailures != nil {
			hc.MaxConsecutiveFailures = *h.MaxConsecutiveFailures
		}
		if h.Port != nil {
			hc.Port = *h.Port
			hc.PortIndex = -1
		} else if h.PortIndex != nil {
			hc.PortIndex = *h.PortIndex
		}
		if h.Command != nil {
			hc.Command = h.Command.Value
		}
		s.HealthChecks = append(s.HealthChecks, hc)
	}
	for _, r := range w.ReadinessChecks {
		rs := readinessSpec{
			Name: r.Name, Protocol: strings.ToUpper(r.Protocol), Path: r.Path, PortName: r.PortName,
			Interval: orF(r.IntervalSeconds, 30), Timeout: orF(r.TimeoutSeconds, 10),
			ReadyStatusCodes: r.HTTPStatusCodesForReady, PreserveLastResponse: r.PreserveLastResponse,
		}
		if rs.Name == "" {
			rs.Name = "readinessCheck"
		}
		if rs.Protocol == "" {
			rs.Protocol = "HTTP"
		}
		if rs.Path == "" {
			rs.Path = "/"
		}
		if len(rs.ReadyStatusCodes) == 0 {
			rs.ReadyStatusCodes = []int{200}
		}
		s.Readiness = append(s.Readiness, rs)
	}
	if s.KillSelection == "" {
		s.KillSelection = "YOUNGEST_FIRST"
	}
	return s, errs
}

// parseConstraints accepts the array form ([["hostname","UNIQUE"]]) and the
// legacy string form (["hostname:UNIQUE"]).
func parseConstraints(raw json.RawMessage) ([][]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf("must be an array of constraints: %w", err)
	}
	var out [][]string
	for i, it := range items {
		var arr []string
		if err := json.Unmarshal(it, &arr); err == nil {
			if len(arr) < 2 || len(arr) > 3 {
				return nil, fmt.Errorf("constraint %d: %v must have 2 or 3 elements [field, operator, value]", i, arr)
			}
			out = append(out, arr)
			continue
		}
		var str string
		if err := json.Unmarshal(it, &str); err == nil {
			parts := strings.SplitN(str, ":", 3)
			if len(parts) < 2 {
				return nil, fmt.Errorf("constraint %d: %q must be field:OPERATOR[:value]", i, str)
			}
			out = append(out, parts)
			continue
		}
		return nil, fmt.Errorf("constraint %d: must be an array of strings", i)
	}
	return out, nil
}

// MaxInstances is the most instances the lab Marathon accepts for one app
// (real Marathon has no such limit; the lab runs every instance as a process
// on this machine, and a typo such as 100000 would exhaust it).
const MaxInstances = 1000

// instancesOverMax is the 422 detail for an instance count over MaxInstances.
func instancesOverMax(n int) string {
	return fmt.Sprintf("got %d, expected %d or less (the lab Marathon's limit)", n, MaxInstances)
}

// validateSpec applies Marathon's validation rules that the lab depends on,
// reporting them with Marathon's JSON paths (HTTP 422).
func validateSpec(s *appSpec, d appDef) []errorDetail {
	var errs []errorDetail
	add := func(path, msg string) { errs = append(errs, errorDetail{Path: path, Errors: []string{msg}}) }
	if e := validPathErrors(s.ID); e != nil {
		errs = append(errs, errorDetail{Path: "/id", Errors: e})
	}
	if s.Cmd != "" && len(s.Args) > 0 {
		add("/", "AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'.")
	}
	if s.Cmd == "" && len(s.Args) == 0 && s.Image == "" {
		add("/", "AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'.")
	}
	if s.Instances < 0 {
		add("/instances", "got "+fmt.Sprint(s.Instances)+", expected 0 or more")
	}
	if s.Instances > MaxInstances {
		add("/instances", instancesOverMax(s.Instances))
	}
	if s.CPUs < 0.001 && !(s.CPUs == 0 && false) {
		add("/cpus", fmt.Sprintf("got %v, expected 0.001 or more", s.CPUs))
	}
	if s.Mem < 0 {
		add("/mem", fmt.Sprintf("got %v, expected 0.0 or more", s.Mem))
	}
	if s.Disk < 0 {
		add("/disk", fmt.Sprintf("got %v, expected 0.0 or more", s.Disk))
	}
	if s.MinHealth < 0 || s.MinHealth > 1 {
		add("/upgradeStrategy/minimumHealthCapacity", "is greater than 1")
		if s.MinHealth < 0 {
			errs[len(errs)-1].Errors = []string{"got " + fmt.Sprint(s.MinHealth) + ", expected 0.0 or more"}
		}
	}
	if s.MaxOver < 0 || s.MaxOver > 1 {
		add("/upgradeStrategy/maximumOverCapacity", fmt.Sprintf("got %v, expected between 0.0 and 1.0", s.MaxOver))
	}
	if s.BackoffFactor < 1 {
		add("/backoffFactor", fmt.Sprintf("got %v, expected 1.0 or more", s.BackoffFactor))
	}
	if s.BackoffSeconds < 0 {
		add("/backoffSeconds", fmt.Sprintf("got %v, expected 0 or more", s.BackoffSeconds))
	}
	for i, c := range s.Constraints {
		if err := checkConstraint(c); err != nil {
			add(fmt.Sprintf("/constraints(%d)", i), err.Error())
		}
	}
	names := map[string]bool{}
	for i, n := range s.portNames() {
		if n == "" {
			continue
		}
		if names[n] {
			add(fmt.Sprintf("/portDefinitions(%d)/name", i), "Port names must be unique.")
		}
		names[n] = true
	}
	for i, h := range s.HealthChecks {
		p := fmt.Sprintf("/healthChecks(%d)", i)
		switch h.Protocol {
		case "HTTP", "HTTPS", "TCP", "MESOS_HTTP", "MESOS_HTTPS", "MESOS_TCP":
			if h.PortIndex >= 0 && h.PortIndex >= s.hostPortCount() {
				add(p+"/portIndex", fmt.Sprintf("Health check port index %d is out of range: the app has %d port(s).", h.PortIndex, s.hostPortCount()))
			}
		case "COMMAND", "MESOS_COMMAND":
			if h.Command == "" {
				add(p+"/command", "A command health check needs command.value.")
			}
		default:
			add(p+"/protocol", fmt.Sprintf("%q is not a health check protocol (HTTP, HTTPS, TCP, COMMAND, MESOS_HTTP, MESOS_HTTPS, MESOS_TCP)", h.Protocol))
		}
	}
	for i, dep := range s.Dependencies {
		if e := validPathErrors(absPath(dep, parentPath(s.ID))); e != nil {
			add(fmt.Sprintf("/dependencies(%d)", i), e[0])
		}
	}
	if s.KillSelection != "YOUNGEST_FIRST" && s.KillSelection != "OLDEST_FIRST" {
		add("/killSelection", "must be YOUNGEST_FIRST or OLDEST_FIRST")
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Path < errs[j].Path })
	return errs
}

// checkConstraint validates one [field, operator, value] constraint with
// lab/placement's rules (the same code that later places the tasks).
func checkConstraint(c []string) error {
	pc := placement.Constraint{Field: c[0], Operator: c[1]}
	if len(c) > 2 {
		pc.Value = c[2]
	}
	return placement.ValidateConstraint(pc)
}

// ceilInt is math.Ceil for counts, tolerant of float noise.
func ceilInt(f float64) int { return int(math.Ceil(f - 1e-9)) }

// floorInt is math.Floor for counts, tolerant of float noise.
func floorInt(f float64) int { return int(math.Floor(f + 1e-9)) }
