package convert

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/switchyard/switchyard/marathon"
)

// Labels and annotations the converter writes.
const (
	LabelName            = "app.kubernetes.io/name"
	LabelManagedBy       = "app.kubernetes.io/managed-by"
	AnnotationMarathonID = "switchyard.io/marathon-id"
	AnnotationDependsOn  = "switchyard.io/depends-on"
	AnnotationPrefix     = "switchyard.io/"
	managedBy            = "switchyard"
	mainContainer        = "main"
	sandboxVolume        = "mesos-sandbox"
)

// App converts one Marathon app (its id absolute or relative to "/") into a
// release and its fidelity report.
func App(app *marathon.App, opts Options) (*Result, error) {
	if app == nil {
		return nil, fmt.Errorf("convert: no app")
	}
	o, err := opts.complete()
	if err != nil {
		return nil, err
	}
	if err := checkRepresentable(&marathon.Definition{Kind: marathon.KindApp, App: app}); err != nil {
		return nil, err
	}
	id := absID(app.ID, "/")
	nm := newNamer([]string{id})
	rel, rep, err := convertApp(app, id, "", nm.name(id), o)
	if err != nil {
		return nil, err
	}
	res := &Result{Releases: []*Release{rel}}
	res.Report.add(rep)
	return res, nil
}

// appConv holds the state of one app's conversion.
type appConv struct {
	o    Options
	app  *marathon.App
	id   string
	name string
	rec  recorder
	env  *taskEnv

	ctr string // target path of the main container

	ports     []*port
	live      *corev1.Probe
	liveFrom  string
	ready     *corev1.Probe
	readyFrom string
	startup   *corev1.Probe

	container      corev1.Container
	pod            corev1.PodSpec
	place          placement
	labels         map[string]string
	annotations    map[string]string
	svcAnnotations map[string]string
	claims         []corev1.PersistentVolumeClaim // volumeClaimTemplates
	pvcs           []*corev1.PersistentVolumeClaim
	secrets        map[string]SecretRef
	stateful       bool
	sandbox        bool
	image          string
	strategy       *appsv1.RollingUpdateDeployment
	pdbMin         *intstr.IntOrString
	svcPorts       []corev1.ServicePort
	userEnv        []corev1.EnvVar
	userEnvNames   map[string]bool
	deps           []string
}

// convertApp converts app (whose absolute id is id) into a release named name.
func convertApp(app *marathon.App, id, path, name string, o Options) (*Release, SourceReport, error) {
	var deps []string
	set := map[string]bool{}
	for _, d := range app.Dependencies {
		set[newNamer(nil).name(absID(d, parentOf(id)))] = true
	}
	deps = slices.Sorted(maps.Keys(set))
	return convertAppWith(app, id, path, name, o, deps)
}

// convertAppWith is convertApp with the dependencies' release names given.
func convertAppWith(app *marathon.App, id, path, name string, o Options, deps []string) (*Release, SourceReport, error) {
	c := &appConv{deps: deps, o: o, app: app, id: id, name: name, env: newTaskEnv(),
		ctr:    "spec.template.spec.containers[0]",
		labels: map[string]string{}, annotations: map[string]string{}, svcAnnotations: map[string]string{},
		secrets: map[string]SecretRef{}}
	c.container.Name = mainContainer
	if app.ID != "" {
		c.rec.conv("id", "metadata.name", fmt.Sprintf("name %q (DNS-1035); $MARATHON_APP_ID keeps %q", name, id))
	}
	c.env.literal("MARATHON_APP_ID", id, id, true)
	c.env.field("MESOS_TASK_ID", "metadata.name", "the pod name (metadata.name)", true)
	if o.HostAddress == HostNodeIP {
		c.env.field("HOST", "status.hostIP", "the node's IP (status.hostIP)", true)
	} else {
		c.env.field("HOST", "status.podIP", "the pod's IP (status.podIP), where the task's network answers", true)
	}
	c.env.literal("MESOS_SANDBOX", o.SandboxPath, "the sandbox emptyDir "+o.SandboxPath, false)
	if app.Version != nil {
		c.env.literal("MARATHON_APP_VERSION", *app.Version, "the source version "+*app.Version, false)
	}
	if app.CPUs != nil {
		c.env.literal("MARATHON_APP_RESOURCE_CPUS", strconv.FormatFloat(*app.CPUs, 'f', -1, 64), "the app's cpus", false)
	}
	if app.Mem != nil {
		c.env.literal("MARATHON_APP_RESOURCE_MEM", strconv.FormatFloat(*app.Mem, 'f', -1, 64), "the app's mem", false)
	}
	if app.Disk != nil {
		c.env.literal("MARATHON_APP_RESOURCE_DISK", strconv.FormatFloat(*app.Disk, 'f', -1, 64), "the app's disk", false)
	}
	if app.GPUs != nil {
		c.env.literal("MARATHON_APP_RESOURCE_GPUS", strconv.Itoa(*app.GPUs), "the app's gpus", false)
	}
	if len(app.Labels) > 0 {
		keys := slices.Sorted(maps.Keys(app.Labels))
		c.env.literal("MARATHON_APP_LABELS", strings.Join(keys, " "), "the app's label names", false)
		for _, k := range keys {
			c.env.literal("MARATHON_APP_LABEL_"+envName(k), app.Labels[k], "label "+k, false)
		}
	}

	c.containerImage()
	c.convertPorts()
	c.command()
	c.environment()
	c.container.Resources = resources(o, &c.rec, resourceSpec{cpus: app.CPUs, mem: app.Mem, disk: app.Disk, gpus: app.GPUs, limits: app.ResourceLimits}, "", "", c.ctr)
	executorResources(&c.rec, "executorResources", app.ExecutorResources)
	for i := range app.HealthChecks {
		c.healthCheck(i, &app.HealthChecks[i])
	}
	for i := range app.ReadinessChecks {
		c.readinessCheck(i, &app.ReadinessChecks[i])
	}
	if app.Check != nil {
		c.rec.unsup("check", "a Mesos check only reports a status and never acts; Kubernetes has no such probe", "turn it into a readiness probe if the status should gate traffic")
	}
	c.volumes()
	c.fetch()
	c.scheduling()
	c.labelsAndMisc()
	c.statusFields()

	rel, err := c.build(path)
	if err != nil {
		return nil, SourceReport{}, err
	}
	coverage(&c.rec, app)
	return rel, SourceReport{ID: id, Kind: "app", Path: path, Release: name, Entries: c.rec.entries}, nil
}

