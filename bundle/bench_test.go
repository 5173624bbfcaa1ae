package bundle

import (
	"bufio"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/switchyard/switchyard/bundle/minisign"
	"github.com/switchyard/switchyard/bundle/registrytest"
	"github.com/switchyard/switchyard/internal/testenv"
)

// seededLayer is an uncompressed layer of a deterministic random stream:
// generated again each time it is read, never held in memory.
type seededLayer struct {
	seed   [32]byte
	size   int64
	digest v1.Hash
}

func newSeededLayer(seed byte, size int64) (*seededLayer, error) {
	l := &seededLayer{size: size}
	l.seed[0] = seed
	h, n, err := v1.SHA256(l.open())
	if err != nil || n != size {
		return nil, fmt.Errorf("seeded layer: %d bytes, %v", n, err)
	}
	l.digest = h
	return l, nil
}

func (l *seededLayer) open() io.ReadCloser {
	return io.NopCloser(io.LimitReader(mrand.NewChaCha8(l.seed), l.size))
}

func (l *seededLayer) Digest() (v1.Hash, error)             { return l.digest, nil }
func (l *seededLayer) DiffID() (v1.Hash, error)             { return l.digest, nil }
func (l *seededLayer) Compressed() (io.ReadCloser, error)   { return l.open(), nil }
func (l *seededLayer) Uncompressed() (io.ReadCloser, error) { return l.open(), nil }
func (l *seededLayer) Size() (int64, error)                 { return l.size, nil }
func (l *seededLayer) MediaType() (types.MediaType, error)  { return types.OCIUncompressedLayer, nil }

// resetPeakRSS resets the process's peak resident set size (VmHWM) so that
// the next peakRSS measures one phase alone; false when the kernel refuses.
func resetPeakRSS() bool { return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil }

// peakRSS is the process's peak resident set size in bytes (VmHWM).
func peakRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return -1
}

// BenchmarkBundle1GB creates, verifies and installs a bundle of one image of
// 1 GiB (four 256 MiB layers of random data, generated as a stream) between
// two real docker-registry servers on loopback, and reports each phase's
// throughput and the process's peak RSS during it.
// SWITCHYARD_BUNDLE_BENCH_MB sets another size (MiB).
func BenchmarkBundle1GB(b *testing.B) {
	registrytest.Require(b, false)
	size := int64(1024) << 20
	if s := os.Getenv("SWITCHYARD_BUNDLE_BENCH_MB"); s != "" {
		mb, err := strconv.Atoi(s)
		if err != nil || mb < 4 {
			b.Fatalf("SWITCHYARD_BUNDLE_BENCH_MB=%q: want a number of MiB ≥ 4", s)
		}
		size = int64(mb) << 20
	}
	dir := b.TempDir()
	src := testenv.FreeAddr(b, "127.0.0.1")
	os.MkdirAll(filepath.Join(dir, "src"), 0o755)
	registrytest.Start(b, "", src, filepath.Join(dir, "src"))
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	for i := range 4 {
		l, err := newSeededLayer(byte(i+1), size/4)
		if err != nil {
			b.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			b.Fatal(err)
		}
	}
	ref, _ := name.ParseReference(src + "/bench/big:1")
	if err := remote.Write(ref, img); err != nil {
		b.Fatal(err)
	}
	apps := filepath.Join(dir, "apps")
	writeFiles(b, apps, map[string]string{"big/app.yaml": "name: big\ntype: marathon\nmarathon:\n  id: /big\n  cpus: 0.1\n  mem: 32\n  container: {type: DOCKER, docker: {image: \"" + ref.String() + "\"}}\n"})
	sk, pk, err := minisign.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	type phase struct {
		name  string
		bytes int64
		d     time.Duration
		peak  int64
	}
	var phases []phase
	reset := true
	measure := func(name string, f func() int64) {
		reset = resetPeakRSS() && reset
		t0 := time.Now()
		n := f()
		phases = append(phases, phase{name, n, time.Since(t0), peakRSS()})
	}
	b.ResetTimer()
	for i := range b.N {
		file := filepath.Join(dir, "big.bundle")
		var v *Verified
		measure("create", func() int64 {
			res, err := Create(context.Background(), CreateOptions{Out: file, AppsDir: apps, Signer: sk})
			if err != nil {
				b.Fatal(err)
			}
			return res.Size
		})
		measure("verify", func() int64 {
			if v, err = VerifyFile(file, VerifyOptions{PublicKey: pk}); err != nil {
				b.Fatal(err)
			}
			return v.Size
		})
		site := testenv.FreeAddr(b, "127.0.0.1")
		siteDir := filepath.Join(dir, fmt.Sprint("site-", i))
		os.MkdirAll(siteDir, 0o755)
		registrytest.Start(b, "", site, siteDir)
		measure("install", func() int64 {
			res, err := Install(context.Background(), file, v, InstallOptions{Registry: site, ChartsDir: filepath.Join(dir, "installed")})
			if err != nil {
				b.Fatal(err)
			}
			return res.PushedBytes
		})
		d, err := remote.Head(mustRef(b, site+"/bench/big:1"))
		if want, _ := img.Digest(); err != nil || d.Digest != want {
			b.Fatalf("site image: %v, %v; want digest %s", d, err, want)
		}
		os.RemoveAll(siteDir)
		os.Remove(file)
	}
	b.StopTimer()
	sum := map[string]phase{}
	for _, p := range phases {
		s := sum[p.name]
		s.bytes, s.d, s.peak = s.bytes+p.bytes, s.d+p.d, max(s.peak, p.peak)
		sum[p.name] = s
	}
	if !reset {
		b.Log("the kernel refused to reset the peak RSS (/proc/self/clear_refs): each phase's peak includes the set-up's")
	}
	for _, n := range []string{"create", "verify", "install"} {
		p := sum[n]
		mbs := float64(p.bytes) / p.d.Seconds() / 1e6
		b.ReportMetric(mbs, n+"-MB/s")
		b.ReportMetric(float64(p.peak)/(1<<20), n+"-peak-RSS-MiB")
		b.Logf("%-7s %s in %s: %.1f MB/s, peak RSS %.1f MiB", n, FormatBytes(p.bytes/int64(b.N)), (p.d / time.Duration(b.N)).Round(time.Millisecond), mbs, float64(p.peak)/(1<<20))
	}
}

func mustRef(tb testing.TB, s string) name.Reference {
	tb.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}
