package kube

import (
	"bytes"
	"crypto"
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
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/switchyard/switchyard/internal/atomicfile"
)

// certValidity is how long lab certificates live; the lab dir is reused for
// years at most, and a regenerated lab dir starts over.
const certValidity = 10 * 365 * 24 * time.Hour

// certSpec describes one certificate signed by the lab CA.
type certSpec struct {
	// file is the base name: <pki>/<file>.crt and <pki>/<file>.key.
	file string
	// cn and orgs are the subject; for client certs the apiserver reads
	// them as user name and groups.
	cn   string
	orgs []string
	// dns and ips are serving SANs (empty for client-only certs).
	dns []string
	ips []net.IP
	// usage is client, server or both.
	client, server bool
}

// keyPair is a parsed certificate with its key and their PEM encodings.
type keyPair struct {
	cert    *x509.Certificate
	key     crypto.Signer
	certPEM []byte
	keyPEM  []byte
}

// pkiMu serialises PKI generation inside one process; a file lock does it
// across processes (several `lab` commands or node agents preparing at once).
var pkiMu sync.Mutex

// withPKILock runs fn holding the lab's PKI lock.
func withPKILock(dir string, fn func() error) error {
	pkiMu.Lock()
	defer pkiMu.Unlock()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create PKI dir: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("PKI lock: %w", err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("PKI lock: %w", err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN) //nolint:errcheck // released on close anyway
	return fn()
}

// loadOrCreateCA returns the lab CA in dir, creating it on first use.
func loadOrCreateCA(dir string) (*keyPair, error) {
	if kp, err := readKeyPair(dir, "ca"); err == nil && kp.cert.IsCA {
		return kp, nil
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("lab CA in %s is unreadable (delete the kube directory of the lab to regenerate it): %w", dir, err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "switchyard-lab-ca", Organization: []string{"switchyard"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(certValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	kp, err := newKeyPair(der, key)
	if err != nil {
		return nil, err
	}
	// A new CA invalidates every certificate signed by an old one.
	old, _ := filepath.Glob(filepath.Join(dir, "*.crt"))
	for _, f := range old {
		_ = os.Remove(f)
	}
	return kp, writeKeyPair(dir, "ca", kp)
}

// ensureCert returns the certificate described by s, signed by ca. An
// existing certificate is reused when ca signed it and it matches s.
func ensureCert(dir string, ca *keyPair, s certSpec) (*keyPair, error) {
	if kp, err := readKeyPair(dir, s.file); err == nil && certMatches(kp.cert, ca.cert, s) {
		return kp, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key for %s: %w", s.file, err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: s.cn, Organization: s.orgs},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(certValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		DNSNames:     s.dns,
		IPAddresses:  s.ips,
	}
	if s.client {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	}
	if s.server {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return nil, fmt.Errorf("sign certificate %s: %w", s.file, err)
	}
	kp, err := newKeyPair(der, key)
	if err != nil {
		return nil, err
	}
	return kp, writeKeyPair(dir, s.file, kp)
}

// certMatches reports whether c was signed by ca, is valid for a while yet,
// and has the subject and SANs of s.
func certMatches(c, ca *x509.Certificate, s certSpec) bool {
	if c.CheckSignatureFrom(ca) != nil || time.Until(c.NotAfter) < 30*24*time.Hour {
		return false
	}
	if c.Subject.CommonName != s.cn || !slices.Equal(c.Subject.Organization, s.orgs) || !slices.Equal(c.DNSNames, s.dns) {
		return false
	}
	if len(c.IPAddresses) != len(s.ips) {
		return false
	}
	for i := range s.ips {
		if !c.IPAddresses[i].Equal(s.ips[i]) {
			return false
		}
	}
	return true
}

// ensureServiceAccountKey returns the PEM public key of the service-account
// signing key pair (sa.key, sa.pub), creating it on first use.
func ensureServiceAccountKey(dir string) error {
	keyPath, pubPath := filepath.Join(dir, "sa.key"), filepath.Join(dir, "sa.pub")
	if data, err := os.ReadFile(keyPath); err == nil {
		if _, err := parseKey(data); err == nil {
			if _, err := os.Stat(pubPath); err == nil {
				return nil
			}
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generate service-account key: %w", err)
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return fmt.Errorf("encode service-account key: %w", err)
	}
	pub, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return fmt.Errorf("encode service-account public key: %w", err)
	}
	if err := writeFileAtomic(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return err
	}
	return writeFileAtomic(pubPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644)
}

func newKeyPair(der []byte, key *ecdsa.PrivateKey) (*keyPair, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse new certificate: %w", err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode key: %w", err)
	}
	return &keyPair{
		cert:    cert,
		key:     key,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}),
	}, nil
}

func readKeyPair(dir, name string) (*keyPair, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, name+".crt"))
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, name+".key"))
	if err != nil {
		return nil, err
	}
	b, _ := pem.Decode(certPEM)
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s.crt: no PEM certificate", name)
	}
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s.crt: %w", name, err)
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s.key: %w", name, err)
	}
	pub, ok := key.Public().(*ecdsa.PublicKey)
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("%s.key does not match %s.crt", name, name)
	}
	return &keyPair{cert: cert, key: key, certPEM: certPEM, keyPEM: keyPEM}, nil
}

func parseKey(data []byte) (crypto.Signer, error) {
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, errors.New("no PEM key")
	}
	k, err := x509.ParseECPrivateKey(b.Bytes)
	if err != nil {
		return nil, err
	}
	return k, nil
}

func writeKeyPair(dir, name string, kp *keyPair) error {
	if err := writeFileAtomic(filepath.Join(dir, name+".key"), kp.keyPEM, 0o600); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, name+".crt"), kp.certPEM, 0o644)
}

// writeFileAtomic replaces path with data (write to a temp file, rename),
// skipping the write when the content is already there.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	return atomicfile.Write(path, data, perm)
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return n
}

// firstServiceIP returns the first usable address of the Service CIDR, the
// ClusterIP of the `kubernetes` Service.
func firstServiceIP(cidr string) (net.IP, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return nil, fmt.Errorf("kubernetes.serviceCIDR: %w", err)
	}
	if !p.Addr().Is4() || p.Bits() > 30 {
		return nil, fmt.Errorf("kubernetes.serviceCIDR: %q must be an IPv4 range of at least /30", cidr)
	}
	return net.IP(p.Masked().Addr().Next().AsSlice()), nil
}