// containerImage converts container.type/docker.
func (c *appConv) containerImage() {
	ct := c.app.Container
	if ct == nil {
		return
	}
	if ct.Type != nil {
		switch strings.ToUpper(*ct.Type) {
		case marathon.ContainerDocker:
			c.rec.conv("container.type", c.ctr+".image", "a container image")
		case marathon.ContainerMesos:
			c.rec.conv("container.type", c.ctr+".image", "the Mesos containerizer running an image (or none) is a container either way")
		default:
			c.rec.approx("container.type", c.ctr+".image", "container type "+*ct.Type+" runs as an OCI container", "")
		}
	}
	if d := ct.Docker; d != nil {
		if d.Image != "" {
			c.image = d.Image
			c.container.Image = d.Image
			c.rec.conv("container.docker.image", c.ctr+".image", "")
		} else {
			c.rec.approx("container.docker.image", c.ctr+".image", "an empty image: the base image "+c.o.BaseImage+" runs the command", "set the image")
		}
		if d.ForcePullImage != nil {
			c.rec.conv("container.docker.forcePullImage", c.ctr+".imagePullPolicy", "")
		}
		if d.Privileged != nil {
			if *d.Privileged {
				c.container.SecurityContext = ensureSC(c.container.SecurityContext)
				c.container.SecurityContext.Privileged = ptr.To(true)
			}
			c.rec.conv("container.docker.privileged", c.ctr+".securityContext.privileged", "")
		}
		for i, p := range d.Parameters {
			c.dockerParameter(fmt.Sprintf("container.docker.parameters[%d]", i), p)
		}
		if d.PullConfig != nil {
			n, _ := secretTarget(d.PullConfig.Secret)
			if src, ok := c.app.Secrets[d.PullConfig.Secret]; ok {
				n, _ = secretTarget(src.Source)
				c.secrets["pull/"+n] = SecretRef{Name: n, Source: src.Source, Type: corev1.SecretTypeDockerConfigJson}
				c.rec.conv(joinKey("secrets", d.PullConfig.Secret), "Secret/"+n, "image pull secret from store path "+src.Source)
			}
			c.pod.ImagePullSecrets = append(c.pod.ImagePullSecrets, corev1.LocalObjectReference{Name: n})
			c.rec.conv("container.docker.pullConfig", "spec.template.spec.imagePullSecrets", "Secret "+n+" (type kubernetes.io/dockerconfigjson) must hold the docker config")
		}
		if d.Credential != nil {
			c.rec.unsup("container.docker.credential", "a Mesos framework principal (deprecated) has no meaning in Kubernetes", "use pullConfig / imagePullSecrets")
		}
		if d.Network != nil {
			c.rec.conv("container.docker.network", "spec.template.spec", "pods have their own network; ports come from the port mappings")
		}
		if d.PortMappings != nil && ct.PortMappings == nil {
			// handled with the ports
		}
	}
	if ct.LinuxInfo != nil {
		linuxInfo(&c.rec, "container.linuxInfo", c.ctr, &c.container, &c.pod, ct.LinuxInfo)
	}
	pull := corev1.PullIfNotPresent
	if ct.Docker != nil && ct.Docker.ForcePullImage != nil && *ct.Docker.ForcePullImage {
		pull = corev1.PullAlways
	}
	if c.container.Image != "" {
		c.container.ImagePullPolicy = pull
	}
}

func ensureSC(sc *corev1.SecurityContext) *corev1.SecurityContext {
	if sc == nil {
		return &corev1.SecurityContext{}
	}
	return sc
}

// linuxInfo converts seccomp and IPC settings.
func linuxInfo(rec *recorder, path, tgt string, ctr *corev1.Container, pod *corev1.PodSpec, li *marathon.LinuxInfo) {
	if s := li.Seccomp; s != nil {
		if s.Unconfined != nil && *s.Unconfined {
			ctr.SecurityContext = ensureSC(ctr.SecurityContext)
			ctr.SecurityContext.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}
			rec.conv(path+".seccomp", tgt+".securityContext.seccompProfile", "Unconfined")
		} else if s.ProfileName != nil && *s.ProfileName != "" {
			ctr.SecurityContext = ensureSC(ctr.SecurityContext)
			ctr.SecurityContext.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: ptr.To(*s.ProfileName)}
			rec.approx(path+".seccomp", tgt+".securityContext.seccompProfile", "Localhost profile "+*s.ProfileName, "install the profile under the kubelet's seccomp directory on every node")
		} else {
			rec.conv(path+".seccomp", tgt+".securityContext", "the runtime's default profile")
		}
	}
	if ipc := li.IPCInfo; ipc != nil {
		if ipc.Mode != nil {
			if strings.EqualFold(*ipc.Mode, "SHARE_PARENT") {
				rec.approx(path+".ipcInfo.mode", "spec.template.spec", "containers of a pod share their IPC namespace; sharing the host's is not done", "set hostIPC: true by hand if the host's IPC namespace is needed")
			} else {
				rec.conv(path+".ipcInfo.mode", "spec.template.spec", "a private IPC namespace per pod")
			}
		}
		if ipc.ShmSize != nil && *ipc.ShmSize > 0 {
			q := mibQuantity(*ipc.ShmSize)
			pod.Volumes = append(pod.Volumes, corev1.Volume{Name: "dshm", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: &q}}})
			ctr.VolumeMounts = append(ctr.VolumeMounts, corev1.VolumeMount{Name: "dshm", MountPath: "/dev/shm"})
			rec.approx(path+".ipcInfo.shmSize", tgt+".volumeMounts[/dev/shm]", "a memory-backed emptyDir of that size at /dev/shm", "")
		} else if ipc.ShmSize != nil {
			rec.conv(path+".ipcInfo.shmSize", tgt, "default /dev/shm")
		}
	}
}

