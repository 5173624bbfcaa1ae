package charts_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/switchyard/switchyard/charts"
	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/deploy"
	"github.com/switchyard/switchyard/internal/kubeclient"
)

// release and namespace are the release the tests render (fullname
// "sy-switchyard").
const (
	release   = "sy"
	namespace = "switchyard"
	fullname  = "sy-switchyard"
)

// kubeVersion is the lab's pinned Kubernetes (lab/kube.PinnedVersion).
var kubeVersion = &chartutil.KubeVersion{Version: "v1.37.2", Major: "1", Minor: "37"}

// variant is a values file the chart must install with.
type variant struct {
	name, values string
}

// variants are the default values and the hardened production values:
// TLS, TokenReview, the operator's own config and tokens Secrets, etcd
// client certificates, two target namespaces and a PDB by maxUnavailable.
var variants = []variant{
	{"defaults", ""},
	{"hardened", `
serve: {context: prod}
config: {existingSecret: switchyard-config, key: contexts.yaml}
tokens: {existingSecret: switchyard-tokens}
tokenReview: {enabled: true, operatorGroup: "platform:ops", viewerGroup: "platform:read"}
tls: {enabled: true, secretName: switchyard-tls}
etcd: {clientSecret: switchyard-etcd}
rbac: {namespaces: [apps-a, apps-b]}
podDisruptionBudget: {maxUnavailable: 1}
`},
}

// valuesOf returns the values of the variant named name.
func valuesOf(name string) string {
	for _, v := range variants {
		if v.name == name {
			return v.values
		}
	}
	panic("no variant " + name)
}

func parseValues(t testing.TB, values string) map[string]any {
	t.Helper()
	vals := map[string]any{}
	if err := yaml.Unmarshal([]byte(values), &vals); err != nil {
		t.Fatalf("values: %v", err)
	}
	return vals
}

// renderIn renders the embedded chart as `helm install` would (schema
// included) for release in ns, and decodes the manifests with the
// product's decoder.
func renderIn(t testing.TB, ns string, vals map[string]any) ([]*unstructured.Unstructured, error) {
	t.Helper()
	ch, err := charts.Switchyard()
	if err != nil {
		t.Fatal(err)
	}
	out, err := deploy.Render(context.Background(), deploy.Release{Name: release, Namespace: ns, Chart: ch, Values: vals}, kubeVersion, false)
	if err != nil {
		return nil, err
	}
	objs, err := kubeclient.DecodeObjects([]byte(out))
	if err != nil {
		t.Fatalf("rendered manifests do not decode: %v\n%s", err, out)
	}
	return objs, nil
}

// render renders values in namespace, failing t when the chart refuses them.
func render(t testing.TB, values string) []*unstructured.Unstructured {
	t.Helper()
	objs, err := renderIn(t, namespace, parseValues(t, values))
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return objs
}

// find returns the object of kind, namespace and name, converted into out.
func find(t testing.TB, objs []*unstructured.Unstructured, kind, ns, name string, out any) {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && o.GetNamespace() == ns && o.GetName() == name {
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, out); err != nil {
				t.Fatalf("%s %s/%s: %v", kind, ns, name, err)
			}
			return
		}
	}
	t.Fatalf("no %s %s/%s among %v", kind, ns, name, ids(objs))
}

// ids lists objects as kind/namespace/name.
func ids(objs []*unstructured.Unstructured) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.GetKind()+"/"+o.GetNamespace()+"/"+o.GetName())
	}
	slices.Sort(out)
	return out
}

func TestLint(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			// The directory itself, as `helm lint charts/switchyard` reads it.
			res := lint.All(filepath.Join(".", charts.SwitchyardDir), parseValues(t, v.values), namespace, false)
			for _, m := range res.Messages {
				if m.Severity >= support.WarningSev {
					t.Errorf("helm lint: %s", m)
				} else {
					t.Logf("helm lint: %s", m)
				}
			}
		})
	}
}

