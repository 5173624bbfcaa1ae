package convert

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"

	"github.com/switchyard/switchyard/marathon"
)

func validationDNSLabel(s string) []string     { return validation.IsDNS1123Label(s) }
func validationDNSSubdomain(s string) []string { return validation.IsDNS1123Subdomain(s) }

func mustQuantity(s string) resource.Quantity {
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return resource.MustParse("1Gi")
	}
	return q
}

func resourceGi(n int64) *resource.Quantity {
	return resource.NewQuantity(n*1024*1024*1024, resource.BinarySI)
}

// metaLabels converts Marathon labels: HAPROXY_* become Service (route)
// annotations; valid labels stay labels (keys sanitized when needed);
// values that cannot be label values become annotations.
func metaLabels(rec *recorder, name string, labels map[string]string, objLabels, annotations, routeAnn map[string]string, svcTarget string) {
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		v := labels[k]
		p := joinKey("labels", k)
		if strings.HasPrefix(k, "HAPROXY_") {
			ak := haproxyAnnotation(k)
			routeAnn[ak] = v
			rec.approx(p, svcTarget+"metadata.annotations["+ak+"]", "marathon-lb routing label: route metadata for the shared load balancer", "the load balancer must read "+ak)
			continue
		}
		key, ok := labelKey(k)
		if !ok {
			ak := AnnotationPrefix + "label." + shortHash(k)
			annotations[ak] = k + "=" + v
			rec.approx(p, "metadata.annotations["+ak+"]", "no valid label key can be made from "+strconv.Quote(k)+"; kept as annotation", "")
			continue
		}
		if key == LabelName || key == LabelManagedBy {
			annotations[AnnotationPrefix+"label."+key] = v
			rec.approx(p, "metadata.annotations", key+" is set by the converter; the value is kept as an annotation", "")
			continue
		}
		if validLabelValue(v) {
			objLabels[key] = v
			if key == k {
				rec.conv(p, "metadata.labels["+key+"]", "also on the pods")
			} else {
				rec.approx(p, "metadata.labels["+key+"]", "key sanitized to a valid label key", "")
			}
			continue
		}
		annotations[key] = v
		rec.approx(p, "metadata.annotations["+key+"]", "the value is not a valid label value (<= 63 characters of [A-Za-z0-9._-]); kept as annotation", "")
	}
}

// haproxyAnnotation maps HAPROXY_0_VHOST to switchyard.io/haproxy-vhost,
// HAPROXY_1_PATH to switchyard.io/haproxy-1-path and HAPROXY_GROUP to
// switchyard.io/haproxy-group.
func haproxyAnnotation(k string) string {
	rest := strings.TrimPrefix(k, "HAPROXY_")
	if i := strings.IndexByte(rest, '_'); i > 0 {
		if _, err := strconv.Atoi(rest[:i]); err == nil {
			if rest[:i] == "0" {
				rest = rest[i+1:]
			} else {
				rest = rest[:i] + "-" + rest[i+1:]
			}
		}
	}
	s := strings.ToLower(strings.ReplaceAll(rest, "_", "-"))
	s = cleanLabelPart("haproxy-"+s, 63)
	return AnnotationPrefix + s
}

// labelsAndMisc converts labels, instances, user, tty and the fields with
// no equivalent.
func (c *appConv) labelsAndMisc() {
	app := c.app
	metaLabels(&c.rec, c.name, app.Labels, c.labels, c.annotations, c.svcAnnotations, "Service/"+c.name+" ")
	if app.Instances != nil {
		c.rec.conv("instances", "spec.replicas", "")
	}
	if app.User != nil {
		userField(&c.rec, "user", c.ctr, &c.container, *app.User)
	}
	if app.TTY != nil {
		c.container.TTY = *app.TTY
		c.container.Stdin = *app.TTY
		c.rec.conv("tty", c.ctr+".tty", "")
	}
	if app.Executor != nil {
		if *app.Executor == "" || *app.Executor == "//cmd" {
			c.rec.conv("executor", "", "the default command executor")
		} else {
			c.rec.unsup("executor", "a custom Mesos executor has no Kubernetes equivalent", "run its logic in the container or a sidecar")
		}
	}
	if app.StoreURLs != nil {
		c.rec.unsup("storeUrls", "Marathon does not use storeUrls (never implemented)", "remove it")
	}
	if app.Role != nil {
		c.rec.approx("role", "metadata.namespace", "Mesos roles share out cluster resources; in Kubernetes that is a namespace with a ResourceQuota", "deploy into a namespace per role (--namespace)")
	}
	if app.Residency != nil {
		c.stateful = true
		c.rec.approx("residency", "StatefulSet/"+c.name, "a resident app keeps its tasks on their volumes: a StatefulSet keeps each pod's identity and claim", "")
	}
	if app.Dependencies != nil {
		c.rec.conv("dependencies", "metadata.annotations["+AnnotationDependsOn+"]", "deployment order (release order and annotation)")
	}
}

