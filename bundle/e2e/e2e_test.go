package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/switchyard/switchyard/bundle/registrytest"
	"github.com/switchyard/switchyard/internal/testenv"
	"github.com/switchyard/switchyard/lab/labconfig"
	"github.com/switchyard/switchyard/lab/labtest"
)

// siteRegistry is the site registry's address inside the network
// namespace (its own loopback: nothing else listens there).
const siteRegistry = "127.0.0.1:5000"

// One lab (Marathon, Mesos view, Kubernetes, node agents) for the package;
// its node agents run the demo app for the site registry's image too.
var theLab *labtest.Lab

func TestMain(m *testing.M) {
	os.Exit(labtest.Main(m, labtest.Options{Kubernetes: true, Configure: func(c *labconfig.Config) {
		c.Kubernetes.Images[siteRegistry+"/switchyard/demo-app"] = labconfig.Image{Command: []string{"{switchyard}", "demo-app"}}
	}}, &theLab))
}

// prerequisites skips (fails under CI) without root, ip, docker-registry,
// minisign and curl.
func prerequisites(t *testing.T) {
	t.Helper()
	registrytest.Require(t, true)
	if _, err := exec.LookPath("minisign"); err != nil {
		testenv.Missing(t, "minisign not found (scripts/deps.sh installs it)")
	}
}

