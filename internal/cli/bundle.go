package cli

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/spf13/cobra"

	"github.com/switchyard/switchyard/bundle"
	"github.com/switchyard/switchyard/bundle/minisign"
	"github.com/switchyard/switchyard/internal/capool"
)

// newBundleCmd is `switchyard bundle`: offline bundles (docs/offline.md).
func newBundleCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bundle",
		Short: "Make, verify and install signed offline bundles (everything a migration needs, for sites without network)",
		Long: `An offline bundle is one tar file with the switchyard binary, the load-balancer module files, the
capacity plan's kubelet-wrapper apps and kubelet configs, every app's descriptor, chart and Marathon definition,
and every container image they use (an OCI image layout, digests kept), listed with their SHA-256 in a manifest
signed with minisign. See docs/offline.md.`,
	}
	cmd.AddCommand(newBundleKeygenCmd(), newBundleCreateCmd(), newBundleVerifyCmd(), newBundleInstallCmd())
	return cmd
}

// BundleKeygenOptions are the flags of `switchyard bundle keygen`.
type BundleKeygenOptions struct {
	// SecretKey and PublicKey are the files written.
	SecretKey, PublicKey string
	// Force overwrites existing files.
	Force bool
}

func newBundleKeygenCmd() *cobra.Command {
	o := &BundleKeygenOptions{}
	cmd := &cobra.Command{
		Use:   "keygen --secret-key FILE --public-key FILE",
		Short: "Make a minisign key pair to sign bundles with",
		Long: `Writes a minisign secret key (mode 0600, without a password, like minisign -G -W: keep it like an
SSH private key) and its public key. Debian's minisign reads both; a password-protected key made with
minisign -G signs bundles too (bundle create --sign-password-file).`,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
	f := cmd.Flags()
	f.StringVar(&o.SecretKey, "secret-key", "", "secret key file to write (required)")
	f.StringVar(&o.PublicKey, "public-key", "", "public key file to write (required)")
	f.BoolVar(&o.Force, "force", false, "overwrite existing key files")
	return cmd
}

// Complete does nothing: every flag is taken as given.
func (o *BundleKeygenOptions) Complete(*cobra.Command, []string) error { return nil }

// Validate checks that both files are named and differ.
func (o *BundleKeygenOptions) Validate() error {
	switch {
	case o.SecretKey == "":
		return errors.New("--secret-key: required (the secret key file to write)")
	case o.PublicKey == "":
		return errors.New("--public-key: required (the public key file to write)")
	case filepath.Clean(o.SecretKey) == filepath.Clean(o.PublicKey):
		return errors.New("--secret-key and --public-key name the same file")
	}
	return nil
}

// Run writes the key pair.
func (o *BundleKeygenOptions) Run(_ context.Context, out io.Writer) error {
	sk, pk, err := minisign.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	skText, _ := sk.MarshalText()
	pkText, _ := pk.MarshalText()
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if o.Force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	for _, f := range []struct {
		path string
		data []byte
		mode os.FileMode
	}{{o.SecretKey, skText, 0o600}, {o.PublicKey, pkText, 0o644}} {
		w, err := os.OpenFile(f.path, flags, f.mode)
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s exists: keep it, or pass --force to replace it", f.path)
		}
		if err != nil {
			return err
		}
		err = w.Chmod(f.mode) // --force on a file of another mode
		if err == nil {
			_, err = w.Write(f.data)
		}
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", f.path, err)
		}
	}
	fmt.Fprintf(out, "wrote secret key %s (keep it secret) and public key %s (key id %s)\n", o.SecretKey, o.PublicKey, pk.ID())
	return nil
}

// readPublicKey reads a --pub file.
func readPublicKey(file string) (*minisign.PublicKey, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--pub: %w", err)
	}
	pk, err := minisign.ParsePublicKey(data)
	if err != nil {
		return nil, fmt.Errorf("--pub %s: %w", file, err)
	}
	return pk, nil
}

// registryOptions are go-containerregistry's options: credentials from the
// docker config (~/.docker/config.json and its credential helpers) and,
// with caFile, a transport trusting that CA.
func registryOptions(caFile string) ([]remote.Option, error) {
	opts := []remote.Option{remote.WithAuthFromKeychain(authn.DefaultKeychain), remote.WithUserAgent("switchyard-bundle")}
	if caFile != "" {
		pool, err := capool.Load(caFile, true)
		if err != nil {
			return nil, fmt.Errorf("--registry-ca-file: %w", err)
		}
		opts = append(opts, remote.WithTransport(capool.Transport(pool)))
	}
	return opts, nil
}

