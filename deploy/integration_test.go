package deploy_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/switchyard/switchyard/internal/testfs"
	labkube "github.com/switchyard/switchyard/lab/kube"
	"github.com/switchyard/switchyard/lab/labtest"
	"github.com/switchyard/switchyard/marathon"
)

// One real lab (Marathon, Kubernetes, node agents, shared nginx) for the package.
var theLab *labtest.Lab

func TestMain(m *testing.M) {
	os.Exit(labtest.Main(m, labtest.Options{Kubernetes: true, Nginx: true}, &theLab))
}

// run runs `switchyard ARGS --lab-dir LAB` and returns its output and exit code.
func run(t *testing.T, l *labtest.Lab, args ...string) (string, int) {
	t.Helper()
	out, err := l.Run(args...)
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("switchyard %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("switchyard %s (exit %d):\n%s", strings.Join(args, " "), code, out)
	return out, code
}

func abs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// writeApp writes an app.yaml in a new directory and returns its path.
func writeApp(t *testing.T, dir, content string) string {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "app.yaml")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func kube(t *testing.T, l *labtest.Lab) kubernetes.Interface {
	t.Helper()
	cs, err := labkube.AdminClient(l.Config)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func marathonClient(t *testing.T, l *labtest.Lab) *marathon.Client {
	t.Helper()
	c, err := marathon.NewClient(marathon.Config{URL: l.MarathonURL})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// answers GETs the route through nginx n times and returns the decoded bodies.
func answers(t *testing.T, l *labtest.Lab, path string, n int) []map[string]any {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	var out []map[string]any
	for range n {
		resp, err := c.Get(l.LBURL + path)
		if err != nil {
			t.Fatalf("GET %s through nginx: %v", path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s through nginx: %s: %s", path, resp.Status, b)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("GET %s: not the demo app's JSON: %s", path, b)
		}
		out = append(out, m)
	}
	return out
}

// comparable drops the fields that name the platform and the instance.
func comparable(m map[string]any) map[string]any {
	c := map[string]any{}
	for k, v := range m {
		switch k {
		case "platform", "instanceId", "host", "taskId", "request":
		default:
			c[k] = v
		}
	}
	return c
}

const webMarathon = `name: web
owner: storefront
type: %s
marathon:
  path: %s
helm:
  namespace: it-web
route:
  path: /web
  port: http
resources:
  requests: {cpu: 100m, memory: 64Mi}
`

// TestSameAppOnBothPlatforms: the demo web app deploys with type marathon
// and answers through nginx at its route; diff shows a change of instances;
// then the same app.yaml with type helm (converted on the fly) answers the
// same through nginx from Kubernetes; diff shows a change of replicas, and
// --dry-run applies nothing.
func TestSameAppOnBothPlatforms(t *testing.T) {
	l := labtest.Need(t, theLab)
	web := abs(t, "../examples/marathon/web.json")

	out, code := run(t, l, "deploy", abs(t, "../examples/apps/web/app.yaml"))
	if code != 0 || !strings.Contains(out, "routed /web to 2 marathon backend(s)") || !strings.Contains(out, "tasks running 2/2, healthy 2/2") {
		t.Fatalf("marathon deploy: exit %d", code)
	}
	onMarathon := answers(t, l, "/web/", 6)
	tasks, err := marathonClient(t, l).AppTasks(context.Background(), "/demo/web")
	if err != nil {
		t.Fatal(err)
	}
	taskIDs := map[string]bool{}
	for _, tk := range tasks {
		taskIDs[tk.ID] = true
	}
	for _, a := range onMarathon {
		if a["platform"] != "marathon" || !taskIDs[fmt.Sprint(a["taskId"])] {
			t.Fatalf("answer not from a Marathon task of /demo/web (tasks %v): %v", taskIDs, a)
		}
	}

	// diff: nothing, then instances 2 -> 3.
	if out, code := run(t, l, "diff", abs(t, "../examples/apps/web/app.yaml")); code != 0 || !strings.Contains(out, "web: no changes") {
		t.Errorf("diff of the deployed app: exit %d", code)
	}
	def, err := os.ReadFile(web)
	if err != nil {
		t.Fatal(err)
	}
	three := filepath.Join(t.TempDir(), "web3.json")
	if err := os.WriteFile(three, []byte(strings.Replace(string(def), `"instances": 2`, `"instances": 3`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	app3 := writeApp(t, "", fmt.Sprintf(webMarathon, "marathon", three))
	if out, code := run(t, l, "diff", app3); code != 2 || !strings.Contains(out, "~ instances: 2 -> 3") {
		t.Errorf("diff with 3 instances: exit %d, want 2 and the instances change", code)
	}

	// A dry run validates and applies nothing; -o json is the result.
	out, code = run(t, l, "deploy", "--dry-run", "-o", "json", app3)
	var res struct {
		Results []struct{ App, Platform, Action string } `json:"results"`
		DryRun  bool                                     `json:"dryRun"`
	}
	if code != 0 || json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &res) != nil || !res.DryRun ||
		len(res.Results) != 1 || res.Results[0].Action != "would update" || res.Results[0].Platform != "marathon" {
		t.Errorf("marathon dry run: exit %d, result %+v", code, res)
	}
	if a, err := marathonClient(t, l).App(context.Background(), "/demo/web"); err != nil || *a.Instances != 2 {
		t.Errorf("the dry run changed the app (err %v)", err)
	}

	// The same app on Kubernetes, converted from its Marathon definition.
	appK := writeApp(t, "", fmt.Sprintf(webMarathon, "helm", web))
	if out, code := run(t, l, "diff", appK); code != 2 || !strings.Contains(out, "+  replicas: 2") || !strings.Contains(out, "@@ -0,0 +1,") {
		t.Errorf("diff before install: exit %d, want 2 and the whole manifest added", code)
	}
	out, code = run(t, l, "deploy", appK)
	if code != 0 || !strings.Contains(out, "converted Marathon app /demo/web into chart demo-web") ||
		!strings.Contains(out, "pods ready 2/2") || !strings.Contains(out, "routed /web to 2 kubernetes backend(s)") {
		t.Fatalf("helm deploy: exit %d", code)
	}
	onKube := answers(t, l, "/web/", 6)
	pods, err := kube(t, l).CoreV1().Pods("it-web").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	podNames := map[string]bool{}
	for _, p := range pods.Items {
		podNames[p.Name] = true
	}
	want := comparable(onMarathon[0])
	for _, a := range onKube {
		// The body's "platform" is what the demo app guesses from its
		// environment, and the converted pod keeps Marathon's variables
		// (MARATHON_APP_ID, MESOS_TASK_ID): the pod name says where it ran.
		if !podNames[fmt.Sprint(a["taskId"])] {
			t.Fatalf("answer not from a pod of it-web (pods %v): %v", podNames, a)
		}
		if got := comparable(a); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("Kubernetes answers %v, Marathon answered %v", got, want)
		}
	}

	// diff: nothing, then replicas 2 -> 3; a dry run of 3 applies nothing.
	if out, code := run(t, l, "diff", appK); code != 0 || !strings.Contains(out, "web: no changes") {
		t.Errorf("diff of the installed release: exit %d", code)
	}
	appK3 := writeApp(t, "", fmt.Sprintf(webMarathon, "helm", three))
	if out, code := run(t, l, "diff", appK3); code != 2 || !strings.Contains(out, "-  replicas: 2") || !strings.Contains(out, "+  replicas: 3") {
		t.Errorf("diff with 3 replicas: exit %d", code)
	}
	if out, code := run(t, l, "deploy", "--dry-run", appK3); code != 0 || !strings.Contains(out, "would upgrade Helm release it-web/web") {
		t.Errorf("dry run: exit %d", code)
	}
	d, err := kube(t, l).AppsV1().Deployments("it-web").Get(context.Background(), "demo-web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *d.Spec.Replicas != 2 {
		t.Errorf("the dry run changed replicas to %d", *d.Spec.Replicas)
	}
}

// helmSecrets lists the release records Helm keeps for a release.
func helmSecrets(t *testing.T, cs kubernetes.Interface, ns, release string) int {
	t.Helper()
	l, err := cs.CoreV1().Secrets(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "owner=helm,name=" + release})
	if err != nil {
		t.Fatal(err)
	}
	return len(l.Items)
}

const shopApp = `name: %s
type: helm
helm:
  path: %s
  namespace: %s
  values:
    replicas: 1
    version: v3
    env: {%s}
route:
  path: /%s
`

// TestNeverReadyRollsBack: a chart whose pods never become ready fails
// with the pods' events and logs shown; a failed install leaves nothing, a
// failed upgrade puts the previous revision back.
func TestNeverReadyRollsBack(t *testing.T) {
	l := labtest.Need(t, theLab)
	cs := kube(t, l)
	chart := abs(t, "../examples/apps/shop/chart")

	t.Run("install", func(t *testing.T) {
		app := writeApp(t, "", fmt.Sprintf(shopApp, "never", chart, "it-never", "DEMO_UNHEALTHY: \"true\"", "never"))
		out, code := run(t, l, "deploy", "--timeout", "15s", app)
		if code == 0 {
			t.Fatal("a release that never becomes ready deployed")
		}
		for _, w := range []string{"app never", "Helm release it-never/never failed: not ready within --timeout 15s", "pods ready 0/1", "events:", "Unhealthy", "probe failed",
			"logs of container app", "the failed release was uninstalled"} {
			if !strings.Contains(out, w) {
				t.Errorf("output lacks %q", w)
			}
		}
		if _, err := cs.AppsV1().Deployments("it-never").Get(context.Background(), "never", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("the failed release's Deployment is still there (err %v)", err)
		}
		if n := helmSecrets(t, cs, "it-never", "never"); n != 0 {
			t.Errorf("%d release records left", n)
		}
	})

	t.Run("upgrade", func(t *testing.T) {
		good := writeApp(t, "", fmt.Sprintf(shopApp, "rb", chart, "it-rb", "", "rb"))
		if _, code := run(t, l, "deploy", good); code != 0 {
			t.Fatal("first install failed")
		}
		before := answers(t, l, "/rb/", 1)[0]
		bad := writeApp(t, "", fmt.Sprintf(shopApp, "rb", chart, "it-rb", "DEMO_UNHEALTHY: \"true\"", "rb"))
		out, code := run(t, l, "deploy", "--timeout", "15s", bad)
		if code == 0 {
			t.Fatal("an upgrade that never becomes ready succeeded")
		}
		for _, w := range []string{"upgrading Helm release it-rb/rb from revision 1", "pods ready 0/1", "events:", "probe failed", "the release was rolled back to revision 1"} {
			if !strings.Contains(out, w) {
				t.Errorf("output lacks %q", w)
			}
		}
		d, err := cs.AppsV1().Deployments("it-rb").Get(context.Background(), "rb", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range d.Spec.Template.Spec.Containers[0].Env {
			if e.Name == "DEMO_UNHEALTHY" {
				t.Errorf("the failed upgrade's env is still in the Deployment")
			}
		}
		after := answers(t, l, "/rb/", 1)[0]
		if after["version"] != before["version"] {
			t.Errorf("after the rollback the app answers %v, before %v", after, before)
		}
	})
}

// TestRejectedObjectAppliesNothing: an object the API server refuses stops
// the deploy before anything is applied, also for the other apps of a
// directory.
func TestRejectedObjectAppliesNothing(t *testing.T) {
	l := labtest.Need(t, theLab)
	cs := kube(t, l)
	dir := t.TempDir()
	chart := filepath.Join(dir, "bad", "chart")
	files := map[string]string{
		"Chart.yaml":             "apiVersion: v2\nname: bad\nversion: 0.1.0\n",
		"templates/config.yaml":  "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bad-config}\ndata: {a: b}\n",
		"templates/service.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: bad}\nspec:\n  selector: {app: bad}\n  ports: [{port: 70000}]\n",
	}
	testfs.WriteAll(t, chart, files)
	writeApp(t, filepath.Join(dir, "bad"), "name: bad\ntype: helm\nhelm: {path: chart, namespace: it-reject}\n")
	writeApp(t, filepath.Join(dir, "good"), "name: good\ntype: marathon\nmarathon: {id: /it/never-applied, cmd: sleep 1000, cpus: 0.01, mem: 16}\n")

	out, code := run(t, l, "deploy", dir)
	if code == 0 {
		t.Fatal("deployed a chart the API server rejects")
	}
	for _, w := range []string{"app bad (" + filepath.Join(dir, "bad", "app.yaml") + ")", "the API server rejects Service bad", "70000", "nothing was applied: 1 of 2 apps failed"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q", w)
		}
	}
	if _, err := cs.CoreV1().Namespaces().Get(context.Background(), "it-reject", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace it-reject exists (err %v)", err)
	}
	if _, err := cs.CoreV1().ConfigMaps("default").Get(context.Background(), "bad-config", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the dry run stored the ConfigMap (err %v)", err)
	}
	if _, err := marathonClient(t, l).App(context.Background(), "/it/never-applied"); !marathon.IsNotFound(err) {
		t.Errorf("the valid Marathon app of the directory was applied (err %v)", err)
	}
}

// TestUnreachable: a Marathon or an API server that does not answer gives a
// clear error naming it.
func TestUnreachable(t *testing.T) {
	l := labtest.Need(t, theLab)
	out, code := run(t, l, "deploy", "--marathon-url", "http://127.0.0.1:1", abs(t, "../examples/apps/web/app.yaml"))
	if code == 0 || !strings.Contains(out, "Marathon at http://127.0.0.1:1 cannot be reached") || !strings.Contains(out, "nothing was applied") {
		t.Errorf("unreachable Marathon: exit %d", code)
	}
	kc, err := os.ReadFile(l.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.Load(kc)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cfg.Clusters {
		c.Server = "https://127.0.0.1:1"
	}
	dead := filepath.Join(t.TempDir(), "dead.kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, dead); err != nil {
		t.Fatal(err)
	}
	out, code = run(t, l, "deploy", "--kubeconfig", dead, abs(t, "../examples/apps/shop/app.yaml"))
	if code == 0 || !strings.Contains(out, "the Kubernetes API server at https://127.0.0.1:1 cannot be reached") {
		t.Errorf("unreachable API server: exit %d", code)
	}
}

// TestMarathonFailureExplained: a Marathon app whose tasks keep failing
// ends with the last task failure and the deployment cancelled.
func TestMarathonFailureExplained(t *testing.T) {
	l := labtest.Need(t, theLab)
	app := writeApp(t, "", "name: crash\ntype: marathon\nmarathon:\n  id: /it/crash\n  cmd: \"echo boom >&2; exit 3\"\n  cpus: 0.01\n  mem: 16\n")
	out, code := run(t, l, "deploy", "--timeout", "10s", app)
	if code == 0 {
		t.Fatal("a crashing app deployed")
	}
	for _, w := range []string{"app crash", "Marathon deployment", "last task failure: TASK_FAILED", "the deployment was cancelled"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q", w)
		}
	}
	c := marathonClient(t, l)
	if _, err := c.App(context.Background(), "/it/crash"); err == nil {
		if _, err := c.DeleteApp(context.Background(), "/it/crash", true); err != nil {
			t.Logf("cleanup: %v", err)
		}
	}
}

// TestBadAppYAML: a descriptor with a mistake fails before any platform is
// contacted, naming the file, line and field.
func TestBadAppYAML(t *testing.T) {
	l := labtest.Need(t, theLab)
	cases := []struct{ doc, want string }{
		{"name: web\ntype: marathon\nmarathon: {path: x.json}\nmigration:\n  maxErrorRate: \"5%\"\n", `app.yaml:5: migration.maxErrorRate: expected a number between 0 and 1, got "5%": write 0.05`},
		{"name: web\ntype: marathon\nmarathon: {path: nope.json}\n", "marathon.path: cannot read"},
		{"name: web\ntype: helm\nhelm: {path: nochart}\n", "helm.path: no chart at"},
	}
	for _, tc := range cases {
		app := writeApp(t, "", tc.doc)
		out, code := run(t, l, "deploy", app)
		if code != 1 || !strings.Contains(out, tc.want) || !strings.Contains(out, "nothing was applied") {
			t.Errorf("exit %d, want 1 and %q", code, tc.want)
		}
	}
}

// TestExamples: the example apps (examples/apps: a Marathon app, a Marathon
// definition converted on the fly, a team's own chart) pass a dry run, then
// deploy in dependency order and answer through nginx at their routes.
func TestExamples(t *testing.T) {
	l := labtest.Need(t, theLab)
	dir := abs(t, "../examples/apps")
	out, code := run(t, l, "deploy", "--dry-run", dir)
	if code != 0 || !strings.Contains(out, "would install Helm release demo/api (chart converted from the Marathon definition)") ||
		!strings.Contains(out, "would install Helm release shop/shop") {
		t.Fatalf("dry run of the examples: exit %d", code)
	}
	cs := kube(t, l)
	if _, err := cs.CoreV1().Namespaces().Get(context.Background(), "shop", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the dry run created namespace shop (err %v)", err)
	}
	out, code = run(t, l, "deploy", dir)
	if code != 0 {
		t.Fatalf("deploy of the examples: exit %d", code)
	}
	if i, j := strings.Index(out, "Marathon app /demo/web"), strings.Index(out, "installing Helm release demo/api"); i < 0 || j < 0 || j < i {
		t.Errorf("api (dependsOn: [web]) was not deployed after web")
	}
	for path, version := range map[string]string{"/web/": "v1", "/api/": "v2", "/shop/": "v3"} {
		a := answers(t, l, path, 1)[0]
		if a["version"] != version {
			t.Errorf("%s answers %v, want version %s", path, a, version)
		}
	}
}