// userField converts a Mesos user name.
func userField(rec *recorder, path, tgt string, ctr *corev1.Container, user string) {
	if user == "root" {
		ctr.SecurityContext = ensureSC(ctr.SecurityContext)
		ctr.SecurityContext.RunAsUser = ptr.To(int64(0))
		rec.conv(path, tgt+".securityContext.runAsUser", "root is uid 0")
		return
	}
	if uid, err := strconv.ParseInt(user, 10, 64); err == nil && uid >= 0 {
		ctr.SecurityContext = ensureSC(ctr.SecurityContext)
		ctr.SecurityContext.RunAsUser = ptr.To(uid)
		rec.conv(path, tgt+".securityContext.runAsUser", "")
		return
	}
	rec.unsup(path, "user "+strconv.Quote(user)+" is a name; Kubernetes runs containers by numeric uid", "set securityContext.runAsUser to the user's uid in the image")
}

// statusFields marks the read-only fields of API responses.
func (c *appConv) statusFields() {
	app := c.app
	ro := "read-only status of an API response, not part of the definition"
	for _, f := range []struct {
		p   string
		set bool
	}{
		{"version", app.Version != nil}, {"versionInfo", app.VersionInfo != nil},
		{"tasksStaged", app.TasksStaged != nil}, {"tasksRunning", app.TasksRunning != nil},
		{"tasksHealthy", app.TasksHealthy != nil}, {"tasksUnhealthy", app.TasksUnhealthy != nil},
		{"deployments", app.Deployments != nil}, {"tasks", app.Tasks != nil},
		{"lastTaskFailure", app.LastTaskFailure != nil}, {"readinessCheckResults", app.ReadinessCheckResults != nil},
		{"taskStats", app.AppTaskStats != nil},
	} {
		if f.set {
			c.rec.ignore(f.p, ro)
		}
	}
}

// build assembles the release objects of an app.
func (c *appConv) build(path string) (*Release, error) {
	// environment: task variables, then the app's own (sorted).
	env := c.env.list(c.userEnvNames)
	env = append(env, c.userEnv...)
	env = append(env, c.container.Env...) // docker -e parameters
	c.container.Env = env
	if c.env.used["MESOS_SANDBOX"] {
		c.sandbox = true // $MESOS_SANDBOX must exist
	}
	if c.sandbox {
		c.pod.Volumes = append([]corev1.Volume{{Name: sandboxVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}, c.pod.Volumes...)
		c.container.VolumeMounts = append([]corev1.VolumeMount{{Name: sandboxVolume, MountPath: c.o.SandboxPath}}, c.container.VolumeMounts...)
	}
	c.container.LivenessProbe = c.live
	c.container.ReadinessProbe = c.ready
	c.container.StartupProbe = c.startup
	c.container.TerminationMessagePolicy = corev1.TerminationMessageFallbackToLogsOnError
	return c.buildWith([]corev1.Container{c.container})
}

// buildWith assembles the release around the given containers.
func (c *appConv) buildWith(ctrs []corev1.Container) (*Release, error) {
	app := c.app
	sel := map[string]string{LabelName: c.name}
	objLabels := map[string]string{}
	for k, v := range c.labels {
		objLabels[k] = v
	}
	objLabels[LabelName] = c.name
	objLabels[LabelManagedBy] = managedBy
	ann := map[string]string{AnnotationMarathonID: c.id}
	for k, v := range c.annotations {
		ann[k] = v
	}
	if len(c.deps) > 0 {
		ann[AnnotationDependsOn] = strings.Join(c.deps, ",")
	}
	c.pod.Containers = ctrs
	c.place.apply(&c.pod, sel)
	podAnn := map[string]string{AnnotationMarathonID: c.id}
	tmpl := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: objLabels, Annotations: podAnn}, Spec: c.pod}
	replicas := int32(intOr(app.Instances, 1))
	meta := c.meta(objLabels, ann)
	rel := &Release{Name: c.name, ID: c.id, Kind: "app", DependsOn: c.deps}
	if c.stateful {
		rel.StatefulSet = &appsv1.StatefulSet{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"}, ObjectMeta: meta,
			Spec: appsv1.StatefulSetSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: sel}, Template: tmpl,
				ServiceName: c.name, PodManagementPolicy: appsv1.ParallelPodManagement, VolumeClaimTemplates: c.claims}}
	} else {
		d := &appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}, ObjectMeta: meta,
			Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: sel}, Template: tmpl}}
		if c.strategy != nil {
			d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: c.strategy}
		}
		rel.Deployment = d
	}
	if len(c.svcPorts) > 0 {
		sann := map[string]string{AnnotationMarathonID: c.id}
		for k, v := range c.svcAnnotations {
			sann[k] = v
		}
		rel.Service = &corev1.Service{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"}, ObjectMeta: c.meta(map[string]string{LabelName: c.name, LabelManagedBy: managedBy}, sann),
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, Selector: sel, Ports: c.svcPorts}}
	} else if len(c.svcAnnotations) > 0 {
		for k, v := range c.svcAnnotations {
			rel.Workload().GetAnnotations()[k] = v
		}
	}
	for _, p := range c.pvcs {
		p.ObjectMeta.Labels = map[string]string{LabelName: c.name, LabelManagedBy: managedBy}
		p.ObjectMeta.Annotations = map[string]string{AnnotationMarathonID: c.id}
		p.Namespace = c.o.Namespace
		rel.PersistentVolumeClaims = append(rel.PersistentVolumeClaims, p)
	}
	if c.pdbMin != nil {
		rel.PodDisruptionBudget = &policyv1.PodDisruptionBudget{TypeMeta: metav1.TypeMeta{APIVersion: "policy/v1", Kind: "PodDisruptionBudget"},
			ObjectMeta: c.meta(map[string]string{LabelName: c.name, LabelManagedBy: managedBy}, map[string]string{AnnotationMarathonID: c.id}),
			Spec:       policyv1.PodDisruptionBudgetSpec{MinAvailable: c.pdbMin, Selector: &metav1.LabelSelector{MatchLabels: sel}}}
	}
	rel.Secrets = sortedSecrets(c.secrets)
	return rel, nil
}

