package bundle

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"time"
)

// The bundle format's names.
const (
	// APIVersion and Kind identify a bundle manifest.
	APIVersion = "switchyard.io/v1"
	Kind       = "Bundle"
	// ManifestName is the tar's first entry, SignatureName its second when
	// the bundle is signed (a minisign signature of the manifest's bytes).
	ManifestName  = "manifest.json"
	SignatureName = "manifest.json.minisig"
	// BinaryPath is the switchyard binary in the bundle.
	BinaryPath = "bin/switchyard"
	// LayoutDir holds the OCI image layout (oci-layout, index.json, blobs/).
	LayoutDir = "images"
)

// Top-level directories of the files in a bundle.
const (
	dirBin      = "bin"
	dirLB       = "lb"
	dirCapacity = "capacity"
	dirApps     = "apps"
)

// Limits on what Verify reads into memory.
const (
	maxManifestSize  = 64 << 20
	maxSignatureSize = 16 << 10
)

// Manifest lists everything in a bundle.
type Manifest struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// Created is when the bundle was made.
	Created time.Time `json:"created"`
	// Context is the switchyard context it was made for.
	Context string `json:"context,omitempty"`
	// Platform is the binary's OS/architecture, e.g. linux/amd64.
	Platform string `json:"platform"`
	// Version is the version of the switchyard that made it.
	Version string `json:"version,omitempty"`
	// LBModuleDir is where the load-balancer module was rendered for
	// (switchyard.lua's directory on the nginx host; "" without lb files).
	LBModuleDir string `json:"lbModuleDir,omitempty"`
	// Apps are the apps whose files are under apps/<name>/.
	Apps []App `json:"apps,omitempty"`
	// Images are the container images in the OCI layout.
	Images []Image `json:"images,omitempty"`
	// Files are every file of the bundle but the manifest and its
	// signature, in the order they are in the tar.
	Files []File `json:"files"`
}

// File is one file of a bundle.
type File struct {
	// Path is a clean relative slash-separated path.
	Path string `json:"path"`
	// Size in bytes and SHA256 (lower-case hex) of the content.
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// Mode is 0644, or 0755 for the binary.
	Mode uint32 `json:"mode"`
}

// App is one app of the apps directory the bundle was made from.
type App struct {
	// Name is the app's name; its files are under apps/<Name>/.
	Name string `json:"name"`
	// Type is marathon or helm.
	Type string `json:"type"`
	// Images are the image references (as written) the app uses.
	Images []string `json:"images,omitempty"`
}

// Image is one image in the bundle's OCI layout.
type Image struct {
	// Ref is the reference as the apps write it (e.g. "nginx:1.27").
	Ref string `json:"ref"`
	// Repository is its repository path without the registry (e.g.
	// "library/nginx"): where it goes in the site's registry.
	Repository string `json:"repository"`
	// Tag is the tag Ref names ("" when it names a digest only).
	Tag string `json:"tag,omitempty"`
	// Digest is the manifest's digest (the tag resolved when it was made).
	Digest string `json:"digest"`
	// MediaType and Size are the manifest's (an image or an index).
	MediaType string `json:"mediaType"`
	Size      int64  `json:"size"`
	// Source is the repository it was copied from (after mirrors).
	Source string `json:"source"`
}

// BlobPath is the path of a blob (digest "sha256:<hex>") in the bundle.
func BlobPath(digest string) string {
	alg, hex, _ := strings.Cut(digest, ":")
	return LayoutDir + "/blobs/" + alg + "/" + hex
}

var (
	hexSHA256 = regexp.MustCompile(`^[0-9a-f]{64}$`)
	digestRE  = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
)

