package convert

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/switchyard/switchyard/marathon"
)

// convertPod converts a Marathon pod into one multi-container pod template.
func convertPod(pod *marathon.Pod, id, path, name string, o Options) (*Release, SourceReport, error) {
	c := &appConv{o: o, id: id, name: name, env: newTaskEnv(), app: &marathon.App{},
		labels: map[string]string{}, annotations: map[string]string{}, svcAnnotations: map[string]string{}, secrets: map[string]SecretRef{}}
	c.app.Secrets = pod.Secrets
	if pod.ID != "" {
		c.rec.conv("id", "metadata.name", fmt.Sprintf("name %q (DNS-1035)", name))
	}
	c.env.literal("MARATHON_APP_ID", id, id, true)
	c.env.field("MESOS_TASK_ID", "metadata.name", "the pod name (metadata.name)", true)
	if o.HostAddress == HostNodeIP {
		c.env.field("HOST", "status.hostIP", "the node's IP (status.hostIP)", true)
	} else {
		c.env.field("HOST", "status.podIP", "the pod's IP (status.podIP)", true)
	}
	c.env.literal("MESOS_SANDBOX", o.SandboxPath, "the sandbox emptyDir "+o.SandboxPath, false)

	for i, n := range pod.Networks {
		p := fmt.Sprintf("networks[%d]", i)
		switch ptr.Deref(n.Mode, marathon.NetworkModeHost) {
		case marathon.NetworkModeHost:
			c.rec.approx(p, "spec.template.spec", "host networking: the pod gets its own IP; endpoints become container ports", "set hostNetwork: true by hand if needed")
		default:
			c.rec.conv(p, "spec.template.spec", "the pod's own network")
		}
	}
	// volumes of the pod
	podVols := map[string]string{} // marathon volume name -> k8s volume name
	for i, v := range pod.Volumes {
		p := fmt.Sprintf("volumes[%d]", i)
		vn, _ := sanitizeName(v.Name, 63)
		podVols[v.Name] = vn
		switch {
		case v.Persistent != nil:
			c.stateful = true
			size := mibQuantity(float64(ptr.Deref(v.Persistent.Size, 0)))
			claim := corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: vn},
				Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: size}}}}
			if pn := ptr.Deref(v.Persistent.ProfileName, ""); pn != "" && len(validationDNSSubdomain(pn)) == 0 {
				claim.Spec.StorageClassName = ptr.To(pn)
			}
			c.claims = append(c.claims, claim)
			c.rec.conv(p, "spec.volumeClaimTemplates["+vn+"]", "a persistent volume: a StatefulSet claim per pod")
		case v.Host != nil:
			c.pod.Volumes = append(c.pod.Volumes, corev1.Volume{Name: vn, VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: *v.Host}}})
			c.rec.approx(p, "spec.template.spec.volumes["+vn+"]", "hostPath "+*v.Host, "host paths need privileges; prefer a PersistentVolumeClaim")
		case v.Secret != nil:
			ref, ok := c.secretRef(*v.Secret)
			if !ok {
				c.rec.unsup(p, "secret "+*v.Secret+" is not declared in secrets", "declare it")
				continue
			}
			c.pod.Volumes = append(c.pod.Volumes, corev1.Volume{Name: vn, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: ref.Name, Items: []corev1.KeyToPath{{Key: ref.Key, Path: ref.Key}}}}})
			c.rec.conv(p, "spec.template.spec.volumes["+vn+"]", "a file from Secret "+ref.Name+" key "+ref.Key)
		default:
			c.pod.Volumes = append(c.pod.Volumes, corev1.Volume{Name: vn, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
			c.rec.conv(p, "spec.template.spec.volumes["+vn+"]", "an ephemeral volume: emptyDir")
		}
	}
	alloc := &portAllocator{next: int32(o.FirstDynamicPort), taken: map[int32]bool{}}
	for _, ct := range pod.Containers {
		for _, e := range ct.Endpoints {
			if cp := ptr.Deref(e.ContainerPort, 0); validPort(cp) {
				alloc.take(int32(cp))
			}
		}
	}
	podEnv := map[string]bool{}
	var sharedEnv []corev1.EnvVar
	for _, k := range slices.Sorted(maps.Keys(pod.Environment)) {
		if ev, ok := c.envVar(joinKey("environment", k), k, pod.Environment[k], "spec.template.spec.containers[*].env"); ok {
			sharedEnv = append(sharedEnv, ev)
			podEnv[k] = true
		}
	}
	var allPorts []*port
	var ctrs []corev1.Container
	graceMax := int64(-1)
	for i := range pod.Containers {
		pc := &pod.Containers[i]
		cp := fmt.Sprintf("containers[%d]", i)
		tgt := fmt.Sprintf("spec.template.spec.containers[%d]", i)
		cn, _ := sanitizeName(pc.Name, 63)
		ctr := corev1.Container{Name: cn, TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError}
		c.rec.conv(cp+".name", tgt+".name", "")
		if pc.Image != nil {
			ctr.Image = pc.Image.ID
			ctr.ImagePullPolicy = corev1.PullIfNotPresent
			if pc.Image.ForcePull != nil && *pc.Image.ForcePull {
				ctr.ImagePullPolicy = corev1.PullAlways
			}
			c.rec.conv(cp+".image", tgt+".image", "")
			if pc.Image.PullConfig != nil {
				n, _ := secretTarget(pc.Image.PullConfig.Secret)
				if src, ok := pod.Secrets[pc.Image.PullConfig.Secret]; ok {
					n, _ = secretTarget(src.Source)
					c.secrets["pull/"+n] = SecretRef{Name: n, Source: src.Source, Type: corev1.SecretTypeDockerConfigJson}
					c.rec.conv(joinKey("secrets", pc.Image.PullConfig.Secret), "Secret/"+n, "image pull secret from store path "+src.Source)
				}
				c.pod.ImagePullSecrets = append(c.pod.ImagePullSecrets, corev1.LocalObjectReference{Name: n})
				c.rec.conv(cp+".image.pullConfig", "spec.template.spec.imagePullSecrets", "Secret "+n+" must hold the docker config")
			}
		} else {
			ctr.Image = o.BaseImage
			ctr.ImagePullPolicy = corev1.PullIfNotPresent
			ctr.WorkingDir = o.SandboxPath
			c.sandbox = true
		}
		// endpoints
		var ports []*port
		for j, e := range pc.Endpoints {
			ep := fmt.Sprintf("%s.endpoints[%d]", cp, j)
			p := &port{index: len(allPorts), marathonName: e.Name, labels: e.Labels, container: i, path: ep}
			protos := []corev1.Protocol{corev1.ProtocolTCP}
			if len(e.Protocol) > 0 {
				s := strings.Join(e.Protocol, ",")
				protos, _ = parseProtocols(&s)
			}
			p.protocols = protos
			cpv, hp := ptr.Deref(e.ContainerPort, 0), ptr.Deref(e.HostPort, 0)
			switch {
			case validPort(cpv):
				p.containerPort = int32(cpv)
			case validPort(hp):
				p.containerPort = int32(hp)
			default:
				p.containerPort = alloc.alloc()
			}
			if validPort(hp) {
				p.hostPort = int32(hp)
			}
			p.servicePort = p.containerPort
			pv := strconv.Itoa(int(p.containerPort))
			for _, pre := range []string{"ENDPOINT_", "EP_HOST_", "EP_CONTAINER_"} {
				c.env.literal(pre+envName(e.Name), pv, "fixed container port "+pv, true)
			}
			reason := fmt.Sprintf("container port %d, exported as $ENDPOINT_%s (and $EP_HOST_%[2]s, $EP_CONTAINER_%[2]s)", p.containerPort, envName(e.Name))
			if validPort(hp) {
				c.rec.conv(ep, tgt+".ports", reason+"; fixed host port "+strconv.Itoa(hp))
			} else if e.HostPort != nil {
				c.rec.approx(ep, tgt+".ports", reason+"; the random host port is not needed (pods have their own IP)", "")
			} else {
				c.rec.conv(ep, tgt+".ports", reason)
			}
			c.portLabels(ep, p, "Service/"+name+" ")
			ports = append(ports, p)
			allPorts = append(allPorts, p)
		}
		if pc.Exec != nil {
			cmd := pc.Exec.Command
			switch {
			case cmd.Shell != nil:
				notes, _ := c.env.scan(*cmd.Shell)
				ctr.Command = []string{"/bin/sh", "-c", escapeDollar(*cmd.Shell)}
				c.rec.conv(cp+".exec", tgt+".command", "runs in a shell"+noteSuffix(notes))
			case cmd.Argv != nil:
				var args []string
				for _, a := range cmd.Argv {
					c.env.scan(a)
					args = append(args, c.env.rewriteArgs(a))
				}
				if pc.Image != nil && !ptr.Deref(pc.Exec.OverrideEntrypoint, false) {
					ctr.Args = args
					c.rec.conv(cp+".exec", tgt+".args", "argv after the image's entrypoint, without a shell")
				} else {
					ctr.Command = args
					c.rec.conv(cp+".exec", tgt+".command", "argv without a shell")
				}
			default:
				c.rec.conv(cp+".exec", tgt, "no command: the image's")
			}
		}
		var res resourceSpec
		if r := pc.Resources; r != nil {
			res = resourceSpec{cpus: r.CPUs, mem: r.Mem, disk: r.Disk, gpus: r.GPUs}
		}
		res.limits = pc.ResourceLimits
		ctr.Resources = resources(o, &c.rec, res, cp+".resources.", cp+".", tgt)
		userEnv := map[string]bool{}
		var own []corev1.EnvVar
		for _, k := range slices.Sorted(maps.Keys(pc.Environment)) {
			if ev, ok := c.envVar(joinKey(cp+".environment", k), k, pc.Environment[k], tgt+".env"); ok {
				own = append(own, ev)
				userEnv[k] = true
			}
		}
		ctr.Env = append(ctr.Env, envMerge(sharedEnv, own, userEnv)...)
		for j, m := range pc.VolumeMounts {
			mp := fmt.Sprintf("%s.volumeMounts[%d]", cp, j)
			vn, ok := podVols[m.Name]
			if !ok {
				c.rec.unsup(mp, "volume "+m.Name+" is not declared in volumes", "declare it")
				continue
			}
			vm := corev1.VolumeMount{Name: vn, MountPath: m.MountPath, ReadOnly: ptr.Deref(m.ReadOnly, false)}
			reason := ""
			if !strings.HasPrefix(m.MountPath, "/") {
				vm.MountPath = strings.TrimSuffix(o.SandboxPath, "/") + "/" + m.MountPath
				c.sandbox = true
				reason = "relative to the sandbox " + o.SandboxPath
			}
			for _, v := range pod.Volumes {
				if v.Name == m.Name && v.Secret != nil {
					if def, ok := pod.Secrets[*v.Secret]; ok {
						_, key := secretTarget(def.Source)
						vm.SubPath = key
						vm.ReadOnly = true
					}
				}
			}
			ctr.VolumeMounts = append(ctr.VolumeMounts, vm)
			c.rec.conv(mp, tgt+".volumeMounts", reason)
		}
		if pc.HealthCheck != nil {
			c.podHealth(cp+".healthCheck", tgt, &ctr, pc.HealthCheck, ports)
		}
		if pc.Check != nil {
			c.rec.unsup(cp+".check", "a Mesos check only reports a status; Kubernetes has no such probe", "turn it into a readiness probe if it should gate traffic")
		}
		if len(pc.Artifacts) > 0 {
			c.sandbox = true
			c.pod.InitContainers = append(c.pod.InitContainers, fetcherContainer(o, "fetch-"+cn, pc.Artifacts))
			c.rec.conv(cp+".artifacts", "spec.template.spec.initContainers[fetch-"+cn+"]", "init container downloads into the shared sandbox")
		}
		if pc.User != nil {
			userField(&c.rec, cp+".user", tgt, &ctr, *pc.User)
		}
		if pc.TTY != nil {
			ctr.TTY, ctr.Stdin = *pc.TTY, *pc.TTY
			c.rec.conv(cp+".tty", tgt+".tty", "")
		}
		if pc.Lifecycle != nil && pc.Lifecycle.KillGracePeriodSeconds != nil {
			g := int64(*pc.Lifecycle.KillGracePeriodSeconds + 0.999)
			if g > graceMax {
				graceMax = g
			}
			c.rec.approx(cp+".lifecycle.killGracePeriodSeconds", "spec.template.spec.terminationGracePeriodSeconds", "the grace period is per pod: the largest of the containers'", "")
		}
		if pc.LinuxInfo != nil {
			linuxInfo(&c.rec, cp+".linuxInfo", tgt, &ctr, &c.pod, pc.LinuxInfo)
		}
		if pc.Labels != nil {
			c.rec.approx(cp+".labels", "metadata.annotations["+AnnotationPrefix+"container-labels-"+cn+"]", "container labels are kept as a workload annotation (JSON)", "")
			c.annotations[AnnotationPrefix+"container-labels-"+cn] = portLabelsJSON(pc.Labels)
		}
		ctrs = append(ctrs, ctr)
	}
	if graceMax >= 0 {
		c.pod.TerminationGracePeriodSeconds = ptr.To(graceMax)
	}
	cps, sps := finishPorts(allPorts, nil, "Service/"+name+" ", &c.rec, func(p *port) string { return p.path })
	for _, cp := range cps {
		for _, p := range allPorts {
			if p.containerPort == cp.ContainerPort {
				ctrs[p.container].Ports = append(ctrs[p.container].Ports, cp)
				break
			}
		}
	}
	c.svcPorts = sps
	taskEnv := c.env.list(nil)
	for i := range ctrs {
		names := map[string]bool{}
		for _, e := range ctrs[i].Env {
			names[e.Name] = true
		}
		var pre []corev1.EnvVar
		for _, e := range taskEnv {
			if !names[e.Name] {
				pre = append(pre, e)
			}
		}
		ctrs[i].Env = append(pre, ctrs[i].Env...)
		if c.sandbox {
			ctrs[i].VolumeMounts = append([]corev1.VolumeMount{{Name: sandboxVolume, MountPath: o.SandboxPath}}, ctrs[i].VolumeMounts...)
		}
	}
	if c.sandbox {
		c.pod.Volumes = append([]corev1.Volume{{Name: sandboxVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}, c.pod.Volumes...)
	}
	c.pod.Containers = ctrs
	metaLabels(&c.rec, name, pod.Labels, c.labels, c.annotations, c.svcAnnotations, "Service/"+name+" ")
	instances := 1
	if s := pod.Scaling; s != nil {
		if s.Instances != nil {
			instances = *s.Instances
			c.rec.conv("scaling.instances", "spec.replicas", "")
		}
		if s.Kind != nil {
			c.rec.conv("scaling.kind", "spec.replicas", "fixed scaling")
		}
		if s.MaxInstances != nil {
			c.rec.approx("scaling.maxInstances", "spec.replicas", "a fixed replica count; the ceiling is not enforced", "add a HorizontalPodAutoscaler with maxReplicas "+strconv.Itoa(*s.MaxInstances))
		}
	}
	c.app.Instances = &instances
	if sc := pod.Scheduling; sc != nil {
		if pl := sc.Placement; pl != nil {
			for i, k := range pl.Constraints {
				c.place.constraint(&c.rec, fmt.Sprintf("scheduling.placement.constraints[%d]", i), "spec.template.spec.affinity", k.FieldName, strings.ToUpper(k.Operator), ptr.Deref(k.Value, ""), k.Value != nil)
			}
			if pl.AcceptedResourceRoles != nil {
				c.place.roles(&c.rec, "scheduling.placement.acceptedResourceRoles", "spec.template.spec", o.RoleNodeLabel, pl.AcceptedResourceRoles)
			}
		}
		if sc.UnreachableStrategy != nil {
			c.place.unreachable(&c.rec, "scheduling.unreachableStrategy", "spec.template.spec", sc.UnreachableStrategy)
		}
		if sc.KillSelection != nil {
			c.rec.approx("scheduling.killSelection", "spec", "a ReplicaSet removes the youngest pods first", "")
		}
		if sc.Backoff != nil {
			c.rec.approx("scheduling.backoff", "spec.template.spec.restartPolicy", "the kubelet's restart back-off is fixed (10 s doubling up to 5 min)", "")
		}
		c.upgrade("scheduling.upgrade", sc.Upgrade, instances)
	} else {
		c.upgrade("scheduling.upgrade", nil, instances)
	}
	if pod.User != nil {
		for i := range c.pod.Containers {
			userField(&c.rec, "user", "spec.template.spec.containers[*]", &c.pod.Containers[i], *pod.User)
		}
	}
	executorResources(&c.rec, "executorResources", pod.ExecutorResources)
	if pod.Role != nil {
		c.rec.approx("role", "metadata.namespace", "Mesos roles are a resource share: use a namespace with a ResourceQuota", "")
	}
	if pod.LinuxInfo != nil {
		c.rec.approx("linuxInfo", "spec.template.spec", "pod-level Linux settings apply per container in Kubernetes", "")
	}
	if pod.LegacySharedCgroups != nil {
		c.rec.conv("legacySharedCgroups", "spec.template.spec", "containers of a pod have their own cgroups under the pod's")
	}
	if pod.Version != nil {
		c.rec.ignore("version", "read-only status of an API response, not part of the definition")
	}
	// build
	c.container = corev1.Container{}
	rel, err := c.buildPod()
	if err != nil {
		return nil, SourceReport{}, err
	}
	rel.Kind = "pod"
	coverage(&c.rec, pod)
	return rel, SourceReport{ID: id, Kind: "pod", Path: path, Release: name, Entries: c.rec.entries}, nil
}