func TestRenderedObjects(t *testing.T) {
	want := map[string][]string{
		"defaults": {
			"ClusterRole//switchyard-sy-switchyard-read", "ClusterRoleBinding//switchyard-sy-switchyard-read",
			"Deployment/switchyard/sy-switchyard", "PodDisruptionBudget/switchyard/sy-switchyard",
			"Role/switchyard/sy-switchyard", "RoleBinding/switchyard/sy-switchyard",
			"Secret/switchyard/sy-switchyard-config", "Service/switchyard/sy-switchyard", "ServiceAccount/switchyard/sy-switchyard",
		},
		"hardened": {
			"ClusterRole//switchyard-sy-switchyard-read", "ClusterRole//switchyard-sy-switchyard-tokenreview",
			"ClusterRoleBinding//switchyard-sy-switchyard-read", "ClusterRoleBinding//switchyard-sy-switchyard-tokenreview",
			"Deployment/switchyard/sy-switchyard", "PodDisruptionBudget/switchyard/sy-switchyard",
			"Role/apps-a/sy-switchyard", "Role/apps-b/sy-switchyard", "RoleBinding/apps-a/sy-switchyard", "RoleBinding/apps-b/sy-switchyard",
			"Service/switchyard/sy-switchyard", "ServiceAccount/switchyard/sy-switchyard",
		},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			objs := render(t, v.values)
			if got := ids(objs); !slices.Equal(got, want[v.name]) {
				t.Errorf("objects:\n got %v\nwant %v", got, want[v.name])
			}
			for _, o := range objs {
				l := o.GetLabels()
				for _, k := range []string{"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version", "app.kubernetes.io/managed-by", "helm.sh/chart"} {
					if l[k] == "" {
						t.Errorf("%s %s: no label %s", o.GetKind(), o.GetName(), k)
					}
				}
			}
		})
	}
}

