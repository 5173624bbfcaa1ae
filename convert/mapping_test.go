package convert_test

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/switchyard/switchyard/convert"
	"github.com/switchyard/switchyard/marathon"
)

// conv converts one JSON document and returns its result.
func conv(t *testing.T, js string, opts convert.Options) *convert.Result {
	t.Helper()
	def, err := marathon.Decode([]byte(js))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	res, err := convert.Definition(def, opts)
	if err != nil {
		t.Fatalf("convert: %v", err)
	}
	return res
}

// entry returns the report entry of path in the first source that has it.
func entry(t *testing.T, res *convert.Result, path string) convert.Entry {
	t.Helper()
	for _, s := range res.Report.Sources {
		for _, e := range s.Entries {
			if e.Path == path {
				return e
			}
		}
	}
	t.Fatalf("no report entry for %s", path)
	return convert.Entry{}
}

func wantStatus(t *testing.T, res *convert.Result, path string, st convert.Status) convert.Entry {
	t.Helper()
	e := entry(t, res, path)
	if e.Status != st {
		t.Errorf("%s: status %s, want %s (%s)", path, e.Status, st, e.Reason)
	}
	return e
}

func main0(r *convert.Release) *corev1.Container { return &r.PodTemplate().Spec.Containers[0] }

func envOf(c *corev1.Container, name string) *corev1.EnvVar {
	for i := range c.Env {
		if c.Env[i].Name == name {
			return &c.Env[i]
		}
	}
	return nil
}

