package convert

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// port is one port of the workload, in Marathon's index order.
type port struct {
	index         int
	path          string
	marathonName  string
	name          string // container/service port name (protocol suffix added per protocol)
	containerPort int32
	hostPort      int32
	servicePort   int32
	protocols     []corev1.Protocol
	vip           string
	labels        map[string]string
	// container is the index of the pod container that owns it.
	container int
}

// protocols reads "tcp", "udp", "udp,tcp", "sctp" (case-insensitive).
func parseProtocols(s *string) ([]corev1.Protocol, bool) {
	if s == nil || *s == "" {
		return []corev1.Protocol{corev1.ProtocolTCP}, true
	}
	var out []corev1.Protocol
	ok := true
	for _, p := range strings.Split(strings.ToLower(*s), ",") {
		switch strings.TrimSpace(p) {
		case "tcp":
			out = append(out, corev1.ProtocolTCP)
		case "udp":
			out = append(out, corev1.ProtocolUDP)
		case "sctp":
			out = append(out, corev1.ProtocolSCTP)
		default:
			ok = false
		}
	}
	if len(out) == 0 {
		out = []corev1.Protocol{corev1.ProtocolTCP}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, ok
}

// portAllocator hands out fixed container ports for ports Marathon chose
// dynamically, skipping ports already taken.
type portAllocator struct {
	next  int32
	taken map[int32]bool
}

func (a *portAllocator) take(p int32) { a.taken[p] = true }

func (a *portAllocator) alloc() int32 {
	for a.taken[a.next] {
		a.next++
	}
	p := a.next
	a.taken[p] = true
	a.next++
	return p
}

// vipPort reads the port of a VIP label value "/name:80" or "1.2.3.4:80".
func vipPort(v string) (int32, bool) {
	i := strings.LastIndex(v, ":")
	if i < 0 {
		return 0, false
	}
	n, err := strconv.Atoi(v[i+1:])
	if err != nil || n < 1 || n > 65535 {
		return 0, false
	}
	return int32(n), true
}

func validPort(p int) bool { return p >= 1 && p <= 65535 }

// finishPorts gives every port a unique name and unique service port per
// protocol, then builds the container ports, the Service ports and the
// PORT* task variables.
func finishPorts(ports []*port, env *taskEnv, svcPrefix string, rec *recorder, pathOf func(p *port) string) ([]corev1.ContainerPort, []corev1.ServicePort) {
	usedNames := map[string]bool{}
	usedSvc := map[string]bool{}
	var cps []corev1.ContainerPort
	var sps []corev1.ServicePort
	var portsList []string
	for _, p := range ports {
		base := portName(p.marathonName)
		if base == "" {
			base = "port" + strconv.Itoa(p.index)
		}
		for _, proto := range p.protocols {
			n := base
			if len(p.protocols) > 1 && proto != corev1.ProtocolTCP {
				n = base + "-" + strings.ToLower(string(proto))
				if len(n) > 15 {
					n = strings.TrimRight(n[:15], "-")
				}
			}
			n = uniquePortName(n, usedNames)
			if p.name == "" {
				p.name = n
			}
			cps = append(cps, corev1.ContainerPort{Name: n, ContainerPort: p.containerPort, HostPort: p.hostPort, Protocol: proto})
			sp := p.servicePort
			for key := fmt.Sprint(sp, proto); usedSvc[key]; key = fmt.Sprint(sp, proto) {
				sp++
				if sp > 65535 {
					sp = 1
				}
			}
			if sp != p.servicePort && pathOf != nil {
				rec.approx(pathOf(p), svcPrefix+"spec.ports", fmt.Sprintf("service port %d is taken by another port of the app; this one gets %d", p.servicePort, sp), "give each port its own service port")
			}
			usedSvc[fmt.Sprint(sp, proto)] = true
			sps = append(sps, corev1.ServicePort{Name: n, Port: sp, TargetPort: intstr.FromInt32(p.containerPort), Protocol: proto})
		}
		portsList = append(portsList, strconv.Itoa(int(p.containerPort)))
	}
	if env != nil {
		for i, p := range ports {
			v := strconv.Itoa(int(p.containerPort))
			env.literal("PORT"+strconv.Itoa(i), v, "fixed container port "+v, true)
			if p.marathonName != "" {
				env.literal("PORT_"+envName(p.marathonName), v, "fixed container port "+v, true)
			}
		}
		if len(ports) > 0 {
			v := strconv.Itoa(int(ports[0].containerPort))
			env.literal("PORT", v, "fixed container port "+v, true)
			env.literal("PORTS", strings.Join(portsList, ","), "the fixed container ports "+strings.Join(portsList, ","), true)
		}
	}
	return cps, sps
}

// portLabelsAnnotation renders non-VIP port labels as one JSON annotation.
func portLabelsJSON(l map[string]string) string {
	b, _ := json.Marshal(l) // map keys are sorted by encoding/json
	return string(b)
}
