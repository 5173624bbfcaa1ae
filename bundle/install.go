package bundle

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// maxRewriteSize bounds an app or capacity file Install reads into memory
// to rewrite its image references.
const maxRewriteSize = 64 << 20

// InstallOptions say where a bundle goes.
type InstallOptions struct {
	// Registry is the site's registry, HOST:PORT (optionally with a path
	// prefix): every image is pushed there under its repository path.
	Registry string
	// Remote are go-containerregistry's options for it (auth, transport).
	Remote []remote.Option
	// PlainHTTP talks to it over http (go-containerregistry already does
	// for loopback and private addresses).
	PlainHTTP bool
	// BinDir receives the binary, LBDir the load-balancer files (default:
	// the directory they were rendered for), CapacityDir the capacity
	// plan's files, ChartsDir one directory per app (app.yaml, chart/,
	// values.yaml, marathon.json: `switchyard deploy DIR` deploys it).
	BinDir, LBDir, CapacityDir, ChartsDir string
	// Log receives one line per image and file; Progress, when set, is
	// called with the image bytes sent (or found already there) and their
	// total.
	Log      io.Writer
	Progress func(done, total int64)
}

// InstallResult is what Install did.
type InstallResult struct {
	// Images and Files list each one and what happened to it.
	Images []Done
	Files  []Done
	// ImageBytes is the size of the images' blobs, PushedBytes what was
	// sent of it (the rest was there already).
	ImageBytes, PushedBytes int64
	// Duration is the whole install's, PushDuration the images' part.
	Duration, PushDuration time.Duration
}

// Done is one image or file installed: where it went and what happened:
// "pushed", "present" (already in the registry), "written", "unchanged".
type Done struct {
	Name, Dest, Action string
}

// Install installs a verified bundle (v, from Verify of the same file):
// it pushes every image to the registry (digests kept, each tag set too),
// then writes the apps' and the capacity plan's files with their image
// references rewritten to the registry (see SiteRefs), the load-balancer
// files and the binary. Everything that can be checked is checked before
// anything is changed. It can be run again after an interruption, or on an
// installed bundle: what is there already is left alone.
func Install(ctx context.Context, bundlePath string, v *Verified, o InstallOptions) (*InstallResult, error) {
	t0 := time.Now()
	m := v.Manifest
	logf := func(format string, args ...any) {
		if o.Log != nil {
			fmt.Fprintf(o.Log, format, args...)
		}
	}
	refs, err := SiteRefs(m.Images, o.Registry)
	if err != nil {
		return nil, fmt.Errorf("--registry %q: %w", o.Registry, err)
	}
	if o.LBDir == "" {
		o.LBDir = m.LBModuleDir
	}
	dests := map[string]string{dirBin: o.BinDir, dirLB: o.LBDir, dirCapacity: o.CapacityDir, dirApps: o.ChartsDir}
	flags := map[string]string{dirBin: "--bin-dir", dirLB: "--lb-dir", dirCapacity: "--capacity-dir", dirApps: "--charts-dir"}
	for _, f := range m.Files {
		top, _, _ := strings.Cut(f.Path, "/")
		if top == LayoutDir {
			continue
		}
		if dests[top] == "" {
			return nil, fmt.Errorf("%s: the bundle has %s but %s is not set", flags[top], f.Path, flags[top])
		}
		if f.Path == BinaryPath && m.Platform != runtime.GOOS+"/"+runtime.GOARCH {
			return nil, fmt.Errorf("%s: the bundle's binary is for %s, this machine is %s/%s: install it on a %s machine", BinaryPath, m.Platform, runtime.GOOS, runtime.GOARCH, m.Platform)
		}
		if _, ok := v.Offsets[f.Path]; !ok {
			return nil, fmt.Errorf("%s: not in the verified bundle", f.Path)
		}
	}
	file, err := os.Open(bundlePath)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	b := &installer{file: file, v: v, o: o, res: &InstallResult{}, logf: logf}
	t1 := time.Now()
	if err := b.pushImages(ctx); err != nil {
		return nil, err
	}
	b.res.PushDuration = time.Since(t1)
	for _, f := range m.Files {
		top, rel, _ := strings.Cut(f.Path, "/")
		if top == LayoutDir {
			continue
		}
		dir := dests[top]
		var rewrite map[string]string
		if top == dirApps || top == dirCapacity {
			rewrite = refs
		}
		if f.Path == BinaryPath {
			rel = "switchyard"
		}
		if err := b.installFile(f, dir, rel, rewrite); err != nil {
			return nil, err
		}
	}
	for _, a := range m.Apps {
		if err := b.pruneApp(a.Name); err != nil {
			return nil, err
		}
	}
	b.res.Duration = time.Since(t0)
	return b.res, nil
}

type installer struct {
	// mu guards res.PushedBytes and done, counted by concurrent uploads.
	mu     sync.Mutex
	file   *os.File
	v      *Verified
	o      InstallOptions
	res    *InstallResult
	logf   func(string, ...any)
	pusher *remote.Pusher
	puller *remote.Puller
	done   int64
}

