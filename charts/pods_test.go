package charts_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/switchyard/switchyard/charts"
	"github.com/switchyard/switchyard/deploy"
	"github.com/switchyard/switchyard/internal/kubeclient"
	"github.com/switchyard/switchyard/journal/etcdjournal/etcdtest"
	"github.com/switchyard/switchyard/lab/kube"
	"github.com/switchyard/switchyard/lab/labtest"
	"github.com/switchyard/switchyard/lab/nodeagent"
)

// TestPodsBecomeReady installs the chart with the Helm SDK on a lab's
// Kubernetes (control plane and node agents: the pods run as local
// processes) and waits until its three serve replicas are Ready (the
// chart's readinessProbe: GET /readyz on the metrics port, which answers
// once the etcd journal reads). The replicas run on an etcd the test
// starts on the pod network's gateway, with the chart's client-certificate
// Secret; they read their config, tokens and certificates from the chart's
// secret volumes and reach the API server in-cluster (ServiceAccount token
// volume, KUBERNETES_SERVICE_HOST). Through each pod it then checks the
// roles of a token of the chart's tokens file and of ServiceAccount tokens
// (serve asks the API server, TokenReview, from inside the pod) and that
// the three agree on one leader among them. After helm uninstall the node agents have removed the
// pods' volume directories and no mount of them is left on the host; lab
// down removes the mount points the lab made.
// fileToken is a token of the chart's tokens file (tokens.entries).
const fileToken = "carol-operator-token-0123456789"

