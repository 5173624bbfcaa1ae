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
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
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

func (b *installer) pushImages(ctx context.Context) error {
	m := b.v.Manifest
	if len(m.Images) == 0 {
		return nil
	}
	var err error
	if b.pusher, err = remote.NewPusher(append(b.o.Remote, remote.WithContext(ctx))...); err != nil {
		return err
	}
	if b.puller, err = remote.NewPuller(append(b.o.Remote, remote.WithContext(ctx))...); err != nil {
		return err
	}
	for _, f := range m.Files {
		if strings.HasPrefix(f.Path, LayoutDir+"/blobs/") {
			b.res.ImageBytes += f.Size
		}
	}
	pushed := map[string]bool{} // manifests pushed in this run, by repository@digest
	for _, im := range m.Images {
		repo, err := name.NewRepository(strings.TrimSuffix(b.o.Registry, "/")+"/"+im.Repository, nameOptions(b.o.PlainHTTP)...)
		if err != nil {
			return fmt.Errorf("image %s: %w", im.Ref, err)
		}
		target := repo.Digest(im.Digest)
		action := "present"
		if d, err := b.puller.Head(ctx, target); err != nil || d.Digest.String() != im.Digest {
			before := b.pushed()
			if err := b.pushManifest(ctx, repo, im.Digest, types.MediaType(im.MediaType), pushed); err != nil {
				return fmt.Errorf("image %s → %s: %w", im.Ref, target, err)
			}
			action = fmt.Sprintf("pushed (%s sent)", FormatBytes(b.pushed()-before))
		}
		if im.Tag != "" {
			raw, err := b.readChecked(BlobPath(im.Digest), maxManifestSize)
			if err != nil {
				return err
			}
			if err := b.pusher.Put(ctx, repo.Tag(im.Tag), rawManifest{raw, types.MediaType(im.MediaType)}); err != nil {
				return fmt.Errorf("image %s: tag %s: %w", im.Ref, repo.Tag(im.Tag), err)
			}
		}
		b.res.Images = append(b.res.Images, Done{Name: im.Ref, Dest: target.String(), Action: action})
		b.logf("image %s → %s: %s\n", im.Ref, target, action)
	}
	if b.o.Progress != nil {
		b.o.Progress(b.res.ImageBytes, b.res.ImageBytes)
	}
	return nil
}

// pushManifest pushes a manifest after everything it references: an
// index's children, an image's config and layers (each blob only when the
// registry does not have it).
func (b *installer) pushManifest(ctx context.Context, repo name.Repository, digest string, mt types.MediaType, pushed map[string]bool) error {
	if pushed[repo.String()+"@"+digest] {
		return nil
	}
	raw, err := b.readChecked(BlobPath(digest), maxManifestSize)
	if err != nil {
		return err
	}
	switch {
	case mt.IsIndex():
		idx, err := v1.ParseIndexManifest(bytes.NewReader(raw))
		if err != nil {
			return fmt.Errorf("index %s: %w", digest, err)
		}
		for _, c := range idx.Manifests {
			if err := b.pushManifest(ctx, repo, c.Digest.String(), c.MediaType, pushed); err != nil {
				return err
			}
		}
	case mt.IsImage():
		man, err := v1.ParseManifest(bytes.NewReader(raw))
		if err != nil {
			return fmt.Errorf("manifest %s: %w", digest, err)
		}
		if err := b.pushBlobs(ctx, repo, append([]v1.Descriptor{man.Config}, man.Layers...)); err != nil {
			return err
		}
	default:
		return fmt.Errorf("manifest %s: unsupported media type %q", digest, mt)
	}
	if err := b.pusher.Put(ctx, repo.Digest(digest), rawManifest{raw, mt}); err != nil {
		return fmt.Errorf("manifest %s: %w", digest, err)
	}
	pushed[repo.String()+"@"+digest] = true
	return nil
}

// pushJobs is how many blobs of an image are uploaded at once.
const pushJobs = 3

