package charts_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/convert"
	"github.com/switchyard/switchyard/internal/cli"
	"github.com/switchyard/switchyard/marathon"
)

// marathonDef is `switchyard serve` as a Marathon app.
var marathonDef = filepath.Join("..", "examples", "serve", "switchyard-serve.marathon.json")

// TestMarathonDefinitionValidates runs `switchyard marathon validate
// --strict` on the definition: no error, no warning (no unknown or
// deprecated field).
func TestMarathonDefinitionValidates(t *testing.T) {
	root := cli.NewRoot()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs([]string{"marathon", "validate", "--strict", "-o", "json", marathonDef})
	if err := root.Execute(); err != nil {
		t.Fatalf("marathon validate: %v\n%s%s", err, out.String(), errOut.String())
	}
	var rep cli.ValidateReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, out.String())
	}
	if s := rep.Summary; s.Files != 1 || s.Valid != 1 || s.Errors != 0 || s.Warnings != 0 {
		t.Errorf("summary = %+v, issues %+v: want one valid file, no error, no warning", s, rep.Files)
	}
}

// decodeMarathon decodes the definition with the product's decoder.
func decodeMarathon(t *testing.T) *marathon.App {
	t.Helper()
	def, err := marathon.DecodeFile(marathonDef)
	if err != nil {
		t.Fatal(err)
	}
	if def.Kind != marathon.KindApp || def.App == nil {
		t.Fatalf("%s: a %s, want an app", marathonDef, def.Kind)
	}
	return def.App
}

// TestMarathonDefinition: what docs/serve-install.md promises of the app:
// three instances on distinct hosts, the serve command on $PORT0 and
// $PORT1 with the task id as its identity in the election, the health check on /healthz of the metrics port, an upgrade
// that keeps two of three, a non-root user, every declared secret
// mounted as a file and every file secret declared.
func TestMarathonDefinition(t *testing.T) {
	app := decodeMarathon(t)
	if app.Instances == nil || *app.Instances != 3 {
		t.Errorf("instances = %v, want 3", app.Instances)
	}
	if len(app.Constraints) != 1 || app.Constraints[0].Field() != "hostname" || app.Constraints[0].Operator() != "UNIQUE" {
		t.Errorf("constraints = %+v, want [[hostname UNIQUE]]", app.Constraints)
	}
	cmd := ""
	if app.Cmd != nil {
		cmd = *app.Cmd
	}
	for _, w := range []string{`export POD_NAME="$MESOS_TASK_ID"`, "exec ./switchyard serve ", "--context production", `--listen ":$PORT0"`, `--metrics-listen ":$PORT1"`, "--tokens-file secrets/tokens.yaml"} {
		if !strings.Contains(cmd, w) {
			t.Errorf("cmd %q lacks %q", cmd, w)
		}
	}
	if app.Env["SWITCHYARD_CONFIG"].Value != "secrets/config.yaml" {
		t.Errorf("SWITCHYARD_CONFIG = %+v, want secrets/config.yaml", app.Env["SWITCHYARD_CONFIG"])
	}
	var names []string
	for _, p := range app.PortDefinitions {
		if p.Name != nil {
			names = append(names, *p.Name)
		}
	}
	if !slices.Equal(names, []string{"api", "metrics"}) {
		t.Errorf("port names = %v, want [api metrics]", names)
	}
	if len(app.HealthChecks) != 1 {
		t.Fatalf("healthChecks = %+v, want one", app.HealthChecks)
	}
	hc := app.HealthChecks[0]
	if hc.Protocol == nil || *hc.Protocol != "MESOS_HTTP" || hc.Path == nil || *hc.Path != "/healthz" || hc.PortIndex == nil || *hc.PortIndex != 1 {
		t.Errorf("health check = %+v, want MESOS_HTTP /healthz on port index 1", hc)
	}
	us := app.UpgradeStrategy
	if us == nil || us.MinimumHealthCapacity == nil || *us.MinimumHealthCapacity != 0.66 || us.MaximumOverCapacity == nil || *us.MaximumOverCapacity != 0 {
		t.Errorf("upgradeStrategy = %+v, want 0.66 / 0", us)
	}
	if app.User == nil || *app.User == "" || *app.User == "root" {
		t.Errorf("user = %v, want a non-root user", app.User)
	}
	if len(app.Fetch) != 1 || !strings.HasSuffix(app.Fetch[0].URI, ".tar.gz") {
		t.Errorf("fetch = %+v, want the binary's archive", app.Fetch)
	}
	mounted := map[string]bool{}
	for _, v := range app.Container.Volumes {
		if v.Secret != nil {
			mounted[*v.Secret] = true
		}
	}
	for name, s := range app.Secrets {
		if !mounted[name] {
			t.Errorf("secret %s is declared but not mounted", name)
		}
		if !strings.HasPrefix(s.Source, "switchyard/serve/") {
			t.Errorf("secret %s: source %q, want under switchyard/serve/ (one Kubernetes Secret once converted)", name, s.Source)
		}
	}
	if len(mounted) != len(app.Secrets) || !mounted["tokens"] || !mounted["config"] {
		t.Errorf("file secrets %v, declared %d: want config and tokens, all declared", mounted, len(app.Secrets))
	}
}