// CheckPath reports whether p may name a file in a bundle: a clean,
// relative, slash-separated path (fs.ValidPath: no "..", no leading "/", no
// empty or "." element), without backslashes or control characters, under
// one of the bundle's directories.
func CheckPath(p string) error {
	if !fs.ValidPath(p) || p == "." {
		return fmt.Errorf("%q is not a clean relative path (absolute, .. or empty elements)", p)
	}
	if strings.ContainsAny(p, "\\") || strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fmt.Errorf("%q has a backslash or a control character", p)
	}
	top, _, ok := strings.Cut(p, "/")
	switch {
	case p == BinaryPath:
	case ok && (top == dirLB || top == dirCapacity || top == dirApps || top == LayoutDir):
	default:
		return fmt.Errorf("%q is outside the bundle's directories (%s, %s/, %s/, %s/, %s/)", p, BinaryPath, dirLB, dirCapacity, dirApps, LayoutDir)
	}
	return nil
}

// ParseManifest decodes a manifest strictly (unknown fields are errors) and
// validates it.
func ParseManifest(data []byte) (*Manifest, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: %w", ManifestName, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%s: data after the manifest", ManifestName)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Marshal encodes the manifest as it is signed and stored.
func (m *Manifest) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", ManifestName, err)
	}
	return append(b, '\n'), nil
}

// Validate checks the manifest's own consistency: kind, paths, checksums,
// modes, each image's digest and manifest blob; each error names its field.
func (m *Manifest) Validate() error {
	if m.APIVersion != APIVersion || m.Kind != Kind {
		return fmt.Errorf("%s: apiVersion/kind %q/%q: not a switchyard bundle (want %s/%s)", ManifestName, m.APIVersion, m.Kind, APIVersion, Kind)
	}
	files := map[string]File{}
	for i, f := range m.Files {
		field := fmt.Sprintf("%s: files[%d] (%s)", ManifestName, i, f.Path)
		if err := CheckPath(f.Path); err != nil {
			return fmt.Errorf("%s: path: %w", field, err)
		}
		if _, dup := files[f.Path]; dup {
			return fmt.Errorf("%s: listed twice", field)
		}
		if f.Size < 0 || !hexSHA256.MatchString(f.SHA256) {
			return fmt.Errorf("%s: size %d / sha256 %q: want a size ≥ 0 and 64 lower-case hex digits", field, f.Size, f.SHA256)
		}
		if f.Mode != 0o644 && f.Mode != 0o755 {
			return fmt.Errorf("%s: mode %#o: want 0644 or 0755", field, f.Mode)
		}
		if strings.HasPrefix(f.Path, LayoutDir+"/blobs/") && f.Path != BlobPath("sha256:"+f.SHA256) {
			return fmt.Errorf("%s: a blob's path must be its digest (images/blobs/sha256/%s)", field, f.SHA256)
		}
		files[f.Path] = f
	}
	for i, im := range m.Images {
		field := fmt.Sprintf("%s: images[%d] (%s)", ManifestName, i, im.Ref)
		if !digestRE.MatchString(im.Digest) {
			return fmt.Errorf("%s: digest %q: want sha256:<64 hex digits>", field, im.Digest)
		}
		if im.Repository == "" || im.Ref == "" {
			return fmt.Errorf("%s: ref and repository are required", field)
		}
		f, ok := files[BlobPath(im.Digest)]
		if !ok || f.Size != im.Size {
			return fmt.Errorf("%s: its manifest blob %s is not listed in files with size %d", field, BlobPath(im.Digest), im.Size)
		}
	}
	for i, a := range m.Apps {
		if err := CheckPath(dirApps + "/" + a.Name + "/app.yaml"); err != nil || strings.Contains(a.Name, "/") {
			return fmt.Errorf("%s: apps[%d]: name %q is not a plain name", ManifestName, i, a.Name)
		}
		for _, ref := range a.Images {
			if !slices.ContainsFunc(m.Images, func(im Image) bool { return im.Ref == ref }) {
				return fmt.Errorf("%s: apps[%d] (%s): image %s is not in images", ManifestName, i, a.Name, ref)
			}
		}
	}
	return nil
}

// TotalSize is the sum of the files' sizes.
func (m *Manifest) TotalSize() int64 {
	var n int64
	for _, f := range m.Files {
		n += f.Size
	}
	return n
}
