package bundle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// refNameAnnotation is the OCI layout's annotation for an image's name.
const refNameAnnotation = "org.opencontainers.image.ref.name"

// Registries reads images from their registries for Create.
type Registries struct {
	// Mirrors maps a registry (as in a reference: docker.io,
	// registry.example:5000) to another one images of it are copied from
	// instead; the references and repositories stay the original's.
	Mirrors map[string]string
	// Options are go-containerregistry's (auth keychain, transport, ...).
	Options []remote.Option
	// PlainHTTP reads every registry over http (go-containerregistry
	// already does for loopback and private addresses).
	PlainHTTP bool

	puller *remote.Puller
}

func (r *Registries) nameOptions() []name.Option {
	if r.PlainHTTP {
		return []name.Option{name.Insecure}
	}
	return nil
}

// resolved is one image, resolved: its manifest entry and its blobs'
// sources (the manifests, in memory, and the config and layers, fetched
// when the bundle is written).
type resolved struct {
	Image
	blobs []Source
}

// sourceRepo is where ref's image is copied from: its own repository, or
// the same path at its registry's mirror.
func (r *Registries) sourceRepo(ref name.Reference) (name.Repository, error) {
	repo := ref.Context()
	for from, to := range r.Mirrors {
		reg, err := name.NewRegistry(from, r.nameOptions()...)
		if err != nil {
			return repo, fmt.Errorf("mirror %s=%s: %w", from, to, err)
		}
		if reg.RegistryStr() == repo.RegistryStr() {
			return name.NewRepository(strings.TrimSuffix(to, "/")+"/"+repo.RepositoryStr(), r.nameOptions()...)
		}
	}
	return repo, nil
}

// resolve reads ref's manifest (and for an index every child's) and lists
// its blobs. A tag is resolved to the digest of what the registry serves
// now; a digest must be what the registry serves.
func (r *Registries) resolve(ctx context.Context, refStr string) (*resolved, error) {
	if r.puller == nil {
		p, err := remote.NewPuller(r.Options...)
		if err != nil {
			return nil, err
		}
		r.puller = p
	}
	ref, err := name.ParseReference(refStr, r.nameOptions()...)
	if err != nil {
		return nil, fmt.Errorf("image %q: %w", refStr, err)
	}
	src, err := r.sourceRepo(ref)
	if err != nil {
		return nil, err
	}
	srcRef := name.Reference(src.Tag(ref.Identifier()))
	if d, ok := ref.(name.Digest); ok {
		srcRef = src.Digest(d.DigestStr())
	}
	desc, err := r.puller.Get(ctx, srcRef)
	if err != nil {
		return nil, fmt.Errorf("image %s: read its manifest from %s: %w", refStr, srcRef, err)
	}
	if d, ok := ref.(name.Digest); ok && desc.Digest.String() != d.DigestStr() {
		return nil, fmt.Errorf("image %s: %s serves digest %s", refStr, srcRef, desc.Digest)
	}
	out := &resolved{Image: Image{Ref: refStr, Repository: ref.Context().RepositoryStr(), Digest: desc.Digest.String(),
		MediaType: string(desc.MediaType), Size: desc.Size, Source: src.String()}}
	if t, ok := ref.(name.Tag); ok {
		out.Tag = t.TagStr()
	}
	seen := map[string]bool{}
	if err := r.addManifest(ctx, out, src, desc.Descriptor, desc.Manifest, seen); err != nil {
		return nil, fmt.Errorf("image %s: %w", refStr, err)
	}
	return out, nil
}

