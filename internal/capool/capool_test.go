package capool

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoad(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, IsCA: true,
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	junk := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(junk, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	for _, withSystem := range []bool{false, true} {
		pool, err := Load(ca, withSystem)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cert.Verify(x509.VerifyOptions{Roots: pool}); err != nil {
			t.Errorf("withSystem %v: the file's CA is not trusted: %v", withSystem, err)
		}
	}
	if pool, ok := FromPEM(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), false); !ok {
		t.Error("FromPEM: the CA was not read")
	} else if _, err := cert.Verify(x509.VerifyOptions{Roots: pool}); err != nil {
		t.Errorf("FromPEM: the CA is not trusted: %v", err)
	}
	if _, ok := FromPEM([]byte("not a certificate"), true); ok {
		t.Error("FromPEM accepted a bundle without a certificate")
	}
	if _, err := Load(junk, false); err == nil || !strings.Contains(err.Error(), junk+" holds no PEM certificate") {
		t.Errorf("Load(junk) = %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing"), true); !os.IsNotExist(err) {
		t.Errorf("Load(missing) = %v, want not-exist", err)
	}
	if tr := Transport(nil); tr.TLSClientConfig.MinVersion != 0x0303 || tr == nil {
		t.Errorf("Transport: %+v", tr.TLSClientConfig)
	}
}
