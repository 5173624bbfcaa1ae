package bundle

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// entry is one tar entry of a bundle, for tests that change bundles.
type entry struct {
	hdr  tar.Header
	data []byte
}

func readEntries(t *testing.T, file string) []entry {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	var out []entry
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, entry{*h, data})
	}
}

func writeEntries(t *testing.T, es []entry) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range es {
		h := e.hdr
		h.Size = int64(len(e.data))
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.data); err != nil && h.Size > 0 {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "changed.tar")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// wantNamed checks that err is an *Error naming path.
func wantNamed(t *testing.T, err error, path string) {
	t.Helper()
	var be *Error
	if !errors.As(err, &be) || be.Path != path {
		t.Fatalf("error = %v, want a bundle error naming %s", err, path)
	}
}

// TestTamperedFileIsNamed flips one byte in every file of a bundle in turn
// (the manifest and its signature included): Verify and install fail,
// naming that file, and install writes nothing.
func TestTamperedFileIsNamed(t *testing.T) {
	fx := newFixture(t)
	orig := readEntries(t, fx.file)
	for i, e := range orig {
		t.Run(e.hdr.Name, func(t *testing.T) {
			es := append([]entry(nil), orig...)
			data := bytes.Clone(e.data)
			data[len(data)/2] ^= 0x01
			es[i].data = data
			file := writeEntries(t, es)
			want := e.hdr.Name
			if want == SignatureName {
				want = ManifestName // the signature no longer matches the manifest
			}
			_, err := verifyFile(t, file, fx.pub)
			wantNamed(t, err, want)
			out := t.TempDir()
			_, _, err = VerifyAndInstall(context.Background(), file, VerifyOptions{PublicKey: fx.pub},
				InstallOptions{Registry: "127.0.0.1:1", BinDir: out, ChartsDir: out})
			wantNamed(t, err, want)
			if ents, _ := os.ReadDir(out); len(ents) != 0 {
				t.Fatalf("install wrote %d entries into %s from a bundle that does not verify", len(ents), out)
			}
		})
	}
}

// TestChangedBundlesAreRefused: a swapped image, an added, a missing or a
// repeated file, unsafe paths and entries that are not regular files; verify
// and install fail naming the entry.
func TestChangedBundlesAreRefused(t *testing.T) {
	fx := newFixture(t)
	orig := readEntries(t, fx.file)
	index := func(name string) int {
		for i, e := range orig {
			if e.hdr.Name == name {
				return i
			}
		}
		t.Fatalf("no %s in the bundle", name)
		return -1
	}
	img0, img1 := fx.res.Manifest.Images[0], fx.res.Manifest.Images[1]
	reg := func(name string, data string) entry {
		return entry{tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Format: tar.FormatPAX}, []byte(data)}
	}
	tests := []struct {
		name   string
		change func([]entry) []entry
		want   string
	}{
		{"image swapped for another", func(es []entry) []entry {
			// One image's manifest replaced by another's content.
			es[index(BlobPath(img0.Digest))].data = orig[index(BlobPath(img1.Digest))].data
			return es
		}, BlobPath(img0.Digest)},
		{"file added", func(es []entry) []entry { return append(es, reg("apps/shop/extra.yaml", "x: 1\n")) }, "apps/shop/extra.yaml"},
		{"file added at the top", func(es []entry) []entry { return append(es, reg("evil.sh", "#!/bin/sh\n")) }, "evil.sh"},
		{"file missing", func(es []entry) []entry {
			i := index("apps/web/marathon.json")
			return append(es[:i], es[i+1:]...)
		}, "apps/web/marathon.json"},
		{"file twice", func(es []entry) []entry { return append(es, orig[index("apps/web/marathon.json")]) }, "apps/web/marathon.json"},
		{"path traversal", func(es []entry) []entry { return append(es, reg("apps/../../etc/cron.d/x", "* * * * * root id\n")) }, "apps/../../etc/cron.d/x"},
		{"absolute path", func(es []entry) []entry { return append(es, reg("/etc/passwd", "root::0:0::/:/bin/sh\n")) }, "/etc/passwd"},
		{"symlink", func(es []entry) []entry {
			return append(es, entry{tar.Header{Typeflag: tar.TypeSymlink, Name: "apps/shop/link", Linkname: "/etc/shadow", Format: tar.FormatPAX}, nil})
		}, "apps/shop/link"},
		{"hard link", func(es []entry) []entry {
			return append(es, entry{tar.Header{Typeflag: tar.TypeLink, Name: "bin/x", Linkname: "bin/switchyard", Format: tar.FormatPAX}, nil})
		}, "bin/x"},
		{"directory", func(es []entry) []entry {
			return append(es, entry{tar.Header{Typeflag: tar.TypeDir, Name: "apps/dir/", Mode: 0o755, Format: tar.FormatPAX}, nil})
		}, "apps/dir/"},
		{"signature removed", func(es []entry) []entry { return append(es[:1], es[2:]...) }, SignatureName},
		{"manifest not first", func(es []entry) []entry { es[0], es[2] = es[2], es[0]; return es }, ManifestName},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := writeEntries(t, tc.change(append([]entry(nil), orig...)))
			_, err := verifyFile(t, file, fx.pub)
			wantNamed(t, err, tc.want)
			out := t.TempDir()
			_, _, err = VerifyAndInstall(context.Background(), file, VerifyOptions{PublicKey: fx.pub},
				InstallOptions{Registry: "127.0.0.1:1", BinDir: out, ChartsDir: out})
			wantNamed(t, err, tc.want)
		})
	}
	t.Run("data appended after the archive", func(t *testing.T) {
		data, err := os.ReadFile(fx.file)
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(t.TempDir(), "appended.tar")
		os.WriteFile(file, append(data, "#!/bin/sh\nrm -rf /\n"...), 0o644)
		_, err = verifyFile(t, file, fx.pub)
		wantNamed(t, err, "(bundle)")
	})
}

// TestUnsignedBundle: without a key an unsigned bundle is refused unless
// the signature is skipped explicitly; the checksums are checked anyway.
func TestUnsignedBundle(t *testing.T) {
	fx := newFixture(t)
	es := readEntries(t, fx.file)
	unsigned := writeEntries(t, append(es[:1:1], es[2:]...))
	if _, err := VerifyFile(unsigned, VerifyOptions{}); err == nil || !strings.Contains(err.Error(), "no public key") {
		t.Fatalf("Verify without a key or SkipSignature: %v", err)
	}
	if _, err := VerifyFile(unsigned, VerifyOptions{SkipSignature: true}); err != nil {
		t.Fatalf("Verify with SkipSignature: %v", err)
	}
	es[5].data = bytes.Repeat([]byte("x"), len(es[5].data))
	if _, err := VerifyFile(writeEntries(t, es), VerifyOptions{SkipSignature: true}); err == nil {
		t.Fatal("SkipSignature also skips the checksums")
	}
}
