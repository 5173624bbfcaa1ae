package marathon

import (
	"fmt"
	"strings"

	"github.com/switchyard/switchyard/internal/suggest"
)

func (v *validator) pod(p *Pod, path, base string) {
	at := func(f string) string { return joinKey(path, f) }
	v.checkID(p.ID, path, "pod")
	if len(p.Containers) == 0 {
		v.err(at("containers"), "a pod needs at least one container", "")
	}
	for name, s := range p.Secrets {
		if s.Source == "" {
			v.reject(joinKey(joinKey(at("secrets"), name), "source"), "secret has no source", "")
		}
	}
	v.env(p.Environment, at("environment"), p.Secrets, true)
	v.networks(p.Networks, at("networks"), true)
	netNames := map[string]bool{}
	for _, n := range p.Networks {
		if n.Name != nil {
			netNames[*n.Name] = true
		}
	}
	volumes := map[string]bool{}
	for i, vol := range p.Volumes {
		vp := joinIndex(at("volumes"), i)
		if vol.Name == "" {
			v.err(joinKey(vp, "name"), "pod volume has no name", "")
		} else if volumes[vol.Name] {
			v.reject(joinKey(vp, "name"), fmt.Sprintf("volume name %q is used twice", vol.Name), "")
		} else if !legacyName.MatchString(vol.Name) {
			v.reject(joinKey(vp, "name"), fmt.Sprintf("invalid volume name %q", vol.Name), "use lowercase letters, digits and '-'")
		}
		volumes[vol.Name] = true
		kinds := 0
		for _, set := range []bool{vol.Host != nil, vol.Persistent != nil, vol.Secret != nil} {
			if set {
				kinds++
			}
		}
		if kinds > 1 {
			v.err(vp, "pod volume mixes host, persistent and secret", "declare one kind per volume")
		}
		if vol.Persistent != nil {
			v.persistent(vol.Persistent, joinKey(vp, "persistent"))
		}
		if vol.Secret != nil {
			if _, ok := p.Secrets[*vol.Secret]; !ok {
				v.reject(joinKey(vp, "secret"), fmt.Sprintf("volume refers to secret %q, which is not declared in secrets", *vol.Secret), "")
			}
		}
	}
	names := map[string]bool{}
	endpoints := map[string]bool{}
	hostPorts := map[int]string{}
	for i := range p.Containers {
		c := &p.Containers[i]
		cp := joinIndex(at("containers"), i)
		ca := func(f string) string { return joinKey(cp, f) }
		switch {
		case c.Name == "":
			v.err(ca("name"), "container has no name", "")
		case !legacyName.MatchString(c.Name) || len(c.Name) > 63:
			v.reject(ca("name"), fmt.Sprintf("invalid container name %q", c.Name), "use lowercase letters, digits and '-' (at most 63)")
		case names[c.Name]:
			v.reject(ca("name"), fmt.Sprintf("container name %q is used twice", c.Name), "")
		}
		names[c.Name] = true
		if c.Resources == nil {
			v.err(ca("resources"), "container has no resources", `add "resources": {"cpus": 0.1, "mem": 64}`)
		} else {
			r := c.Resources
			rp := ca("resources")
			if r.CPUs == nil || *r.CPUs <= 0 {
				v.err(joinKey(rp, "cpus"), "container cpus must be greater than 0", "")
			}
			v.resource(r.CPUs, joinKey(rp, "cpus"), MaxCPUs)
			if r.Mem == nil || *r.Mem <= 0 {
				v.err(joinKey(rp, "mem"), "container mem must be greater than 0 (MB)", "")
			}
			v.resource(r.Mem, joinKey(rp, "mem"), MaxMiB)
			v.resource(r.Disk, joinKey(rp, "disk"), MaxMiB)
			v.count(r.GPUs, joinKey(rp, "gpus"), MaxGPUs)
			v.resourceLimits(c.ResourceLimits, ca("resourceLimits"), r.CPUs, r.Mem)
		}
		if c.Exec != nil {
			v.mesosCommand(&c.Exec.Command, joinKey(ca("exec"), "command"))
		}
		if c.Image != nil {
			if c.Image.ID == "" {
				v.err(joinKey(ca("image"), "id"), "image has no id", `e.g. "id": "nginx:1.25"`)
			}
			if c.Image.Kind != nil && *c.Image.Kind != "DOCKER" {
				v.reject(joinKey(ca("image"), "kind"), fmt.Sprintf("invalid image kind %q", *c.Image.Kind), "use DOCKER")
			}
			if c.Image.PullConfig != nil {
				if _, ok := p.Secrets[c.Image.PullConfig.Secret]; !ok {
					v.reject(joinKey(joinKey(ca("image"), "pullConfig"), "secret"), "pullConfig.secret is not declared in secrets", "")
				}
			}
		}
		v.env(c.Environment, ca("environment"), p.Secrets, true)
		cEndpoints := map[string]bool{}
		for j, e := range c.Endpoints {
			ep := joinIndex(ca("endpoints"), j)
			if e.Name == "" {
				v.err(joinKey(ep, "name"), "endpoint has no name", "")
			} else if endpoints[e.Name] {
				v.reject(joinKey(ep, "name"), fmt.Sprintf("endpoint name %q is used twice in the pod", e.Name), "")
			} else if !legacyName.MatchString(e.Name) {
				v.warn(joinKey(ep, "name"), fmt.Sprintf("endpoint name %q is not a DNS label", e.Name), "use lowercase letters, digits and '-'")
			}
			endpoints[e.Name], cEndpoints[e.Name] = true, true
			if e.ContainerPort != nil {
				v.port(*e.ContainerPort, joinKey(ep, "containerPort"), true)
			}
			if e.HostPort != nil {
				v.port(*e.HostPort, joinKey(ep, "hostPort"), true)
				if *e.HostPort != 0 {
					if prev, ok := hostPorts[*e.HostPort]; ok {
						v.reject(joinKey(ep, "hostPort"), fmt.Sprintf("hostPort %d is also used by endpoint %q", *e.HostPort, prev), "host ports must be unique in a pod")
					}
					hostPorts[*e.HostPort] = e.Name
				}
			}
			for k, proto := range e.Protocol {
				if !legacyName.MatchString(proto) {
					v.reject(joinIndex(joinKey(ep, "protocol"), k), fmt.Sprintf("invalid protocol name %q", proto), `use a lowercase name such as "tcp", "udp" or "http"`)
				}
			}
			for k, nn := range e.NetworkNames {
				if !netNames[nn] {
					v.reject(joinIndex(joinKey(ep, "networkNames"), k), fmt.Sprintf("endpoint refers to network %q, which the pod does not join", nn), "")
				}
			}
		}
		if hc := c.HealthCheck; hc != nil {
			hp := ca("healthCheck")
			kinds := 0
			if hc.HTTP != nil {
				kinds++
				v.endpointRef(hc.HTTP.Endpoint, joinKey(joinKey(hp, "http"), "endpoint"), cEndpoints)
				if hc.HTTP.Scheme != nil && !strings.EqualFold(*hc.HTTP.Scheme, "HTTP") && !strings.EqualFold(*hc.HTTP.Scheme, "HTTPS") {
					v.reject(joinKey(joinKey(hp, "http"), "scheme"), fmt.Sprintf("invalid scheme %q", *hc.HTTP.Scheme), "use HTTP or HTTPS")
				}
			}
			if hc.TCP != nil {
				kinds++
				v.endpointRef(hc.TCP.Endpoint, joinKey(joinKey(hp, "tcp"), "endpoint"), cEndpoints)
			}
			if hc.Exec != nil {
				kinds++
				v.mesosCommand(&hc.Exec.Command, joinKey(joinKey(hp, "exec"), "command"))
			}
			if kinds != 1 {
				v.err(hp, "a health check needs exactly one of http, tcp or exec", "")
			}
			for _, f := range []struct {
				name string
				val  *int
			}{{"gracePeriodSeconds", hc.GracePeriodSeconds}, {"intervalSeconds", hc.IntervalSeconds}, {"timeoutSeconds", hc.TimeoutSeconds}, {"maxConsecutiveFailures", hc.MaxConsecutiveFailures}, {"delaySeconds", hc.DelaySeconds}} {
				v.count(f.val, joinKey(hp, f.name), MaxCheckValue)
			}
		}
		if ck := c.Check; ck != nil {
			kp := ca("check")
			kinds := 0
			if ck.HTTP != nil {
				kinds++
				v.endpointRef(ck.HTTP.Endpoint, joinKey(joinKey(kp, "http"), "endpoint"), cEndpoints)
			}
			if ck.TCP != nil {
				kinds++
				v.endpointRef(ck.TCP.Endpoint, joinKey(joinKey(kp, "tcp"), "endpoint"), cEndpoints)
			}
			if ck.Exec != nil {
				kinds++
				v.mesosCommand(&ck.Exec.Command, joinKey(joinKey(kp, "exec"), "command"))
			}
			if kinds != 1 {
				v.err(kp, "a check needs exactly one of http, tcp or exec", "")
			}
		}
		for j, m := range c.VolumeMounts {
			mp := joinIndex(ca("volumeMounts"), j)
			if !volumes[m.Name] {
				v.err(joinKey(mp, "name"), fmt.Sprintf("volume mount refers to volume %q, which the pod does not declare", m.Name), "declare it in the pod's volumes")
			}
			if m.MountPath == "" {
				v.err(joinKey(mp, "mountPath"), "volume mount has no mountPath", "")
			}
		}
		for j, art := range c.Artifacts {
			if art.URI == "" {
				v.err(joinKey(joinIndex(ca("artifacts"), j), "uri"), "artifact has no uri", "")
			}
		}
		if c.Lifecycle != nil && c.Lifecycle.KillGracePeriodSeconds != nil && *c.Lifecycle.KillGracePeriodSeconds < 0 {
			v.err(joinKey(ca("lifecycle"), "killGracePeriodSeconds"), "killGracePeriodSeconds must not be negative", "")
		}
	}
	if s := p.Scaling; s != nil {
		sp := at("scaling")
		if s.Kind != nil && *s.Kind != "fixed" {
			v.reject(joinKey(sp, "kind"), fmt.Sprintf("invalid scaling kind %q", *s.Kind), `use "fixed"`)
		}
		v.count(s.Instances, joinKey(sp, "instances"), MaxInstances)
		if s.MaxInstances != nil && s.Instances != nil && *s.MaxInstances < *s.Instances {
			v.reject(joinKey(sp, "maxInstances"), "maxInstances is smaller than instances", "")
		}
	}
	if s := p.Scheduling; s != nil {
		sp := at("scheduling")
		if b := s.Backoff; b != nil {
			bp := joinKey(sp, "backoff")
			v.nonNegFloat(b.Backoff, joinKey(bp, "backoff"))
			v.nonNegFloat(b.BackoffFactor, joinKey(bp, "backoffFactor"))
			v.nonNegFloat(b.MaxLaunchDelay, joinKey(bp, "maxLaunchDelay"))
		}
		if u := s.Upgrade; u != nil {
			up := joinKey(sp, "upgrade")
			v.fraction(u.MinimumHealthCapacity, joinKey(up, "minimumHealthCapacity"))
			v.fraction(u.MaximumOverCapacity, joinKey(up, "maximumOverCapacity"))
			if podHasPersistent(p) && u.MaximumOverCapacity != nil && *u.MaximumOverCapacity != 0 {
				v.reject(joinKey(up, "maximumOverCapacity"), "pods with persistent volumes must have maximumOverCapacity 0", "")
			}
		}
		if pl := s.Placement; pl != nil {
			for i, c := range pl.Constraints {
				cp := joinIndex(joinKey(joinKey(sp, "placement"), "constraints"), i)
				parts := []string{c.FieldName, c.Operator}
				if c.Value != nil {
					parts = append(parts, *c.Value)
				}
				v.constraint(Constraint{Parts: parts}, cp, false)
			}
		}
		if s.KillSelection != nil {
			v.killSelection(*s.KillSelection, joinKey(sp, "killSelection"))
		}
		v.unreachable(s.UnreachableStrategy, joinKey(sp, "unreachableStrategy"))
	}
	if e := p.ExecutorResources; e != nil {
		v.resource(e.CPUs, joinKey(at("executorResources"), "cpus"), MaxCPUs)
		v.resource(e.Mem, joinKey(at("executorResources"), "mem"), MaxMiB)
		v.resource(e.Disk, joinKey(at("executorResources"), "disk"), MaxMiB)
	}
	_ = base
}

