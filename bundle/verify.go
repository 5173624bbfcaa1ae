package bundle

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/switchyard/switchyard/bundle/minisign"
)

// Error is a bundle that does not verify: Path names the file (the
// manifest, its signature, or a file of the bundle), Problem what is wrong.
type Error struct {
	Path    string
	Problem string
}

// Error renders "PATH: PROBLEM".
func (e *Error) Error() string { return e.Path + ": " + e.Problem }

func verr(path, format string, args ...any) *Error {
	return &Error{Path: path, Problem: fmt.Sprintf(format, args...)}
}

// VerifyOptions say how a bundle is verified.
type VerifyOptions struct {
	// PublicKey is the key the manifest must be signed with.
	PublicKey *minisign.PublicKey
	// SkipSignature accepts a bundle without checking its signature (then
	// PublicKey may be nil): the checksums and the file list are still
	// checked, which protects against damage, not against an attacker.
	SkipSignature bool
	// Progress, when set, is called with the bytes read so far.
	Progress func(read int64)
}

// Verified is a bundle that verified: its manifest, and where each file's
// content is in the tar (for Install, which reads it from there).
type Verified struct {
	Manifest *Manifest
	// ManifestSHA256 is the manifest's checksum (hex).
	ManifestSHA256 string
	// Signed says whether the signature was checked; KeyID and
	// TrustedComment are the signature's.
	Signed                bool
	KeyID, TrustedComment string
	// Offsets are the offsets of the files' contents in the tar, by path.
	Offsets map[string]int64
	// Size is the tar's size in bytes.
	Size int64
}

// countingReader counts what was read through it; tar.Reader reads headers
// and contents through it without reading ahead, so the count after Next is
// where the entry's content starts.
type countingReader struct {
	r        io.Reader
	n        int64
	progress func(int64)
	last     int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.progress != nil && (c.n-c.last >= 1<<20 || err != nil) {
		c.progress(c.n)
		c.last = c.n
	}
	return n, err
}

