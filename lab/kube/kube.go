// Package kube owns the lab's real Kubernetes control plane: etcd,
// kube-apiserver, kube-controller-manager and kube-scheduler built from
// k8s.io/kubernetes at a pinned version (and etcd at the version it pins;
// scripts/build-kube.sh caches them per machine), and optionally kwok with
// simulated nodes for scale tests. It generates the lab's PKI (a CA, serving
// certificates, client certificates for every identity, the service-account
// signing key) and the kubeconfigs in <lab dir>/kube/, and describes each
// process as a component.Spec for the lab supervisor.
//
// Authentication is by client certificate only. Identities:
//   - the user: switchyard-admin in group system:masters (admin.kubeconfig);
//   - system:kube-controller-manager and system:kube-scheduler;
//   - one node agent per lab node: system:node:<name> in group system:nodes.
//
// Authorization is --authorization-mode=Node,RBAC with the NodeRestriction
// admission plugin, as in a kubeadm cluster: a node agent may write only its
// own Node, Lease and the status of pods bound to it. Because a node agent
// built on informers (virtual-kubelet) lists and watches pods, Secrets,
// ConfigMaps and Services cluster-wide, the lab binds group system:nodes to
// the built-in ClusterRole system:node plus ClusterRole
// switchyard:node-agent (read-only list/watch of those kinds). These
// bindings are created when kube-apiserver first becomes ready.
package kube

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/switchyard/switchyard/internal/capool"
	"github.com/switchyard/switchyard/lab/component"
	"github.com/switchyard/switchyard/lab/labconfig"
)

// PinnedVersion is the Kubernetes version scripts/build-kube.sh builds.
const PinnedVersion = "v1.37.2"

// Component names, as shown by `lab status` and used in After lists.
const (
	EtcdName              = "etcd"
	APIServerName         = "kube-apiserver"
	ControllerManagerName = "kube-controller-manager"
	SchedulerName         = "kube-scheduler"
	KwokName              = "kwok"
)

// Identities and the objects that mark kwok nodes.
const (
	// AdminUser is the user of admin.kubeconfig (in group system:masters).
	AdminUser = "switchyard-admin"
	// NodeGroup is the group of every node agent identity.
	NodeGroup = "system:nodes"
	// NodeUserPrefix prefixes the node name in a node agent's user name.
	NodeUserPrefix = "system:node:"
	// NodeAgentClusterRole is the extra read-only ClusterRole bound to NodeGroup.
	NodeAgentClusterRole = "switchyard:node-agent"
	// KwokAnnotation marks the Nodes that kwok manages (value "fake").
	KwokAnnotation = "kwok.x-k8s.io/node"
	// KwokTaintKey is the NoSchedule taint (value "fake") on kwok nodes, so
	// that only pods that tolerate it land on simulated nodes.
	KwokTaintKey = "kwok.x-k8s.io/node"
	// KwokNodeLabel is the label (value "kwok") on kwok nodes, for nodeSelectors.
	KwokNodeLabel = "type"
	// KwokNodePrefix prefixes the names of kwok nodes: kwok-0, kwok-1, ...
	KwokNodePrefix = "kwok-"
)

// etcd is built from go.etcd.io/etcd/server/v3 v3.7.0 (the version
// Kubernetes v1.37 pins) by scripts/build-kube.sh: Debian's etcd 3.4.23 lacks
// the watch progress notifications kube-apiserver 1.37 relies on for
// streaming watch-lists and consistent reads from its cache; with it, kwok
// nodes lost Lease renewals to conflicts at 3000 nodes.
var kubeBinaries = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"}

// BinDir returns the directory where scripts/build-kube.sh caches the
// binaries of a Kubernetes version:
// ${SWITCHYARD_CACHE:-$HOME/.cache/switchyard}/kube/<version>.
func BinDir(version string) string {
	if version == "" {
		version = PinnedVersion
	}
	root := os.Getenv("SWITCHYARD_CACHE")
	if root == "" {
		home, err := os.UserHomeDir()
		if err != nil || home == "" {
			home = "/root"
		}
		root = filepath.Join(home, ".cache", "switchyard")
	}
	return filepath.Join(root, "kube", version)
}