// dockerParameter converts one `docker run` option.
func (c *appConv) dockerParameter(path string, p marathon.DockerParameter) {
	v := ptr.Deref(p.Value, "")
	key := strings.TrimLeft(p.Key, "-")
	sc := func() *corev1.SecurityContext {
		c.container.SecurityContext = ensureSC(c.container.SecurityContext)
		return c.container.SecurityContext
	}
	switch key {
	case "cap-add", "cap-drop":
		s := sc()
		if s.Capabilities == nil {
			s.Capabilities = &corev1.Capabilities{}
		}
		capName := corev1.Capability(strings.TrimPrefix(strings.ToUpper(v), "CAP_"))
		if key == "cap-add" {
			s.Capabilities.Add = append(s.Capabilities.Add, capName)
		} else {
			s.Capabilities.Drop = append(s.Capabilities.Drop, capName)
		}
		c.rec.conv(path, c.ctr+".securityContext.capabilities", "")
	case "read-only":
		sc().ReadOnlyRootFilesystem = ptr.To(v == "" || v == "true")
		c.rec.conv(path, c.ctr+".securityContext.readOnlyRootFilesystem", "")
	case "workdir", "w":
		c.container.WorkingDir = v
		c.rec.conv(path, c.ctr+".workingDir", "")
	case "user", "u":
		if uid, err := strconv.ParseInt(strings.SplitN(v, ":", 2)[0], 10, 64); err == nil && uid >= 0 {
			sc().RunAsUser = ptr.To(uid)
			c.rec.conv(path, c.ctr+".securityContext.runAsUser", "")
		} else {
			c.rec.unsup(path, "user "+v+" is a name; Kubernetes needs a numeric uid", "set securityContext.runAsUser to the uid")
		}
	case "add-host":
		h, ip, ok := strings.Cut(v, ":")
		if !ok {
			c.rec.unsup(path, "add-host wants HOST:IP", "")
			return
		}
		c.pod.HostAliases = append(c.pod.HostAliases, corev1.HostAlias{IP: ip, Hostnames: []string{h}})
		c.rec.conv(path, "spec.template.spec.hostAliases", "")
	case "env", "e":
		k, val, _ := strings.Cut(v, "=")
		if !validEnvName(k) {
			c.rec.unsup(path, "invalid variable "+k, "")
			return
		}
		c.container.Env = append(c.container.Env, corev1.EnvVar{Name: k, Value: escapeDollar(val)})
		c.rec.conv(path, c.ctr+".env", "")
	case "label", "l":
		k, val, _ := strings.Cut(v, "=")
		c.annotations[AnnotationPrefix+"docker-label."+cleanLabelPart(k, 40)] = val
		c.rec.approx(path, "metadata.annotations", "a container label becomes a workload annotation", "")
	case "shm-size":
		c.rec.unsup(path, "use container.linuxInfo.ipcInfo.shmSize or a memory emptyDir at /dev/shm", "mount an emptyDir with medium Memory at /dev/shm")
	case "hostname", "h":
		if len(validationDNSLabel(v)) == 0 {
			c.pod.Hostname = v
			c.rec.conv(path, "spec.template.spec.hostname", "")
		} else {
			c.rec.unsup(path, "hostname "+v+" is not a DNS label", "")
		}
	case "net", "network":
		switch v {
		case "bridge", "":
			c.rec.conv(path, "spec.template.spec", "the pod's own network")
		case "host":
			c.rec.approx(path, "spec.template.spec", "host networking: the pod gets its own IP instead", "set hostNetwork: true by hand if the app must bind node addresses")
		default:
			c.rec.approx(path, "spec.template.spec", "docker network "+v+": pods join the cluster's pod network", "")
		}
	case "net-alias", "network-alias":
		c.rec.approx(path, "Service/"+c.name, "a DNS alias on a docker network: clients find the pods by the Service name "+c.name+" instead of "+v, "point clients at "+c.name+".<namespace>.svc, or add an ExternalName Service named "+v)
	case "name":
		c.rec.approx(path, "metadata.name", "Kubernetes names pods after the workload ("+c.name+"-...); a fixed container name is not possible", "")
	case "tty", "t":
		c.container.TTY = v == "" || v == "true"
		c.rec.conv(path, c.ctr+".tty", "")
	case "pid":
		if v == "host" {
			c.pod.HostPID = true
			c.rec.conv(path, "spec.template.spec.hostPID", "")
		} else {
			c.rec.unsup(path, "pid mode "+v+" has no equivalent", "")
		}
	case "log-driver", "log-opt":
		c.rec.unsup(path, "container logs go to the node's log files; the logging agent of the cluster ships them", "configure the cluster's log collector instead")
	case "memory", "m", "memory-swap", "memory-swappiness", "memory-reservation":
		c.rec.unsup(path, "memory settings come from mem and resourceLimits (requests/limits); swap is not given to containers", "set mem / resourceLimits.mem")
	default:
		c.rec.unsup(path, "docker run option --"+key+" has no Kubernetes equivalent the converter knows", "express it in the pod spec by hand if it matters")
	}
}