// Verify reads a bundle from r once, as a stream: the manifest (the first
// entry) and its signature (the second) first, then every file, each checked
// against the manifest while it passes. It fails, with an *Error naming the
// file, on a signature that does not verify (or is missing, unless
// SkipSignature), an entry that is not a regular file or is not in the
// manifest or comes twice, a size or checksum that differs, and a file of
// the manifest that is missing.
func Verify(r io.Reader, o VerifyOptions) (*Verified, error) {
	if o.PublicKey == nil && !o.SkipSignature {
		return nil, errors.New("verify: no public key to check the signature with")
	}
	cr := &countingReader{r: r, progress: o.Progress}
	tr := tar.NewReader(cr)
	next := func() (*tar.Header, error) {
		h, err := tr.Next()
		if err == io.EOF {
			return nil, err
		}
		if err != nil {
			return nil, verr("(bundle)", "not a readable tar after %d bytes: %v", cr.n, err)
		}
		if err := checkHeader(h); err != nil {
			return nil, err
		}
		return h, nil
	}

	h, err := next()
	if err == io.EOF {
		return nil, verr(ManifestName, "missing: the bundle is empty")
	}
	if err != nil {
		return nil, err
	}
	if h.Name != ManifestName {
		return nil, verr(ManifestName, "missing: the first entry is %q (not a switchyard bundle, or it was rearranged)", h.Name)
	}
	manifestData, err := readSmall(tr, h, maxManifestSize)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(manifestData)
	v := &Verified{ManifestSHA256: hex.EncodeToString(sum[:]), Offsets: map[string]int64{}}

	h, err = next()
	if err != nil && err != io.EOF {
		return nil, err
	}
	var sig []byte
	if h != nil && h.Name == SignatureName {
		if sig, err = readSmall(tr, h, maxSignatureSize); err != nil {
			return nil, err
		}
		if h, err = next(); err != nil && err != io.EOF {
			return nil, err
		}
	}
	if !o.SkipSignature {
		if sig == nil {
			return nil, verr(SignatureName, "missing: the bundle is not signed (sign it with `bundle create --sign KEY`)")
		}
		tc, err := o.PublicKey.Verify(manifestData, sig)
		if err != nil {
			return nil, verr(ManifestName, "%v (the manifest or its signature was changed, or another key signed it)", err)
		}
		v.Signed, v.KeyID, v.TrustedComment = true, o.PublicKey.ID(), tc
	}
	// Only now, signed or explicitly not, is the manifest's content used.
	m, err := ParseManifest(manifestData)
	if err != nil {
		return nil, verr(ManifestName, "%v", err)
	}
	v.Manifest = m
	want := make(map[string]File, len(m.Files))
	for _, f := range m.Files {
		want[f.Path] = f
	}
	buf := make([]byte, 1<<20)
	for ; h != nil; h, err = next() {
		f, ok := want[h.Name]
		switch {
		case h.Name == ManifestName || h.Name == SignatureName:
			return nil, verr(h.Name, "comes again later in the tar")
		case !ok:
			if _, seen := v.Offsets[h.Name]; seen {
				return nil, verr(h.Name, "comes twice in the tar")
			}
			return nil, verr(h.Name, "not in the manifest: a file was added to the bundle")
		case h.Size != f.Size:
			return nil, verr(h.Name, "size %d, the manifest says %d", h.Size, f.Size)
		}
		v.Offsets[h.Name] = cr.n
		delete(want, h.Name)
		hash := sha256.New()
		if _, err := io.CopyBuffer(hash, tr, buf); err != nil {
			return nil, verr(h.Name, "cannot be read: %v (the bundle is truncated?)", err)
		}
		if got := hex.EncodeToString(hash.Sum(nil)); got != f.SHA256 {
			return nil, verr(h.Name, "checksum mismatch: sha256 %s, the manifest says %s (the file was changed)", got, f.SHA256)
		}
	}
	if err != io.EOF {
		return nil, err
	}
	for _, f := range m.Files { // in manifest order: the first missing one
		if _, missing := want[f.Path]; missing {
			return nil, verr(f.Path, "missing from the bundle (%d files missing in all)", len(want))
		}
	}
	// After the archive's end only its zero padding may follow: nothing
	// may ride along unlisted.
	if n, err := io.Copy(zeroWriter{}, cr); err != nil {
		return nil, verr("(bundle)", "data after the end of the archive (%d bytes of zeros before it): %v", n, err)
	}
	v.Size = cr.n
	return v, nil
}

// checkHeader refuses an entry that is not a regular file at a clean path.
func checkHeader(h *tar.Header) error {
	if h.Typeflag != tar.TypeReg {
		return verr(h.Name, "is not a regular file (tar type %q): a bundle holds no links, directories or devices", h.Typeflag)
	}
	if h.Name == ManifestName || h.Name == SignatureName {
		return nil
	}
	if err := CheckPath(h.Name); err != nil {
		return verr(h.Name, "unsafe path: %v", err)
	}
	return nil
}

// readSmall reads an entry that must fit in memory.
func readSmall(tr io.Reader, h *tar.Header, limit int64) ([]byte, error) {
	if h.Size > limit {
		return nil, verr(h.Name, "%d bytes, more than the %d allowed", h.Size, limit)
	}
	b, err := io.ReadAll(io.LimitReader(tr, limit))
	if err != nil {
		return nil, verr(h.Name, "cannot be read: %v", err)
	}
	return b, nil
}

// VerifyFile is Verify of a bundle file.
func VerifyFile(bundlePath string, o VerifyOptions) (*Verified, error) {
	f, err := os.Open(bundlePath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Verify(f, o)
}

// zeroWriter accepts only zero bytes.
type zeroWriter struct{}

func (zeroWriter) Write(p []byte) (int, error) {
	for i, b := range p {
		if b != 0 {
			return i, errors.New("something was appended to the bundle")
		}
	}
	return len(p), nil
}
