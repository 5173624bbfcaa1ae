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
	var pool *x509.CertPool
	if withSystem {
		pool, _ = x509.SystemCertPool()
	}
	if pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}

// Transport is a clone of http.DefaultTransport that trusts pool (TLS 1.2
// at least).
func Transport(pool *x509.CertPool) *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return tr
}