// switchyard runs the binary (inside ns when not "") with env and returns
// its combined output.
func switchyard(t *testing.T, ns string, env []string, args ...string) (string, error) {
	t.Helper()
	bin, err := labtest.Binary()
	if err != nil {
		t.Fatal(err)
	}
	argv := append([]string{bin}, args...)
	if ns != "" {
		argv = append([]string{"ip", "netns", "exec", ns}, argv...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	t.Logf("switchyard %s:\n%s", strings.Join(args, " "), out)
	return string(out), err
}

// siteDigest is the digest the site registry serves for repo:ref, asked
// from inside ns.
func siteDigest(t *testing.T, ns, repo, ref string) string {
	t.Helper()
	args := []string{"netns", "exec", ns, "curl", "-sf", "-I"}
	for _, mt := range []string{"application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json",
		"application/vnd.docker.distribution.manifest.v2+json", "application/vnd.docker.distribution.manifest.list.v2+json"} {
		args = append(args, "-H", "Accept: "+mt)
	}
	out, err := exec.Command("ip", append(args, "http://"+siteRegistry+"/v2/"+repo+"/manifests/"+ref)...).Output()
	if err != nil {
		t.Fatalf("%s/%s:%s is not in the site registry: %v", siteRegistry, repo, ref, err)
	}
	m := regexp.MustCompile(`(?i)docker-content-digest:\s*(\S+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no Docker-Content-Digest for %s:%s:\n%s", repo, ref, out)
	}
	return string(m[1])
}

// copyDir copies the regular files of a directory tree.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(to, rel)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestOfflineInstall is the end-to-end test: images built here are
// pushed to a first docker-registry; `bundle create` (on the lab's context,
// with a capacity target and the load-balancer module) copies them from it
// as a mirror of docker.io; Debian's minisign accepts the signature; the
// second registry and `bundle install` run in a network namespace with no
// route to the first; every image arrives with its digest; a second install
// sends nothing; a tampered bundle is refused naming the file; and the
// shop chart from the bundle deploys on the lab with the site's references.
func TestOfflineInstall(t *testing.T) {
	testenv.SkipIfShort(t, "two docker-registry servers and a lab")
	prerequisites(t)
	l := labtest.Need(t, theLab)
	work := t.TempDir()

	// The first registry: where the images are before the bundle.
	src := testenv.FreeAddr(t, "127.0.0.1")
	os.MkdirAll(filepath.Join(work, "src"), 0o755)
	registrytest.Start(t, "", src, filepath.Join(work, "src"))
	img, err := random.Image(256<<10, 3)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(src + "/switchyard/demo-app:1")
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	// A multi-platform index, named by its own registry (not mirrored).
	idx, err := random.Index(64<<10, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	idxRef, _ := name.ParseReference(src + "/team/batch:2")
	if err := remote.WriteIndex(idxRef, idx); err != nil {
		t.Fatal(err)
	}
	wantIdx, _ := idx.Digest()
	apps := filepath.Join(work, "apps")
	copyDir(t, "../../examples/apps", apps)
	copyDir(t, "../../examples/marathon", filepath.Join(work, "marathon"))
	os.MkdirAll(filepath.Join(apps, "batch"), 0o755)
	os.WriteFile(filepath.Join(apps, "batch", "app.yaml"), []byte("name: batch\ntype: marathon\nmarathon:\n  id: /batch\n  cpus: 0.1\n  mem: 32\n  container: {type: DOCKER, docker: {image: \""+idxRef.String()+"\"}}\n"), 0o644)

	// bundle keygen and bundle create, on the lab's context.
	env := l.Env()
	key, pub := filepath.Join(work, "bundle.key"), filepath.Join(work, "bundle.pub")
	if _, err := switchyard(t, "", env, "bundle", "keygen", "--secret-key", key, "--public-key", pub); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(work, "target.yaml")
	os.WriteFile(target, []byte("shares:\n  - node: node-1\n    share: {cpus: 1, mem: 2048, disk: 4096}\n"), 0o644)
	file := filepath.Join(work, "site.bundle")
	out, err := switchyard(t, "", env, "bundle", "create", "--apps", apps, "--out", file, "--sign", key,
		"--registry-mirror", "docker.io="+src, "--capacity-target", target,
		"--lb-admin-listen", "127.0.0.1:8001", "--lb-admin-token-file", "/etc/switchyard/lb.token",
		"--lb-state-dir", "/var/lib/switchyard-lb", "--lb-backends-cidr", "10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "2 images, 4 apps") || !strings.Contains(out, "signed with key") {
		t.Fatalf("bundle create: want 2 images, 4 apps, signed:\n%s", out)
	}

	// Debian's minisign accepts the manifest's signature (extracted as
	// docs/offline.md says).
	if tout, err := exec.Command("tar", "-xf", file, "-C", work, "manifest.json", "manifest.json.minisig").CombinedOutput(); err != nil {
		t.Fatalf("tar -xf: %v\n%s", err, tout)
	}
	if mout, err := exec.Command("minisign", "-V", "-p", pub, "-m", filepath.Join(work, "manifest.json")).CombinedOutput(); err != nil {
		t.Fatalf("minisign -V rejects the bundle's signature: %v\n%s", err, mout)
	}

	// The site: a network namespace with its own loopback only.
	ns := registrytest.Netns(t)
	if err := exec.Command("ip", "netns", "exec", ns, "curl", "-sf", "-m", "3", "http://"+src+"/v2/").Run(); err == nil {
		t.Fatalf("the first registry %s answers inside the namespace: the site is not offline", src)
	}
	os.MkdirAll(filepath.Join(work, "site"), 0o755)
	registrytest.Start(t, ns, siteRegistry, filepath.Join(work, "site"))
	dest := filepath.Join(work, "installed")
	installArgs := []string{"bundle", "install", file, "--registry", siteRegistry, "--pub", pub,
		"--charts-dir", filepath.Join(dest, "apps"), "--bin-dir", filepath.Join(dest, "bin"),
		"--lb-dir", filepath.Join(dest, "lb"), "--capacity-dir", filepath.Join(dest, "capacity")}
	noNet := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + work}
	out, err = switchyard(t, ns, noNet, installArgs...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "2 images (2 pushed") {
		t.Fatalf("bundle install did not push both images:\n%s", out)
	}
	if got := siteDigest(t, ns, "team/batch", "2"); got != wantIdx.String() {
		t.Fatalf("the site registry has team/batch:2 at %s, want the index's %s", got, wantIdx)
	}
	batch, _ := os.ReadFile(filepath.Join(dest, "apps", "batch", "marathon.json"))
	if !bytes.Contains(batch, []byte(siteRegistry+"/team/batch@"+wantIdx.String())) {
		t.Errorf("batch's marathon.json is not rewritten to the site's index:\n%s", batch)
	}
	if got := siteDigest(t, ns, "switchyard/demo-app", "1"); got != want.String() {
		t.Fatalf("the site registry has switchyard/demo-app:1 at %s, want %s", got, want)
	}
	if got := siteDigest(t, ns, "switchyard/demo-app", want.String()); got != want.String() {
		t.Fatalf("the site registry serves %s for its digest", got)
	}
	for _, f := range []string{"bin/switchyard", "lb/switchyard.lua", "lb/switchyard-http.conf", "capacity/apps/node-1.json",
		"capacity/kubelet/node-1.yaml", "apps/shop/app.yaml", "apps/shop/chart/Chart.yaml", "apps/api/converted-chart/values.yaml", "apps/web/marathon.json"} {
		if _, err := os.Stat(filepath.Join(dest, f)); err != nil {
			t.Errorf("not installed: %v", err)
		}
	}
	siteRef := siteRegistry + "/switchyard/demo-app@" + want.String()
	for _, f := range []string{"apps/shop/chart/values.yaml", "apps/web/marathon.json", "apps/api/marathon.json"} {
		b, _ := os.ReadFile(filepath.Join(dest, f))
		if !bytes.Contains(b, []byte(siteRef)) || bytes.Contains(b, []byte("switchyard/demo-app:1")) {
			t.Errorf("%s is not rewritten to %s:\n%s", f, siteRef, b)
		}
	}

	// Again: nothing to send, nothing to write.
	out, err = switchyard(t, ns, noNet, installArgs...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "0 pushed, 2 already there; 0 B sent") || !strings.Contains(out, "(0 written") {
		t.Fatalf("a second install changed something:\n%s", out)
	}

	// One byte changed in the image's layer: verify and install name it.
	tampered := filepath.Join(work, "tampered.bundle")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	ld, _ := layers[1].Digest()
	blob := "images/blobs/sha256/" + ld.Hex
	i := bytes.Index(data, []byte(blob+"\x00"))
	if i < 0 {
		t.Fatalf("no %s entry in the bundle", blob)
	}
	data[i+4096] ^= 1 // inside the layer's content (past its headers)
	os.WriteFile(tampered, data, 0o644)
	for _, cmd := range [][]string{{"bundle", "verify", tampered, "--pub", pub}, append([]string{"bundle", "install", tampered}, installArgs[3:]...)} {
		out, err := switchyard(t, ns, noNet, cmd...)
		if err == nil || !strings.Contains(out, blob) {
			t.Errorf("switchyard %s: want a failure naming %s, got %v:\n%s", cmd[1], blob, err, out)
		}
	}

	// The shop chart from the bundle, on the lab: its Deployment runs the
	// site registry's image by digest.
	if out, err := l.Run("deploy", filepath.Join(dest, "apps", "shop")); err != nil {
		t.Fatalf("deploy the bundle's shop: %v\n%s", err, out)
	}
	rc, err := clientcmd.BuildConfigFromFlags("", l.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cs := kubernetes.NewForConfigOrDie(rc)
	d, err := cs.AppsV1().Deployments("shop").Get(context.Background(), "shop", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Spec.Template.Spec.Containers[0].Image; got != siteRef {
		t.Fatalf("the shop Deployment runs %s, want %s", got, siteRef)
	}
	if d.Status.ReadyReplicas != *d.Spec.Replicas || d.Status.ReadyReplicas == 0 {
		t.Fatalf("the shop Deployment has %d of %d replicas ready", d.Status.ReadyReplicas, *d.Spec.Replicas)
	}
}