func TestDeployment(t *testing.T) {
	tests := []struct {
		variant   string
		args      []string
		secrets   map[string]string // volume -> Secret
		configEnv string
	}{
		{"defaults",
			[]string{"serve", "--context=production", "--listen=:8443", "--metrics-listen=:9090", "--log-format=json", "--advertise=http://$(POD_IP):8443"},
			map[string]string{"config": "sy-switchyard-config"},
			"/etc/switchyard/config/config.yaml"},
		{"hardened",
			[]string{"serve", "--context=prod", "--listen=:8443", "--metrics-listen=:9090", "--log-format=json", "--advertise=https://$(POD_IP):8443",
				"--tls-cert=/etc/switchyard/tls/tls.crt", "--tls-key=/etc/switchyard/tls/tls.key",
				"--tokens-file=/etc/switchyard/tokens/tokens.yaml",
				"--token-review", "--operator-group=platform:ops", "--viewer-group=platform:read"},
			map[string]string{"config": "switchyard-config", "tokens": "switchyard-tokens", "tls": "switchyard-tls", "etcd": "switchyard-etcd"},
			"/etc/switchyard/config/contexts.yaml"},
	}
	for _, tc := range tests {
		t.Run(tc.variant, func(t *testing.T) {
			var d appsv1.Deployment
			find(t, render(t, valuesOf(tc.variant)), "Deployment", namespace, fullname, &d)
			if r := d.Spec.Replicas; r == nil || *r != 3 {
				t.Errorf("replicas = %v, want 3", r)
			}
			if s := d.Spec.Strategy; s.Type != appsv1.RollingUpdateDeploymentStrategyType || s.RollingUpdate.MaxUnavailable.String() != "1" || s.RollingUpdate.MaxSurge.String() != "0" {
				t.Errorf("strategy = %+v, want RollingUpdate maxUnavailable 1 maxSurge 0", s)
			}
			ps := d.Spec.Template.Spec
			if g := ps.TerminationGracePeriodSeconds; g == nil || *g != 180 {
				t.Errorf("terminationGracePeriodSeconds = %v, want 180", g)
			}
			if ps.ServiceAccountName != fullname || ps.AutomountServiceAccountToken == nil || !*ps.AutomountServiceAccountToken {
				t.Errorf("serviceAccountName %q automount %v, want %s with its token", ps.ServiceAccountName, ps.AutomountServiceAccountToken, fullname)
			}
			psc := ps.SecurityContext
			if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
				t.Errorf("pod securityContext = %+v, want runAsNonRoot and seccomp RuntimeDefault", psc)
			}
			aa := ps.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution
			if len(aa) != 1 || aa[0].PodAffinityTerm.TopologyKey != "kubernetes.io/hostname" || aa[0].PodAffinityTerm.LabelSelector.MatchLabels["app.kubernetes.io/instance"] != release {
				t.Errorf("podAntiAffinity = %+v, want preferred across nodes for this release", aa)
			}
			var keys []string
			for _, c := range ps.TopologySpreadConstraints {
				keys = append(keys, c.TopologyKey)
				if c.MaxSkew != 1 || c.WhenUnsatisfiable != corev1.ScheduleAnyway {
					t.Errorf("topologySpreadConstraint %+v: want maxSkew 1, ScheduleAnyway", c)
				}
			}
			if !slices.Equal(keys, []string{"topology.kubernetes.io/zone", "kubernetes.io/hostname"}) {
				t.Errorf("topologySpreadConstraints keys = %v", keys)
			}

			if len(ps.Containers) != 1 {
				t.Fatalf("containers = %d, want 1", len(ps.Containers))
			}
			c := ps.Containers[0]
			if !slices.Equal(c.Command, []string{"switchyard"}) || !slices.Equal(c.Args, tc.args) {
				t.Errorf("command %q args:\n got %q\nwant %q", c.Command, c.Args, tc.args)
			}
			sc := c.SecurityContext
			switch {
			case sc == nil:
				t.Fatal("no container securityContext")
			case sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot:
				t.Error("container runAsNonRoot not set")
			case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
				t.Error("readOnlyRootFilesystem not set")
			case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
				t.Error("allowPrivilegeEscalation not false")
			case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0:
				t.Errorf("capabilities = %+v, want drop [ALL] and nothing added", sc.Capabilities)
			case sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
				t.Error("container seccompProfile not RuntimeDefault")
			}
			for _, p := range []struct {
				name  string
				probe *corev1.Probe
				path  string
			}{{"liveness", c.LivenessProbe, "/healthz"}, {"readiness", c.ReadinessProbe, "/readyz"}} {
				if p.probe == nil || p.probe.HTTPGet == nil || p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port.String() != "metrics" {
					t.Errorf("%s probe = %+v, want GET %s on port metrics", p.name, p.probe, p.path)
				}
			}
			ports := map[string]int32{}
			for _, p := range c.Ports {
				ports[p.Name] = p.ContainerPort
			}
			if ports["api"] != 8443 || ports["metrics"] != 9090 || len(ports) != 2 {
				t.Errorf("container ports = %v, want api 8443, metrics 9090", ports)
			}
			if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
				t.Errorf("resources = %+v: requests and a memory limit wanted", c.Resources)
			}
			env := map[string]corev1.EnvVar{}
			for _, e := range c.Env {
				env[e.Name] = e
			}
			if e := env["POD_NAME"]; e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != "metadata.name" {
				t.Errorf("POD_NAME = %+v, want the downward API's metadata.name", e)
			}
			if got := env["SWITCHYARD_CONFIG"].Value; got != tc.configEnv {
				t.Errorf("SWITCHYARD_CONFIG = %q, want %q", got, tc.configEnv)
			}
			secrets := map[string]string{}
			for _, v := range ps.Volumes {
				if v.Secret != nil {
					secrets[v.Name] = v.Secret.SecretName
				}
			}
			if !mapsEqual(secrets, tc.secrets) {
				t.Errorf("secret volumes = %v, want %v", secrets, tc.secrets)
			}
			mounted := map[string]bool{}
			for _, m := range c.VolumeMounts {
				mounted[m.Name] = true
				if m.Name != "tmp" && !m.ReadOnly {
					t.Errorf("volume %s is mounted writable", m.Name)
				}
			}
			for name := range tc.secrets {
				if !mounted[name] {
					t.Errorf("secret volume %s is not mounted", name)
				}
			}
			if !mounted["tmp"] {
				t.Error("no writable /tmp for a read-only root filesystem")
			}
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestPodDisruptionBudgetAndService(t *testing.T) {
	tests := []struct {
		variant                  string
		minAvailable, maxUnavail string
		apiPort                  string
	}{
		{"defaults", "2", "", "http"},
		{"hardened", "", "1", "https"},
	}
	for _, tc := range tests {
		t.Run(tc.variant, func(t *testing.T) {
			objs := render(t, valuesOf(tc.variant))
			var pdb policyv1.PodDisruptionBudget
			find(t, objs, "PodDisruptionBudget", namespace, fullname, &pdb)
			str := func(v *intstr.IntOrString) string {
				if v == nil {
					return ""
				}
				return v.String()
			}
			if got := str(pdb.Spec.MinAvailable); got != tc.minAvailable {
				t.Errorf("minAvailable = %q, want %q", got, tc.minAvailable)
			}
			if got := str(pdb.Spec.MaxUnavailable); got != tc.maxUnavail {
				t.Errorf("maxUnavailable = %q, want %q", got, tc.maxUnavail)
			}
			if pdb.Spec.Selector.MatchLabels["app.kubernetes.io/instance"] != release {
				t.Errorf("PDB selector = %v", pdb.Spec.Selector)
			}
			var svc corev1.Service
			find(t, objs, "Service", namespace, fullname, &svc)
			if svc.Spec.Type != corev1.ServiceTypeClusterIP {
				t.Errorf("Service type = %s, want ClusterIP", svc.Spec.Type)
			}
			var ports []string
			for _, p := range svc.Spec.Ports {
				ports = append(ports, p.Name+":"+p.TargetPort.String())
			}
			if want := []string{tc.apiPort + ":api", "metrics:metrics"}; !slices.Equal(ports, want) {
				t.Errorf("Service ports = %v, want %v", ports, want)
			}
			if a := svc.Annotations; a["prometheus.io/scrape"] != "true" || a["prometheus.io/port"] != "9090" || a["prometheus.io/path"] != "/metrics" {
				t.Errorf("Service annotations = %v, want prometheus.io scrape/port/path", a)
			}
		})
	}
}

// exampleRole reads the Role of examples/rbac/switchyard-migrate.yaml, the
// least-privilege Role of docs/least-privilege.md.
func exampleRole(t *testing.T) []rbacv1.PolicyRule {
	t.Helper()
	objs, err := kubeclient.ReadObjects(filepath.Join("..", "examples", "rbac", "switchyard-migrate.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var r rbacv1.Role
	find(t, objs, "Role", "apps", "switchyard-migrate", &r)
	return r.Rules
}

func rule(groups, resources, verbs []string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{APIGroups: groups, Resources: resources, Verbs: verbs}
}

var (
	read = []string{"get", "list", "watch"}
	// clusterRead is what serve reads cluster-wide: the monitor's capacity
	// model (nodes, pods) and the load-balancer sync (services,
	// endpointslices).
	clusterRead = []rbacv1.PolicyRule{
		rule([]string{""}, []string{"nodes", "pods"}, read),
		rule([]string{""}, []string{"services"}, read),
		rule([]string{"discovery.k8s.io"}, []string{"endpointslices"}, read),
	}
	tokenReview = []rbacv1.PolicyRule{rule([]string{"authentication.k8s.io"}, []string{"tokenreviews"}, []string{"create"})}
)

// TestRBACRules: every Role and ClusterRole of the chart, exactly: the
// namespaced Role is the one docs/least-privilege.md documents (the two
// stay equal), the ClusterRoles only read, but for TokenReviews when
// enabled.
func TestRBACRules(t *testing.T) {
	role := exampleRole(t)
	tests := []struct {
		variant string
		want    map[string][]rbacv1.PolicyRule // kind/namespace/name
	}{
		{"defaults", map[string][]rbacv1.PolicyRule{
			"Role/switchyard/sy-switchyard":              role,
			"ClusterRole//switchyard-sy-switchyard-read": clusterRead,
		}},
		{"hardened", map[string][]rbacv1.PolicyRule{
			"Role/apps-a/sy-switchyard":                         role,
			"Role/apps-b/sy-switchyard":                         role,
			"ClusterRole//switchyard-sy-switchyard-read":        clusterRead,
			"ClusterRole//switchyard-sy-switchyard-tokenreview": tokenReview,
		}},
		{"extraRules", map[string][]rbacv1.PolicyRule{
			"Role/switchyard/sy-switchyard": append(slices.Clone(role),
				rule([]string{"networking.k8s.io"}, []string{"ingresses"}, []string{"get", "create"})),
			"ClusterRole//switchyard-sy-switchyard-read": clusterRead,
		}},
	}
	values := map[string]string{"defaults": valuesOf("defaults"), "hardened": valuesOf("hardened"),
		"extraRules": `rbac: {extraRules: [{apiGroups: [networking.k8s.io], resources: [ingresses], verbs: [get, create]}]}`}
	for _, tc := range tests {
		t.Run(tc.variant, func(t *testing.T) {
			objs := render(t, values[tc.variant])
			seen := 0
			for _, o := range objs {
				if o.GetKind() != "Role" && o.GetKind() != "ClusterRole" {
					continue
				}
				seen++
				id := o.GetKind() + "/" + o.GetNamespace() + "/" + o.GetName()
				want, ok := tc.want[id]
				if !ok {
					t.Errorf("unexpected %s", id)
					continue
				}
				var r rbacv1.ClusterRole
				if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &r); err != nil {
					t.Fatal(err)
				}
				if !rulesEqual(r.Rules, want) {
					t.Errorf("%s rules:\n got %+v\nwant %+v", id, r.Rules, want)
				}
			}
			if seen != len(tc.want) {
				t.Errorf("%d roles rendered, want %d", seen, len(tc.want))
			}
		})
	}
}

func rulesEqual(a, b []rbacv1.PolicyRule) bool {
	return slices.EqualFunc(a, b, func(x, y rbacv1.PolicyRule) bool {
		return slices.Equal(x.APIGroups, y.APIGroups) && slices.Equal(x.Resources, y.Resources) && slices.Equal(x.Verbs, y.Verbs) &&
			slices.Equal(x.ResourceNames, y.ResourceNames) && slices.Equal(x.NonResourceURLs, y.NonResourceURLs)
	})
}

// TestClusterRolesNeverWrite: whatever the values, a ClusterRole grants no
// write verb (but create on tokenreviews, which writes nothing) and no
// wildcard.
func TestClusterRolesNeverWrite(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			n := 0
			for _, o := range render(t, v.values) {
				if o.GetKind() != "ClusterRole" {
					continue
				}
				n++
				var r rbacv1.ClusterRole
				if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &r); err != nil {
					t.Fatal(err)
				}
				for _, ru := range r.Rules {
					for _, verb := range ru.Verbs {
						if slices.Contains(read, verb) || verb == "create" && slices.Equal(ru.Resources, []string{"tokenreviews"}) {
							continue
						}
						t.Errorf("ClusterRole %s: verb %q on %v", r.Name, verb, ru.Resources)
					}
					if slices.Contains(ru.Resources, "*") || slices.Contains(ru.APIGroups, "*") {
						t.Errorf("ClusterRole %s: wildcard in %+v", r.Name, ru)
					}
				}
			}
			if n == 0 {
				t.Error("no ClusterRole rendered")
			}
		})
	}
}