func TestMapping(t *testing.T) {
	img := `"container":{"type":"DOCKER","docker":{"image":"nginx:1.25"}}`
	tests := []struct {
		name  string
		json  string
		opts  convert.Options
		check func(t *testing.T, res *convert.Result, rel *convert.Release)
	}{
		{"resources no-cpu-limit (default)", `{"id":"/a","cpus":0.5,"mem":256,"disk":100,` + img + `}`, convert.Options{}, func(t *testing.T, res *convert.Result, rel *convert.Release) {
			r := main0(rel).Resources
			if r.Requests.Cpu().String() != "500m" || r.Requests.Memory().String() != "256Mi" || r.Requests.StorageEphemeral().String() != "100Mi" {
				t.Errorf("requests %v", r.Requests)
			}
			if _, ok := r.Limits[corev1.ResourceCPU]; ok {
				t.Errorf("cpu limit with no-cpu-limit: %v", r.Limits)
			}
			if r.Limits.Memory().String() != "256Mi" {
				t.Errorf("memory limit %v", r.Limits)
			}
			wantStatus(t, res, "cpus", convert.Converted)
		}},
		{"resources equal", `{"id":"/a","cpus":2,"mem":64,` + img + `}`, convert.Options{Limits: convert.LimitPolicy{Kind: convert.LimitEqual}}, func(t *testing.T, res *convert.Result, rel *convert.Release) {
			r := main0(rel).Resources
			if r.Limits.Cpu().String() != "2" || r.Limits.Memory().String() != "64Mi" {
				t.Errorf("limits %v", r.Limits)
			}
		}},
		{"resources factor", `{"id":"/a","cpus":0.5,"mem":100,"gpus":1,` + img + `}`, convert.Options{Limits: convert.LimitPolicy{Kind: convert.LimitFactor, Factor: 2}}, func(t *testing.T, res *convert.Result, rel *convert.Release) {
			r := main0(rel).Resources
			if r.Limits.Cpu().String() != "1" || r.Limits.Memory().String() != "200Mi" {
				t.Errorf("limits %v", r.Limits)
			}
			if q := r.Limits["nvidia.com/gpu"]; q.String() != "1" {
				t.Errorf("gpu limit %v", r.Limits)
			}
			wantStatus(t, res, "gpus", convert.Approximated)
		}},
		{"instances", `{"id":"/a","instances":3,` + img + `}`, convert.Options{}, func(t *testing.T, res *convert.Result, rel *convert.Release) {
			if *rel.Deployment.Spec.Replicas != 3 {
				t.Errorf("replicas %d", *rel.Deployment.Spec.Replicas)
			}
			wantStatus(t, res, "instances", convert.Converted)
		}},
		{"cmd runs in a shell", `{"id":"/a","cmd":"echo $$ $(date) && exec serve --port $PORT0"}`, convert.Options{}, func(t *testing.T, res *convert.Result, rel *convert.Release) {
			c := main0(rel)
			want := []string{"/bin/sh", "-c", "echo $$$ $$(date) && exec serve --port $PORT0"}
			if strings.Join(c.Command, "|") != strings.Join(want, "|") || c.Args != nil {
				t.Errorf("command %q args %q", c.Command, c.Args)
			}
			if c.Image != convert.DefaultOptions().BaseImage {
				t.Errorf("image %q", c.Image)
			}
			e := wantStatus(t, res, "cmd", convert.Approximated) // no image
			_ = e
			if v := envOf(c, "PORT0"); v == nil || v.Value != "8080" {
				t.Errorf("PORT0 %+v", v)
			}
		}},
		{"args with image: no shell, placeholders as $(VAR)", `{"id":"/a","args":["--port","$PORT0","--host=${HOST}"],` + img + `}`, convert.Options{}, func(t *testing.T, res *convert.Result, rel *convert.Release) {
			c := main0(rel)
			if c.Command != nil || strings.Join(c.Args, " ") != "--port $(PORT0) --host=$(HOST)" {
				t.Errorf("command %q args %q", c.Command, c.Args)
			}
			e := wantStatus(t, res, "args", convert.Converted)
			if !strings.Contains(e.Reason, "$PORT0 -> fixed container port 8080") {
				t.Errorf("reason %q", e.Reason)
			}
			if v := envOf(c, "HOST"); v == nil || v.ValueFrom.FieldRef.FieldPath != "status.podIP" {
				t.Errorf("HOST %+v", v)
			}
		}},
		{"args without image", `{"id":"/a","args":["/usr/bin/serve","-v"]}`, convert.Options{}, func(t *testing.T, res *convert.Result, rel *convert.Release) {
			c := main0(rel)
			if strings.Join(c.Command, " ") != "/usr/bin/serve -v" || c.Args != nil {
				t.Errorf("command %q args %q", c.Command, c.Args)
			}
		}},
		{"host-ip option", `{"id":"/a",` + img + `}`, convert.Options{HostAddress: convert.HostNodeIP}, func(t *testing.T, res *convert.Result, rel *convert.Release) {
			if v := envOf(main0(rel), "HOST"); v == nil || v.ValueFrom.FieldRef.FieldPath != "status.hostIP" {
				t.Errorf("HOST %+v", v)
			}
		}},
		{"env and secrets", `{"id":"/a",` + img + `,"env":{"A":"1","DB_PASS":{"secret":"pw"}},"secrets":{"pw":{"source":"team/db/password"}}}`, convert.Options{}, func(t *testing.T, res *convert.Result, rel *convert.Release) {
			c := main0(rel)
			if v := envOf(c, "A"); v == nil || v.Value != "1" {
				t.Errorf("A %+v", v)
			}
			v := envOf(c, "DB_PASS")
			if v == nil || v.Value != "" || v.ValueFrom.SecretKeyRef.Name != "team-db" || v.ValueFrom.SecretKeyRef.Key != "password" {
				t.Errorf("DB_PASS %+v", v)
			}
			wantStatus(t, res, "env.DB_PASS", convert.Converted)
			wantStatus(t, res, "secrets.pw", convert.Converted)
			if len(rel.Secrets) != 1 || rel.Secrets[0].Source != "team/db/password" {
				t.Errorf("secrets %+v", rel.Secrets)
			}
		}},
		{"labels sanitized", `{"id":"/a",` + img + `,"labels":{"team":"shop","bad key!":"x","url":"http://x/y","HAPROXY_0_VHOST":"shop.example.com","HAPROXY_GROUP":"external"},"portDefinitions":[{"port":0}]}`, convert.Options{}, func(t *testing.T, res *convert.Result, rel *convert.Release) {
			l := rel.Deployment.Labels
			if l["team"] != "shop" || l["bad-key"] != "x" {
				t.Errorf("labels %v", l)
			}
			if rel.Deployment.Annotations["url"] != "http://x/y" {
				t.Errorf("annotations %v", rel.Deployment.Annotations)
			}
			if rel.Service.Annotations["switchyard.io/haproxy-vhost"] != "shop.example.com" || rel.Service.Annotations["switchyard.io/haproxy-group"] != "external" {
				t.Errorf("service annotations %v", rel.Service.Annotations)
			}
			wantStatus(t, res, "labels.team", convert.Converted)
			wantStatus(t, res, `labels["bad key!"]`, convert.Approximated)
			wantStatus(t, res, "labels.url", convert.Approximated)
			wantStatus(t, res, "labels.HAPROXY_0_VHOST", convert.Approximated)
		}},
		{"portDefinitions requirePorts gives hostPort", `{"id":"/a",` + img + `,"requirePorts":true,"portDefinitions":[{"port":9000,"name":"Web_UI","protocol":"udp,tcp"}]}`, convert.Options{}, func(t *testing.T, res *convert.Result, rel *convert.Release) {
			ps := main0(rel).Ports
			if len(ps) != 2 || ps[0].ContainerPort != 9000 || ps[0].HostPort != 9000 || ps[0].Protocol != corev1.ProtocolTCP || ps[1].Protocol != corev1.ProtocolUDP {
				t.Errorf("ports %+v", ps)
			}
			if ps[0].Name != "web-ui" || ps[1].Name != "web-ui-udp" {
				t.Errorf("names %q %q", ps[0].Name, ps[1].Name)
			}
			if len(rel.Service.Spec.Ports) != 2 || rel.Service.Spec.Ports[0].Port != 9000 {
				t.Errorf("service %+v", rel.Service.Spec.Ports)
			}
			wantStatus(t, res, "portDefinitions[0].name", convert.Approximated)
			if v := envOf(main0(rel), "PORT_WEB_UI"); v == nil || v.Value != "9000" {
				t.Errorf("PORT_WEB_UI %+v", v)
			}
		}},
		{"dynamic ports without requirePorts: no hostPort", `{"id":"/a",` + img + `,"portDefinitions":[{"port":0},{"port":10001}]}`, convert.Options{}, func(t *testing.T, res *convert.Result, rel *convert.Release) {
			ps := main0(rel).Ports
			if ps[0].ContainerPort != 8080 || ps[0].HostPort != 0 || ps[1].ContainerPort != 10001 || ps[1].HostPort != 0 {
				t.Errorf("ports %+v", ps)
			}
			if v := envOf(main0(rel), "PORTS"); v == nil || v.Value != "8080,10001" {
				t.Errorf("PORTS %+v", v)
			}
			wantStatus(t, res, "portDefinitions[0].port", convert.Approximated)
		}},
		{"bridge portMappings, fixed host port, VIP", `{"id":"/a","container":{"type":"DOCKER","docker":{"image":"x","network":"BRIDGE"},"portMappings":[{"containerPort":80,"hostPort":0,"servicePort":10000,"labels":{"VIP_0":"/a:8081"}},{"containerPort":9090,"hostPort":31000}]}}`, convert.Options{}, func(t *testing.T, res *convert.Result, rel *convert.Release) {
			ps := main0(rel).Ports
			if ps[0].ContainerPort != 80 || ps[0].HostPort != 0 || ps[1].HostPort != 31000 {
				t.Errorf("ports %+v", ps)
			}
			sp := rel.Service.Spec.Ports
			if sp[0].Port != 8081 || sp[0].TargetPort.IntVal != 80 || sp[1].Port != 9090 {
				t.Errorf("service ports %+v", sp)
			}
			if rel.Service.Annotations["switchyard.io/vip-0"] != "/a:8081" {
				t.Errorf("annotations %v", rel.Service.Annotations)
			}
			wantStatus(t, res, "container.portMappings[0].labels.VIP_0", convert.Approximated)
			wantStatus(t, res, "container.portMappings[1].hostPort", convert.Converted)
			wantStatus(t, res, "container.portMappings[0].hostPort", convert.Approximated)
		}},
		{"HTTP health check with grace: liveness + startup", `{"id":"/a",` + img + `,"portDefinitions":[{"port":0}],"healthChecks":[{"protocol":"HTTP","path":"/health","portIndex":0,"gracePeriodSeconds":30,"intervalSeconds":10,"timeoutSeconds":5,"maxConsecutiveFailures":4}]}`, convert.Options{}, func(t *testing.T, res *convert.Result, rel *convert.Release) {
			c := main0(rel)
			l := c.LivenessProbe
			if l == nil || l.HTTPGet.Path != "/health" || l.HTTPGet.Port.IntVal != 8080 || l.PeriodSeconds != 10 || l.TimeoutSeconds != 5 || l.FailureThreshold != 4 {
				t.Fatalf("liveness %+v", l)
			}
			if s := c.StartupProbe; s == nil || s.FailureThreshold != 3+4 || s.PeriodSeconds != 10 {
				t.Errorf("startup %+v", s)
			}
			wantStatus(t, res, "healthChecks[0].portIndex", convert.Converted)
			e := wantStatus(t, res, "healthChecks[0].gracePeriodSeconds", convert.Converted)
			if !strings.Contains(e.Target, "startupProbe") {
				t.Errorf("target %q", e.Target)
			}
		}},
		{"COMMAND, TCP, MESOS_HTTPS health checks", `{"id":"/a",` + img + `,"portDefinitions":[{"port":0}],"healthChecks":[{"protocol":"COMMAND","command":{"value":"curl -f localhost:$PORT0"},"gracePeriodSeconds":0},{"protocol":"TCP"}]}`, convert.Options{}, func(t *testing.T, res *convert.Result, rel *convert.Release) {
			c := main0(rel)
			if c.LivenessProbe.Exec == nil || c.LivenessProbe.Exec.Command[2] != "curl -f localhost:$PORT0" || c.StartupProbe != nil {
				t.Errorf("liveness %+v startup %+v", c.LivenessProbe, c.StartupProbe)
			}
			wantStatus(t, res, "healthChecks[1]", convert.Unsupported)
		}},
		{"MESOS_HTTPS and maxConsecutiveFailures 0 -> readiness", `{"id":"/a",` + img + `,"portDefinitions":[{"port":0}],"healthChecks":[{"protocol":"MESOS_HTTPS","path":"/r","maxConsecutiveFailures":0}]}`, convert.Options{}, func(t *testing.T, res *convert.Result, rel *convert.Release) {
			c := main0(rel)
			if c.LivenessProbe != nil || c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Scheme != corev1.URISchemeHTTPS {
				t.Errorf("liveness %+v readiness %+v", c.LivenessProbe, c.ReadinessProbe)
			}
			wantStatus(t, res, "healthChecks[0]", convert.Approximated)
		}},
		{"readinessChecks", `{"id":"/a",` + img + `,"portDefinitions":[{"port":0,"name":"http"}],"readinessChecks":[{"name":"r","protocol":"HTTP","path":"/ready","portName":"http","intervalSeconds":3,"timeoutSeconds":2,"httpStatusCodesForReady":[200]}]}`, convert.Options{}, func(t *testing.T, res *convert.Result, rel *convert.Release) {
			r := main0(rel).ReadinessProbe
			if r == nil || r.HTTPGet.Path != "/ready" || r.PeriodSeconds != 3 || r.TimeoutSeconds != 2 {
				t.Errorf("readiness %+v", r)
			}
			wantStatus(t, res, "readinessChecks[0]", convert.Converted)
			wantStatus(t, res, "readinessChecks[0].httpStatusCodesForReady", convert.Approximated)
		}},
		{"UNIQUE hostname and rack", `{"id":"/a",` + img + `,"constraints":[["hostname","UNIQUE"],["rack","UNIQUE"]]}`, convert.Options{}, func(t *testing.T, res *convert.Result, rel *convert.Release) {
			aa := rel.PodTemplate().Spec.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution
			if len(aa) != 2 || aa[0].TopologyKey != "kubernetes.io/hostname" || aa[1].TopologyKey != "rack" || aa[0].LabelSelector.MatchLabels["app.kubernetes.io/name"] != "a" {
				t.Errorf("anti-affinity %+v", aa)
			}
			wantStatus(t, res, "constraints[0]", convert.Converted)
		}},
		{"CLUSTER, IS, LIKE alternation, UNLIKE", `{"id":"/a",` + img + `,"constraints":[["rack","CLUSTER","r1"],["zone","IS","lab"],["os","LIKE","^(ubuntu|debian)$"],["disk","UNLIKE","hdd"]]}`, convert.Options{}, func(t *testing.T, res *convert.Result, rel *convert.Release) {
			req := rel.PodTemplate().Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions
			if len(req) != 4 || req[0].Key != "rack" || req[0].Values[0] != "r1" || req[2].Operator != corev1.NodeSelectorOpIn || strings.Join(req[2].Values, ",") != "debian,ubuntu" || req[3].Operator != corev1.NodeSelectorOpNotIn {
				t.Errorf("node affinity %+v", req)
			}
			wantStatus(t, res, "constraints[2]", convert.Converted)
		}},
		{"LIKE real regex is unsupported", `{"id":"/a",` + img + `,"constraints":[["hostname","LIKE","web-[0-9]+"]]}`, convert.Options{}, func(t *testing.T, res *convert.Result, rel *convert.Release) {
			if rel.PodTemplate().Spec.Affinity != nil {
				t.Errorf("affinity %+v", rel.PodTemplate().Spec.Affinity)
			}
			if e := wantStatus(t, res, "constraints[0]", convert.Unsupported); e.Hint == "" {
				t.Error("no hint")
			}
		}},
		{"GROUP_BY and MAX_PER", `{"id":"/a",` + img + `,"constraints":[["zone","GROUP_BY","3"],["rack","MAX_PER","2"],["hostname","MAX_PER","1"]]}`, convert.Options{}, func(t *testing.T, res *convert.Result, rel *convert.Release) {
			ts := rel.PodTemplate().Spec.TopologySpreadConstraints
			if len(ts) != 2 || ts[0].TopologyKey != "zone" || ts[0].MaxSkew != 1 || *ts[0].MinDomains != 3 || ts[1].MaxSkew != 2 {
				t.Errorf("spread %+v", ts)
			}
			wantStatus(t, res, "constraints[1]", convert.Approximated)
			wantStatus(t, res, "constraints[2]", convert.Converted)
		}},
		{"acceptedResourceRoles", `{"id":"/a",` + img + `,"acceptedResourceRoles":["slave_public"]}`, convert.Options{}, func(t *testing.T, res *convert.Result, rel *convert.Release) {
			req := rel.PodTemplate().Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions
			if req[0].Key != "switchyard.io/mesos-role" || req[0].Values[0] != "slave_public" {
				t.Errorf("%+v", req)
			}
			wantStatus(t, res, "acceptedResourceRoles", convert.Approximated)
		}},
		{"upgradeStrategy, PDB, grace, kill selection, backoff, unreachable", `{"id":"/a","instances":4,` + img + `,"upgradeStrategy":{"minimumHealthCapacity":0.5,"maximumOverCapacity":0.25},"taskKillGracePeriodSeconds":7,"killSelection":"OLDEST_FIRST","backoffSeconds":2,"unreachableStrategy":{"inactiveAfterSeconds":60,"expungeAfterSeconds":120}}`, convert.Options{}, func(t *testing.T, res *convert.Result, rel *convert.Release) {
			ru := rel.Deployment.Spec.Strategy.RollingUpdate
			if ru.MaxUnavailable.StrVal != "50%" || ru.MaxSurge.StrVal != "25%" {
				t.Errorf("rolling update %+v", ru)
			}
			if rel.PodDisruptionBudget == nil || rel.PodDisruptionBudget.Spec.MinAvailable.StrVal != "50%" {
				t.Errorf("pdb %+v", rel.PodDisruptionBudget)
			}
			ps := rel.PodTemplate().Spec
			if *ps.TerminationGracePeriodSeconds != 7 {
				t.Error("grace")
			}
			if len(ps.Tolerations) != 2 || *ps.Tolerations[0].TolerationSeconds != 60 {
				t.Errorf("tolerations %+v", ps.Tolerations)
			}
			wantStatus(t, res, "killSelection", convert.Approximated)
			wantStatus(t, res, "backoffSeconds", convert.Approximated)
			wantStatus(t, res, "unreachableStrategy.inactiveAfterSeconds", convert.Converted)
		}},
		{"fetch -> init container with sandbox", `{"id":"/a","cmd":"./run.sh","fetch":[{"uri":"https://example.com/app.tgz","extract":true,"executable":false,"cache":true}]}`, convert.Options{FetcherImage: "switchyard/fetcher"}, func(t *testing.T, res *convert.Result, rel *convert.Release) {
			ps := rel.PodTemplate().Spec
			if len(ps.InitContainers) != 1 || ps.InitContainers[0].Image != "switchyard/fetcher" || !strings.Contains(ps.InitContainers[0].Args[1], `"cache":true`) {
				t.Fatalf("init %+v", ps.InitContainers)
			}
			if ps.Volumes[0].EmptyDir == nil || ps.InitContainers[0].VolumeMounts[0].Name != ps.Volumes[0].Name || ps.Containers[0].VolumeMounts[0].Name != ps.Volumes[0].Name {
				t.Errorf("sandbox volume %+v", ps.Volumes)
			}
			wantStatus(t, res, "fetch", convert.Converted)
		}},
		{"volumes host, persistent -> StatefulSet, secret", `{"id":"/db",` + `"container":{"type":"DOCKER","docker":{"image":"pg"},"volumes":[{"containerPath":"/h","hostPath":"/var/h","mode":"RO"},{"containerPath":"data","persistent":{"size":512}},{"containerPath":"/var/lib/pg","hostPath":"data","mode":"RW"},{"containerPath":"/etc/key","secret":"k"}]},"secrets":{"k":{"source":"key"}}}`, convert.Options{}, func(t *testing.T, res *convert.Result, rel *convert.Release) {
			if rel.StatefulSet == nil || rel.Deployment != nil {
				t.Fatal("want a StatefulSet")
			}
			ct := rel.StatefulSet.Spec.VolumeClaimTemplates
			if len(ct) != 1 || ct[0].Spec.Resources.Requests.Storage().String() != "512Mi" {
				t.Errorf("claims %+v", ct)
			}
			mounts := map[string]corev1.VolumeMount{}
			for _, m := range main0(rel).VolumeMounts {
				mounts[m.MountPath] = m
			}
			if !mounts["/h"].ReadOnly || mounts["/var/lib/pg"].Name != ct[0].Name || mounts["/etc/key"].SubPath != "value" {
				t.Errorf("mounts %+v", mounts)
			}
			wantStatus(t, res, "container.volumes[0]", convert.Approximated)
			wantStatus(t, res, "container.volumes[1]", convert.Converted)
		}},
		{"external volume -> PVC with storage class", `{"id":"/a","container":{"type":"DOCKER","docker":{"image":"x"},"volumes":[{"containerPath":"/d","external":{"name":"vol1","provider":"dvdi","options":{"dvdi/driver":"rexray"}},"mode":"RW"}]}}`, convert.Options{StorageClasses: map[string]string{"rexray": "ebs"}}, func(t *testing.T, res *convert.Result, rel *convert.Release) {
			if len(rel.PersistentVolumeClaims) != 1 || *rel.PersistentVolumeClaims[0].Spec.StorageClassName != "ebs" {
				t.Fatalf("pvcs %+v", rel.PersistentVolumeClaims)
			}
			wantStatus(t, res, "container.volumes[0].external", convert.Approximated)
		}},
		{"docker parameters", `{"id":"/a","args":["$MESOS_SANDBOX/run"],"container":{"type":"DOCKER","docker":{"image":"x","parameters":[{"key":"cap-add","value":"NET_ADMIN"},{"key":"add-host","value":"db:10.0.0.5"},{"key":"pid","value":"host"},{"key":"log-driver","value":"syslog"},{"key":"net-alias","value":"api"}]}}}`, convert.Options{}, func(t *testing.T, res *convert.Result, rel *convert.Release) {
			ps := rel.PodTemplate().Spec
			c := main0(rel)
			if c.SecurityContext.Capabilities.Add[0] != "NET_ADMIN" || ps.HostAliases[0].IP != "10.0.0.5" || !ps.HostPID {
				t.Errorf("pod %+v", ps)
			}
			wantStatus(t, res, "container.docker.parameters[3]", convert.Unsupported)
			wantStatus(t, res, "container.docker.parameters[4]", convert.Approximated)
			if c.Args[0] != "$(MESOS_SANDBOX)/run" || envOf(c, "MESOS_SANDBOX") == nil || ps.Volumes[0].EmptyDir == nil {
				t.Errorf("$MESOS_SANDBOX: args %q volumes %+v", c.Args, ps.Volumes)
			}
		}},
		{"unknown field is reported", `{"id":"/a",` + img + `,"colour":"blue"}`, convert.Options{}, func(t *testing.T, res *convert.Result, rel *convert.Release) {
			e := wantStatus(t, res, "colour", convert.Unsupported)
			if !strings.Contains(e.Reason, "unknown field") {
				t.Errorf("reason %q", e.Reason)
			}
		}},
		{"group: one release per app, dependencies first", `{"id":"/shop","apps":[{"id":"web","dependencies":["/shop/db"],` + img + `},{"id":"db",` + img + `}]}`, convert.Options{}, func(t *testing.T, res *convert.Result, rel *convert.Release) {
			if len(res.Releases) != 2 || res.Releases[0].Name != "shop-db" || res.Releases[1].Name != "shop-web" {
				t.Fatalf("order %s, %s", res.Releases[0].Name, res.Releases[1].Name)
			}
			if res.Releases[1].Deployment.Annotations[convert.AnnotationDependsOn] != "shop-db" {
				t.Errorf("annotations %v", res.Releases[1].Deployment.Annotations)
			}
		}},
		{"names: collision-safe", `{"id":"/x","apps":[{"id":"/a/b-c",` + img + `},{"id":"/a-b/c",` + img + `}]}`, convert.Options{}, func(t *testing.T, res *convert.Result, rel *convert.Release) {
			a, b := res.Releases[0].Name, res.Releases[1].Name
			if a == b || !strings.HasPrefix(a, "a-b-c-") || !strings.HasPrefix(b, "a-b-c-") {
				t.Errorf("names %q %q", a, b)
			}
		}},
		{"pod: one multi-container template", `{"id":"/p","scaling":{"kind":"fixed","instances":2},"containers":[{"name":"web","resources":{"cpus":0.1,"mem":32},"image":{"kind":"DOCKER","id":"nginx"},"endpoints":[{"name":"http","containerPort":80}],"healthCheck":{"http":{"endpoint":"http","path":"/"}}},{"name":"side","resources":{"cpus":0.1,"mem":32},"exec":{"command":{"shell":"sleep 1000"}}}],"networks":[{"mode":"container/bridge"}]}`, convert.Options{}, func(t *testing.T, res *convert.Result, rel *convert.Release) {
			ps := rel.PodTemplate().Spec
			if len(ps.Containers) != 2 || ps.Containers[0].LivenessProbe.HTTPGet.Port.IntVal != 80 || ps.Containers[1].Command[0] != "/bin/sh" {
				t.Errorf("containers %+v", ps.Containers)
			}
			if *rel.Deployment.Spec.Replicas != 2 || rel.Service.Spec.Ports[0].Port != 80 {
				t.Error("replicas or service")
			}
			wantStatus(t, res, "containers[0].endpoints[0]", convert.Converted)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := conv(t, tt.json, tt.opts)
			for _, rel := range res.Releases {
				for _, err := range validateRelease(rel) {
					t.Error(err)
				}
			}
			tt.check(t, res, res.Releases[0])
		})
	}
}

func TestBadInput(t *testing.T) {
	tests := []struct{ name, json, want string }{
		{"duplicate ids", `{"id":"/g","apps":[{"id":"a","cmd":"x"},{"id":"/g/a","cmd":"y"}]}`, "used twice"},
		{"dependency cycle", `{"id":"/g","apps":[{"id":"a","cmd":"x","dependencies":["b"]},{"id":"b","cmd":"y","dependencies":["a"]}]}`, "dependency cycle"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			def, err := marathon.Decode([]byte(tt.json))
			if err != nil {
				t.Fatal(err)
			}
			_, err = convert.Definition(def, convert.Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
	if _, err := convert.App(&marathon.App{ID: "/a"}, convert.Options{Limits: convert.LimitPolicy{Kind: "bogus"}}); err == nil {
		t.Error("bad limit policy accepted")
	}
	for _, s := range []string{"factor:0.5", "factor:x", "nope"} {
		if _, err := convert.ParseLimitPolicy(s); err == nil {
			t.Errorf("ParseLimitPolicy(%q) accepted", s)
		}
	}
}

var _ = appsv1.SchemeGroupVersion