// Binary returns the path of a cached binary (kube-apiserver, kubectl, kwok...)
// and an error telling how to build it when it is missing.
func Binary(version, name string) (string, error) {
	p := filepath.Join(BinDir(version), name)
	st, err := os.Stat(p)
	if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		v := version
		if v == "" {
			v = PinnedVersion
		}
		hint := "run scripts/build-kube.sh (or make deps)"
		if v != PinnedVersion {
			hint += "; note that it builds " + PinnedVersion + ", so set kubernetes.version to " + PinnedVersion + " in the lab config"
		}
		return "", fmt.Errorf("kubernetes %s binary %s not found at %s: %s", v, name, p, hint)
	}
	return p, nil
}

// Dir returns the lab's Kubernetes state directory, <lab dir>/kube.
func Dir(cfg labconfig.Config) string { return cfg.Path("kube") }

// AdminKubeconfig returns the path of the user's kubeconfig (KUBECONFIG in `lab env`).
func AdminKubeconfig(cfg labconfig.Config) string { return filepath.Join(Dir(cfg), "admin.kubeconfig") }

// APIServerURL returns the lab's kube-apiserver address.
func APIServerURL(cfg labconfig.Config) string {
	return "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.Kubernetes.APIServerPort))
}

// RESTConfig returns a client-go config for the lab's admin user, read from
// the admin kubeconfig (written when the control plane is prepared). Its
// client-side rate limits are raised for scale tests.
func RESTConfig(cfg labconfig.Config) (*rest.Config, error) {
	path := AdminKubeconfig(cfg)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("lab admin kubeconfig %s is missing: start the lab's Kubernetes first (switchyard lab up): %w", path, err)
	}
	rc, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, fmt.Errorf("lab admin kubeconfig %s: %w", path, err)
	}
	rc.QPS, rc.Burst = 200, 400
	return rc, nil
}

// AdminClient returns a Kubernetes clientset of the lab's admin user, with
// RESTConfig's settings.
func AdminClient(cfg labconfig.Config) (*kubernetes.Clientset, error) {
	rc, err := RESTConfig(cfg)
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return cs, nil
}

// NodeKubeconfig writes (once) and returns the kubeconfig of the node agent
// of the named lab node: user system:node:<name> in group system:nodes.
func NodeKubeconfig(cfg labconfig.Config, nodeName string) (string, error) {
	if _, ok := cfg.NodeByName(nodeName); !ok {
		return "", fmt.Errorf("node kubeconfig: lab config has no node %q", nodeName)
	}
	path := filepath.Join(Dir(cfg), "node-"+nodeName+".kubeconfig")
	err := withPKILock(pkiDir(cfg), func() error {
		ca, err := loadOrCreateCA(pkiDir(cfg))
		if err != nil {
			return err
		}
		kp, err := ensureCert(pkiDir(cfg), ca, nodeClientCert(nodeName))
		if err != nil {
			return err
		}
		return writeKubeconfig(cfg, path, NodeUserPrefix+nodeName, ca, kp)
	})
	if err != nil {
		return "", fmt.Errorf("node kubeconfig for %s: %w", nodeName, err)
	}
	return path, nil
}

// NodeServingCert writes (once) a serving certificate signed by the lab CA
// for a node agent's kubelet API on addr (an IP), and returns the paths of
// the certificate, its key, and the CA certificate.
func NodeServingCert(cfg labconfig.Config, nodeName, addr string) (certFile, keyFile, caFile string, err error) {
	ip := net.ParseIP(addr)
	if ip == nil {
		return "", "", "", fmt.Errorf("node serving cert for %s: %q is not an IP address", nodeName, addr)
	}
	dir := pkiDir(cfg)
	err = withPKILock(dir, func() error {
		ca, err := loadOrCreateCA(dir)
		if err != nil {
			return err
		}
		_, err = ensureCert(dir, ca, certSpec{
			file: "node-" + nodeName + "-serving", cn: nodeName,
			dns: []string{nodeName}, ips: []net.IP{ip.To4()}, server: true,
		})
		return err
	})
	if err != nil {
		return "", "", "", fmt.Errorf("node serving cert for %s: %w", nodeName, err)
	}
	base := filepath.Join(dir, "node-"+nodeName+"-serving")
	return base + ".crt", base + ".key", filepath.Join(dir, "ca.crt"), nil
}

// CAFile returns the path of the lab CA certificate.
func CAFile(cfg labconfig.Config) string { return filepath.Join(pkiDir(cfg), "ca.crt") }

// KwokNodeName returns the name of the i-th kwok node.
func KwokNodeName(i int) string { return KwokNodePrefix + strconv.Itoa(i) }

func pkiDir(cfg labconfig.Config) string { return filepath.Join(Dir(cfg), "pki") }