// convertPorts builds the app's ports from portDefinitions/ports (host
// networking) or portMappings (bridge and container networking).
func (c *appConv) convertPorts() {
	app := c.app
	alloc := &portAllocator{next: int32(c.o.FirstDynamicPort), taken: map[int32]bool{}}
	mode := marathon.NetworkModeHost
	for i, n := range app.Networks {
		m := ptr.Deref(n.Mode, marathon.NetworkModeContainer)
		if i == 0 {
			mode = m
		}
		p := fmt.Sprintf("networks[%d]", i)
		switch m {
		case marathon.NetworkModeHost:
			c.rec.approx(p, "spec.template.spec", "host networking: the task shared the node's network; the pod gets its own IP and the ports become container ports", "set hostNetwork: true by hand if the app must bind node addresses")
		case marathon.NetworkModeContainerBridge:
			c.rec.conv(p, "spec.template.spec", "bridge networking: the pod's own network, ports from portMappings")
		default:
			if n.Name != nil {
				c.rec.approx(p, "spec.template.spec", "container network "+*n.Name+": pods join the cluster's pod network", "use a CNI multi-network attachment if the named network matters")
			} else {
				c.rec.conv(p, "spec.template.spec", "container networking: the pod's own network")
			}
		}
	}
	var mappings []marathon.PortMapping
	mapPath := "container.portMappings"
	if ct := app.Container; ct != nil {
		mappings = ct.PortMappings
		if mappings == nil && ct.Docker != nil && ct.Docker.PortMappings != nil {
			mappings, mapPath = ct.Docker.PortMappings, "container.docker.portMappings"
		}
		if ct.Docker != nil && ct.Docker.Network != nil && len(app.Networks) == 0 {
			switch strings.ToUpper(*ct.Docker.Network) {
			case "BRIDGE":
				mode = marathon.NetworkModeContainerBridge
			case "USER":
				mode = marathon.NetworkModeContainer
			}
		}
	}
	if app.IPAddress != nil && len(app.Networks) == 0 {
		mode = marathon.NetworkModeContainer
		c.rec.approx("ipAddress", "spec.template.spec", "IP per task: every pod has its own IP", "")
		if d := app.IPAddress.Discovery; d != nil && len(mappings) == 0 {
			for _, dp := range d.Ports {
				mappings = append(mappings, marathon.PortMapping{ContainerPort: dp.Number, Name: dp.Name, Protocol: dp.Protocol, Labels: dp.Labels})
			}
			mapPath = "ipAddress.discovery.ports"
		}
	}
	requirePorts := app.RequirePorts != nil && *app.RequirePorts
	svc := "Service/" + c.name + " "
	if mode == marathon.NetworkModeHost && mappings == nil {
		var defs []marathon.PortDefinition
		defPath := "portDefinitions"
		switch {
		case app.PortDefinitions != nil:
			defs = app.PortDefinitions
			if app.Ports != nil {
				c.rec.conv("ports", "", "Marathon uses portDefinitions when both are given")
			}
		case app.Ports != nil:
			defPath = "ports"
			for _, p := range app.Ports {
				defs = append(defs, marathon.PortDefinition{Port: ptr.To(p)})
			}
		default:
			defs = []marathon.PortDefinition{{Port: ptr.To(0)}} // Marathon's default: one dynamic port
			defPath = ""
		}
		for _, d := range defs {
			if pv := ptr.Deref(d.Port, 0); validPort(pv) {
				alloc.take(int32(pv))
			}
		}
		for i, d := range defs {
			pp := fmt.Sprintf("%s[%d]", defPath, i)
			p := &port{index: i, marathonName: ptr.Deref(d.Name, ""), labels: d.Labels, path: pp}
			pv := ptr.Deref(d.Port, 0)
			protos, ok := parseProtocols(d.Protocol)
			p.protocols = protos
			switch {
			case validPort(pv):
				p.containerPort, p.servicePort = int32(pv), int32(pv)
				if requirePorts {
					p.hostPort = int32(pv)
				}
			default:
				p.containerPort = alloc.alloc()
				p.servicePort = p.containerPort
			}
			if defPath != "" {
				c.portEntries(pp, p, d.Port, d.Protocol, ok, d.Name, requirePorts, svc)
				if defPath == "ports" {
					// legacy list: entry made by portEntries on the element
				}
			}
			c.ports = append(c.ports, p)
		}
	} else {
		if app.PortDefinitions != nil {
			c.rec.conv("portDefinitions", "", "Marathon ignores portDefinitions with "+mode+" networking; the port mappings give the ports")
		}
		if app.Ports != nil {
			c.rec.conv("ports", "", "Marathon ignores ports with "+mode+" networking; the port mappings give the ports")
		}
		for _, m := range mappings {
			if cp := ptr.Deref(m.ContainerPort, 0); validPort(cp) {
				alloc.take(int32(cp))
			}
		}
		for i, m := range mappings {
			pp := fmt.Sprintf("%s[%d]", mapPath, i)
			p := &port{index: i, marathonName: ptr.Deref(m.Name, ""), labels: m.Labels, path: pp}
			protos, ok := parseProtocols(m.Protocol)
			p.protocols = protos
			cp, hp, sp := ptr.Deref(m.ContainerPort, 0), ptr.Deref(m.HostPort, 0), ptr.Deref(m.ServicePort, 0)
			switch {
			case validPort(cp):
				p.containerPort = int32(cp)
			case validPort(hp):
				p.containerPort = int32(hp)
				alloc.take(int32(hp))
			default:
				p.containerPort = alloc.alloc()
			}
			if validPort(hp) {
				p.hostPort = int32(hp)
			}
			p.servicePort = p.containerPort
			if validPort(sp) {
				p.servicePort = int32(sp)
			}
			tgt := c.ctr + ".ports[" + strconv.Itoa(i) + "]"
			if m.ContainerPort != nil {
				if validPort(cp) {
					c.rec.conv(pp+".containerPort", tgt+".containerPort", "exported as $PORT"+strconv.Itoa(i))
				} else {
					c.rec.approx(pp+".containerPort", tgt+".containerPort", fmt.Sprintf("0 (same as the host port): fixed container port %d, exported as $PORT%d", p.containerPort, i), "")
				}
			}
			if m.HostPort != nil {
				if validPort(hp) {
					c.rec.conv(pp+".hostPort", tgt+".hostPort", "a fixed host port")
				} else {
					c.rec.approx(pp+".hostPort", tgt, "a random host port per task: not needed, pods are reached on their own IP at the container port ($PORT"+strconv.Itoa(i)+" is the container port)", "")
				}
			}
			if m.ServicePort != nil {
				if validPort(sp) {
					c.rec.conv(pp+".servicePort", svc+"spec.ports[].port", "the marathon-lb service port is the Service port")
				} else {
					c.rec.conv(pp+".servicePort", svc+"spec.ports[].port", "no service port: the Service port is the container port")
				}
			}
			if m.Protocol != nil {
				c.protocolEntry(pp+".protocol", ok, tgt)
			}
			if m.Name != nil {
				c.nameEntry(pp+".name", *m.Name, tgt)
			}
			if m.NetworkNames != nil {
				c.rec.approx(pp+".networkNames", tgt, "pods have one network; the port is on it", "")
			}
			c.portLabels(pp, p, svc)
			c.ports = append(c.ports, p)
		}
	}
	if app.RequirePorts != nil {
		if requirePorts {
			c.rec.conv("requirePorts", c.ctr+".ports[].hostPort", "the fixed ports are host ports too")
		} else {
			c.rec.conv("requirePorts", c.ctr+".ports", "no host ports needed")
		}
	}
	cps, sps := finishPorts(c.ports, c.env, svc, &c.rec, func(p *port) string { return p.path })
	c.container.Ports = cps
	if len(sps) > 0 {
		c.svcPorts = sps
	}
}

