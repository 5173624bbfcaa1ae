package etcdjournal

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/switchyard/switchyard/journal/etcdjournal/etcdtest"
	"github.com/switchyard/switchyard/lab/kube"
)

// The package's tests share one etcd, started on first use and stopped by
// TestMain; each test works under its own prefix.
var (
	etcd     = etcdtest.Shared{Binary: func() (string, error) { return kube.Binary(kube.PinnedVersion, "etcd") }}
	prefixes atomic.Int64
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(fenceChild())
	}
	code := m.Run()
	if err := etcd.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}

// etcdFor returns the client settings of the shared etcd (TLS with a
// client certificate).
func etcdFor(tb testing.TB) Config {
	tb.Helper()
	s := etcd.Server(tb)
	return Config{Endpoints: []string{s.Endpoint}, CAFile: s.CAFile, CertFile: s.CertFile, KeyFile: s.KeyFile}
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