// TestMarathonConfig: the config file the Marathon app reads
// (examples/serve/switchyard-serve.config.yaml, stored as its config
// secret) resolves as serve resolves it, for the context the command names,
// and every file it names is a file secret the app mounts.
func TestMarathonConfig(t *testing.T) {
	app := decodeMarathon(t)
	c, err := config.Resolve(filepath.Join("..", "examples", "serve", "switchyard-serve.config.yaml"), "production", func(string) string { return "" }, config.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	mounted := map[string]bool{}
	for _, v := range app.Container.Volumes {
		if v.Secret != nil && v.ContainerPath != nil {
			mounted[*v.ContainerPath] = true
		}
	}
	if !mounted[app.Env["SWITCHYARD_CONFIG"].Value] {
		t.Errorf("SWITCHYARD_CONFIG %q is not a mounted secret", app.Env["SWITCHYARD_CONFIG"].Value)
	}
	files := map[string]string{
		"marathon.auth.privateKeyFile": c.Marathon.Auth.PrivateKeyFile, "kubernetes.kubeconfig": c.Kubernetes.Kubeconfig,
		"journal.caFile": c.Journal.CAFile, "journal.certFile": c.Journal.CertFile, "journal.keyFile": c.Journal.KeyFile,
	}
	for i, in := range c.LoadBalancer.Instances {
		files[fmt.Sprintf("loadBalancer.instances[%d].tokenFile", i)] = in.TokenFile
	}
	for field, f := range files {
		if f != "" && !mounted[f] {
			t.Errorf("%s: %q is not a file secret of the app (mounted: %v)", field, f, mounted)
		}
	}
	if c.Journal.Type != config.JournalEtcd {
		t.Errorf("journal type %q: three instances need etcd", c.Journal.Type)
	}
}

// TestMarathonDefinitionConverts converts the app with the product's
// converter: no error, and every field converted but for the ones listed
// with why (the fidelity report's unsupported field is only the user
// name; the Kubernetes chart sets a numeric uid); the result runs the
// same command with the same probes, spread and budget.
func TestMarathonDefinitionConverts(t *testing.T) {
	def, err := marathon.DecodeFile(marathonDef)
	if err != nil {
		t.Fatal(err)
	}
	res, err := convert.Definition(def, convert.Options{})
	if err != nil {
		t.Fatalf("convert: %v", err)
	}
	notConverted := map[string]convert.Status{
		"user":                    convert.Unsupported,  // a name on Mesos, a uid on Kubernetes
		"cmd":                     convert.Approximated, // the fetched binary runs in the base image
		"portDefinitions[0].port": convert.Approximated, // dynamic host port -> fixed container port
		"portDefinitions[1].port": convert.Approximated,
	}
	seen := map[string]bool{}
	for _, src := range res.Report.Sources {
		for _, e := range src.Entries {
			if e.Status == convert.Converted {
				continue
			}
			seen[e.Path] = true
			if want, ok := notConverted[e.Path]; !ok || want != e.Status {
				t.Errorf("%s: %s (%s), want converted", e.Path, e.Status, e.Reason)
			}
		}
	}
	for p := range notConverted {
		if !seen[p] {
			t.Errorf("%s is converted now: update the list (and docs/serve-install.md)", p)
		}
	}
	if len(res.Releases) != 1 {
		t.Fatalf("releases = %d, want 1", len(res.Releases))
	}
	rel := res.Releases[0]
	d := rel.Deployment
	if d == nil || d.Spec.Replicas == nil || *d.Spec.Replicas != 3 {
		t.Fatalf("Deployment = %+v, want 3 replicas", d)
	}
	ps := d.Spec.Template.Spec
	if aa := ps.Affinity; aa == nil || aa.PodAntiAffinity == nil || len(aa.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution) != 1 ||
		aa.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0].TopologyKey != "kubernetes.io/hostname" {
		t.Errorf("affinity = %+v, want required anti-affinity per node (hostname UNIQUE)", ps.Affinity)
	}
	c := ps.Containers[0]
	metrics := int32(0)
	for _, p := range c.Ports {
		if p.Name == "metrics" {
			metrics = p.ContainerPort
		}
	}
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"liveness", c.LivenessProbe, "/healthz"}, {"readiness", c.ReadinessProbe, "/readyz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil || p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port.IntValue() != int(metrics) || metrics == 0 {
			t.Errorf("%s probe = %+v, want GET %s on the metrics port %d", p.name, p.probe, p.path, metrics)
		}
	}
	if pdb := rel.PodDisruptionBudget; pdb == nil || pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.String() != "66%" {
		t.Errorf("PodDisruptionBudget = %+v, want minAvailable 66%% (2 of 3)", pdb)
	}
	for _, s := range rel.Secrets {
		if s.Name != "switchyard-serve" {
			t.Errorf("secret %+v: want every file in Secret switchyard-serve", s)
		}
	}
	if len(rel.Secrets) != len(def.App.Secrets) {
		t.Errorf("secrets = %+v, want %d", rel.Secrets, len(def.App.Secrets))
	}
}
