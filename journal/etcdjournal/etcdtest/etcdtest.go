// Package etcdtest runs a real etcd for tests: one member in a temporary
// directory, on free loopback ports, serving TLS only to clients with a
// certificate from its own CA (as production etcd does), stopped with
// nothing left behind. It is test support (for package etcdjournal and
// whatever builds on it); it does not locate nor build the etcd binary:
// callers pass its path (the lab's build, lab/kube.Binary, in their tests).
package etcdtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/testenv"
)

// The directories Start makes are os.TempDir()/etcdtest-*, each with the
// pid of the test process that owns it in ownerFile.
const (
	dirPattern = "etcdtest-"
	ownerFile  = "owner.pid"
)

// removeStale removes the directories of test processes that ended
// without stopping their etcd (killed, panicked; etcd died with them, by
// Pdeathsig). One without an owner file yet (being made) is left alone
// unless it is a day old.
func removeStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPattern+"*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, ownerFile))
		if err != nil {
			if st, serr := os.Stat(d); serr == nil && time.Since(st.ModTime()) > 24*time.Hour {
				os.RemoveAll(d)
			}
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err == nil && pid > 0 && errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			os.RemoveAll(d)
		}
	}
}

// Server is a running etcd and what a client needs to reach it.
type Server struct {
	// Endpoint is the client URL (https://127.0.0.1:PORT).
	Endpoint string
	// Endpoints are the client URLs on the extra addresses StartOn was
	// given (same port), in their order.
	Endpoints []string
	// CAFile is the CA that signed the server's certificate and the client's.
	CAFile string
	// CertFile and KeyFile are a client certificate etcd accepts, and its key.
	CertFile, KeyFile string

	dir  string
	cmd  *exec.Cmd
	done chan struct{}
}

// Start starts the etcd binary bin in a new temporary directory and waits
// until it answers (30s at most). Ports taken between their choice and
// etcd's start are retried with others.
func Start(bin string) (*Server, error) { return StartOn(bin) }

// StartOn is Start with etcd also listening on the addresses ips (for
// clients elsewhere than on loopback, such as pods of a lab reaching it on
// their network's gateway); its certificate names them too.
func StartOn(bin string, ips ...net.IP) (*Server, error) {
	removeStale()
	dir, err := os.MkdirTemp("", dirPattern)
	if err != nil {
		return nil, fmt.Errorf("etcdtest: %w", err)
	}
	s := &Server{dir: dir, CAFile: filepath.Join(dir, "ca.crt"), CertFile: filepath.Join(dir, "client.crt"), KeyFile: filepath.Join(dir, "client.key")}
	err = os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o600)
	if err == nil {
		err = writePKI(dir, ips)
	}
	for attempt := 0; err == nil && attempt < 3; attempt++ {
		if err = s.run(bin, attempt, ips); err == nil {
			return s, nil
		}
	}
	os.RemoveAll(dir)
	return nil, fmt.Errorf("etcdtest: %w", err)
}

func (s *Server) run(bin string, attempt int, ips []net.IP) error {
	ports, err := testenv.FreePorts(2)
	if err != nil {
		return err
	}
	client, peer := "https://127.0.0.1:"+strconv.Itoa(ports[0]), "http://127.0.0.1:"+strconv.Itoa(ports[1])
	listen := []string{client}
	s.Endpoints = nil
	for _, ip := range ips {
		u := "https://" + net.JoinHostPort(ip.String(), strconv.Itoa(ports[0]))
		listen = append(listen, u)
		s.Endpoints = append(s.Endpoints, u)
	}
	logPath := filepath.Join(s.dir, "etcd"+strconv.Itoa(attempt)+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	p := func(name string) string { return filepath.Join(s.dir, name) }
	cmd := exec.Command(bin,
		"--name=test", "--data-dir="+p("data"+strconv.Itoa(attempt)),
		"--listen-client-urls="+strings.Join(listen, ","), "--advertise-client-urls="+client,
		"--listen-peer-urls="+peer, "--initial-advertise-peer-urls="+peer,
		"--initial-cluster=test="+peer, "--initial-cluster-state=new",
		"--cert-file="+p("server.crt"), "--key-file="+p("server.key"),
		"--trusted-ca-file="+s.CAFile, "--client-cert-auth=true",
		// One member: a short election makes it leader sooner.
		"--heartbeat-interval=50", "--election-timeout=250",
		"--logger=zap", "--log-level=warn",
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", bin, err)
	}
	s.cmd, s.done, s.Endpoint = cmd, make(chan struct{}), client
	go func() { cmd.Wait(); close(s.done) }()
	hc, err := s.httpClient()
	if err != nil {
		s.Stop()
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-s.done:
			log, _ := os.ReadFile(logPath)
			return fmt.Errorf("etcd exited at start (%v): %s", cmd.ProcessState, lastLines(string(log), 5))
		default:
		}
		err := healthy(hc, client+"/health")
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			s.kill()
			return fmt.Errorf("etcd not healthy after 30s: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *Server) httpClient() (*http.Client, error) {
	ca, err := os.ReadFile(s.CAFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	cert, err := tls.LoadX509KeyPair(s.CertFile, s.KeyFile)
	if err != nil {
		return nil, err
	}
	return &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}}}}, nil
}

