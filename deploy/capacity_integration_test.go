package deploy_test

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/switchyard/switchyard/internal/testfs"
	"github.com/switchyard/switchyard/lab/labtest"
	"github.com/switchyard/switchyard/marathon"
)

// bigChart is a chart whose one Deployment asks for more cpus per pod
// than any lab node has.
var bigChart = map[string]string{
	"Chart.yaml": "apiVersion: v2\nname: huge\nversion: 0.1.0\n",
	"templates/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: huge}
spec:
  replicas: 2
  selector: {matchLabels: {app: huge}}
  template:
    metadata: {labels: {app: huge}}
    spec:
      containers:
      - name: app
        image: switchyard/demo-app
        resources: {requests: {cpu: "64", memory: 64Mi}}
`,
}

// nodeAndCPUs matches a refusal that names a lab node and the cpus resource.
var nodeAndCPUs = regexp.MustCompile(`node \S+ has the most room but cpus [0-9.]+ free of the 64`)

// TestCapacityRefusesOverCommit: a set whose Marathon app asks for more
// cpus than any node has free on the Mesos side, and whose Helm release
// asks for more than any node's allocatable, is refused naming a node and
// cpus (also with --dry-run), and nothing of the set is applied on either
// platform; an app that fits still deploys; an unreadable Mesos master
// refuses unless --skip-capacity-check.
func TestCapacityRefusesOverCommit(t *testing.T) {
	l := labtest.Need(t, theLab)
	cs := kube(t, l)
	mc := marathonClient(t, l)
	ctx := context.Background()

	dir := t.TempDir()
	testfs.WriteAll(t, filepath.Join(dir, "huge-helm", "chart"), bigChart)
	writeApp(t, filepath.Join(dir, "huge-helm"), "name: huge-helm\ntype: helm\nhelm: {path: chart, namespace: it-huge}\n")
	writeApp(t, filepath.Join(dir, "huge"), "name: huge\ntype: marathon\nmarathon: {id: /it/huge, cmd: sleep 1000, cpus: 64, mem: 16, instances: 1}\n")
	writeApp(t, filepath.Join(dir, "small"), "name: small\ntype: marathon\nmarathon: {id: /it/small-never, cmd: sleep 1000, cpus: 0.01, mem: 16}\n")

	nothingApplied := func(t *testing.T) {
		t.Helper()
		for _, id := range []string{"/it/huge", "/it/small-never"} {
			if _, err := mc.App(ctx, id); !marathon.IsNotFound(err) {
				t.Errorf("Marathon app %s was applied (err %v)", id, err)
			}
		}
		if _, err := cs.CoreV1().Namespaces().Get(ctx, "it-huge", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("namespace it-huge exists (err %v)", err)
		}
		if n := helmSecrets(t, cs, "it-huge", "huge-helm"); n != 0 {
			t.Errorf("%d release records of huge-helm", n)
		}
	}
	for _, args := range [][]string{{"deploy", dir}, {"deploy", "--dry-run", dir}} {
		out, code := run(t, l, append(args, "--timeout", "30s")...)
		if code == 0 {
			t.Fatalf("%v: an over-committing set was deployed", args)
		}
		for _, w := range []string{"app huge (", "app /it/huge: refused, it would over-commit a node", "on the Mesos side",
			"app huge-helm (", "app it-huge/huge-helm (Deployment huge): refused", "on the Kubernetes side", "to unblock", "nothing was applied"} {
			if !strings.Contains(out, w) {
				t.Errorf("%v: output lacks %q", args, w)
			}
		}
		if n := len(nodeAndCPUs.FindAllString(out, -1)); n != 2 {
			t.Errorf("%v: %d refusals name a node and cpus, want 2 (Mesos and Kubernetes side)", args, n)
		}
		if strings.Contains(out, "app small") {
			t.Errorf("%v: the fitting app was refused", args)
		}
		nothingApplied(t)
	}

	// An unreadable Mesos master refuses unless the check is skipped.
	out, code := run(t, l, "deploy", "--dry-run", "--mesos-url", "http://127.0.0.1:1", filepath.Join(dir, "small", "app.yaml"))
	if code == 0 || !strings.Contains(out, "the Mesos master at http://127.0.0.1:1 cannot be read") || !strings.Contains(out, "--skip-capacity-check") {
		t.Errorf("unreadable Mesos master: exit %d", code)
	}
	if _, code := run(t, l, "deploy", "--dry-run", "--skip-capacity-check", "--mesos-url", "http://127.0.0.1:1", filepath.Join(dir, "small", "app.yaml")); code != 0 {
		t.Errorf("--skip-capacity-check: exit %d", code)
	}
	nothingApplied(t)

	// A fitting app deploys.
	fits := writeApp(t, "", "name: fits\ntype: marathon\nmarathon: {id: /it/fits, cmd: sleep 1000, cpus: 0.05, mem: 16, instances: 2}\n")
	t.Cleanup(func() { _, _ = mc.DeleteApp(context.Background(), "/it/fits", true) })
	if out, code := run(t, l, "deploy", fits); code != 0 || strings.Contains(out, "refused") {
		t.Fatalf("a fitting app: exit %d", code)
	}
	tasks, err := mc.AppTasks(ctx, "/it/fits")
	if err != nil || len(tasks) != 2 {
		t.Errorf("fitting app: %d tasks (err %v), want 2", len(tasks), err)
	}
	// Its update is checked with its own tasks freed: 2 → 3 instances fits.
	more := writeApp(t, "", "name: fits\ntype: marathon\nmarathon: {id: /it/fits, cmd: sleep 1000, cpus: 0.05, mem: 16, instances: 3}\n")
	if out, code := run(t, l, "deploy", "--dry-run", more); code != 0 || !strings.Contains(out, "would update") {
		t.Errorf("update of the fitting app: exit %d", code)
	}
}
