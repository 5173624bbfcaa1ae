package bundle

import (
	"context"
	"debug/elf"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/switchyard/switchyard/appspec"
	"github.com/switchyard/switchyard/bundle/minisign"
	"github.com/switchyard/switchyard/lb"
)

// CreateOptions say what goes into a bundle.
type CreateOptions struct {
	// Out is the bundle file; it is written as Out.partial and renamed
	// when complete.
	Out string
	// Context names the switchyard context the bundle is for (recorded).
	Context string
	// Binary is the switchyard binary to include, for Platform (OS/ARCH,
	// default this one's); checked to be an ELF file of that architecture.
	Binary, Platform string
	// Version is recorded as the version that made the bundle.
	Version string
	// LB, when set, renders the load-balancer module into lb/.
	LB *lb.Options
	// CapacityDir, when set, is a capacity plan's emitted files (apps/ and
	// kubelet/, as `capacity plan --emit DIR` writes them), put in capacity/.
	CapacityDir string
	// AppsDir holds the apps (app.yaml files); "" for none.
	AppsDir string
	// Registries reads the images.
	Registries *Registries
	// Signer signs the manifest (nil: the bundle is not signed).
	Signer *minisign.PrivateKey
	// Log receives one line per step; Progress, when set, is called with
	// the bytes written so far and the total.
	Log      io.Writer
	Progress func(done, total int64)
	// Now is the creation time (default time.Now).
	Now func() time.Time
}

// CreateResult summarises a bundle that was made.
type CreateResult struct {
	Manifest *Manifest
	// Size is the bundle file's size; Duration how long it took to write
	// (Resolve the time to read the apps and the images' manifests).
	Size              int64
	Resolve, Duration time.Duration
}