// BundleVerifyOptions are the flags of `switchyard bundle verify`.
type BundleVerifyOptions struct {
	// File is the bundle; Pub the public key file.
	File, Pub string
	// SkipSignature checks the checksums only (--insecure-skip-verify).
	SkipSignature bool

	pub *minisign.PublicKey
}

func newBundleVerifyCmd() *cobra.Command {
	o := &BundleVerifyOptions{}
	cmd := &cobra.Command{
		Use:   "verify FILE --pub KEY",
		Short: "Check a bundle's signature, every checksum, and that nothing is missing or extra",
		Long: `Reads the bundle once, as a stream: the manifest's minisign signature with --pub, then every file's
size and SHA-256, that every entry is a regular file at a clean path listed in the manifest, and that no listed
file is missing. Any difference fails, naming the file. Needs no network.`,
		Args: cobra.ExactArgs(1),
		RunE: runE(o),
	}
	f := cmd.Flags()
	f.StringVar(&o.Pub, "pub", "", "minisign public key file the manifest must be signed with (required)")
	f.BoolVar(&o.SkipSignature, "insecure-skip-verify", false, "do not check the signature (the checksums are still checked: that detects damage, not an attacker)")
	return cmd
}

// Complete takes the bundle argument and reads --pub.
func (o *BundleVerifyOptions) Complete(_ *cobra.Command, args []string) error {
	o.File = args[0]
	if o.Pub == "" {
		return nil
	}
	var err error
	o.pub, err = readPublicKey(o.Pub)
	return err
}

// Validate checks that a key is given unless the signature is skipped.
func (o *BundleVerifyOptions) Validate() error {
	if o.pub == nil && !o.SkipSignature {
		return errors.New("--pub: required: the public key of the bundle's signer (or --insecure-skip-verify to check the checksums only)")
	}
	return nil
}

// verifyOptions are the bundle package's options with a progress bar.
func (o *BundleVerifyOptions) verifyOptions(size int64) bundle.VerifyOptions {
	vo := bundle.VerifyOptions{PublicKey: o.pub, SkipSignature: o.SkipSignature}
	if bar := progressBar(os.Stderr, "verify "); bar != nil {
		vo.Progress = func(n int64) { bar(n, size) }
	}
	return vo
}

// verify verifies the bundle and prints what was checked.
func (o *BundleVerifyOptions) verify(out io.Writer) (*bundle.Verified, error) {
	st, err := os.Stat(o.File)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	v, err := bundle.VerifyFile(o.File, o.verifyOptions(st.Size()))
	if err != nil {
		return nil, fmt.Errorf("bundle %s does not verify: %w", o.File, err)
	}
	d := time.Since(t0)
	m := v.Manifest
	sig := "signature NOT checked (--insecure-skip-verify)"
	if v.Signed {
		sig = fmt.Sprintf("signed by key %s (%s)", v.KeyID, v.TrustedComment)
	}
	fmt.Fprintf(out, "bundle %s verified: %s\n  %d files, %d images, %d apps, %s, for %s, made %s (context %q)\n  manifest sha256 %s\n  checked in %s (%s)\n",
		o.File, sig, len(m.Files), len(m.Images), len(m.Apps), bundle.FormatBytes(v.Size), m.Platform, m.Created.Format(time.RFC3339), m.Context,
		v.ManifestSHA256, d.Round(time.Millisecond), rate(v.Size, d))
	return v, nil
}

// Run verifies the bundle.
func (o *BundleVerifyOptions) Run(_ context.Context, out io.Writer) error {
	_, err := o.verify(out)
	return err
}

// BundleInstallOptions are the flags of `switchyard bundle install`.
type BundleInstallOptions struct {
	// Verify are the verification flags (FILE, --pub, --insecure-skip-verify).
	Verify BundleVerifyOptions
	// Install are the destinations.
	Install bundle.InstallOptions
	// RegistryCA is a CA file for the registry's TLS certificate.
	RegistryCA string
}

