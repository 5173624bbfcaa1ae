package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/internal/wanterr"
)

// runBundle runs `switchyard bundle ARGS` and returns its output and error.
func runBundle(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := NewRoot()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(append([]string{"bundle"}, args...))
	err := cmd.Execute()
	return out.String(), err
}

// TestBundleFlagsAreChecked: each command refuses missing or contradictory
// flags, naming the flag, before doing anything.
func TestBundleFlagsAreChecked(t *testing.T) {
	dir := t.TempDir()
	pub := filepath.Join(dir, "k.pub")
	if _, err := runBundle(t, "keygen", "--secret-key", filepath.Join(dir, "k.key"), "--public-key", pub); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"keygen without secret key", []string{"keygen", "--public-key", "x.pub"}, "--secret-key: required"},
		{"keygen same file", []string{"keygen", "--public-key", "k", "--secret-key", "./k"}, "same file"},
		{"keygen keeps a key", []string{"keygen", "--secret-key", filepath.Join(dir, "k.key"), "--public-key", filepath.Join(dir, "new.pub")}, "--force"},
		{"verify without key", []string{"verify", "b.tar"}, "--pub: required"},
		{"verify with a bad key", []string{"verify", "b.tar", "--pub", filepath.Join(dir, "k.key")}, "--pub"},
		{"install without registry", []string{"install", "b.tar", "--pub", pub}, "--registry: required"},
		{"install with a scheme", []string{"install", "b.tar", "--pub", pub, "--registry", "https://r:5000"}, "without a scheme"},
		{"install without key", []string{"install", "b.tar", "--registry", "r:5000"}, "--pub: required"},
		{"create without out", []string{"create", "--apps", dir}, "--out: required"},
		{"create without apps", []string{"create", "--out", "b.tar"}, "--apps: required"},
		{"create two capacity sources", []string{"create", "--out", "b.tar", "--apps", dir, "--capacity-target", "t", "--capacity-plan", "d"}, "give one"},
		{"create bad mirror", []string{"create", "--out", "b.tar", "--apps", dir, "--registry-mirror", "docker.io"}, "FROM=TO"},
		{"create other platform without binary", []string{"create", "--out", "b.tar", "--apps", dir, "--platform", "linux/arm64"}, "--binary: required"},
		{"create bad lb flags", []string{"create", "--out", "b.tar", "--apps", dir, "--lb-admin-listen", "localhost"}, "--lb-* flags"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runBundle(t, tc.args...)
			wanterr.Check(t, err, tc.wantErr)
		})
	}
}

// TestBundleCommands makes a signed bundle of an app without images with
// the load-balancer files, verifies it with its key and refuses it with
// another, and installs it (twice: the second time nothing is written).
func TestBundleCommands(t *testing.T) {
	dir := t.TempDir()
	key, pub := filepath.Join(dir, "k.key"), filepath.Join(dir, "k.pub")
	other := filepath.Join(dir, "other.pub")
	if _, err := runBundle(t, "keygen", "--secret-key", key, "--public-key", pub); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(key); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("secret key: %v, %v; want mode 0600", st, err)
	}
	if _, err := runBundle(t, "keygen", "--secret-key", filepath.Join(dir, "o.key"), "--public-key", other); err != nil {
		t.Fatal(err)
	}
	// A chart without images: the test needs no registry.
	apps := filepath.Join(dir, "apps", "settings")
	os.MkdirAll(filepath.Join(apps, "chart", "templates"), 0o755)
	os.WriteFile(filepath.Join(apps, "app.yaml"), []byte("name: settings\ntype: helm\nhelm: {path: chart}\n"), 0o644)
	os.WriteFile(filepath.Join(apps, "chart", "Chart.yaml"), []byte("apiVersion: v2\nname: settings\nversion: 1.0.0\n"), 0o644)
	os.WriteFile(filepath.Join(apps, "chart", "templates", "cm.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {a: b}\n"), 0o644)
	file := filepath.Join(dir, "b.bundle")
	out, err := runBundle(t, "create", "--apps", filepath.Join(dir, "apps"), "--out", file, "--sign", key,
		"--binary", "/usr/bin/true", "--lb-admin-listen", "127.0.0.1:8001", "--lb-admin-token-file", "/etc/switchyard/lb.token",
		"--lb-state-dir", "/var/lib/switchyard-lb", "--lb-backends-cidr", "10.0.0.0/8", "--lb-module-dir", "/etc/nginx/switchyard")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "0 images, 1 apps") || !strings.Contains(out, "signed with key") {
		t.Fatalf("create printed:\n%s", out)
	}
	if out, err := runBundle(t, "verify", file, "--pub", pub); err != nil || !strings.Contains(out, "verified: signed by key") {
		t.Fatalf("verify: %v\n%s", err, out)
	}
	if _, err := runBundle(t, "verify", file, "--pub", other); err == nil || !strings.Contains(err.Error(), "manifest.json") {
		t.Fatalf("verify with another key: %v, want a failure naming manifest.json", err)
	}
	dest := filepath.Join(dir, "site")
	args := []string{"install", file, "--pub", pub, "--registry", "127.0.0.1:1", "--bin-dir", filepath.Join(dest, "bin"),
		"--charts-dir", filepath.Join(dest, "apps"), "--lb-dir", filepath.Join(dest, "lb")}
	if out, err := runBundle(t, args...); err != nil || !strings.Contains(out, " written, 0 unchanged)") {
		t.Fatalf("install: %v\n%s", err, out)
	}
	if out, err := runBundle(t, args...); err != nil || !strings.Contains(out, "(0 written, ") {
		t.Fatalf("install again: %v\n%s", err, out)
	}
	for _, f := range []string{"bin/switchyard", "lb/switchyard.lua", "apps/settings/app.yaml", "apps/settings/chart/templates/cm.yaml", "apps/settings/values.yaml"} {
		if _, err := os.Stat(filepath.Join(dest, f)); err != nil {
			t.Error(err)
		}
	}
}