func (c *appConv) meta(labels, ann map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: c.name, Namespace: c.o.Namespace, Labels: labels, Annotations: ann}
}

func sortedSecrets(m map[string]SecretRef) []SecretRef {
	var out []SecretRef
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, m[k])
	}
	return out
}

// coverage makes sure every field present in the source has an entry: a
// leaf of the source JSON not under any entry's path gets an unsupported
// entry, so nothing is dropped silently (unknown fields included).
func coverage(rec *recorder, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		rec.unsup("", "the source could not be re-encoded: "+err.Error(), "")
		return
	}
	var tree any
	if err := json.Unmarshal(b, &tree); err != nil {
		rec.unsup("", "the source could not be re-read: "+err.Error(), "")
		return
	}
	covered := map[string]bool{}
	for _, e := range rec.entries {
		covered[e.Path] = true
	}
	var missing, empty []string
	var walk func(path string, n any)
	walk = func(path string, n any) {
		if covered[path] {
			return
		}
		switch x := n.(type) {
		case map[string]any:
			if len(x) == 0 && path != "" {
				empty = append(empty, path)
				return
			}
			for _, k := range slices.Sorted(maps.Keys(x)) {
				walk(joinKey(path, k), x[k])
			}
		case []any:
			if len(x) == 0 {
				empty = append(empty, path)
				return
			}
			for i, e := range x {
				walk(fmt.Sprintf("%s[%d]", path, i), e)
			}
		default:
			missing = append(missing, path)
		}
	}
	walk("", tree)
	sort.Strings(empty)
	for _, p := range empty {
		rec.conv(p, "", "empty: nothing to convert")
	}
	sort.Strings(missing)
	unknown := marathon.UnknownFields(v)
	for _, p := range missing {
		if isUnder(p, unknown) {
			rec.unsup(p, unknownField, "check the spelling against Marathon's API; move it where Marathon expects it, or remove it")
			continue
		}
		rec.unsup(p, notHandled, "check this field by hand")
	}
}

// isUnder says whether p is one of roots or below one.
func isUnder(p string, roots []string) bool {
	for _, r := range roots {
		if p == r || strings.HasPrefix(p, r+".") || strings.HasPrefix(p, r+"[") {
			return true
		}
	}
	return false
}

// unknownField is the reason of entries for fields Marathon does not know.
const unknownField = "unknown field: not part of Marathon's API (Marathon ignores it), so there is nothing to convert"

// notHandled is the reason of entries the coverage sweep adds.
const notHandled = "not converted: the converter has no mapping for this field"
