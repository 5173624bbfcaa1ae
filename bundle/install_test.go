package bundle

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/switchyard/switchyard/internal/wanterr"
)

// TestInstallResumes interrupts an install half-way through the images (its
// context is cancelled): the next run completes it and uploads no blob the
// first run had finished uploading; what it reports as sent is what it
// uploaded. (Blobs cut off by the cancel are uploaded again: a registry
// keeps no partial upload across sessions.)
func TestInstallResumes(t *testing.T) {
	fx := newFixture(t)
	v, err := verifyFile(t, fx.file, fx.pub)
	if err != nil {
		t.Fatal(err)
	}
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	front := newUploadFront(t, reg)
	out := t.TempDir()
	o := InstallOptions{BinDir: filepath.Join(out, "bin"), ChartsDir: filepath.Join(out, "apps")}
	ctx, cancel := context.WithCancel(context.Background())
	interrupted := o
	interrupted.Registry = front.host()
	interrupted.Progress = func(done, total int64) {
		if done > total/2 {
			cancel()
		}
	}
	if _, err := Install(ctx, fx.file, v, interrupted); err == nil {
		t.Fatal("the interrupted install succeeded")
	}
	if _, err := os.Stat(filepath.Join(out, "apps")); err == nil {
		t.Fatal("files were written before the images were all pushed")
	}
	first := front.closeAndTake()
	if len(first) == 0 {
		t.Fatal("the interrupted install finished no upload: the test interrupts too early")
	}
	front = newUploadFront(t, reg)
	o.Registry = front.host()
	res, err := Install(context.Background(), fx.file, v, o)
	if err != nil {
		t.Fatal(err)
	}
	second := front.closeAndTake()
	if len(second) == 0 {
		t.Fatal("the resumed install uploaded nothing: the first run was not interrupted")
	}
	sizes := map[string]int64{}
	for _, f := range v.Manifest.Files {
		if strings.HasPrefix(f.Path, LayoutDir+"/blobs/") {
			sizes[f.Path] = f.Size
		}
	}
	var sent int64
	for d := range second {
		if first[d] {
			t.Errorf("blob %s uploaded again though the first run finished it", d)
		}
		sent += sizes[BlobPath(d)]
	}
	if res.PushedBytes != sent {
		t.Errorf("the resumed install reports %d bytes sent, it uploaded %d blobs of %d bytes", res.PushedBytes, len(second), sent)
	}
	for ref, want := range fx.digests {
		if got := res.Images[indexOf(t, res.Images, ref)].Dest; !strings.HasSuffix(got, "@"+want) {
			t.Errorf("%s installed as %s, want digest %s", ref, got, want)
		}
	}
}

// uploadFront is a front of one in-memory registry that logs every blob
// upload it completes (the final PUT carrying the digest, answered 201).
// Closing a front waits for the requests it is serving and drops those not
// yet read: what a cancelled client left in flight cannot land in the next
// front's log.
type uploadFront struct {
	*httptest.Server
	mu sync.Mutex
	m  map[string]bool
}

func newUploadFront(t *testing.T, reg http.Handler) *uploadFront {
	t.Helper()
	f := &uploadFront{m: map[string]bool{}}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		reg.ServeHTTP(rec, r)
		if d := r.URL.Query().Get("digest"); r.Method == http.MethodPut && d != "" && rec.status == http.StatusCreated {
			f.mu.Lock()
			f.m[d] = true
			f.mu.Unlock()
		}
	}))
	t.Cleanup(f.Close)
	return f
}

// host is the front's registry name.
func (f *uploadFront) host() string { return strings.TrimPrefix(f.URL, "http://") }

// closeAndTake closes the front and returns the digests it logged.
func (f *uploadFront) closeAndTake() map[string]bool {
	f.Close()
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.m
}

// statusRecorder remembers the status a handler answered.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func indexOf(t *testing.T, ds []Done, name string) int {
	t.Helper()
	for i, d := range ds {
		if d.Name == name {
			return i
		}
	}
	t.Fatalf("%s not installed", name)
	return -1
}

// TestInstallRefusesBeforeChanging: a destination missing for what the
// bundle holds, a binary of another platform, or a bad registry name is
// refused before any image is pushed or file written.
func TestInstallRefusesBeforeChanging(t *testing.T) {
	fx := newFixture(t)
	v, err := verifyFile(t, fx.file, fx.pub)
	if err != nil {
		t.Fatal(err)
	}
	other := *v
	m := *v.Manifest
	m.Platform = "linux/s390x"
	other.Manifest = &m
	out := t.TempDir()
	site := testRegistry(t)
	tests := []struct {
		name    string
		v       *Verified
		o       InstallOptions
		wantErr string
	}{
		{"no charts dir", v, InstallOptions{Registry: site, BinDir: out}, "--charts-dir"},
		{"no bin dir", v, InstallOptions{Registry: site, ChartsDir: out}, "--bin-dir"},
		{"other platform", &other, InstallOptions{Registry: site, BinDir: out, ChartsDir: out}, "linux/s390x"},
		{"bad registry", v, InstallOptions{Registry: "Bad Registry!", BinDir: out, ChartsDir: out}, "--registry"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Install(context.Background(), fx.file, tc.v, tc.o)
			wanterr.Check(t, err, tc.wantErr)
			if ents, _ := os.ReadDir(out); len(ents) != 0 {
				t.Fatalf("%d entries written to %s", len(ents), out)
			}
		})
	}
}
