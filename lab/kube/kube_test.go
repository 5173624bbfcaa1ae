package kube

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/switchyard/switchyard/lab/component"
	"github.com/switchyard/switchyard/lab/labconfig"
)

// fakeBinDir points SWITCHYARD_CACHE at a temp dir holding executable
// placeholders for the cached binaries, so Components can be inspected
// without a build.
func fakeBinDir(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	t.Setenv("SWITCHYARD_CACHE", root)
	dir := BinDir(PinnedVersion)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kwok"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func unitConfig(t *testing.T) labconfig.Config {
	t.Helper()
	cfg := labconfig.Default()
	cfg.Dir = t.TempDir()
	return cfg
}

func TestBinDirFollowsCacheEnv(t *testing.T) {
	t.Setenv("SWITCHYARD_CACHE", "/x/cache")
	if got := BinDir("v1.37.2"); got != "/x/cache/kube/v1.37.2" {
		t.Errorf("BinDir = %s", got)
	}
	if got := BinDir(""); got != "/x/cache/kube/"+PinnedVersion {
		t.Errorf("BinDir(\"\") = %s", got)
	}
	t.Setenv("SWITCHYARD_CACHE", "")
	t.Setenv("HOME", "/home/u")
	if got := BinDir("v1.37.2"); got != "/home/u/.cache/switchyard/kube/v1.37.2" {
		t.Errorf("BinDir without SWITCHYARD_CACHE = %s", got)
	}
}