// secretData returns one key of a rendered Secret.
func secretData(t *testing.T, objs []*unstructured.Unstructured, name, key string) []byte {
	t.Helper()
	var s corev1.Secret
	find(t, objs, "Secret", namespace, name, &s)
	if s.Data[key] == nil {
		t.Fatalf("Secret %s has no key %s (keys: %v)", name, key, s.Data)
	}
	return s.Data[key]
}

// TestConfigFile: the config file the chart writes is one product's
// config.Parse accepts, with the context current, the namespace of the
// first target namespace and the etcd client files where the chart mounts
// them.
func TestConfigFile(t *testing.T) {
	tests := []struct {
		name, values       string
		namespace          string
		ca, cert, key      string
		endpoints, context string
		allMounted         bool // every file the config names is in a Secret volume
	}{
		{name: "defaults", namespace: namespace, endpoints: "https://etcd.switchyard.svc:2379", context: "production"},
		{name: "etcd client certificates", values: `
etcd: {clientSecret: sy-etcd}
rbac: {namespaces: [apps, more-apps]}
config:
  context:
    name: prod
    marathon: {url: "https://dcos.example/service/marathon", auth: {type: dcos-token, tokenFile: /etc/switchyard/secrets/dcos/token}}
    journal: {type: etcd, endpoints: ["https://10.0.0.7:2379", "https://10.0.0.8:2379"], prefix: /switchyard/prod}
secretMounts: [{secretName: sy-dcos, mountPath: /etc/switchyard/secrets/dcos}]
`, namespace: "apps", ca: "/etc/switchyard/etcd/ca.crt", cert: "/etc/switchyard/etcd/tls.crt", key: "/etc/switchyard/etcd/tls.key",
			endpoints: "https://10.0.0.7:2379,https://10.0.0.8:2379", context: "prod", allMounted: true},
		{name: "own namespace and files kept", values: `
etcd: {clientSecret: sy-etcd}
config:
  context:
    name: prod
    kubernetes: {namespace: shop}
    journal: {type: etcd, endpoints: ["https://10.0.0.7:2379"], caFile: /etc/ssl/etcd-ca.pem}
`, namespace: "shop", ca: "/etc/ssl/etcd-ca.pem", cert: "/etc/switchyard/etcd/tls.crt", key: "/etc/switchyard/etcd/tls.key",
			endpoints: "https://10.0.0.7:2379", context: "prod"},
		{name: "one replica with a bbolt journal", values: `
replicaCount: 1
config: {context: {name: solo, journal: {type: bbolt, path: /tmp/journal.db, endpoints: null, prefix: null}}}
`, namespace: namespace, context: "solo"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objs := render(t, tc.values)
			f, err := config.Parse(secretData(t, objs, fullname+"-config", "config.yaml"))
			if err != nil {
				t.Fatalf("the chart's config file: %v", err)
			}
			if len(f.Contexts) != 1 || f.CurrentContext != tc.context || f.Contexts[0].Name != tc.context {
				t.Fatalf("contexts = %+v, current %q: want only %q, current", f.Contexts, f.CurrentContext, tc.context)
			}
			c := f.Contexts[0]
			if c.Kubernetes.Namespace != tc.namespace || c.Kubernetes.Kubeconfig != "" {
				t.Errorf("kubernetes = %+v, want namespace %q and no kubeconfig (in-cluster)", c.Kubernetes, tc.namespace)
			}
			j := c.Journal
			if j.CAFile != tc.ca || j.CertFile != tc.cert || j.KeyFile != tc.key || strings.Join(j.Endpoints, ",") != tc.endpoints {
				t.Errorf("journal = %+v, want endpoints %s, files %q %q %q", j, tc.endpoints, tc.ca, tc.cert, tc.key)
			}
			if tc.allMounted {
				var d appsv1.Deployment
				find(t, objs, "Deployment", namespace, fullname, &d)
				for _, f := range []string{j.CAFile, j.CertFile, j.KeyFile, c.Marathon.Auth.TokenFile} {
					if f != "" && !mountedFile(d.Spec.Template.Spec, f) {
						t.Errorf("the config names %s, which no Secret volume of the pod holds", f)
					}
				}
			}
		})
	}
}