func (c *appConv) protocolEntry(path string, ok bool, tgt string) {
	if ok {
		c.rec.conv(path, tgt+".protocol", "")
	} else {
		c.rec.approx(path, tgt+".protocol", "unknown protocol: TCP", "use tcp, udp or udp,tcp")
	}
}

func (c *appConv) nameEntry(path, name, tgt string) {
	pn := portName(name)
	if pn == name {
		c.rec.conv(path, tgt+".name", "also $PORT_"+envName(name))
	} else {
		c.rec.approx(path, tgt+".name", fmt.Sprintf("%q is not a valid port name (IANA: <= 15 lower-case letters, digits, '-'); sanitized, $PORT_%s keeps it", name, envName(name)), "")
	}
}

func (c *appConv) portEntries(pp string, p *port, pv *int, proto *string, protoOK bool, name *string, requirePorts bool, svc string) {
	tgt := c.ctr + ".ports[" + strconv.Itoa(p.index) + "]"
	if pv != nil || strings.HasPrefix(pp, "ports[") {
		switch {
		case validPort(ptr.Deref(pv, 0)) && requirePorts:
			c.rec.conv(pp+portSuffix(pp), tgt+".hostPort", fmt.Sprintf("required port %d: container port and host port, exported as $PORT%d", p.containerPort, p.index))
		case validPort(ptr.Deref(pv, 0)):
			c.rec.approx(pp+portSuffix(pp), tgt+".containerPort", fmt.Sprintf("service port %d: the task got a random host port ($PORT%d); now it listens on container port %d ($PORT%d) behind Service port %d", p.servicePort, p.index, p.containerPort, p.index, p.servicePort), "")
		default:
			c.rec.approx(pp+portSuffix(pp), tgt+".containerPort", fmt.Sprintf("dynamic port: the task now listens on fixed container port %d ($PORT%d)", p.containerPort, p.index), "")
		}
	}
	if proto != nil {
		c.protocolEntry(pp+".protocol", protoOK, tgt)
	}
	if name != nil {
		c.nameEntry(pp+".name", *name, tgt)
	}
	c.portLabels(pp, p, svc)
}

func portSuffix(pp string) string {
	if strings.HasPrefix(pp, "ports[") {
		return ""
	}
	return ".port"
}

// portLabels converts VIP_n labels to the Service port and keeps the
// others as a Service annotation.
func (c *appConv) portLabels(pp string, p *port, svc string) {
	rest := map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(p.labels)) {
		v := p.labels[k]
		lp := joinKey(pp+".labels", k)
		if strings.HasPrefix(k, "VIP_") {
			if n, ok := vipPort(v); ok {
				p.vip = v
				p.servicePort = n
				c.svcAnnotations[AnnotationPrefix+"vip-"+strconv.Itoa(p.index)] = v
				c.rec.approx(lp, svc+"spec.ports[].port", fmt.Sprintf("virtual address %s: the Service (%s) answers on port %d", v, c.name, n), "clients that used the VIP name must use the Service DNS name "+c.name+".<namespace>.svc")
				continue
			}
			c.rec.unsup(lp, "VIP label without a port: "+v, "write it as /name:port")
			continue
		}
		rest[k] = v
		c.rec.approx(lp, svc+"metadata.annotations", "port label kept in annotation "+AnnotationPrefix+"port-labels-"+strconv.Itoa(p.index), "")
	}
	if len(rest) > 0 {
		c.svcAnnotations[AnnotationPrefix+"port-labels-"+strconv.Itoa(p.index)] = portLabelsJSON(rest)
	}
}

func joinKey(path, key string) string {
	plain := key != ""
	for i := 0; i < len(key); i++ {
		ch := key[i]
		if !(ch == '_' || ch == '-' || ch == '/' || ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9') {
			plain = false
			break
		}
	}
	if plain {
		if path == "" {
			return key
		}
		return path + "." + key
	}
	return path + "[" + strconv.Quote(key) + "]"
}

// command converts cmd and args.
func (c *appConv) command() {
	app := c.app
	if app.Cmd != nil && *app.Cmd != "" {
		notes, _ := c.env.scan(*app.Cmd)
		c.container.Command = []string{"/bin/sh", "-c", escapeDollar(*app.Cmd)}
		reason := "runs in a shell as on Mesos: command [/bin/sh, -c, cmd]" + noteSuffix(notes)
		if c.container.Image == "" {
			c.rec.approx("cmd", c.ctr+".command", reason+"; no container image: the command ran on the Mesos agent's filesystem, it now runs in image "+c.o.BaseImage+" in the sandbox directory", "pass --base-image with an image that has the tools the command needs")
		} else if slices.ContainsFunc(notes, func(s string) bool { return strings.HasPrefix(s, "$HOST ") }) && c.o.HostAddress == HostPodIP {
			c.rec.approx("cmd", c.ctr+".command", reason, "$HOST is now the pod IP; pass --host-address host-ip if the node's IP is meant")
		} else {
			c.rec.conv("cmd", c.ctr+".command", reason)
		}
		if app.Args != nil {
			c.rec.unsup("args", "Marathon refuses cmd together with args; cmd wins", "remove args")
		}
	} else if app.Cmd != nil {
		c.rec.conv("cmd", c.ctr+".command", "empty: the image's entrypoint")
	}
	if (app.Cmd == nil || *app.Cmd == "") && app.Args != nil {
		var all []string
		for i, a := range app.Args {
			n, _ := c.env.scan(a)
			all = append(all, n...)
			c.container.Args = append(c.container.Args, c.env.rewriteArgs(a))
			_ = i
		}
		sort.Strings(all)
		all = slices.Compact(all)
		if c.image != "" {
			c.rec.conv("args", c.ctr+".args", "args replace the image's CMD and run without a shell; placeholders become $(VAR) references"+noteSuffix(all))
		} else {
			c.container.Command = c.container.Args
			c.container.Args = nil
			c.rec.approx("args", c.ctr+".command", "args without an image are the command line, run without a shell"+noteSuffix(all), "")
		}
	}
	if c.container.Image == "" {
		c.container.Image = c.o.BaseImage
		c.container.ImagePullPolicy = corev1.PullIfNotPresent
		c.sandbox = true
		c.container.WorkingDir = c.o.SandboxPath
	}
}