func podHasPersistent(p *Pod) bool {
	for _, vol := range p.Volumes {
		if vol.Persistent != nil {
			return true
		}
	}
	return false
}

func (v *validator) endpointRef(name, path string, endpoints map[string]bool) {
	if name == "" {
		v.err(path, "health check names no endpoint", "name one of the container's endpoints")
	} else if !endpoints[name] {
		v.err(path, fmt.Sprintf("health check refers to endpoint %q, which this container does not declare", name), "")
	}
}

// unknownFields reports every unknown member as a warning, suggesting the
// known field it most likely misspells.
func (v *validator) unknownFields() {
	for _, p := range UnknownFields(v.def) {
		key := lastSeg(p)
		hint := "Marathon ignores or rejects fields it does not know; check the spelling (names are case-sensitive)"
		if s := suggestField(v.def, p, key); s != "" {
			hint = fmt.Sprintf("did you mean %q?", s)
		}
		v.issues = append(v.issues, Issue{Path: p, Severity: SeverityWarning, Message: fmt.Sprintf("unknown field %q", key), Hint: hint, Category: CategoryUnknown})
	}
}

// suggestField finds a known field name close to key in the object that
// holds the unknown member at path.
func suggestField(def *Definition, path, key string) string {
	best, d := suggest.Closest(key, knownFieldsAt(def, parentPath(path)))
	if d < 0 || d >= 3 {
		return ""
	}
	return best
}