func TestPodsBecomeReady(t *testing.T) {
	l := labtest.StartT(t, labtest.Options{Nodes: 3, Kubernetes: true})
	t0 := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()

	gw, err := l.Config.Kubernetes.PodGateway()
	if err != nil {
		t.Fatal(err)
	}
	etcdBin, err := kube.Binary(kube.PinnedVersion, "etcd")
	if err != nil {
		t.Fatal(err)
	}
	etcd, err := etcdtest.StartOn(etcdBin, gw.AsSlice())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = etcd.Stop() })

	f := &kubeclient.Factory{Kubeconfig: l.Kubeconfig, QPS: 50, Burst: 100}
	kc, err := f.Clients()
	if err != nil {
		t.Fatal(err)
	}
	cs := kc.Clientset
	const ns, operators, viewers = "switchyard", "sy-operators", "sy-viewers"
	for _, n := range []string{ns, operators, viewers} {
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	etcdFiles := map[string][]byte{}
	for key, path := range map[string]string{"ca.crt": etcd.CAFile, "tls.crt": etcd.CertFile, "tls.key": etcd.KeyFile} {
		if etcdFiles[key], err = os.ReadFile(path); err != nil {
			t.Fatal(err)
		}
	}
	for _, sec := range []*corev1.Secret{
		{ObjectMeta: metav1.ObjectMeta{Name: "etcd-client"}, Data: etcdFiles},
		{ObjectMeta: metav1.ObjectMeta{Name: "lb-token"}, Data: map[string][]byte{"token": []byte("lb-admin-token")}},
	} {
		if _, err := cs.CoreV1().Secrets(ns).Create(ctx, sec, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	values := map[string]any{
		"image": map[string]any{"tag": "lab"},
		"config": map[string]any{"context": map[string]any{
			"name": "lab",
			// The lab's Marathon and Mesos listen on loopback, out of the
			// pods' reach: serve must become ready without them.
			"marathon": map[string]any{"url": l.MarathonURL},
			"mesos":    map[string]any{"url": l.MesosURL},
			"journal":  map[string]any{"type": "etcd", "endpoints": []any{etcd.Endpoints[0]}, "prefix": "/switchyard/lab"},
			// Migrations need a load balancer (a leader without one keeps
			// leading and refuses them): one that does not answer, with its
			// token from a secretMounts Secret.
			"loadBalancer": map[string]any{"instances": []any{map[string]any{"name": "lb-1",
				"adminURL": "http://" + net.JoinHostPort(gw.String(), "1"), "tokenFile": "/etc/switchyard/secrets/lb/token"}}},
		}},
		"secretMounts": []any{map[string]any{"secretName": "lb-token", "mountPath": "/etc/switchyard/secrets/lb"}},
		"etcd":         map[string]any{"clientSecret": "etcd-client"},
		// Callers authenticate with the chart's tokens file (a Secret
		// mounted 0440, by hash only) and with ServiceAccount tokens,
		// which serve reviews with the API server (TokenReview) from
		// inside its pod.
		"tokens":      map[string]any{"entries": []any{map[string]any{"name": "carol", "role": "operator", "sha256": fmt.Sprintf("%x", sha256.Sum256([]byte(fileToken)))}}},
		"tokenReview": map[string]any{"enabled": true, "operatorGroup": "system:serviceaccounts:" + operators, "viewerGroup": "system:serviceaccounts:" + viewers},
		"probes":      map[string]any{"readiness": map[string]any{"periodSeconds": 1}},
	}
	ch, err := charts.Switchyard()
	if err != nil {
		t.Fatal(err)
	}
	rel := deploy.Release{Name: "switchyard", Namespace: ns, Chart: ch, Values: values}
	h := &deploy.Releases{Kube: f}
	t1 := time.Now()
	if _, err := h.Install(ctx, rel); err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 3*time.Minute)
	err = h.WaitReady(wctx, rel, nil)
	wcancel()
	if err != nil {
		dumpPods(t, l, cs, ns)
		t.Fatalf("the chart's replicas did not become ready: %v", err)
	}
	ready := time.Since(t1)
	d, err := cs.AppsV1().Deployments(ns).Get(ctx, "switchyard", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Status.ReadyReplicas != 3 || *d.Spec.Replicas != 3 {
		t.Fatalf("Deployment: %d of %d replicas ready, want 3 of 3", d.Status.ReadyReplicas, *d.Spec.Replicas)
	}
	t.Logf("lab up %s, install to 3/3 ready %s", l.UpDuration.Round(time.Millisecond), ready.Round(time.Millisecond))

	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/instance=switchyard"})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 3 {
		t.Fatalf("%d pods, want 3", len(pods.Items))
	}
	opToken, viewToken := saToken(ctx, t, cs, operators, "alice"), saToken(ctx, t, cs, viewers, "bob")
	var podDirs []string
	var bases []string
	for _, p := range pods.Items {
		base := "http://" + net.JoinHostPort(p.Status.PodIP, "8443")
		bases = append(bases, base)
		for _, c := range []struct{ token, name, role string }{
			{opToken, "system:serviceaccount:" + operators + ":alice", "operator"},
			{viewToken, "system:serviceaccount:" + viewers + ":bob", "viewer"},
			{fileToken, "carol", "operator"},
		} {
			var who struct{ Name, Role, Replica string }
			getJSON(t, base+"/api/v1/whoami", c.token, &who)
			if who.Name != c.name || who.Role != c.role || who.Replica != base {
				t.Errorf("pod %s: whoami = %+v, want %s as %s on replica %s", p.Name, who, c.name, c.role, base)
			}
		}
		dir := filepath.Join(l.Dir, "pods", nodeagent.PodDirName(&p))
		podDirs = append(podDirs, dir)
		checkVolumes(t, dir)
	}
	// Ready does not wait for the election: poll until the three replicas
	// name the same leader, one of them, which alone says it leads.
	t3 := time.Now()
	var leaders []string
	for {
		var selfs []string
		leaders = leaders[:0]
		for _, base := range bases {
			var lead struct {
				Leader string
				Self   bool
			}
			getJSON(t, base+"/api/v1/leader", viewToken, &lead)
			leaders = append(leaders, lead.Leader)
			if lead.Self {
				selfs = append(selfs, base)
			}
		}
		if len(selfs) == 1 && slices.Contains(bases, leaders[0]) && slices.Equal(leaders, []string{selfs[0], selfs[0], selfs[0]}) {
			break
		}
		if time.Since(t3) > 30*time.Second {
			dumpPods(t, l, cs, ns)
			t.Fatalf("after 30s the replicas %v name leaders %v and %v say they lead, want one of them named by all", bases, leaders, selfs)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("leader %s elected %s after ready", leaders[0], time.Since(t3).Round(time.Millisecond))

	t2 := time.Now()
	if err := h.Uninstall(ctx, rel); err != nil {
		t.Fatal(err)
	}
	t.Logf("uninstall (pods gone) %s", time.Since(t2).Round(time.Millisecond))
	for _, dir := range podDirs {
		if _, err := os.Stat(filepath.Join(dir, nodeagent.VolumesDirName)); !os.IsNotExist(err) {
			t.Errorf("%s: the pod's volumes are still there after its deletion (%v)", dir, err)
		}
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(mounts), "\n") {
		if strings.Contains(line, filepath.Join(l.Dir, "pods")) || strings.Contains(line, "/etc/switchyard") {
			t.Errorf("host mount left: %s", line)
		}
	}
	_, existed := os.Stat("/etc/switchyard")
	if err := l.Stop(); err != nil {
		t.Fatal(err)
	}
	if existed == nil {
		if _, err := os.Stat("/etc/switchyard/config"); !os.IsNotExist(err) {
			t.Errorf("the mount point /etc/switchyard/config the lab made is still there after lab down (%v)", err)
		}
	}
	t.Logf("whole test %s", time.Since(t0).Round(time.Millisecond))
}

// checkVolumes checks what the node agent wrote for one pod of the chart:
// its config and tokens files with the chart's mode 0440, the etcd client
// files, the ServiceAccount token, its CA and namespace.
func checkVolumes(t *testing.T, podDir string) {
	t.Helper()
	vol := filepath.Join(podDir, nodeagent.VolumesDirName)
	for _, f := range []struct {
		path string
		mode os.FileMode
	}{
		{"config/config.yaml", 0o440},
		{"etcd/ca.crt", 0o440},
		{"etcd/tls.key", 0o440},
		{"secret-0/token", 0o440},
		{"tokens/tokens.yaml", 0o440},
	} {
		st, err := os.Stat(filepath.Join(vol, f.path))
		if err != nil {
			t.Errorf("volume file: %v", err)
			continue
		}
		if st.Mode().Perm() != f.mode {
			t.Errorf("%s: mode %s, want %s", f.path, st.Mode().Perm(), f.mode)
		}
	}
	ents, _ := os.ReadDir(vol)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
		if st, err := os.Stat(filepath.Join(vol, e.Name())); err == nil && st.Mode().Perm() != 0o700 {
			t.Errorf("volume directory %s: mode %s, want 0700", e.Name(), st.Mode().Perm())
		}
		if strings.HasPrefix(e.Name(), "kube-api-access-") {
			for _, f := range []string{"token", "ca.crt", "namespace"} {
				if b, err := os.ReadFile(filepath.Join(vol, e.Name(), f)); err != nil || len(b) == 0 {
					t.Errorf("ServiceAccount volume %s: %s is missing or empty (%v)", e.Name(), f, err)
				}
			}
		}
	}
	if !strings.Contains(strings.Join(names, " "), "kube-api-access-") {
		t.Errorf("pod volumes %v: no ServiceAccount token volume", names)
	}
}

// saToken creates ServiceAccount ns/name and returns a token of it.
func saToken(ctx context.Context, t *testing.T, cs kubernetes.Interface, ns, name string) string {
	t.Helper()
	if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](600)}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tr.Status.Token
}

// getJSON GETs url with a bearer token and decodes the JSON answer.
func getJSON(t *testing.T, url, token string, out any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", url, resp.Status, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		t.Fatalf("GET %s: %v: %s", url, err, body)
	}
}

// dumpPods logs the pods' status, their events and the tail of their
// container logs (after a failed wait).
func dumpPods(t *testing.T, l *labtest.Lab, cs kubernetes.Interface, ns string) {
	t.Helper()
	ctx := context.Background()
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Logf("list pods: %v", err)
		return
	}
	for _, p := range pods.Items {
		st, _ := json.Marshal(p.Status.ContainerStatuses)
		t.Logf("pod %s on %s (%s): %s", p.Name, p.Spec.NodeName, p.Status.Phase, st)
		log, _ := os.ReadFile(filepath.Join(l.Dir, "pods", nodeagent.PodDirName(&p), "serve.log"))
		lines := strings.Split(strings.TrimSpace(string(log)), "\n")
		t.Logf("serve.log:\n%s", strings.Join(lines[max(0, len(lines)-15):], "\n"))
	}
	evs, err := cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	if err == nil {
		for _, e := range evs.Items {
			t.Logf("event %s %s: %s", e.InvolvedObject.Name, e.Reason, e.Message)
		}
	}
}
