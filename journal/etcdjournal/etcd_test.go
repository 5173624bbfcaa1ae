package etcdjournal

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/switchyard/switchyard/lab/kube"
)

// The package's tests share one etcd (TLS, client certificates required,
// on free loopback ports, in a temporary directory), started on first use
// and stopped by TestMain; each test works under its own prefix.
var (
	etcdOnce sync.Once
	etcdSrv  *etcdServer
	etcdErr  error
	prefixes atomic.Int64
)

// errNoEtcd is the error when the etcd binary is not built.
var errNoEtcd = errors.New("etcd binary missing")

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(fenceChild())
	}
	code := m.Run()
	if etcdSrv != nil {
		if err := etcdSrv.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop etcd:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// etcdFor returns the shared etcd's client settings, starting it on first
// use. Without the binary the test is skipped, or fails under CI.
func etcdFor(tb testing.TB) Config {
	tb.Helper()
	etcdOnce.Do(func() { etcdSrv, etcdErr = startEtcd() })
	if errors.Is(etcdErr, errNoEtcd) {
		if os.Getenv("CI") != "" {
			tb.Fatalf("prerequisite missing in CI: %v", etcdErr)
		}
		tb.Skipf("needs etcd: %v", etcdErr)
	}
	if etcdErr != nil {
		tb.Fatal(etcdErr)
	}
	return etcdSrv.cfg
}

// newPrefix is a prefix no other test of this run uses.
func newPrefix(tb testing.TB) string {
	name := strings.NewReplacer("/", "_", " ", "_").Replace(tb.Name())
	return fmt.Sprintf("/test/%d-%s", prefixes.Add(1), name)
}

// newClient dials cfg; the client is closed when the test ends.
func newClient(tb testing.TB, cfg Config) *clientv3.Client {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cli, err := Dial(ctx, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cli.Close() })
	return cli
}

type etcdServer struct {
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
	cfg  Config
}

// startEtcd starts etcd in a new temporary directory, retrying with other
// ports when the ones picked were taken meanwhile.
func startEtcd() (*etcdServer, error) {
	bin, err := kube.Binary(kube.PinnedVersion, "etcd")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNoEtcd, err)
	}
	dir, err := os.MkdirTemp("", "etcdjournal-test-")
	if err != nil {
		return nil, err
	}
	cfg, err := writePKI(dir)
	if err == nil {
		for attempt := 0; attempt < 3; attempt++ {
			var s *etcdServer
			if s, err = runEtcd(bin, dir, cfg, attempt); err == nil {
				return s, nil
			}
		}
	}
	os.RemoveAll(dir)
	return nil, err
}

func runEtcd(bin, dir string, cfg Config, attempt int) (*etcdServer, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	client, peer := "https://127.0.0.1:"+strconv.Itoa(ports[0]), "http://127.0.0.1:"+strconv.Itoa(ports[1])
	data := filepath.Join(dir, "data"+strconv.Itoa(attempt))
	logf, err := os.Create(filepath.Join(dir, "etcd"+strconv.Itoa(attempt)+".log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin,
		"--name=test", "--data-dir="+data,
		"--listen-client-urls="+client, "--advertise-client-urls="+client,
		"--listen-peer-urls="+peer, "--initial-advertise-peer-urls="+peer,
		"--initial-cluster=test="+peer, "--initial-cluster-state=new",
		"--cert-file="+filepath.Join(dir, "server.crt"), "--key-file="+filepath.Join(dir, "server.key"),
		"--trusted-ca-file="+cfg.CAFile, "--client-cert-auth=true",
		"--heartbeat-interval=50", "--election-timeout=250",
		"--logger=zap", "--log-level=warn",
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start etcd: %w", err)
	}
	s := &etcdServer{dir: dir, cmd: cmd, done: make(chan struct{})}
	s.cfg = cfg
	s.cfg.Endpoints = []string{client}
	go func() { cmd.Wait(); close(s.done) }()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			log, _ := os.ReadFile(logf.Name())
			return nil, fmt.Errorf("etcd exited at start (%v): %s", cmd.ProcessState, lastLines(string(log), 5))
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		cli, err := Dial(ctx, s.cfg)
		cancel()
		if err == nil {
			cli.Close()
			return s, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.stop()
	return nil, errors.New("etcd not ready after 30s")
}

// stop ends etcd (SIGTERM, then SIGKILL after 10s) and removes its directory.
func (s *etcdServer) stop() error {
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
	return os.RemoveAll(s.dir)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// freePorts returns n loopback ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	var out []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer ln.Close()
		out = append(out, ln.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

// writePKI writes a CA, etcd's server certificate (127.0.0.1, localhost)
// and a client certificate into dir, and returns the client's settings.
func writePKI(dir string) (Config, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Config{}, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "etcdjournal test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return Config{}, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return Config{}, err
	}
	if err := writePEM(filepath.Join(dir, "ca.crt"), "CERTIFICATE", caDER); err != nil {
		return Config{}, err
	}
	for i, c := range []struct {
		name  string
		usage []x509.ExtKeyUsage
	}{
		{"server", []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}},
		{"client", []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}},
	} {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return Config{}, err
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(int64(i + 2)), Subject: pkix.Name{CommonName: c.name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: c.usage,
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return Config{}, err
		}
		kder, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			return Config{}, err
		}
		if err := writePEM(filepath.Join(dir, c.name+".crt"), "CERTIFICATE", der); err != nil {
			return Config{}, err
		}
		if err := writePEM(filepath.Join(dir, c.name+".key"), "EC PRIVATE KEY", kder); err != nil {
			return Config{}, err
		}
	}
	return Config{CAFile: filepath.Join(dir, "ca.crt"), CertFile: filepath.Join(dir, "client.crt"), KeyFile: filepath.Join(dir, "client.key")}, nil
}

func writePEM(path, typ string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
}
