package convert

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/switchyard/switchyard/marathon"
)

// Marathon's health check defaults.
const (
	defaultGrace    = 300
	defaultInterval = 60
	defaultTimeout  = 20
	defaultMaxFail  = 3
)

func intOr(p *int, d int) int {
	if p == nil {
		return d
	}
	return *p
}

func ceilDiv(a, b int) int {
	if b <= 0 {
		return a
	}
	return (a + b - 1) / b
}

// healthProbes converts one app health check into a liveness probe and a
// startup probe (for the grace period) or, when it never kills
// (maxConsecutiveFailures 0), a readiness probe.
type probeSet struct {
	liveness, readiness, startup *corev1.Probe
}

// appHealthCheck converts app healthChecks[i]. handler is built by the caller.
func (c *appConv) healthCheck(i int, hc *marathon.HealthCheck) {
	path := fmt.Sprintf("healthChecks[%d]", i)
	tgt := c.ctr + ".livenessProbe"
	proto := marathon.ProtocolHTTP
	if hc.Protocol != nil {
		proto = strings.ToUpper(*hc.Protocol)
	}
	if c.live != nil {
		c.rec.unsup(path, "Kubernetes runs one liveness probe per container; "+c.liveFrom+" already gives it", "merge the checks into one endpoint or command, or add a sidecar that checks the rest")
		return
	}
	h, ok := c.handler(path, proto, hc.Path, hc.PortIndex, hc.Port, hc.Command)
	if !ok {
		return
	}
	grace := intOr(hc.GracePeriodSeconds, defaultGrace)
	interval := max(intOr(hc.IntervalSeconds, defaultInterval), 1)
	timeout := max(intOr(hc.TimeoutSeconds, defaultTimeout), 1)
	maxFail := intOr(hc.MaxConsecutiveFailures, defaultMaxFail)
	delay := intOr(hc.DelaySeconds, 0)
	p := &corev1.Probe{ProbeHandler: h, PeriodSeconds: int32(interval), TimeoutSeconds: int32(timeout), InitialDelaySeconds: int32(delay), SuccessThreshold: 1}
	if maxFail == 0 {
		p.FailureThreshold = 1
		if c.ready == nil {
			c.ready = p
			c.readyFrom = path
			tgt = c.ctr + ".readinessProbe"
			c.rec.approx(path, tgt, "maxConsecutiveFailures 0: Marathon only reports the health, never kills the task; a readiness probe does the same (the pod leaves the Service while failing)", "")
		} else {
			c.rec.unsup(path, "a health check that never kills only reports health, and the readiness probe is already taken by "+c.readyFrom, "")
		}
		c.healthFields(path, hc, tgt, p, 0, true)
		return
	}
	p.FailureThreshold = int32(maxFail)
	c.live = p
	c.liveFrom = path
	if grace > 0 {
		sp := p.DeepCopy()
		sp.InitialDelaySeconds = int32(delay)
		sp.FailureThreshold = int32(ceilDiv(grace, interval) + maxFail)
		c.startup = sp
	}
	c.rec.conv(path, tgt, proto+" health check")
	c.healthFields(path, hc, tgt, p, grace, false)
}