// section is the content of a file of the bundle.
func (b *installer) section(p string) (*io.SectionReader, File, error) {
	for _, f := range b.v.Manifest.Files {
		if f.Path == p {
			off, ok := b.v.Offsets[p]
			if !ok {
				return nil, f, fmt.Errorf("%s: not in the verified bundle", p)
			}
			return io.NewSectionReader(b.file, off, f.Size), f, nil
		}
	}
	return nil, File{}, fmt.Errorf("%s: not in the bundle's manifest", p)
}

// readChecked reads a small file of the bundle and checks it again.
func (b *installer) readChecked(p string, limit int64) ([]byte, error) {
	sr, f, err := b.section(p)
	if err != nil {
		return nil, err
	}
	if f.Size > limit {
		return nil, fmt.Errorf("%s: %d bytes, more than the %d this reads into memory", p, f.Size, limit)
	}
	data, err := io.ReadAll(sr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != f.SHA256 {
		return nil, &Error{Path: p, Problem: "checksum mismatch: the bundle changed after it was verified"}
	}
	return data, nil
}

// installFile writes one file of the bundle to dir/rel, its image
// references rewritten when rewrite is set: through a temporary file,
// synced and renamed, inside dir (os.Root: no symlink leads out). A file
// already there with the same content is left alone.
func (b *installer) installFile(f File, dir, rel string, rewrite map[string]string) error {
	dest := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	if d := path.Dir(rel); d != "." {
		if err := root.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("%s: %w", dest, err)
		}
	}
	var content io.Reader
	wantSum := f.SHA256
	if rewrite != nil {
		data, err := b.readChecked(f.Path, maxRewriteSize)
		if err != nil {
			return err
		}
		data, _ = Rewrite(data, rewrite)
		sum := sha256.Sum256(data)
		wantSum, content = hex.EncodeToString(sum[:]), bytes.NewReader(data)
	} else {
		sr, _, err := b.section(f.Path)
		if err != nil {
			return err
		}
		content = sr
	}
	if same, _ := sameContent(root, rel, wantSum, os.FileMode(f.Mode)); same {
		b.res.Files = append(b.res.Files, Done{Name: f.Path, Dest: dest, Action: "unchanged"})
		b.logf("file %s → %s: unchanged\n", f.Path, dest)
		return nil
	}
	tmp := fmt.Sprintf("%s/.%s.tmp-%s", path.Dir(rel), path.Base(rel), rand.Text()[:8])
	err = writeAtomic(root, tmp, rel, os.FileMode(f.Mode), func(w io.Writer) error {
		h := sha256.New()
		if _, err := io.Copy(io.MultiWriter(w, h), content); err != nil {
			return err
		}
		if hex.EncodeToString(h.Sum(nil)) != wantSum {
			return &Error{Path: f.Path, Problem: "checksum mismatch: the bundle changed after it was verified"}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: %w", dest, err)
	}
	b.res.Files = append(b.res.Files, Done{Name: f.Path, Dest: dest, Action: "written"})
	b.logf("file %s → %s: written\n", f.Path, dest)
	return nil
}

// pruneApp removes from the app's directory (ChartsDir/<name>) the files
// that are not in the bundle: what an earlier bundle installed there (a
// template since removed would still be rendered) and temporary files an
// interrupted install left. Directories are left alone.
func (b *installer) pruneApp(app string) error {
	root, err := os.OpenRoot(b.o.ChartsDir)
	if err != nil {
		return err
	}
	defer root.Close()
	keep := map[string]bool{}
	for _, f := range b.v.Manifest.Files {
		if rel, ok := strings.CutPrefix(f.Path, dirApps+"/"); ok {
			keep[rel] = true
		}
	}
	var stale []string
	err = fs.WalkDir(root.FS(), app, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !keep[p] {
			stale = append(stale, p)
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", filepath.Join(b.o.ChartsDir, app), err)
	}
	for _, p := range stale {
		if err := root.Remove(p); err != nil {
			return fmt.Errorf("remove %s: %w", filepath.Join(b.o.ChartsDir, p), err)
		}
		dest := filepath.Join(b.o.ChartsDir, filepath.FromSlash(p))
		b.res.Files = append(b.res.Files, Done{Name: dirApps + "/" + p, Dest: dest, Action: "removed"})
		b.logf("file %s: removed (not in the bundle)\n", dest)
	}
	return nil
}

// sameContent reports whether rel in root is a regular file with the
// checksum sum and the mode.
func sameContent(root *os.Root, rel, sum string, mode os.FileMode) (bool, error) {
	st, err := root.Lstat(rel)
	if err != nil || !st.Mode().IsRegular() || st.Mode().Perm() != mode.Perm() {
		return false, err
	}
	f, err := root.Open(rel)
	if err != nil {
		return false, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return false, err
	}
	return hex.EncodeToString(h.Sum(nil)) == sum, nil
}

// FormatBytes renders a size for people: 512 B, 3.2 MB, 1.07 GB (SI).
func FormatBytes(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}

// VerifyAndInstall verifies the bundle file (Verify) and, only when it
// verifies, installs it (Install).
func VerifyAndInstall(ctx context.Context, bundlePath string, vo VerifyOptions, o InstallOptions) (*Verified, *InstallResult, error) {
	v, err := VerifyFile(bundlePath, vo)
	if err != nil {
		return nil, nil, err
	}
	res, err := Install(ctx, bundlePath, v, o)
	return v, res, err
}