func TestComponentsErrors(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*labconfig.Config)
		fake   bool
		want   []string
	}{
		{"missing binaries", func(*labconfig.Config) {}, false, []string{"binary etcd not found", "run scripts/build-kube.sh (or make deps)"}},
		{"other version", func(c *labconfig.Config) { c.Kubernetes.Version = "v1.30.0" }, true, []string{"v1.30.0", "set kubernetes.version to " + PinnedVersion}},
		{"bad service CIDR", func(c *labconfig.Config) { c.Kubernetes.ServiceCIDR = "10.0.0.0/31" }, true, []string{"kubernetes.serviceCIDR", "at least /30"}},
		{"small pod CIDR", func(c *labconfig.Config) { c.Kubernetes.PodCIDR = "10.244.0.0/24" }, true, []string{"kubernetes.podCIDR", "/22"}},
		{"bad port", func(c *labconfig.Config) { c.Kubernetes.APIServerPort = 0 }, true, []string{"kubernetes.apiServerPort"}},
		{"negative kwok", func(c *labconfig.Config) { c.Kubernetes.KwokNodes = -1 }, true, []string{"kubernetes.kwokNodes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.fake {
				fakeBinDir(t)
			} else {
				t.Setenv("SWITCHYARD_CACHE", t.TempDir())
			}
			cfg := unitConfig(t)
			tt.mutate(&cfg)
			_, err := Components(cfg, "/bin/switchyard")
			if err == nil {
				t.Fatal("Components succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestComponentsDisabled(t *testing.T) {
	t.Setenv("SWITCHYARD_CACHE", t.TempDir())
	cfg := unitConfig(t)
	cfg.Kubernetes.Enabled = false
	specs, err := Components(cfg, "")
	if err != nil || len(specs) != 0 {
		t.Errorf("disabled Kubernetes: %d specs, err %v", len(specs), err)
	}
}

func argValue(s component.Spec, flag string) (string, bool) {
	for _, a := range s.Argv {
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return v, true
		}
		if a == flag {
			return "", true
		}
	}
	return "", false
}

func TestComponentsSpecs(t *testing.T) {
	bin := fakeBinDir(t)
	cfg := unitConfig(t)
	cfg.Kubernetes.KwokNodes = 5
	specs, err := Components(cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]component.Spec{}
	var order []string
	for _, s := range specs {
		byName[s.Name] = s
		order = append(order, s.Name)
		if s.Ready == nil || s.Prepare == nil {
			t.Errorf("%s: Ready and Prepare must be set", s.Name)
		}
		if !slices.Contains(s.Env, labconfig.MarkerEnv+"="+cfg.ID) {
			t.Errorf("%s: env %v lacks the lab marker", s.Name, s.Env)
		}
		for _, dep := range s.After {
			if !slices.Contains(order[:len(order)-1], dep) {
				t.Errorf("%s: After %s, which does not come before it", s.Name, dep)
			}
		}
	}
	if want := []string{EtcdName, APIServerName, ControllerManagerName, SchedulerName, KwokName}; !slices.Equal(order, want) {
		t.Fatalf("components %v, want %v", order, want)
	}

	flags := []struct {
		comp, flag, want string
	}{
		{EtcdName, "--listen-client-urls", "https://127.0.0.1:2379"},
		{EtcdName, "--listen-peer-urls", "https://127.0.0.1:2380"},
		{EtcdName, "--client-cert-auth", "true"},
		{EtcdName, "--peer-client-cert-auth", "true"},
		{EtcdName, "--data-dir", cfg.Path("kube", "etcd")},
		{EtcdName, "--unsafe-no-fsync", ""},
		{APIServerName, "--bind-address", "127.0.0.1"},
		{APIServerName, "--secure-port", "6443"},
		{APIServerName, "--etcd-servers", "https://127.0.0.1:2379"},
		{APIServerName, "--authorization-mode", "Node,RBAC"},
		{APIServerName, "--enable-admission-plugins", "NodeRestriction"},
		{APIServerName, "--service-cluster-ip-range", "10.0.0.0/24"},
		{APIServerName, "--endpoint-reconciler-type", "none"},
		{APIServerName, "--anonymous-auth", "false"},
		{ControllerManagerName, "--use-service-account-credentials", "true"},
		{ControllerManagerName, "--leader-elect", "false"},
		{ControllerManagerName, "--cluster-cidr", "10.244.0.0/16"},
		{ControllerManagerName, "--allocate-node-cidrs", "false"},
		{ControllerManagerName, "--secure-port", "10257"},
		{SchedulerName, "--secure-port", "10259"},
		{SchedulerName, "--bind-address", "127.0.0.1"},
		{KwokName, "--cidr", "10.244.128.0/17"},
		{KwokName, "--manage-nodes-with-annotation-selector", KwokAnnotation + "=fake"},
		{KwokName, "--node-lease-duration-seconds", "40"},
	}
	for _, f := range flags {
		got, ok := argValue(byName[f.comp], f.flag)
		if !ok || got != f.want {
			t.Errorf("%s %s = %q (present %v), want %q", f.comp, f.flag, got, ok, f.want)
		}
	}
	if got := byName[APIServerName].Argv[0]; got != filepath.Join(bin, "kube-apiserver") {
		t.Errorf("apiserver binary %s, want it from the cache dir %s", got, bin)
	}
}

func TestKwokCIDR(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{"10.244.0.0/16", "10.244.128.0/17", ""},
		{"10.244.7.9/16", "10.244.128.0/17", ""},
		{"172.16.0.0/12", "172.24.0.0/13", ""},
		{"10.1.0.0/22", "10.1.2.0/23", ""},
		{"10.1.0.0/23", "", "at least /22"},
		{"fd00::/64", "", "IPv4"},
		{"nonsense", "", "kubernetes.podCIDR"},
	}
	for _, tt := range tests {
		got, err := kwokCIDR(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("kwokCIDR(%s) err = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("kwokCIDR(%s) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

func TestFirstServiceIP(t *testing.T) {
	for in, want := range map[string]string{"10.0.0.0/24": "10.0.0.1", "10.96.0.0/12": "10.96.0.1", "10.0.0.7/24": "10.0.0.1"} {
		got, err := firstServiceIP(in)
		if err != nil || got.String() != want {
			t.Errorf("firstServiceIP(%s) = %v, %v; want %s", in, got, err, want)
		}
	}
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(data)
	if b == nil {
		t.Fatalf("%s: no PEM", path)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPrepareWritesPKIAndKubeconfigsOnce(t *testing.T) {
	fakeBinDir(t)
	cfg := unitConfig(t)
	specs, err := Components(cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	apiserver := specs[1]
	if err := apiserver.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	pki := filepath.Join(cfg.Dir, "kube", "pki")
	ca := readCert(t, filepath.Join(pki, "ca.crt"))
	if !ca.IsCA {
		t.Error("ca.crt is not a CA")
	}
	srv := readCert(t, filepath.Join(pki, "apiserver.crt"))
	if err := srv.CheckSignatureFrom(ca); err != nil {
		t.Errorf("apiserver cert not signed by the CA: %v", err)
	}
	wantDNS := []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}
	for _, d := range wantDNS {
		if err := srv.VerifyHostname(d); err != nil {
			t.Errorf("apiserver cert: %v", err)
		}
	}
	for _, ip := range []string{"127.0.0.1", "10.0.0.1"} {
		if err := srv.VerifyHostname(ip); err != nil {
			t.Errorf("apiserver cert: %v", err)
		}
	}
	for _, f := range []string{"sa.key", "sa.pub", "ca.key", "admin.key"} {
		if st, err := os.Stat(filepath.Join(pki, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		} else if strings.HasSuffix(f, ".key") && st.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s is readable by others: %v", f, st.Mode())
		}
	}

	kc, err := clientcmd.LoadFromFile(AdminKubeconfig(cfg))
	if err != nil {
		t.Fatal(err)
	}
	cur := kc.Contexts[kc.CurrentContext]
	if cur == nil || kc.Clusters[cur.Cluster].Server != "https://127.0.0.1:6443" {
		t.Fatalf("admin kubeconfig context %+v", cur)
	}
	b, _ := pem.Decode(kc.AuthInfos[cur.AuthInfo].ClientCertificateData)
	admin, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if admin.Subject.CommonName != AdminUser || !slices.Equal(admin.Subject.Organization, []string{"system:masters"}) {
		t.Errorf("admin cert subject %v", admin.Subject)
	}
	for _, f := range []string{"controller-manager.kubeconfig", "scheduler.kubeconfig", "scheduler.yaml"} {
		if _, err := os.Stat(filepath.Join(cfg.Dir, "kube", f)); err != nil {
			t.Error(err)
		}
	}

	// A second Prepare (another component, or `lab up` again) reuses the PKI.
	before, _ := os.ReadFile(filepath.Join(pki, "apiserver.crt"))
	if err := specs[2].Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(filepath.Join(pki, "apiserver.crt"))
	if string(before) != string(after) || !readCert(t, filepath.Join(pki, "ca.crt")).Equal(ca) {
		t.Error("Prepare regenerated existing certificates")
	}

	// A changed Service CIDR regenerates the serving cert, not the CA.
	cfg.Kubernetes.ServiceCIDR = "10.96.0.0/12"
	specs, err = Components(cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := specs[1].Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv2 := readCert(t, filepath.Join(pki, "apiserver.crt"))
	if err := srv2.VerifyHostname("10.96.0.1"); err != nil {
		t.Errorf("serving cert not updated for the new Service CIDR: %v", err)
	}
	if !readCert(t, filepath.Join(pki, "ca.crt")).Equal(ca) {
		t.Error("CA regenerated")
	}
}

func TestNodeKubeconfigAndServingCert(t *testing.T) {
	cfg := unitConfig(t)
	path, err := NodeKubeconfig(cfg, "node-2")
	if err != nil {
		t.Fatal(err)
	}
	kc, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cur := kc.Contexts[kc.CurrentContext]
	b, _ := pem.Decode(kc.AuthInfos[cur.AuthInfo].ClientCertificateData)
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject.CommonName != "system:node:node-2" || !slices.Equal(c.Subject.Organization, []string{NodeGroup}) {
		t.Errorf("node cert subject %v", c.Subject)
	}
	if _, err := NodeKubeconfig(cfg, "nope"); err == nil || !strings.Contains(err.Error(), `no node "nope"`) {
		t.Errorf("unknown node: err = %v", err)
	}

	crt, key, caf, err := NodeServingCert(cfg, "node-2", "127.0.1.2")
	if err != nil {
		t.Fatal(err)
	}
	sc := readCert(t, crt)
	if !slices.ContainsFunc(sc.IPAddresses, func(ip net.IP) bool { return ip.Equal(net.ParseIP("127.0.1.2")) }) {
		t.Errorf("serving cert IPs %v", sc.IPAddresses)
	}
	if err := sc.CheckSignatureFrom(readCert(t, caf)); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(key); err != nil {
		t.Error(err)
	}
	if _, _, _, err := NodeServingCert(cfg, "node-2", "not-an-ip"); err == nil {
		t.Error("bad address accepted")
	}
}

// PinnedVersion, the tools modules and scripts/build-kube.sh must agree, or
// the lab would look for binaries the script never builds.
func TestPinnedVersionsAgree(t *testing.T) {
	read := func(p string) string {
		data, err := os.ReadFile(filepath.Join("..", "..", p))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	kubeMod, kwokMod, script := read("tools/kube/go.mod"), read("tools/kwok/go.mod"), read("scripts/build-kube.sh")
	requires := func(mod, path, version string) bool {
		return regexp.MustCompile(`(?m)^\s*(require\s+)?` + regexp.QuoteMeta(path+" "+version) + `\s*(// indirect)?\s*$`).MatchString(mod)
	}
	if !requires(kubeMod, "k8s.io/kubernetes", PinnedVersion) {
		t.Errorf("tools/kube/go.mod does not require k8s.io/kubernetes %s", PinnedVersion)
	}
	staging := "v0." + strings.TrimPrefix(PinnedVersion, "v1.")
	for _, m := range []string{"api", "apiserver", "client-go", "kubectl", "kubelet"} {
		if !strings.Contains(kubeMod, "k8s.io/"+m+" => k8s.io/"+m+" "+staging+"\n") {
			t.Errorf("tools/kube/go.mod: no replace of k8s.io/%s to %s", m, staging)
		}
	}
	if !strings.Contains(script, "\nKUBE_VERSION="+PinnedVersion+"\n") {
		t.Errorf("scripts/build-kube.sh does not build %s", PinnedVersion)
	}
	i := strings.Index(script, "\nKWOK_VERSION=")
	if i < 0 {
		t.Fatal("scripts/build-kube.sh sets no KWOK_VERSION")
	}
	kwokVersion := strings.SplitN(script[i+len("\nKWOK_VERSION="):], "\n", 2)[0]
	if !requires(kwokMod, "sigs.k8s.io/kwok", kwokVersion) {
		t.Errorf("tools/kwok/go.mod does not require sigs.k8s.io/kwok %s", kwokVersion)
	}
}

func TestKwokScaleSettings(t *testing.T) {
	tests := []struct {
		nodes, lease int
		parallelism  string
	}{
		{1, 40, "nodeLeaseParallelism: 4\n"},
		{500, 40, "nodeLeaseParallelism: 5\n"},
		{3000, 80, "nodeLeaseParallelism: 30\n"},
		{20000, 80, "nodeLeaseParallelism: 32\n"},
	}
	for _, tt := range tests {
		if got := kwokLeaseSeconds(tt.nodes); got != tt.lease {
			t.Errorf("kwokLeaseSeconds(%d) = %d, want %d", tt.nodes, got, tt.lease)
		}
		// The renewal interval (a quarter of the lease) must survive one
		// failed renewal inside the 50 s node-monitor grace period.
		if renew := tt.lease / 4; 2*renew >= 50 {
			t.Errorf("%d nodes: renewal every %d s is too slow for a 50 s grace period", tt.nodes, renew)
		}
		cfg := string(kwokConfig(tt.nodes))
		if !strings.Contains(cfg, "kind: KwokConfiguration\n") || !strings.Contains(cfg, tt.parallelism) {
			t.Errorf("kwokConfig(%d) =\n%s\nwant %q", tt.nodes, cfg, tt.parallelism)
		}
	}
}

func TestAdminClient(t *testing.T) {
	cfg := labconfig.Default()
	cfg.Dir = t.TempDir()
	if _, err := AdminClient(cfg); err == nil || !strings.Contains(err.Error(), "is missing: start the lab's Kubernetes first") {
		t.Fatalf("AdminClient without a kubeconfig = %v, want it missing", err)
	}
	path := AdminKubeconfig(cfg)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters["lab"] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:6443"}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: "t"}
	kc.Contexts["lab"] = &clientcmdapi.Context{Cluster: "lab", AuthInfo: "admin"}
	kc.CurrentContext = "lab"
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	cs, err := AdminClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := cs.CoreV1().RESTClient().Get().URL().Host; got != "127.0.0.1:6443" {
		t.Errorf("client host = %q, want the kubeconfig's server", got)
	}
}