func (c *appConv) healthFields(path string, hc *marathon.HealthCheck, tgt string, p *corev1.Probe, grace int, readiness bool) {
	if hc.Protocol != nil {
		c.rec.conv(path+".protocol", tgt, "handler "+handlerKind(p.ProbeHandler))
	}
	if hc.Path != nil {
		c.rec.conv(path+".path", tgt+".httpGet.path", "")
	}
	if hc.PortIndex != nil {
		c.rec.conv(path+".portIndex", tgt+"."+handlerKind(p.ProbeHandler)+".port", "the fixed container port of that index")
	}
	if hc.Port != nil {
		c.rec.conv(path+".port", tgt+"."+handlerKind(p.ProbeHandler)+".port", "")
	}
	if hc.Command != nil {
		notes, _ := c.env.scan(hc.Command.Value)
		c.rec.conv(path+".command", tgt+".exec.command", "runs in a shell: [/bin/sh -c value]"+noteSuffix(notes))
	}
	if hc.GracePeriodSeconds != nil {
		if readiness {
			c.rec.conv(path+".gracePeriodSeconds", tgt, "a readiness probe never kills: no grace period needed")
		} else if grace > 0 {
			c.rec.conv(path+".gracePeriodSeconds", c.ctr+".startupProbe", fmt.Sprintf("startup probe with the same check allows %d failures (grace %ds / interval %ds + maxConsecutiveFailures) before liveness takes over", c.startup.FailureThreshold, grace, p.PeriodSeconds))
		} else {
			c.rec.conv(path+".gracePeriodSeconds", tgt, "no grace period: no startup probe")
		}
	}
	if hc.IntervalSeconds != nil {
		c.rec.conv(path+".intervalSeconds", tgt+".periodSeconds", "")
	}
	if hc.TimeoutSeconds != nil {
		c.rec.conv(path+".timeoutSeconds", tgt+".timeoutSeconds", "")
	}
	if hc.MaxConsecutiveFailures != nil {
		c.rec.conv(path+".maxConsecutiveFailures", tgt+".failureThreshold", "")
	}
	if hc.DelaySeconds != nil {
		c.rec.conv(path+".delaySeconds", tgt+".initialDelaySeconds", "")
	}
	if hc.IgnoreHTTP1xx != nil {
		if *hc.IgnoreHTTP1xx {
			c.rec.approx(path+".ignoreHttp1xx", tgt, "the kubelet treats 1xx as failure (success is 200-399)", "make the endpoint answer 200 when healthy")
		} else {
			c.rec.conv(path+".ignoreHttp1xx", tgt, "the kubelet does not ignore 1xx either")
		}
	}
	if hc.IPProtocol != nil {
		if strings.EqualFold(*hc.IPProtocol, "IPv4") {
			c.rec.conv(path+".ipProtocol", tgt, "probes use the pod's IP")
		} else {
			c.rec.approx(path+".ipProtocol", tgt, "probes use the pod's primary IP family", "use a dual-stack cluster if the check needs IPv6")
		}
	}
}

func noteSuffix(notes []string) string {
	if len(notes) == 0 {
		return ""
	}
	return "; placeholders: " + strings.Join(notes, ", ")
}

func handlerKind(h corev1.ProbeHandler) string {
	switch {
	case h.HTTPGet != nil:
		return "httpGet"
	case h.TCPSocket != nil:
		return "tcpSocket"
	case h.Exec != nil:
		return "exec"
	case h.GRPC != nil:
		return "grpc"
	}
	return ""
}

// portFor finds the container port of a portIndex or a fixed port.
func (c *appConv) portFor(path string, portIndex, fixed *int) (int32, bool) {
	if fixed != nil && *fixed > 0 {
		if !validPort(*fixed) {
			c.rec.unsup(path, fmt.Sprintf("port %d is out of range", *fixed), "use a port between 1 and 65535")
			return 0, false
		}
		return int32(*fixed), true
	}
	idx := intOr(portIndex, 0)
	if idx < 0 || idx >= len(c.ports) {
		c.rec.unsup(path, fmt.Sprintf("portIndex %d: the app has %d ports", idx, len(c.ports)), "point portIndex at one of the app's ports")
		return 0, false
	}
	return c.ports[idx].containerPort, true
}