// pushBlobs uploads an image's blobs, pushJobs at a time; the first error
// stops the others.
func (b *installer) pushBlobs(ctx context.Context, repo name.Repository, ds []v1.Descriptor) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, pushJobs)
	var wg sync.WaitGroup
	for _, d := range ds {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := b.pushBlob(ctx, repo, d); err != nil {
				cancel(err)
			}
		}()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return nil
}

// pushBlob uploads one blob from the bundle unless the registry has it
// (go-containerregistry asks first); the registry checks its digest.
func (b *installer) pushBlob(ctx context.Context, repo name.Repository, d v1.Descriptor) error {
	sr, f, err := b.section(BlobPath(d.Digest.String()))
	if err != nil {
		return err
	}
	if f.Size != d.Size {
		return fmt.Errorf("blob %s: %d bytes in the bundle, the manifest says %d", d.Digest, f.Size, d.Size)
	}
	l := &blobLayer{d: d, sr: sr, onRead: func(n int64) { b.count(n, n) }}
	if err := b.pusher.Upload(ctx, repo, l); err != nil {
		return fmt.Errorf("blob %s: %w", d.Digest, err)
	}
	if !l.read.Load() {
		b.count(0, d.Size) // it was there
	}
	return nil
}

func nameOptions(plainHTTP bool) []name.Option {
	if plainHTTP {
		return []name.Option{name.Insecure}
	}
	return nil
}

func (b *installer) pushed() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.res.PushedBytes
}

// count adds sent bytes to what was pushed and done bytes to the
// progress (a blob the registry had is done without being sent).
func (b *installer) count(sent, done int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.res.PushedBytes += sent
	b.done += done
	if b.o.Progress != nil {
		b.o.Progress(b.done, b.res.ImageBytes)
	}
}

// rawManifest is a manifest pushed as it is, with its media type.
type rawManifest struct {
	raw []byte
	mt  types.MediaType
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.raw, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mt, nil }

// blobLayer is a blob of the bundle as a go-containerregistry layer: only
// what an upload uses (digest, size, media type, the compressed bytes).
type blobLayer struct {
	d      v1.Descriptor
	sr     *io.SectionReader
	onRead func(int64)
	read   atomic.Bool
}

var errNotNeeded = errors.New("not needed to push a blob")

func (l *blobLayer) Digest() (v1.Hash, error)            { return l.d.Digest, nil }
func (l *blobLayer) DiffID() (v1.Hash, error)            { return v1.Hash{}, errNotNeeded }
func (l *blobLayer) Size() (int64, error)                { return l.d.Size, nil }
func (l *blobLayer) MediaType() (types.MediaType, error) { return l.d.MediaType, nil }
func (l *blobLayer) Uncompressed() (io.ReadCloser, error) {
	return nil, errNotNeeded
}

// Compressed reads the blob from the bundle from its start (a retry reads
// it again).
func (l *blobLayer) Compressed() (io.ReadCloser, error) {
	l.read.Store(true)
	return io.NopCloser(&countReader{r: io.NewSectionReader(l.sr, 0, l.sr.Size()), fn: l.onRead}), nil
}

type countReader struct {
	r  io.Reader
	fn func(int64)
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.fn(int64(n))
	}
	return n, err
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
	w, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, os.FileMode(f.Mode))
	if err != nil {
		return fmt.Errorf("%s: %w", dest, err)
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(w, h), content)
	if err == nil && hex.EncodeToString(h.Sum(nil)) != wantSum {
		err = &Error{Path: f.Path, Problem: "checksum mismatch: the bundle changed after it was verified"}
	}
	if err == nil {
		err = w.Chmod(os.FileMode(f.Mode))
	}
	if err == nil {
		err = w.Sync()
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = root.Rename(tmp, rel)
	}
	if err != nil {
		root.Remove(tmp)
		return fmt.Errorf("%s: %w", dest, err)
	}
	if d, err := root.Open(path.Dir(rel)); err == nil { // the rename survives a crash
		d.Sync()
		d.Close()
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