func nodeClientCert(name string) certSpec {
	return certSpec{file: "node-" + name, cn: NodeUserPrefix + name, orgs: []string{NodeGroup}, client: true}
}

// layout holds everything derived from the config that the components need.
type layout struct {
	cfg     labconfig.Config
	bin     map[string]string
	etcd    string
	dir     string
	pki     string
	svcIP   net.IP
	kwokNet string
	// podGateway is the host's address on the pod network.
	podGateway netip.Addr
}

func (l layout) kubeconfig(name string) string { return filepath.Join(l.dir, name+".kubeconfig") }
func (l layout) pkiFile(name string) string    { return filepath.Join(l.pki, name) }

// Components returns the lab's Kubernetes control plane in start order:
// etcd, kube-apiserver, kube-controller-manager, kube-scheduler, and kwok
// when cfg.Kubernetes.KwokNodes > 0. It returns nothing when Kubernetes is
// disabled, and an error naming the fix when a binary is missing.
func Components(cfg labconfig.Config, self string) ([]component.Spec, error) {
	_ = self // the control plane runs the cached Kubernetes binaries, not switchyard
	k := cfg.Kubernetes
	if !k.Enabled {
		return nil, nil
	}
	l, err := newLayout(cfg)
	if err != nil {
		return nil, err
	}
	specs := []component.Spec{l.etcdSpec(), l.apiserverSpec(), l.controllerManagerSpec(), l.schedulerSpec()}
	if k.KwokNodes > 0 {
		specs = append(specs, l.kwokSpec())
	}
	return specs, nil
}