// environment converts env and secrets.
func (c *appConv) environment() {
	user := map[string]bool{}
	var env []corev1.EnvVar
	for _, k := range slices.Sorted(maps.Keys(c.app.Env)) {
		v := c.app.Env[k]
		p := joinKey("env", k)
		if !validEnvName(k) {
			c.rec.unsup(p, "invalid environment variable name", "rename it")
			continue
		}
		user[k] = true
		if v.Secret != nil {
			ref, ok := c.secretRef(v.Secret.Secret)
			if !ok {
				c.rec.unsup(p, "secret "+v.Secret.Secret+" is not declared in secrets", "declare it in secrets")
				continue
			}
			env = append(env, corev1.EnvVar{Name: k, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: ref.Name}, Key: ref.Key}}})
			c.rec.conv(p, c.ctr+".env["+k+"].valueFrom.secretKeyRef", fmt.Sprintf("Secret %s key %s (the value is never copied)", ref.Name, ref.Key))
			continue
		}
		env = append(env, corev1.EnvVar{Name: k, Value: escapeDollar(v.Value)})
		c.rec.conv(p, c.ctr+".env["+k+"]", "")
	}
	for _, k := range slices.Sorted(maps.Keys(c.app.Secrets)) {
		if _, ok := c.secretUse(k); !ok {
			n, _ := secretTarget(c.app.Secrets[k].Source)
			c.rec.approx(joinKey("secrets", k), "", "declared but used by no env or volume: Secret "+n+" is not referenced", "")
		}
	}
	c.userEnv = env
	c.userEnvNames = user
}

// secretUse says whether the secret named k is used by env, volumes or pullConfig.
func (c *appConv) secretUse(k string) (string, bool) {
	for _, v := range c.app.Env {
		if v.Secret != nil && v.Secret.Secret == k {
			return "env", true
		}
	}
	if c.app.Container != nil {
		for _, v := range c.app.Container.Volumes {
			if v.Secret != nil && *v.Secret == k {
				return "volume", true
			}
		}
		if d := c.app.Container.Docker; d != nil && d.PullConfig != nil && d.PullConfig.Secret == k {
			return "pull", true
		}
	}
	return "", false
}

// secretRef maps the app secret named k to its Kubernetes Secret and key,
// recording the reference and the secrets.<k> entry once.
func (c *appConv) secretRef(k string) (SecretRef, bool) {
	def, ok := c.app.Secrets[k]
	if !ok {
		return SecretRef{}, false
	}
	n, key := secretTarget(def.Source)
	ref := SecretRef{Name: n, Key: key, Source: def.Source, Type: corev1.SecretTypeOpaque}
	id := n + "/" + key
	if _, seen := c.secrets[id]; !seen {
		c.secrets[id] = ref
		c.rec.conv(joinKey("secrets", k), "Secret/"+n, fmt.Sprintf("secret store path %s -> Secret %s key %s (create it from the store; no value is copied)", def.Source, n, key))
	}
	return ref, true
}

