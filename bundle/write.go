package bundle

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"time"
)

// Source is one file to write into a bundle: its manifest entry and how to
// read its content (opened once, when it is written).
type Source struct {
	File
	// Open returns the content; what it reads must have File's size and
	// checksum, or Write fails naming the file.
	Open func(ctx context.Context) (io.ReadCloser, error)
}

// BytesSource is a file whose content is in memory.
func BytesSource(path string, data []byte, mode uint32) Source {
	sum := sha256.Sum256(data)
	return Source{
		File: File{Path: path, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:]), Mode: mode},
		Open: func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
	}
}

// FileSource is a local file, read once now for its checksum and again when
// it is written (a change in between fails the write).
func FileSource(path, local string, mode uint32) (Source, error) {
	f, err := os.Open(local)
	if err != nil {
		return Source{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return Source{}, fmt.Errorf("read %s: %w", local, err)
	}
	return Source{
		File: File{Path: path, Size: n, SHA256: hex.EncodeToString(h.Sum(nil)), Mode: mode},
		Open: func(context.Context) (io.ReadCloser, error) { return os.Open(local) },
	}, nil
}

// Write writes a bundle to w: the manifest (with sig, its signature, when
// not nil) and then each source, in the manifest's order, streamed through
// a fixed buffer and checked against its size and checksum on the way.
// progress, when set, is called with the bytes of content written so far.
// The manifest's Files must be the sources' Files, in the same order.
func Write(ctx context.Context, w io.Writer, manifest []byte, sig []byte, sources []Source, progress func(int64)) error {
	tw := tar.NewWriter(w)
	mtime := time.Unix(0, 0)
	header := func(name string, size int64, mode uint32) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: int64(mode),
			ModTime: mtime, Format: tar.FormatPAX})
	}
	if err := header(ManifestName, int64(len(manifest)), 0o644); err != nil {
		return err
	}
	if _, err := tw.Write(manifest); err != nil {
		return err
	}
	if sig != nil {
		if err := header(SignatureName, int64(len(sig)), 0o644); err != nil {
			return err
		}
		if _, err := tw.Write(sig); err != nil {
			return err
		}
	}
	buf := make([]byte, 1<<20)
	var done int64
	for _, s := range sources {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := header(s.Path, s.Size, s.Mode); err != nil {
			return fmt.Errorf("%s: %w", s.Path, err)
		}
		rc, err := s.Open(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", s.Path, err)
		}
		h := sha256.New()
		pw := &progressWriter{w: io.MultiWriter(tw, h), base: done, fn: progress}
		n, err := io.CopyBuffer(pw, io.LimitReader(rc, s.Size), buf)
		if err == nil && n == s.Size {
			// The source must end here too.
			var one [1]byte
			if m, _ := io.ReadFull(rc, one[:]); m > 0 {
				err = fmt.Errorf("longer than the %d bytes expected", s.Size)
			}
		}
		rc.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", s.Path, err)
		}
		if n != s.Size {
			return fmt.Errorf("%s: %d bytes, want %d", s.Path, n, s.Size)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != s.SHA256 {
			return fmt.Errorf("%s: content has sha256 %s, want %s (it changed while the bundle was made, or its registry sent something else)", s.Path, got, s.SHA256)
		}
		done += n
	}
	return tw.Close()
}

// progressWriter calls fn with base + the bytes written through it, at most
// every MiB.
type progressWriter struct {
	w        io.Writer
	base, n  int64
	lastCall int64
	fn       func(int64)
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.n += int64(n)
	if p.fn != nil && p.n-p.lastCall >= 1<<20 {
		p.fn(p.base + p.n)
		p.lastCall = p.n
	}
	return n, err
}