// envVar converts one environment entry (literal or secret).
func (c *appConv) envVar(path, k string, v marathon.EnvValue, tgt string) (corev1.EnvVar, bool) {
	if !validEnvName(k) {
		c.rec.unsup(path, "invalid environment variable name", "rename it")
		return corev1.EnvVar{}, false
	}
	if v.Secret != nil {
		ref, ok := c.secretRef(v.Secret.Secret)
		if !ok {
			c.rec.unsup(path, "secret "+v.Secret.Secret+" is not declared in secrets", "declare it")
			return corev1.EnvVar{}, false
		}
		c.rec.conv(path, tgt+"["+k+"].valueFrom.secretKeyRef", "Secret "+ref.Name+" key "+ref.Key)
		return corev1.EnvVar{Name: k, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: ref.Name}, Key: ref.Key}}}, true
	}
	c.rec.conv(path, tgt+"["+k+"]", "")
	return corev1.EnvVar{Name: k, Value: escapeDollar(v.Value)}, true
}

// envMerge puts the pod's shared variables first, then the container's own
// (which win on a clash).
func envMerge(shared, own []corev1.EnvVar, ownNames map[string]bool) []corev1.EnvVar {
	var out []corev1.EnvVar
	for _, e := range shared {
		if !ownNames[e.Name] {
			out = append(out, e)
		}
	}
	return append(out, own...)
}