// healthy asks etcd's /health.
func healthy(c *http.Client, url string) error {
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	var h struct {
		Health string `json:"health"`
	}
	if err := json.Unmarshal(body, &h); err != nil || h.Health != "true" {
		return fmt.Errorf("GET %s: %s %q", url, resp.Status, body)
	}
	return nil
}

// kill ends etcd's process group: SIGTERM, then SIGKILL after 10s.
func (s *Server) kill() {
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
}

// Stop ends etcd and removes its directory (data, certificates, logs).
func (s *Server) Stop() error {
	s.kill()
	if err := os.RemoveAll(s.dir); err != nil {
		return fmt.Errorf("etcdtest: %w", err)
	}
	return nil
}

// Shared is one etcd for a test binary, started by the first test that
// asks for it; TestMain calls Stop after the tests.
type Shared struct {
	// Binary locates etcd (a missing binary: an error saying how to build it).
	Binary func() (string, error)

	once sync.Once
	srv  *Server
	err  error
	errB error
}

// Server returns the shared etcd, starting it on first use. Under -short
// it skips the test. A missing binary skips the test with the reason in one
// line, or fails it under CI ($CI set): CI must have every prerequisite.
func (sh *Shared) Server(tb testing.TB) *Server {
	tb.Helper()
	testenv.SkipIfShort(tb, "etcd")
	sh.once.Do(func() {
		bin, err := sh.Binary()
		if err != nil {
			sh.errB = err
			return
		}
		sh.srv, sh.err = Start(bin)
	})
	if sh.errB != nil {
		testenv.Missing(tb, "needs etcd: %v", sh.errB)
	}
	if sh.err != nil {
		tb.Fatal(sh.err)
	}
	return sh.srv
}

// Stop stops the shared etcd if it was started.
func (sh *Shared) Stop() error {
	if sh.srv == nil {
		return nil
	}
	return sh.srv.Stop()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// writePKI writes into dir a CA (ca.crt), etcd's server certificate for
// 127.0.0.1, localhost and ips (server.crt, server.key) and a client
// certificate (client.crt, client.key), ECDSA P-256, valid for a day.
func writePKI(dir string, ips []net.IP) error {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "etcdtest CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	files := map[string]*pem.Block{"ca.crt": {Type: "CERTIFICATE", Bytes: caDER}}
	for i, c := range []struct {
		name  string
		usage []x509.ExtKeyUsage
	}{
		{"server", []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}},
		{"client", []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}},
	} {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(int64(i + 2)), Subject: pkix.Name{CommonName: c.name},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: c.usage,
			IPAddresses: append([]net.IP{net.IPv4(127, 0, 0, 1)}, ips...), DNSNames: []string{"localhost"},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return err
		}
		kder, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			return err
		}
		files[c.name+".crt"] = &pem.Block{Type: "CERTIFICATE", Bytes: der}
		files[c.name+".key"] = &pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}
	}
	var errs []error
	for name, b := range files {
		errs = append(errs, os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(b), 0o600))
	}
	return errors.Join(errs...)
}

// Need starts an etcd for one test, stopped when the test ends. Under
// -short it skips the test; a binary that binary cannot locate (or that is
// not there) skips it, or fails it under CI.
func Need(tb testing.TB, binary func() (string, error)) *Server {
	tb.Helper()
	testenv.SkipIfShort(tb, "etcd")
	bin, err := binary()
	if err == nil {
		_, err = os.Stat(bin)
	}
	if err != nil {
		testenv.Missing(tb, "needs etcd: %v (scripts/build-kube.sh builds it)", err)
	}
	s, err := Start(bin)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Stop() })
	return s
}