// volumes converts container.volumes.
func (c *appConv) volumes() {
	if c.app.Container == nil {
		return
	}
	vols := c.app.Container.Volumes
	// persistent volumes by (relative) containerPath, for docker volumes
	// that mount them by name (hostPath "data" + persistent "data").
	persistent := map[string]string{}
	for i, v := range vols {
		if v.Persistent != nil {
			persistent[ptr.Deref(v.ContainerPath, "")] = fmt.Sprintf("vol-%d", i)
		}
	}
	for i, v := range vols {
		p := fmt.Sprintf("container.volumes[%d]", i)
		cp := ptr.Deref(v.ContainerPath, "")
		ro := strings.EqualFold(ptr.Deref(v.Mode, "RW"), marathon.VolumeModeRO)
		mountPath := cp
		if !strings.HasPrefix(cp, "/") {
			mountPath = strings.TrimSuffix(c.o.SandboxPath, "/") + "/" + cp
		}
		vname := fmt.Sprintf("vol-%d", i)
		mount := corev1.VolumeMount{Name: vname, MountPath: mountPath, ReadOnly: ro}
		tgt := fmt.Sprintf("%s.volumeMounts[%s]", c.ctr, mountPath)
		switch {
		case v.Persistent != nil:
			c.stateful = true
			size := mibQuantity(float64(ptr.Deref(v.Persistent.Size, 0)))
			claim := corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: vname},
				Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: size}}}}
			if pn := ptr.Deref(v.Persistent.ProfileName, ""); pn != "" {
				if len(validationDNSSubdomain(pn)) == 0 {
					claim.Spec.StorageClassName = ptr.To(pn)
					c.rec.conv(p+".persistent.profileName", "volumeClaimTemplates["+vname+"].spec.storageClassName", "")
				} else {
					c.rec.unsup(p+".persistent.profileName", "not a valid StorageClass name", "")
				}
			}
			c.claims = append(c.claims, claim)
			c.container.VolumeMounts = append(c.container.VolumeMounts, mount)
			if !strings.HasPrefix(cp, "/") {
				c.sandbox = true
			}
			c.rec.conv(p, "spec.volumeClaimTemplates["+vname+"]", "a persistent local volume: a StatefulSet claim per pod, mounted at "+mountPath)
			if v.Persistent.Size != nil {
				c.rec.conv(p+".persistent.size", "spec.volumeClaimTemplates["+vname+"].spec.resources.requests.storage", "MiB")
			}
			if v.Persistent.Type != nil {
				c.rec.approx(p+".persistent.type", "spec.volumeClaimTemplates["+vname+"]", "disk type "+*v.Persistent.Type+" is chosen by the StorageClass", "pick a StorageClass with the matching disk type")
			}
			if v.Persistent.MaxSize != nil {
				c.rec.unsup(p+".persistent.maxSize", "claims ask for an exact size", "")
			}
			if v.Persistent.Constraints != nil {
				c.rec.unsup(p+".persistent.constraints", "disk constraints are StorageClass parameters", "encode them in the StorageClass")
			}
		case v.External != nil:
			ev := v.External
			claimName := c.name + "-" + cleanName(ptr.Deref(ev.Name, vname))
			claimName, _ = sanitizeName(claimName, 253)
			size := c.o.ExternalVolumeSize
			sizeQ := mustQuantity(size)
			if ev.Size != nil && *ev.Size > 0 {
				sizeQ = *resourceGi(*ev.Size)
			}
			mode := corev1.ReadWriteOnce
			if ev.Shared != nil && *ev.Shared {
				mode = corev1.ReadWriteMany
			}
			pvc := &corev1.PersistentVolumeClaim{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
				ObjectMeta: metav1.ObjectMeta{Name: claimName},
				Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{mode},
					Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: sizeQ}}}}
			provider := ptr.Deref(ev.Provider, "dvdi")
			driver := ev.Options["dvdi/driver"]
			if ev.CSI != nil {
				driver = ev.CSI.PluginName
			}
			class, ok := c.o.StorageClasses[driver]
			if !ok {
				class, ok = c.o.StorageClasses[provider]
			}
			if ok {
				pvc.Spec.StorageClassName = ptr.To(class)
			}
			c.pvcs = append(c.pvcs, pvc)
			c.pod.Volumes = append(c.pod.Volumes, corev1.Volume{Name: vname, VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claimName, ReadOnly: ro}}})
			c.container.VolumeMounts = append(c.container.VolumeMounts, mount)
			hint := "map provider/driver " + driver + " to a StorageClass in the options, and bind the claim to the existing volume"
			c.rec.approx(p+".external", "PersistentVolumeClaim/"+claimName, fmt.Sprintf("external volume %s (%s): a PersistentVolumeClaim with storage class %q", ptr.Deref(ev.Name, ""), provider, ptr.Deref(pvc.Spec.StorageClassName, "(cluster default)")), hint)
		case v.Secret != nil:
			ref, ok := c.secretRef(*v.Secret)
			if !ok {
				c.rec.unsup(p, "secret "+*v.Secret+" is not declared in secrets", "declare it in secrets")
				continue
			}
			c.pod.Volumes = append(c.pod.Volumes, corev1.Volume{Name: vname, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: ref.Name, Items: []corev1.KeyToPath{{Key: ref.Key, Path: ref.Key}}}}})
			mount.SubPath = ref.Key
			mount.ReadOnly = true
			c.container.VolumeMounts = append(c.container.VolumeMounts, mount)
			c.rec.conv(p, tgt, "a file from Secret "+ref.Name+" key "+ref.Key)
			if !strings.HasPrefix(cp, "/") {
				c.sandbox = true
			}
		case v.HostPath != nil:
			hp := *v.HostPath
			if !strings.HasPrefix(hp, "/") {
				if pv, ok := persistent[hp]; ok {
					mount.Name = pv
					c.container.VolumeMounts = append(c.container.VolumeMounts, mount)
					c.rec.conv(p, tgt, "mounts the persistent volume "+hp)
					continue
				}
				c.rec.unsup(p, "host path "+hp+" is relative and names no persistent volume", "")
				continue
			}
			c.pod.Volumes = append(c.pod.Volumes, corev1.Volume{Name: vname, VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: hp}}})
			c.container.VolumeMounts = append(c.container.VolumeMounts, mount)
			c.rec.approx(p, tgt, "hostPath "+hp+": the pod sees the node's directory, as the task did", "host paths tie pods to node contents and need privileges (Pod Security 'privileged'); prefer a PersistentVolumeClaim")
			if !strings.HasPrefix(cp, "/") {
				c.sandbox = true
			}
		default:
			c.rec.unsup(p, "a volume that is neither host, persistent, external nor secret", "")
			continue
		}
		if v.Mode != nil {
			c.rec.conv(p+".mode", tgt+".readOnly", "")
		}
		if v.ContainerPath != nil {
			if strings.HasPrefix(cp, "/") {
				c.rec.conv(p+".containerPath", tgt, "")
			} else {
				c.rec.conv(p+".containerPath", tgt, "relative to the sandbox "+c.o.SandboxPath)
			}
		}
	}
}

func cleanName(s string) string {
	n, _ := sanitizeName(s, 40)
	return n
}

// fetch converts fetch and uris into an init container that downloads the
// artifacts into the sandbox.
func (c *appConv) fetch() {
	arts := c.app.Fetch
	path := "fetch"
	if len(arts) == 0 && len(c.app.URIs) > 0 {
		path = "uris"
		for _, u := range c.app.URIs {
			extract := isArchive(u)
			arts = append(arts, marathon.Artifact{URI: u, Extract: &extract})
		}
	}
	if len(arts) == 0 {
		if c.app.Fetch != nil {
			c.rec.conv("fetch", "", "nothing to fetch")
		}
		if c.app.URIs != nil && len(c.app.URIs) == 0 {
			c.rec.conv("uris", "", "nothing to fetch")
		}
		return
	}
	c.sandbox = true
	ic := fetcherContainer(c.o, "fetch", arts)
	c.pod.InitContainers = append(c.pod.InitContainers, ic)
	c.rec.conv(path, "spec.template.spec.initContainers[fetch]", fmt.Sprintf("init container %s downloads %d artifact(s) into the shared sandbox emptyDir %s", c.o.FetcherImage, len(arts), c.o.SandboxPath))
	if path == "fetch" && len(c.app.URIs) > 0 {
		c.rec.unsup("uris", "Marathon ignores uris when fetch is set", "remove uris")
	}
}

