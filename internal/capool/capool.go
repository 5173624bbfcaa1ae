// Package capool reads the PEM CA bundles named in contexts and flags
// (caFile, --registry-ca-file, --peer-ca...) into certificate pools, and
// makes the HTTP transport that trusts one.
package capool

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
)

// Load reads the PEM CA bundle at path into a pool. With withSystem the
// pool also holds the system's roots (a server that may present a public
// certificate as well); without, only the file's CAs are trusted (a private
// CA the peer must be signed by). A file holding no PEM certificate is an
// error naming it.
func Load(path string, withSystem bool) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool, ok := FromPEM(pem, withSystem)
	if !ok {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}

// FromPEM is Load for a PEM bundle already in memory (a config's inline CA
// data); ok is false when it holds no PEM certificate.
func FromPEM(pem []byte, withSystem bool) (pool *x509.CertPool, ok bool) {
	if withSystem {
		pool, _ = x509.SystemCertPool()
	}
	if pool == nil {
		pool = x509.NewCertPool()
	}
	return pool, pool.AppendCertsFromPEM(pem)
}

// Transport is a clone of http.DefaultTransport that trusts pool (TLS 1.2
// at least).
func Transport(pool *x509.CertPool) *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return tr
}
