package bundle

import (
	"context"
	"crypto/rand"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/switchyard/switchyard/bundle/minisign"
)

// testRegistry is go-containerregistry's in-memory registry on loopback
// (in process; the end-to-end test runs Debian's docker-registry).
func testRegistry(t *testing.T) string {
	t.Helper()
	s := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://")
}

// pushRandom pushes a random image (or index) to ref and returns its digest.
func pushRandom(t *testing.T, ref string, index bool) string {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if index {
		idx, err := random.Index(2048, 2, 2)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.WriteIndex(r, idx); err != nil {
			t.Fatal(err)
		}
		d, _ := idx.Digest()
		return d.String()
	}
	img, err := random.Image(4096, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	return d.String()
}

// writeFiles writes files (slash paths → content) under dir.
func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		f := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// testApps writes an apps directory: a helm app with its own chart (image
// in values), a Marathon app (image in the definition) converted into a
// chart, both on images of the source registry src.
func testApps(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"shop/app.yaml": `# the shop
name: shop
type: helm
helm:
  path: chart
  namespace: shop
  values:
    replicas: 2
route: {path: /shop}
`,
		"shop/chart/Chart.yaml":  "apiVersion: v2\nname: shop\nversion: 0.1.0\n",
		"shop/chart/values.yaml": "replicas: 1\nimage: " + src + "/team/shop:1\nsidecar: " + src + "/team/multi:2\n",
		"shop/chart/templates/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: {{ .Release.Name }}}
spec:
  replicas: {{ .Values.replicas }}
  selector: {matchLabels: {app: shop}}
  template:
    metadata: {labels: {app: shop}}
    spec:
      containers:
        - {name: app, image: {{ .Values.image | quote }}}
        - {name: side, image: {{ .Values.sidecar | quote }}}
`,
		"web/app.yaml": `name: web
type: helm
marathon:
  id: /web
  instances: 1
  cpus: 0.1
  mem: 32
  container: {type: DOCKER, docker: {image: "` + src + `/team/web:3"}}
  portDefinitions: [{port: 0, name: http}]
`,
	})
	return dir
}

// fixture is a signed bundle made from testApps on a source registry.
type fixture struct {
	src, file string
	pub       *minisign.PublicKey
	digests   map[string]string // ref → digest pushed to src
	res       *CreateResult
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	src := testRegistry(t)
	fx := &fixture{src: src, digests: map[string]string{}}
	for ref, index := range map[string]bool{src + "/team/shop:1": false, src + "/team/multi:2": true, src + "/team/web:3": false} {
		fx.digests[ref] = pushRandom(t, ref, index)
	}
	sk, pk, err := minisign.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	fx.pub = pk
	bin := "/usr/bin/true" // a small ELF executable of this platform stands in for switchyard
	fx.file = filepath.Join(t.TempDir(), "b.tar")
	fx.res, err = Create(context.Background(), CreateOptions{Out: fx.file, Context: "test", Binary: bin,
		AppsDir: testApps(t, src), Registries: &Registries{}, Signer: sk})
	if err != nil {
		t.Fatal(err)
	}
	return fx
}

func verifyFile(t *testing.T, file string, pub *minisign.PublicKey) (*Verified, error) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return Verify(f, VerifyOptions{PublicKey: pub})
}

// TestCreateVerifyInstall makes a bundle from two apps on a registry,
// verifies it, reads its images as an OCI layout, installs it into another
// registry and checks digests, tags and the rewritten files; a second
// install changes nothing.
func TestCreateVerifyInstall(t *testing.T) {
	fx := newFixture(t)
	m := fx.res.Manifest
	if len(m.Images) != 3 || len(m.Apps) != 2 {
		t.Fatalf("manifest has %d images and %d apps, want 3 and 2", len(m.Images), len(m.Apps))
	}
	for _, im := range m.Images {
		if fx.digests[im.Ref] != im.Digest {
			t.Errorf("image %s recorded with digest %s, the registry has %s", im.Ref, im.Digest, fx.digests[im.Ref])
		}
	}
	v, err := verifyFile(t, fx.file, fx.pub)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Signed || len(v.Offsets) != len(m.Files) {
		t.Fatalf("Verify: signed %v, %d files located, want true and %d", v.Signed, len(v.Offsets), len(m.Files))
	}

	// The images directory is an OCI image layout go-containerregistry reads.
	dir := t.TempDir()
	extract(t, fx.file, v, dir)
	lp, err := layout.FromPath(filepath.Join(dir, LayoutDir))
	if err != nil {
		t.Fatal(err)
	}
	idx, err := lp.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 3 {
		t.Fatalf("index.json lists %d manifests, want 3", len(im.Manifests))
	}
	for _, d := range im.Manifests {
		if d.MediaType.IsImage() {
			img, err := lp.Image(d.Digest)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := img.Layers(); err != nil {
				t.Fatal(err)
			}
		}
	}

	site := testRegistry(t)
	out := t.TempDir()
	o := InstallOptions{Registry: site, BinDir: filepath.Join(out, "bin"), ChartsDir: filepath.Join(out, "apps")}
	res, err := Install(context.Background(), fx.file, v, o)
	if err != nil {
		t.Fatal(err)
	}
	for ref, want := range fx.digests {
		r, _ := name.ParseReference(ref)
		siteRef, _ := name.ParseReference(site + "/" + r.Context().RepositoryStr() + ":" + r.Identifier())
		d, err := remote.Head(siteRef)
		if err != nil {
			t.Fatalf("%s not in the site registry: %v", siteRef, err)
		}
		if d.Digest.String() != want {
			t.Errorf("%s has digest %s at the site, want %s", siteRef, d.Digest, want)
		}
	}
	// Everything but the manifests (sent with PUT) is sent as blobs.
	if res.PushedBytes <= 0 || res.PushedBytes >= res.ImageBytes {
		t.Errorf("pushed %d bytes of the images' %d", res.PushedBytes, res.ImageBytes)
	}
	values, err := os.ReadFile(filepath.Join(out, "apps", "shop", "chart", "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := "image: " + site + "/team/shop@" + fx.digests[fx.src+"/team/shop:1"]
	if !strings.Contains(string(values), want) || strings.Contains(string(values), fx.src) {
		t.Errorf("installed values.yaml:\n%s\nwant %q and no reference to %s", values, want, fx.src)
	}
	web, err := os.ReadFile(filepath.Join(out, "apps", "web", "marathon.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(web), site+"/team/web@"+fx.digests[fx.src+"/team/web:3"]) {
		t.Errorf("installed marathon.json does not name the site's image:\n%s", web)
	}
	if st, err := os.Stat(filepath.Join(out, "bin", "switchyard")); err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("binary: %v, %v", st, err)
	}

	// What an earlier bundle left in an app's directory goes.
	stale := filepath.Join(out, "apps", "shop", "chart", "templates", "old.yaml")
	if err := os.WriteFile(stale, []byte("kind: Job\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	again, err := Install(context.Background(), fx.file, v, o)
	if err != nil {
		t.Fatal(err)
	}
	if again.PushedBytes != 0 {
		t.Errorf("second install pushed %d bytes, want 0", again.PushedBytes)
	}
	for _, d := range append(again.Images, again.Files...) {
		if d.Action != "present" && d.Action != "unchanged" && (d.Action != "removed" || d.Dest != stale) {
			t.Errorf("second install: %s %s", d.Name, d.Action)
		}
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("%s is still there after the install: %v", stale, err)
	}
}

// extract writes a verified bundle's files under dir.
func extract(t *testing.T, file string, v *Verified, dir string) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range v.Manifest.Files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		off := v.Offsets[f.Path]
		if err := os.WriteFile(p, data[off:off+f.Size], 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