// podHealth converts a pod container's health check.
func (c *appConv) podHealth(path, tgt string, ctr *corev1.Container, hc *marathon.PodHealthCheck, ports []*port) {
	endpoint := func(name string) (int32, bool) {
		for _, p := range ports {
			if p.marathonName == name {
				return p.containerPort, true
			}
		}
		return 0, false
	}
	var h corev1.ProbeHandler
	switch {
	case hc.HTTP != nil:
		p, ok := endpoint(hc.HTTP.Endpoint)
		if !ok {
			c.rec.unsup(path, "endpoint "+hc.HTTP.Endpoint+" is not an endpoint of this container", "")
			return
		}
		scheme := corev1.URISchemeHTTP
		if strings.EqualFold(ptr.Deref(hc.HTTP.Scheme, "HTTP"), "HTTPS") {
			scheme = corev1.URISchemeHTTPS
		}
		pth := ptr.Deref(hc.HTTP.Path, "/")
		if pth == "" {
			pth = "/"
		}
		h.HTTPGet = &corev1.HTTPGetAction{Path: pth, Port: intstr.FromInt32(p), Scheme: scheme}
	case hc.TCP != nil:
		p, ok := endpoint(hc.TCP.Endpoint)
		if !ok {
			c.rec.unsup(path, "endpoint "+hc.TCP.Endpoint+" is not an endpoint of this container", "")
			return
		}
		h.TCPSocket = &corev1.TCPSocketAction{Port: intstr.FromInt32(p)}
	case hc.Exec != nil:
		if s := hc.Exec.Command.Shell; s != nil {
			h.Exec = &corev1.ExecAction{Command: []string{"/bin/sh", "-c", escapeDollar(*s)}}
		} else {
			h.Exec = &corev1.ExecAction{Command: hc.Exec.Command.Argv}
		}
	default:
		c.rec.unsup(path, "a health check without http, tcp or exec", "")
		return
	}
	grace := intOr(hc.GracePeriodSeconds, defaultGrace)
	interval := max(intOr(hc.IntervalSeconds, defaultInterval), 1)
	maxFail := intOr(hc.MaxConsecutiveFailures, defaultMaxFail)
	p := &corev1.Probe{ProbeHandler: h, PeriodSeconds: int32(interval), TimeoutSeconds: int32(max(intOr(hc.TimeoutSeconds, defaultTimeout), 1)),
		InitialDelaySeconds: int32(intOr(hc.DelaySeconds, 0)), SuccessThreshold: 1, FailureThreshold: int32(max(maxFail, 1))}
	if maxFail == 0 {
		ctr.ReadinessProbe = p
		c.rec.approx(path, tgt+".readinessProbe", "maxConsecutiveFailures 0 never kills: a readiness probe", "")
		return
	}
	ctr.LivenessProbe = p
	if grace > 0 {
		sp := p.DeepCopy()
		sp.FailureThreshold = int32(ceilDiv(grace, interval) + maxFail)
		ctr.StartupProbe = sp
	}
	c.rec.conv(path, tgt+".livenessProbe", fmt.Sprintf("%s probe; grace period %ds as a startup probe; interval, timeout and maxConsecutiveFailures carried over", handlerKind(h), grace))
}

// buildPod assembles a pod release (containers already in c.pod).
func (c *appConv) buildPod() (*Release, error) {
	ctrs := c.pod.Containers
	c.pod.Containers = nil
	c.container = corev1.Container{}
	rel, err := c.buildWith(ctrs)
	return rel, err
}

var _ = appsv1.SchemeGroupVersion