// handler builds the probe action of a health or readiness check.
func (c *appConv) handler(path, proto string, httpPath *string, portIndex, fixed *int, cmd *marathon.CommandCheck) (corev1.ProbeHandler, bool) {
	switch proto {
	case marathon.ProtocolHTTP, marathon.ProtocolHTTPS, marathon.ProtocolMesosHTTP, marathon.ProtocolMesosHTTPS:
		port, ok := c.portFor(path, portIndex, fixed)
		if !ok {
			return corev1.ProbeHandler{}, false
		}
		g := &corev1.HTTPGetAction{Path: ptr.Deref(httpPath, "/"), Port: intstr.FromInt32(port), Scheme: corev1.URISchemeHTTP}
		if g.Path == "" {
			g.Path = "/"
		}
		if strings.HasSuffix(proto, "HTTPS") {
			g.Scheme = corev1.URISchemeHTTPS
		}
		return corev1.ProbeHandler{HTTPGet: g}, true
	case marathon.ProtocolTCP, marathon.ProtocolMesosTCP:
		port, ok := c.portFor(path, portIndex, fixed)
		if !ok {
			return corev1.ProbeHandler{}, false
		}
		return corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(port)}}, true
	case marathon.ProtocolCommand:
		if cmd == nil || strings.TrimSpace(cmd.Value) == "" {
			c.rec.unsup(path, "COMMAND health check without a command", "add command.value")
			return corev1.ProbeHandler{}, false
		}
		return corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"/bin/sh", "-c", escapeDollar(cmd.Value)}}}, true
	}
	c.rec.unsup(path, "unknown health check protocol "+proto, "use HTTP, HTTPS, TCP, COMMAND or MESOS_*")
	return corev1.ProbeHandler{}, false
}

// readinessCheck converts readinessChecks[i] into the readiness probe.
func (c *appConv) readinessCheck(i int, rc *marathon.ReadinessCheck) {
	path := fmt.Sprintf("readinessChecks[%d]", i)
	tgt := c.ctr + ".readinessProbe"
	if c.ready != nil {
		c.rec.unsup(path, "Kubernetes runs one readiness probe per container; "+c.readyFrom+" already gives it", "merge the checks into one endpoint")
		return
	}
	proto := "HTTP"
	if rc.Protocol != nil {
		proto = strings.ToUpper(*rc.Protocol)
	}
	idx := -1
	if rc.PortName != nil {
		for j, p := range c.ports {
			if p.marathonName == *rc.PortName {
				idx = j
				break
			}
		}
		if idx < 0 {
			c.rec.unsup(path, "portName "+*rc.PortName+" names no port of the app", "use the name of one of the app's ports")
			return
		}
	} else if len(c.ports) > 0 {
		idx = 0
	}
	pi := idx
	h, ok := c.handler(path, proto, rc.Path, &pi, nil, nil)
	if !ok {
		return
	}
	interval := max(intOr(rc.IntervalSeconds, 30), 1)
	timeout := max(intOr(rc.TimeoutSeconds, 10), 1)
	c.ready = &corev1.Probe{ProbeHandler: h, PeriodSeconds: int32(interval), TimeoutSeconds: int32(timeout), FailureThreshold: 1, SuccessThreshold: 1}
	c.readyFrom = path
	c.rec.conv(path, tgt, "Marathon waits for readiness before the next deployment step; Kubernetes' rolling update waits for Ready pods the same way")
	if rc.Name != nil {
		c.rec.conv(path+".name", tgt, "a container has a single readiness probe: the name is not needed")
	}
	if rc.Protocol != nil {
		c.rec.conv(path+".protocol", tgt+".httpGet.scheme", "")
	}
	if rc.Path != nil {
		c.rec.conv(path+".path", tgt+".httpGet.path", "")
	}
	if rc.PortName != nil {
		c.rec.conv(path+".portName", tgt+".httpGet.port", "")
	}
	if rc.IntervalSeconds != nil {
		c.rec.conv(path+".intervalSeconds", tgt+".periodSeconds", "")
	}
	if rc.TimeoutSeconds != nil {
		c.rec.conv(path+".timeoutSeconds", tgt+".timeoutSeconds", "")
	}
	if rc.HTTPStatusCodesForReady != nil {
		okCodes := !slices.ContainsFunc(rc.HTTPStatusCodesForReady, func(s int) bool { return s < 200 || s > 399 })
		if okCodes {
			c.rec.approx(path+".httpStatusCodesForReady", tgt, "the kubelet counts every status 200-399 as ready, not only the listed ones", "")
		} else {
			c.rec.approx(path+".httpStatusCodesForReady", tgt, "the kubelet counts only 200-399 as ready; codes outside that range are not", "make the endpoint answer 200 when ready")
		}
	}
	if rc.PreserveLastResponse != nil {
		c.rec.unsup(path+".preserveLastResponse", "Kubernetes keeps no probe responses (failures appear as events)", "")
	}
}