// Create collects everything the options name, resolves every image to a
// digest, writes the manifest (signed when a Signer is given) and streams
// every file and blob into the bundle. Nothing is left at Out on failure.
func Create(ctx context.Context, o CreateOptions) (*CreateResult, error) {
	t0 := time.Now()
	logf := func(format string, args ...any) {
		if o.Log != nil {
			fmt.Fprintf(o.Log, format, args...)
		}
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	if o.Platform == "" {
		o.Platform = runtime.GOOS + "/" + runtime.GOARCH
	}
	m := &Manifest{APIVersion: APIVersion, Kind: Kind, Created: now().UTC().Truncate(time.Second), Context: o.Context,
		Platform: o.Platform, Version: o.Version}
	var sources []Source

	if o.Binary != "" {
		if err := checkBinary(o.Binary, o.Platform); err != nil {
			return nil, err
		}
		s, err := FileSource(BinaryPath, o.Binary, 0o755)
		if err != nil {
			return nil, fmt.Errorf("binary: %w", err)
		}
		sources = append(sources, s)
	}
	if o.LB != nil {
		files, err := lb.Render(*o.LB)
		if err != nil {
			return nil, fmt.Errorf("load-balancer module: %w", err)
		}
		m.LBModuleDir = o.LB.ModuleDir
		sources = append(sources,
			BytesSource(path.Join(dirLB, lb.ModuleName), files.Module, 0o644),
			BytesSource(path.Join(dirLB, lb.HTTPConfName), files.HTTPConf, 0o644),
			BytesSource(path.Join(dirLB, lb.LocationsConfName), files.LocationsConf, 0o644))
	}
	var refs []string
	if o.CapacityDir != "" {
		caps, imgs, err := capacitySources(o.CapacityDir)
		if err != nil {
			return nil, err
		}
		sources = append(sources, caps...)
		refs = append(refs, imgs...)
	}
	if o.AppsDir != "" {
		specs, err := appspec.LoadDir(o.AppsDir)
		if err != nil {
			return nil, err
		}
		for _, s := range specs {
			b, err := collectApp(ctx, s)
			if err != nil {
				return nil, fmt.Errorf("app %s: %w", s.Label(), err)
			}
			imgs := "no images"
			if len(b.Images) > 0 {
				imgs = "images " + strings.Join(b.Images, " ")
			}
			logf("app %s: %d files, %s\n", s.Name, len(b.files), imgs)
			for _, w := range b.warnings {
				logf("warning: app %s: %s\n", s.Name, w)
			}
			m.Apps = append(m.Apps, b.App)
			sources = append(sources, b.sources()...)
			refs = append(refs, b.Images...)
		}
	}
	if len(refs) > 0 {
		if o.Registries == nil {
			o.Registries = &Registries{}
		}
		images, blobs, err := o.Registries.resolveAll(ctx, refs, logf)
		if err != nil {
			return nil, err
		}
		m.Images = images
		sources = append(sources, blobs...)
	}
	for _, s := range sources {
		m.Files = append(m.Files, s.File)
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("the bundle's manifest is invalid (a bug): %w", err)
	}
	manifest, err := m.Marshal()
	if err != nil {
		return nil, err
	}
	var sig []byte
	if o.Signer != nil {
		comment := fmt.Sprintf("timestamp:%d\tfile:%s\thashed", m.Created.Unix(), ManifestName)
		if sig, err = o.Signer.Sign(manifest, comment); err != nil {
			return nil, err
		}
	}
	resolve := time.Since(t0)
	t1 := time.Now()
	total := m.TotalSize()
	var progress func(int64)
	if o.Progress != nil {
		progress = func(n int64) { o.Progress(n, total) }
	}
	size, err := writeFile(o.Out, func(w io.Writer) error { return Write(ctx, w, manifest, sig, sources, progress) })
	if err != nil {
		return nil, err
	}
	if o.Progress != nil {
		o.Progress(total, total)
	}
	return &CreateResult{Manifest: m, Size: size, Resolve: resolve, Duration: time.Since(t1)}, nil
}

// writeFile writes a file through write into path.partial, syncs it and
// renames it to path (writeAtomic); on failure nothing is left.
func writeFile(p string, write func(io.Writer) error) (int64, error) {
	root, err := os.OpenRoot(filepath.Dir(p))
	if err != nil {
		return 0, fmt.Errorf("write %s: %w", p, err)
	}
	defer root.Close()
	name := filepath.Base(p)
	if err := writeAtomic(root, name+".partial", name, 0o644, write); err != nil {
		return 0, fmt.Errorf("write %s: %w", p, err)
	}
	st, err := root.Stat(name)
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// elfMachines are the ELF machines of the architectures a bundle may carry.
var elfMachines = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64, "386": elf.EM_386, "arm": elf.EM_ARM,
	"ppc64le": elf.EM_PPC64, "s390x": elf.EM_S390, "riscv64": elf.EM_RISCV}

// checkBinary checks that file is a Linux executable for platform.
func checkBinary(file, platform string) error {
	goos, arch, ok := strings.Cut(platform, "/")
	want, known := elfMachines[arch]
	if !ok || goos != "linux" || !known {
		return fmt.Errorf("--platform %q: want linux/ARCH (ARCH one of amd64, arm64, 386, arm, ppc64le, s390x, riscv64)", platform)
	}
	f, err := elf.Open(file)
	if err != nil {
		return fmt.Errorf("binary %s: not a Linux executable: %w", file, err)
	}
	defer f.Close()
	if f.Machine != want {
		return fmt.Errorf("binary %s is for %s, not %s: give the %s build with --binary", file, f.Machine, platform, platform)
	}
	return nil
}

// capacitySources are a capacity plan's emitted files (apps/*.json,
// kubelet/*.yaml) under capacity/, and the images the wrapper apps name.
func capacitySources(dir string) ([]Source, []string, error) {
	var out []Source
	var images []string
	for _, sub := range []string{"apps", "kubelet"} {
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil && !os.IsNotExist(err) {
			return nil, nil, fmt.Errorf("capacity plan %s: %w", dir, err)
		}
		for _, e := range ents {
			if !e.Type().IsRegular() {
				return nil, nil, fmt.Errorf("capacity plan %s: %s/%s is not a regular file", dir, sub, e.Name())
			}
			data, err := fs.ReadFile(os.DirFS(dir), sub+"/"+e.Name())
			if err != nil {
				return nil, nil, fmt.Errorf("capacity plan: %w", err)
			}
			if sub == "apps" {
				imgs, err := jsonMarathonImages(data)
				if err != nil {
					return nil, nil, fmt.Errorf("capacity plan %s/apps/%s: %w", dir, e.Name(), err)
				}
				images = append(images, imgs...)
			}
			out = append(out, BytesSource(path.Join(dirCapacity, sub, e.Name()), data, 0o644))
		}
	}
	if len(out) == 0 {
		return nil, nil, fmt.Errorf("capacity plan %s: no apps/*.json or kubelet/*.yaml (write them with `switchyard capacity plan --emit DIR`)", dir)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, images, nil
}