// mountedFile reports whether path is inside a Secret volume of the pod's
// first container.
func mountedFile(ps corev1.PodSpec, path string) bool {
	secret := map[string]bool{}
	for _, v := range ps.Volumes {
		secret[v.Name] = v.Secret != nil
	}
	for _, m := range ps.Containers[0].VolumeMounts {
		if secret[m.Name] && strings.HasPrefix(path, strings.TrimSuffix(m.MountPath, "/")+"/") {
			return true
		}
	}
	return false
}

// TestExampleValues: the production values of docs/serve-install.md lint
// clean and render; their config parses, and every file it names is in a
// Secret volume of the pod.
func TestExampleValues(t *testing.T) {
	path := filepath.Join("..", "examples", "serve", "switchyard-values.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range lint.All(charts.SwitchyardDir, parseValues(t, string(data)), namespace, false).Messages {
		if m.Severity >= support.WarningSev {
			t.Errorf("helm lint -f %s: %s", path, m)
		}
	}
	objs := render(t, string(data))
	f, err := config.Parse(secretData(t, objs, fullname+"-config", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	c := f.Contexts[0]
	files := []string{c.Marathon.Auth.PrivateKeyFile, c.Journal.CAFile, c.Journal.CertFile, c.Journal.KeyFile}
	for _, in := range c.LoadBalancer.Instances {
		files = append(files, in.TokenFile)
	}
	var d appsv1.Deployment
	find(t, objs, "Deployment", namespace, fullname, &d)
	for _, f := range files {
		if f == "" || !mountedFile(d.Spec.Template.Spec, f) {
			t.Errorf("the config names file %q, which no Secret volume of the pod holds", f)
		}
	}
	if c.Kubernetes.Namespace != "apps" {
		t.Errorf("namespace = %q, want apps (the first of rbac.namespaces)", c.Kubernetes.Namespace)
	}
}

// TestTokensFile: tokens.entries become the tokens file serve reads
// (hashes only, lower-case), mounted and named by --tokens-file.
func TestTokensFile(t *testing.T) {
	upper := strings.Repeat("AB", 32)
	objs := render(t, `tokens: {entries: [{name: alice, role: operator, sha256: `+upper+`}, {name: bob, role: viewer, sha256: `+strings.Repeat("0f", 32)+`}]}`)
	var got struct {
		Tokens []map[string]string `json:"tokens"`
	}
	if err := yaml.UnmarshalStrict(secretData(t, objs, fullname+"-tokens", "tokens.yaml"), &got); err != nil {
		t.Fatal(err)
	}
	want := []map[string]string{
		{"name": "alice", "role": "operator", "sha256": strings.ToLower(upper)},
		{"name": "bob", "role": "viewer", "sha256": strings.Repeat("0f", 32)},
	}
	if !slices.EqualFunc(got.Tokens, want, mapsEqual) {
		t.Errorf("tokens = %v, want %v", got.Tokens, want)
	}
	var d appsv1.Deployment
	find(t, objs, "Deployment", namespace, fullname, &d)
	if !slices.Contains(d.Spec.Template.Spec.Containers[0].Args, "--tokens-file=/etc/switchyard/tokens/tokens.yaml") {
		t.Errorf("args %q lack --tokens-file", d.Spec.Template.Spec.Containers[0].Args)
	}
}

// TestRefused: values the schema or the templates refuse, with a message
// that names the value.
func TestRefused(t *testing.T) {
	hash := strings.Repeat("a", 64)
	tests := []struct {
		name, values string
		want         []string
	}{
		{"replicas as a word", `replicaCount: three`, []string{"/replicaCount", "integer"}},
		{"misspelt key", `replicas: 3`, []string{"replicas"}},
		{"log format", `serve: {logFormat: xml}`, []string{"/serve/logFormat"}},
		{"unknown role", `tokens: {entries: [{name: a, role: admin, sha256: ` + hash + `}]}`, []string{"/tokens/entries/0/role"}},
		{"plain token", `tokens: {entries: [{name: a, role: viewer, sha256: s3cret}]}`, []string{"/tokens/entries/0/sha256"}},
		{"plain token field", `tokens: {entries: [{name: a, role: viewer, sha256: ` + hash + `, token: s3cret}]}`, []string{"/tokens/entries/0", "token"}},
		{"tls without its secret", `tls: {enabled: true}`, []string{"secretName"}},
		{"namespace not a name", `rbac: {namespaces: [Apps_1]}`, []string{"/rbac/namespaces/0"}},
		{"port out of range", `serve: {port: 70000}`, []string{"/serve/port"}},
		{"short grace", `terminationGracePeriodSeconds: 5`, []string{"/terminationGracePeriodSeconds"}},
		{"misspelt context section", `config: {context: {name: p, marathons: {url: "http://m:8080"}}}`, []string{"/config/context", "marathons"}},
		{"etcd endpoint without scheme", `config: {context: {name: p, journal: {type: etcd, endpoints: ["10.0.0.7:2379"]}}}`, []string{"/config/context/journal/endpoints/0"}},
		{"replicas with a bbolt journal", `config: {context: {name: p, journal: {type: bbolt, path: /tmp/j.db, endpoints: null, prefix: null}}}`, []string{"replicaCount 3 needs config.context.journal.type etcd"}},
		{"existing service account unnamed", `serviceAccount: {create: false}`, []string{"serviceAccount.name: required"}},
		{"same port twice", `serve: {port: 9090}`, []string{"serve.port and serve.metricsPort"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := renderIn(t, namespace, parseValues(t, tc.values))
			if err == nil {
				t.Fatalf("values %s: rendered, want refused", tc.values)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// TestUntrustedStrings: strings from values reach the manifests as data,
// never as YAML: quotes, newlines and template-looking text come out as
// they went in, and add no key.
func TestUntrustedStrings(t *testing.T) {
	evil := "prod\"\n  injected: true\n- --evil"
	note := "v: {{ x }}\n---\nkind: Secret"
	objs, err := renderIn(t, namespace, map[string]any{
		"serve":          map[string]any{"context": evil, "extraArgs": []any{"--apps={{ .Release.Name }}", "a: b", "x\"y"}},
		"podAnnotations": map[string]any{"note": note},
	})
	if err != nil {
		t.Fatal(err)
	}
	var d appsv1.Deployment
	find(t, objs, "Deployment", namespace, fullname, &d)
	args := d.Spec.Template.Spec.Containers[0].Args
	want := []string{"serve", "--context=" + evil, "--listen=:8443", "--metrics-listen=:9090", "--log-format=json", "--advertise=http://$(POD_IP):8443", "--apps={{ .Release.Name }}", "a: b", "x\"y"}
	if !slices.Equal(args, want) {
		t.Errorf("args:\n got %q\nwant %q", args, want)
	}
	if got := d.Spec.Template.Annotations["note"]; got != note {
		t.Errorf("annotation = %q, want %q", got, note)
	}
	if got, want := ids(objs), ids(render(t, "")); !slices.Equal(got, want) {
		t.Errorf("objects = %v, want those of the defaults %v", got, want)
	}
}

// TestNotes: NOTES.txt says how to reach the API, and warns when nobody can.
func TestNotes(t *testing.T) {
	tests := []struct {
		variant   string
		want, not string
	}{
		{"defaults", "WARNING: no tokens", "TokenReview"},
		{"hardened", "members of platform:ops are operators", "WARNING"},
	}
	ch, err := charts.Switchyard()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.variant, func(t *testing.T) {
			vals, err := chartutil.ToRenderValues(ch, parseValues(t, valuesOf(tc.variant)), chartutil.ReleaseOptions{Name: release, Namespace: namespace, IsInstall: true}, nil)
			if err != nil {
				t.Fatal(err)
			}
			out, err := engine.Render(ch, vals)
			if err != nil {
				t.Fatal(err)
			}
			notes := out["switchyard/templates/NOTES.txt"]
			if !strings.Contains(notes, tc.want) || strings.Contains(notes, tc.not) {
				t.Errorf("NOTES.txt, want %q and not %q:\n%s", tc.want, tc.not, notes)
			}
			if !strings.Contains(notes, "rollout status deployment/"+fullname) {
				t.Errorf("NOTES.txt does not say how to check the rollout:\n%s", notes)
			}
		})
	}
}

// TestEmbeddedChart: the embedded chart is the directory's, helpers and
// schema included (the embed pattern keeps files starting with _ and .).
func TestEmbeddedChart(t *testing.T) {
	ch, err := charts.Switchyard()
	if err != nil {
		t.Fatal(err)
	}
	if ch.Metadata.Name != "switchyard" || ch.Metadata.APIVersion != "v2" || ch.Metadata.AppVersion == "" {
		t.Errorf("Chart.yaml: %+v", ch.Metadata)
	}
	if ch.Schema == nil {
		t.Error("values.schema.json not loaded")
	}
	var names []string
	for _, f := range ch.Templates {
		names = append(names, f.Name)
	}
	if !slices.Contains(names, "templates/_helpers.tpl") || !slices.Contains(names, "templates/NOTES.txt") {
		t.Errorf("templates = %v", names)
	}
	if !strings.Contains(string(ch.Schema), `"replicaCount"`) {
		t.Error("schema does not constrain replicaCount")
	}
}
