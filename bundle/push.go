package bundle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// pushImages pushes every image of the bundle to the site's registry
// under its repository path: an image the registry has (by digest) is
// not sent again, and each tag is set.
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
