package bundle

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInstallResumes interrupts an install half-way through the images (its
// context is cancelled): the next run completes it, sending only what the
// registry does not have yet.
func TestInstallResumes(t *testing.T) {
	fx := newFixture(t)
	v, err := verifyFile(t, fx.file, fx.pub)
	if err != nil {
		t.Fatal(err)
	}
	site := testRegistry(t)
	out := t.TempDir()
	o := InstallOptions{Registry: site, BinDir: filepath.Join(out, "bin"), ChartsDir: filepath.Join(out, "apps")}
	ctx, cancel := context.WithCancel(context.Background())
	interrupted := o
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
	res, err := Install(context.Background(), fx.file, v, o)
	if err != nil {
		t.Fatal(err)
	}
	var blobs int64
	for _, f := range v.Manifest.Files {
		if strings.HasPrefix(f.Path, LayoutDir+"/blobs/") {
			blobs += f.Size
		}
	}
	if res.PushedBytes == 0 || res.PushedBytes >= blobs/2+1 {
		t.Fatalf("the resumed install sent %d bytes of the %d the images hold: want what was not sent before only", res.PushedBytes, blobs)
	}
	for ref, want := range fx.digests {
		if got := res.Images[indexOf(t, res.Images, ref)].Dest; !strings.HasSuffix(got, "@"+want) {
			t.Errorf("%s installed as %s, want digest %s", ref, got, want)
		}
	}
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
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
			}
			if ents, _ := os.ReadDir(out); len(ents) != 0 {
				t.Fatalf("%d entries written to %s", len(ents), out)
			}
		})
	}
}