// fetcherContainer builds the init container: one argument per artifact,
// the artifact as JSON (uri, extract, executable, cache, destPath).
func fetcherContainer(o Options, name string, arts []marathon.Artifact) corev1.Container {
	args := []string{"--sandbox=" + o.SandboxPath}
	for _, a := range arts {
		b, _ := json.Marshal(struct {
			URI        string  `json:"uri"`
			Extract    bool    `json:"extract"`
			Executable bool    `json:"executable"`
			Cache      bool    `json:"cache"`
			DestPath   *string `json:"destPath,omitempty"`
		}{a.URI, ptr.Deref(a.Extract, true), ptr.Deref(a.Executable, false), ptr.Deref(a.Cache, false), a.DestPath})
		args = append(args, "--artifact="+escapeDollar(string(b)))
	}
	return corev1.Container{Name: name, Image: o.FetcherImage, ImagePullPolicy: corev1.PullIfNotPresent, Args: args,
		VolumeMounts: []corev1.VolumeMount{{Name: sandboxVolume, MountPath: o.SandboxPath}}}
}

func isArchive(u string) bool {
	for _, s := range []string{".tgz", ".tar.gz", ".tbz2", ".tar.bz2", ".txz", ".tar.xz", ".zip", ".tar"} {
		if strings.HasSuffix(strings.ToLower(u), s) {
			return true
		}
	}
	return false
}

// scheduling converts constraints, roles, the upgrade strategy and the
// task lifecycle fields.
func (c *appConv) scheduling() {
	app := c.app
	tgt := "spec.template.spec.affinity"
	for i, k := range app.Constraints {
		p := fmt.Sprintf("constraints[%d]", i)
		if len(k.Parts) < 2 || len(k.Parts) > 3 {
			c.rec.unsup(p, "a constraint has 2 or 3 elements", "")
			continue
		}
		v, has := k.Value()
		c.place.constraint(&c.rec, p, tgt, k.Field(), strings.ToUpper(k.Operator()), v, has)
	}
	if app.AcceptedResourceRoles != nil {
		c.place.roles(&c.rec, "acceptedResourceRoles", "spec.template.spec", c.o.RoleNodeLabel, app.AcceptedResourceRoles)
	}
	if app.UnreachableStrategy != nil {
		c.place.unreachable(&c.rec, "unreachableStrategy", "spec.template.spec", app.UnreachableStrategy)
	}
	if g := app.TaskKillGracePeriodSeconds; g != nil {
		c.pod.TerminationGracePeriodSeconds = ptr.To(int64(*g))
		c.rec.conv("taskKillGracePeriodSeconds", "spec.template.spec.terminationGracePeriodSeconds", "")
	}
	if ks := app.KillSelection; ks != nil {
		if strings.EqualFold(*ks, "YOUNGEST_FIRST") {
			c.rec.conv("killSelection", "spec", "a ReplicaSet scales down the youngest pods first")
		} else {
			c.rec.approx("killSelection", "spec", *ks+": a ReplicaSet removes the youngest pods first", "set the controller.kubernetes.io/pod-deletion-cost annotation on the pods to keep")
		}
	}
	for _, f := range []struct {
		path string
		set  bool
	}{{"backoffSeconds", app.BackoffSeconds != nil}, {"backoffFactor", app.BackoffFactor != nil}, {"maxLaunchDelaySeconds", app.MaxLaunchDelaySeconds != nil}} {
		if f.set {
			c.rec.approx(f.path, "spec.template.spec.restartPolicy", "the kubelet's restart back-off is fixed (10 s doubling up to 5 min)", "")
		}
	}
	c.upgrade("upgradeStrategy", app.UpgradeStrategy, intOr(app.Instances, 1))
}

// upgrade converts an upgrade strategy into rollingUpdate and a PDB.
func (c *appConv) upgrade(path string, us *marathon.UpgradeStrategy, instances int) {
	minHealth, overCap := 1.0, 1.0
	if us != nil {
		minHealth = ptrF(us.MinimumHealthCapacity, 1)
		overCap = ptrF(us.MaximumOverCapacity, 1)
	}
	if c.stateful {
		if us != nil {
			c.rec.approx(path, "spec.updateStrategy", "a StatefulSet replaces pods one at a time (its volumes are per pod)", "")
		}
		return
	}
	unavail := pct(1 - minHealth)
	surge := pct(overCap)
	if unavail.StrVal == "0%" && surge.StrVal == "0%" {
		surge = intstr.FromInt32(1)
	}
	c.strategy = &appsv1.RollingUpdateDeployment{MaxUnavailable: &unavail, MaxSurge: &surge}
	if us == nil {
		return
	}
	if us.MinimumHealthCapacity != nil {
		c.rec.conv(path+".minimumHealthCapacity", "spec.strategy.rollingUpdate.maxUnavailable", "maxUnavailable = 1 - minimumHealthCapacity = "+unavail.StrVal)
		if minHealth > 0 && minHealth < 1 && instances >= 2 {
			m := intstr.FromString(strconv.Itoa(int(math.Ceil(minHealth*100))) + "%")
			c.pdbMin = &m
			c.rec.conv(path+".minimumHealthCapacity", "PodDisruptionBudget/"+c.name+" spec.minAvailable", "the same healthy share is kept during node drains")
		}
	}
	if us.MaximumOverCapacity != nil {
		reason := "maxSurge = maximumOverCapacity = " + surge.String()
		if overCap == 0 && minHealth >= 1 {
			c.rec.approx(path+".maximumOverCapacity", "spec.strategy.rollingUpdate.maxSurge", "Kubernetes needs maxSurge or maxUnavailable above 0: maxSurge 1", "")
		} else {
			c.rec.conv(path+".maximumOverCapacity", "spec.strategy.rollingUpdate.maxSurge", reason)
		}
	}
}

func ptrF(p *float64, d float64) float64 {
	if p == nil {
		return d
	}
	return *p
}

func pct(f float64) intstr.IntOrString {
	f = math.Max(0, math.Min(1, f))
	return intstr.FromString(strconv.Itoa(int(math.Round(f*100))) + "%")
}