func newLayout(cfg labconfig.Config) (layout, error) {
	k := cfg.Kubernetes
	var errs []error
	for _, p := range []struct {
		name string
		port int
	}{
		{"etcdClientPort", k.EtcdClientPort}, {"etcdPeerPort", k.EtcdPeerPort}, {"apiServerPort", k.APIServerPort},
		{"controllerManagerPort", k.ControllerManagerPort}, {"schedulerPort", k.SchedulerPort},
	} {
		if p.port < 1 || p.port > 65535 {
			errs = append(errs, fmt.Errorf("lab config kubernetes.%s: %d is not a port (1-65535)", p.name, p.port))
		}
	}
	if k.KwokNodes < 0 {
		errs = append(errs, fmt.Errorf("lab config kubernetes.kwokNodes: %d must be >= 0", k.KwokNodes))
	}
	svcIP, err := firstServiceIP(k.ServiceCIDR)
	if err != nil {
		errs = append(errs, fmt.Errorf("lab config %w", err))
	}
	kwokNet, err := kwokCIDR(k.PodCIDR)
	if err != nil {
		errs = append(errs, fmt.Errorf("lab config %w", err))
	}
	gw, err := k.PodGateway()
	if err != nil {
		errs = append(errs, fmt.Errorf("lab config %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return layout{}, err
	}
	l := layout{cfg: cfg, bin: map[string]string{}, dir: Dir(cfg), pki: pkiDir(cfg), svcIP: svcIP, kwokNet: kwokNet, podGateway: gw}
	names := kubeBinaries
	if k.KwokNodes > 0 {
		names = append(names[:len(names):len(names)], "kwok")
	}
	for _, n := range names {
		p, err := Binary(k.Version, n)
		if err != nil {
			return layout{}, err
		}
		l.bin[n] = p
	}
	l.etcd = l.bin["etcd"]
	return l, nil
}

// kwokCIDR returns the upper half of the pod CIDR: kwok gives its simulated
// pods addresses there, apart from the per-node /24s of the node agents.
func kwokCIDR(podCIDR string) (string, error) {
	p, err := netip.ParsePrefix(podCIDR)
	if err != nil {
		return "", fmt.Errorf("kubernetes.podCIDR: %w", err)
	}
	if !p.Addr().Is4() || p.Bits() > 22 {
		return "", fmt.Errorf("kubernetes.podCIDR: %q must be an IPv4 range of at least /22 (node agents take /24s from the lower half, kwok pods the upper half)", podCIDR)
	}
	b := p.Masked().Addr().As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v |= 1 << (31 - p.Bits())
	half := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	return netip.PrefixFrom(half, p.Bits()+1).String(), nil
}

func (l layout) env() []string {
	return []string{labconfig.MarkerEnv + "=" + l.cfg.ID}
}

func hostPort(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// etcdSpec runs etcd serving TLS only: clients and the peer port need a
// certificate from the lab's CA (the apiserver's, and Switchyard's, whose
// user reads and writes only under EtcdSwitchyardPrefix), so another local
// user can neither read nor write it.
func (l layout) etcdSpec() component.Spec {
	k := l.cfg.Kubernetes
	p := l.pkiFile
	client, peer := "https://"+hostPort(k.EtcdClientPort), "https://"+hostPort(k.EtcdPeerPort)
	data := filepath.Join(l.dir, "etcd")
	return component.Spec{
		Name: EtcdName,
		Argv: []string{
			l.etcd,
			"--name=" + l.cfg.ID,
			"--data-dir=" + data,
			"--listen-client-urls=" + client,
			"--advertise-client-urls=" + client,
			"--listen-peer-urls=" + peer,
			"--initial-advertise-peer-urls=" + peer,
			"--initial-cluster=" + l.cfg.ID + "=" + peer,
			"--initial-cluster-state=new",
			"--cert-file=" + p("etcd-server.crt"),
			"--key-file=" + p("etcd-server.key"),
			"--trusted-ca-file=" + p("ca.crt"),
			"--client-cert-auth=true",
			"--peer-cert-file=" + p("etcd-server.crt"),
			"--peer-key-file=" + p("etcd-server.key"),
			"--peer-trusted-ca-file=" + p("ca.crt"),
			"--peer-client-cert-auth=true",
			"--unsafe-no-fsync",
			// One member: a short election makes it leader (and healthy)
			// about half a second sooner on every start.
			"--heartbeat-interval=50",
			"--election-timeout=250",
			"--logger=zap",
			"--log-level=warn",
		},
		Env:     l.env(),
		Address: client,
		Prepare: func(context.Context) error {
			if err := os.MkdirAll(data, 0o700); err != nil {
				return fmt.Errorf("etcd data dir: %w", err)
			}
			return l.prepareFiles() // etcd's certificates
		},
		Ready: func(ctx context.Context) error {
			c, err := l.httpClient("apiserver-etcd-client")
			if err != nil {
				return err
			}
			return probeEtcd(ctx, c, client+"/health")
		},
		Configure: l.enableEtcdAuth,
	}
}

func (l layout) apiserverSpec() component.Spec {
	k := l.cfg.Kubernetes
	p := l.pkiFile
	return component.Spec{
		Name: APIServerName,
		Argv: []string{
			l.bin["kube-apiserver"],
			"--etcd-servers=https://" + hostPort(k.EtcdClientPort),
			"--etcd-cafile=" + p("ca.crt"),
			"--etcd-certfile=" + p("apiserver-etcd-client.crt"),
			"--etcd-keyfile=" + p("apiserver-etcd-client.key"),
			"--bind-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(k.APIServerPort),
			"--tls-cert-file=" + p("apiserver.crt"),
			"--tls-private-key-file=" + p("apiserver.key"),
			"--client-ca-file=" + p("ca.crt"),
			"--authorization-mode=Node,RBAC",
			"--enable-admission-plugins=NodeRestriction",
			"--anonymous-auth=false",
			"--allow-privileged=true",
			"--service-cluster-ip-range=" + k.ServiceCIDR,
			"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
			"--service-account-key-file=" + p("sa.pub"),
			"--service-account-signing-key-file=" + p("sa.key"),
			// Lab nodes are loopback addresses: no Endpoints for the
			// `kubernetes` Service, which could only name a non-loopback IP.
			"--endpoint-reconciler-type=none",
			"--kubelet-client-certificate=" + p("apiserver-kubelet-client.crt"),
			"--kubelet-client-key=" + p("apiserver-kubelet-client.key"),
			"--kubelet-preferred-address-types=InternalIP,Hostname",
			"--profiling=false",
		},
		Env:          l.env(),
		After:        []string{EtcdName},
		Address:      APIServerURL(l.cfg),
		Prepare:      func(context.Context) error { return l.prepareFiles() },
		Ready:        l.apiserverReady,
		ReadyTimeout: 90 * time.Second,
		StopGrace:    15 * time.Second,
	}
}

func (l layout) controllerManagerSpec() component.Spec {
	k := l.cfg.Kubernetes
	p := l.pkiFile
	kc := l.kubeconfig("controller-manager")
	return component.Spec{
		Name: ControllerManagerName,
		Argv: []string{
			l.bin["kube-controller-manager"],
			"--kubeconfig=" + kc,
			"--authentication-kubeconfig=" + kc,
			"--authorization-kubeconfig=" + kc,
			// No front proxy in the lab: trust --client-ca-file instead of
			// the apiserver's (empty) requestheader bundle.
			"--authentication-skip-lookup=true",
			"--bind-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(k.ControllerManagerPort),
			"--tls-cert-file=" + p("controller-manager-serving.crt"),
			"--tls-private-key-file=" + p("controller-manager-serving.key"),
			"--client-ca-file=" + p("ca.crt"),
			"--root-ca-file=" + p("ca.crt"),
			"--cluster-signing-cert-file=" + p("ca.crt"),
			"--cluster-signing-key-file=" + p("ca.key"),
			"--service-account-private-key-file=" + p("sa.key"),
			"--use-service-account-credentials=true",
			"--leader-elect=false",
			"--cluster-cidr=" + k.PodCIDR,
			"--allocate-node-cidrs=false",
			"--service-cluster-ip-range=" + k.ServiceCIDR,
			"--kube-api-qps=100",
			"--kube-api-burst=200",
			"--profiling=false",
		},
		Env:     l.env(),
		After:   []string{APIServerName},
		Address: "https://" + hostPort(k.ControllerManagerPort),
		Prepare: func(context.Context) error { return l.prepareFiles() },
		Ready: func(ctx context.Context) error {
			return l.probeHTTPS(ctx, "https://"+hostPort(k.ControllerManagerPort)+"/healthz", "")
		},
	}
}

func (l layout) schedulerSpec() component.Spec {
	k := l.cfg.Kubernetes
	p := l.pkiFile
	kc := l.kubeconfig("scheduler")
	return component.Spec{
		Name: SchedulerName,
		Argv: []string{
			l.bin["kube-scheduler"],
			"--config=" + filepath.Join(l.dir, "scheduler.yaml"),
			"--authentication-kubeconfig=" + kc,
			"--authorization-kubeconfig=" + kc,
			"--authentication-skip-lookup=true",
			"--bind-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(k.SchedulerPort),
			"--tls-cert-file=" + p("scheduler-serving.crt"),
			"--tls-private-key-file=" + p("scheduler-serving.key"),
			"--client-ca-file=" + p("ca.crt"),
		},
		Env:     l.env(),
		After:   []string{APIServerName},
		Address: "https://" + hostPort(k.SchedulerPort),
		Prepare: func(context.Context) error { return l.prepareFiles() },
		Ready: func(ctx context.Context) error {
			return l.probeHTTPS(ctx, "https://"+hostPort(k.SchedulerPort)+"/healthz", "")
		},
	}
}

// schedulerConfig is the KubeSchedulerConfiguration: its client limits are
// raised for scale tests with thousands of kwok pods.
func (l layout) schedulerConfig() []byte {
	kc, _ := json.Marshal(l.kubeconfig("scheduler"))
	return []byte("apiVersion: kubescheduler.config.k8s.io/v1\n" +
		"kind: KubeSchedulerConfiguration\n" +
		"clientConnection:\n" +
		"  kubeconfig: " + string(kc) + "\n" +
		"  qps: 100\n" +
		"  burst: 200\n" +
		"leaderElection:\n" +
		"  leaderElect: false\n")
}

// prepareFiles writes the PKI, the kubeconfigs and the scheduler config;
// existing valid files are kept, so a restarted lab keeps its identities.
func (l layout) prepareFiles() error {
	err := withPKILock(l.pki, func() error {
		ca, err := loadOrCreateCA(l.pki)
		if err != nil {
			return err
		}
		if err := ensureServiceAccountKey(l.pki); err != nil {
			return err
		}
		lo := []net.IP{net.IPv4(127, 0, 0, 1).To4()}
		serving := []certSpec{
			// Pods reach the API server on the pod network's gateway
			// (PodAPIAddress), through the node agents' forwarders.
			{file: "apiserver", cn: "kube-apiserver", server: true,
				dns: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
				ips: []net.IP{lo[0], l.svcIP.To4(), l.podGateway.AsSlice()}},
			{file: "controller-manager-serving", cn: "kube-controller-manager", server: true, dns: []string{"localhost"}, ips: lo},
			{file: "scheduler-serving", cn: "kube-scheduler", server: true, dns: []string{"localhost"}, ips: lo},
			{file: "apiserver-kubelet-client", cn: "kube-apiserver-kubelet-client", orgs: []string{"system:masters"}, client: true},
			// etcd serves (and peers) with one certificate; the apiserver
			// (etcd's root) and Switchyard (its prefix only) are its clients.
			{file: "etcd-server", cn: "etcd", server: true, client: true, dns: []string{"localhost"}, ips: lo},
			{file: "apiserver-etcd-client", cn: etcdAPIServerUser, client: true},
			// Switchyard's own etcd user (enableEtcdAuth limits it to its prefix).
			{file: etcdSwitchyardCert, cn: EtcdSwitchyardUser, client: true},
		}
		for _, s := range serving {
			if _, err := ensureCert(l.pki, ca, s); err != nil {
				return err
			}
		}
		clients := []struct {
			kubeconfig string
			spec       certSpec
		}{
			{"admin", certSpec{file: "admin", cn: AdminUser, orgs: []string{"system:masters"}, client: true}},
			{"controller-manager", certSpec{file: "controller-manager", cn: "system:kube-controller-manager", client: true}},
			{"scheduler", certSpec{file: "scheduler", cn: "system:kube-scheduler", client: true}},
			// kwok simulates thousands of kubelets and their pods; in the
			// lab it acts with cluster-admin rights.
			{"kwok", certSpec{file: "kwok", cn: "switchyard:kwok", orgs: []string{"system:masters"}, client: true}},
		}
		for _, c := range clients {
			kp, err := ensureCert(l.pki, ca, c.spec)
			if err != nil {
				return err
			}
			if err := writeKubeconfig(l.cfg, l.kubeconfig(c.kubeconfig), c.spec.cn, ca, kp); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("kubernetes PKI in %s: %w", l.pki, err)
	}
	if err := writeFileAtomic(filepath.Join(l.dir, "scheduler.yaml"), l.schedulerConfig(), 0o644); err != nil {
		return err
	}
	return os.MkdirAll(filepath.Join(l.dir, "kwok"), 0o700)
}

// writeKubeconfig writes a self-contained kubeconfig (certificates embedded)
// for user with the client key pair kp.
func writeKubeconfig(cfg labconfig.Config, path, user string, ca, kp *keyPair) error {
	name := cfg.ID
	kc := clientcmdapi.NewConfig()
	kc.Clusters[name] = &clientcmdapi.Cluster{Server: APIServerURL(cfg), CertificateAuthorityData: ca.certPEM}
	kc.AuthInfos[user] = &clientcmdapi.AuthInfo{ClientCertificateData: kp.certPEM, ClientKeyData: kp.keyPEM}
	kc.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: user}
	kc.CurrentContext = name
	data, err := clientcmd.Write(*kc)
	if err != nil {
		return fmt.Errorf("encode kubeconfig %s: %w", path, err)
	}
	return writeFileAtomic(path, data, 0o600)
}

// httpClient returns a client that trusts the lab CA and, unless clientCert
// is "", presents the client certificate of that name from the lab's PKI
// ("admin", "apiserver-etcd-client").
func (l layout) httpClient(clientCert string) (*http.Client, error) {
	tc, err := l.tlsConfig(clientCert)
	if err != nil {
		return nil, err
	}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tc, DisableKeepAlives: true}}, nil
}

// tlsConfig trusts the lab CA and, unless clientCert is "", presents the
// client certificate of that name from the lab's PKI.
func (l layout) tlsConfig(clientCert string) (*tls.Config, error) {
	pool, err := capool.Load(l.pkiFile("ca.crt"), false)
	if err != nil {
		return nil, fmt.Errorf("lab CA: %w", err)
	}
	tc := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if clientCert != "" {
		cert, err := tls.LoadX509KeyPair(l.pkiFile(clientCert+".crt"), l.pkiFile(clientCert+".key"))
		if err != nil {
			return nil, fmt.Errorf("%s client certificate: %w", clientCert, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

func (l layout) probeHTTPS(ctx context.Context, url string, clientCert string) error {
	c, err := l.httpClient(clientCert)
	if err != nil {
		return err
	}
	return probe(ctx, c, url, func(body []byte) error {
		if strings.TrimSpace(string(body)) != "ok" {
			return fmt.Errorf("answered %q", truncate(body))
		}
		return nil
	})
}

func probeEtcd(ctx context.Context, c *http.Client, url string) error {
	return probe(ctx, c, url, func(body []byte) error {
		var h struct {
			Health string `json:"health"`
		}
		if err := json.Unmarshal(body, &h); err != nil || h.Health != "true" {
			return fmt.Errorf("unhealthy: %q", truncate(body))
		}
		return nil
	})
}

func probe(ctx context.Context, c *http.Client, url string, check func([]byte) error) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, truncate(body))
	}
	if err := check(body); err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	return nil
}

func truncate(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}