func newBundleInstallCmd() *cobra.Command {
	o := &BundleInstallOptions{}
	cmd := &cobra.Command{
		Use:   "install FILE --registry HOST:PORT --pub KEY",
		Short: "Verify a bundle, push its images to the site's registry and install its files",
		Long: `Verifies the whole bundle first (as bundle verify; an unsigned or unverified bundle is refused unless
--insecure-skip-verify), then pushes every image to --registry under its repository path, digests kept and tags
set, then writes each app's files under --charts-dir/<app>/ (app.yaml, chart/, values.yaml, marathon.json; every
image reference rewritten to REGISTRY/REPOSITORY@sha256:...: deploy it with switchyard deploy DIR), the capacity
plan's files under --capacity-dir, the load-balancer files under --lb-dir and the binary into --bin-dir. Needs
no network but the registry. Idempotent and resumable: blobs and images the registry has are not sent again,
files already in place are left alone, every file is written to a temporary file, synced and renamed.`,
		Args: cobra.ExactArgs(1),
		RunE: runE(o),
	}
	f := cmd.Flags()
	f.StringVar(&o.Verify.Pub, "pub", "", "minisign public key file the manifest must be signed with")
	f.BoolVar(&o.Verify.SkipSignature, "insecure-skip-verify", false, "install without checking the signature (the checksums are still checked)")
	f.StringVar(&o.Install.Registry, "registry", "", "the site's registry, HOST:PORT[/PREFIX] (required)")
	f.StringVar(&o.RegistryCA, "registry-ca-file", "", "CA certificate of the registry's TLS certificate (default: the system's)")
	f.BoolVar(&o.Install.PlainHTTP, "plain-http", false, "talk to the registry over http (loopback and private addresses already are)")
	f.StringVar(&o.Install.ChartsDir, "charts-dir", "/var/lib/switchyard/apps", "directory of the apps' files, one directory per app")
	f.StringVar(&o.Install.BinDir, "bin-dir", "/usr/local/bin", "directory the switchyard binary is installed into")
	f.StringVar(&o.Install.LBDir, "lb-dir", "", "directory of the load-balancer files (default: the directory they were rendered for)")
	f.StringVar(&o.Install.CapacityDir, "capacity-dir", "/var/lib/switchyard/capacity", "directory of the capacity plan's apps/ and kubelet/ files")
	return cmd
}

// Complete reads the key and makes the directories absolute.
func (o *BundleInstallOptions) Complete(cmd *cobra.Command, args []string) error {
	if err := o.Verify.Complete(cmd, args); err != nil {
		return err
	}
	for _, d := range []*string{&o.Install.ChartsDir, &o.Install.BinDir, &o.Install.LBDir, &o.Install.CapacityDir} {
		if *d == "" {
			continue
		}
		abs, err := filepath.Abs(*d)
		if err != nil {
			return err
		}
		*d = abs
	}
	opts, err := registryOptions(o.RegistryCA)
	o.Install.Remote = opts
	return err
}

// Validate checks --registry and the verification flags.
func (o *BundleInstallOptions) Validate() error {
	if o.Install.Registry == "" {
		return errors.New("--registry: required: the site's registry, HOST:PORT, the images are pushed to")
	}
	if strings.Contains(o.Install.Registry, "://") {
		return fmt.Errorf("--registry %q: give HOST:PORT without a scheme (--plain-http for http)", o.Install.Registry)
	}
	return o.Verify.Validate()
}

// Run verifies, then installs, and prints what it did.
func (o *BundleInstallOptions) Run(ctx context.Context, out io.Writer) error {
	v, err := o.Verify.verify(out)
	if err != nil {
		return err
	}
	in := o.Install
	in.Log = out
	in.Progress = progressBar(os.Stderr, "push   ")
	res, err := bundle.Install(ctx, o.Verify.File, v, in)
	if err != nil {
		return fmt.Errorf("install %s: %w (run it again to resume: what is installed stays)", o.Verify.File, err)
	}
	count := func(ds []bundle.Done, action string) int {
		n := 0
		for _, d := range ds {
			if strings.HasPrefix(d.Action, action) {
				n++
			}
		}
		return n
	}
	fmt.Fprintf(out, "installed %s in %s: %d images (%d pushed, %d already there; %s sent of %s in %s, %s), %d files (%d written, %d unchanged)\n",
		o.Verify.File, res.Duration.Round(time.Millisecond), len(res.Images), count(res.Images, "pushed"), count(res.Images, "present"),
		bundle.FormatBytes(res.PushedBytes), bundle.FormatBytes(res.ImageBytes), res.PushDuration.Round(time.Millisecond), rate(res.PushedBytes, res.PushDuration),
		len(res.Files), count(res.Files, "written"), count(res.Files, "unchanged"))
	if len(v.Manifest.Apps) > 0 {
		fmt.Fprintf(out, "deploy the apps with: switchyard deploy %s\n", o.Install.ChartsDir)
	}
	return nil
}