// addManifest adds a manifest blob and what it references: an index's
// child manifests (fetched now), an image's config and layers (fetched when
// written).
func (r *Registries) addManifest(ctx context.Context, out *resolved, src name.Repository, d v1.Descriptor, raw []byte, seen map[string]bool) error {
	if sum := sha256.Sum256(raw); "sha256:"+hex.EncodeToString(sum[:]) != d.Digest.String() {
		return fmt.Errorf("manifest %s: the registry sent content of another digest", d.Digest)
	}
	if seen[d.Digest.String()] {
		return nil
	}
	seen[d.Digest.String()] = true
	out.blobs = append(out.blobs, BytesSource(BlobPath(d.Digest.String()), raw, 0o644))
	switch {
	case d.MediaType.IsIndex():
		idx, err := v1.ParseIndexManifest(strings.NewReader(string(raw)))
		if err != nil {
			return fmt.Errorf("index %s: %w", d.Digest, err)
		}
		for _, child := range idx.Manifests {
			cd, err := r.puller.Get(ctx, src.Digest(child.Digest.String()))
			if err != nil {
				return fmt.Errorf("index %s: child %s: %w", d.Digest, child.Digest, err)
			}
			if err := r.addManifest(ctx, out, src, cd.Descriptor, cd.Manifest, seen); err != nil {
				return err
			}
		}
	case d.MediaType.IsImage():
		m, err := v1.ParseManifest(strings.NewReader(string(raw)))
		if err != nil {
			return fmt.Errorf("manifest %s: %w", d.Digest, err)
		}
		for _, b := range append([]v1.Descriptor{m.Config}, m.Layers...) {
			if seen[b.Digest.String()] {
				continue
			}
			seen[b.Digest.String()] = true
			out.blobs = append(out.blobs, r.blobSource(src, b))
		}
	default:
		return fmt.Errorf("manifest %s: media type %q is neither an image nor an index (schema 1 images are not supported: push them again with a current client)", d.Digest, d.MediaType)
	}
	return nil
}

// blobSource is a config or layer blob, streamed from src when written.
func (r *Registries) blobSource(src name.Repository, b v1.Descriptor) Source {
	return Source{
		File: File{Path: BlobPath(b.Digest.String()), Size: b.Size, SHA256: b.Digest.Hex, Mode: 0o644},
		Open: func(ctx context.Context) (io.ReadCloser, error) {
			l, err := r.puller.Layer(ctx, src.Digest(b.Digest.String()))
			if err != nil {
				return nil, fmt.Errorf("fetch blob from %s: %w", src, err)
			}
			return l.Compressed()
		},
	}
}

// layoutSources are the OCI layout's oci-layout and index.json for images.
func layoutSources(images []Image) ([]Source, error) {
	idx := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
	for _, im := range images {
		h, err := v1.NewHash(im.Digest)
		if err != nil {
			return nil, err
		}
		idx.Manifests = append(idx.Manifests, v1.Descriptor{MediaType: types.MediaType(im.MediaType), Size: im.Size, Digest: h,
			Annotations: map[string]string{refNameAnnotation: im.Ref}})
	}
	b, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return nil, err
	}
	return []Source{
		BytesSource(LayoutDir+"/oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`+"\n"), 0o644),
		BytesSource(LayoutDir+"/index.json", append(b, '\n'), 0o644),
	}, nil
}

// resolveAll resolves every reference (sorted, each once) and returns the
// images and the layout's files, each blob once.
func (r *Registries) resolveAll(ctx context.Context, refs []string, log func(string, ...any)) ([]Image, []Source, error) {
	refs = uniqueSorted(refs)
	var images []Image
	var blobs []Source
	have := map[string]bool{}
	for _, ref := range refs {
		res, err := r.resolve(ctx, ref)
		if err != nil {
			return nil, nil, err
		}
		log("image %s: %s (%s)\n", ref, res.Digest, res.Source)
		images = append(images, res.Image)
		for _, b := range res.blobs {
			if !have[b.Path] {
				have[b.Path] = true
				blobs = append(blobs, b)
			}
		}
	}
	sort.Slice(blobs, func(i, j int) bool { return blobs[i].Path < blobs[j].Path })
	if len(images) == 0 {
		return nil, nil, nil
	}
	layout, err := layoutSources(images)
	if err != nil {
		return nil, nil, err
	}
	return images, append(layout, blobs...), nil
}

func uniqueSorted(s []string) []string {
	m := map[string]bool{}
	var out []string
	for _, x := range s {
		if !m[x] {
			m[x] = true
			out = append(out, x)
		}
	}
	sort.Strings(out)
	return out
}
