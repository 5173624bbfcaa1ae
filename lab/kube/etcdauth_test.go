package kube

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// TestEtcdSwitchyardUserOwnsItsPrefixOnly: Switchyard's certificate reads
// and writes under /switchyard/ (a journal, an election with a lease), and
// is refused the API server's /registry (every Secret) and the rest of the
// keyspace; the API server, etcd's root, keeps working (the other tests).
func TestEtcdSwitchyardUserOwnsItsPrefixOnly(t *testing.T) {
	c := sharedCluster(t)
	l := layout{cfg: c.cfg, pki: pkiDir(c.cfg)}
	tc, err := l.tlsConfig(etcdSwitchyardCert)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := clientv3.New(clientv3.Config{Endpoints: []string{EtcdEndpoint(c.cfg)}, TLS: tc, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lease, err := cl.Grant(ctx, 5)
	if err != nil {
		t.Fatalf("lease: %v", err)
	}
	if _, err := cl.Put(ctx, EtcdSwitchyardPrefix+"test/key", "v", clientv3.WithLease(lease.ID)); err != nil {
		t.Fatalf("put under %s: %v", EtcdSwitchyardPrefix, err)
	}
	if r, err := cl.Get(ctx, EtcdSwitchyardPrefix, clientv3.WithPrefix()); err != nil || r.Count == 0 {
		t.Fatalf("get under %s: %v (%v)", EtcdSwitchyardPrefix, err, r)
	}
	for _, tt := range []struct {
		what string
		do   func() error
	}{
		{"read /registry/", func() error { _, err := cl.Get(ctx, "/registry/", clientv3.WithPrefix()); return err }},
		{"read /registry/secrets/kube-system/x", func() error { _, err := cl.Get(ctx, "/registry/secrets/kube-system/x"); return err }},
		{"write /registry/x", func() error { _, err := cl.Put(ctx, "/registry/x", "v"); return err }},
		{"write /switchyardX", func() error { _, err := cl.Put(ctx, "/switchyardX", "v"); return err }},
		{"read everything", func() error { _, err := cl.Get(ctx, "", clientv3.WithFromKey()); return err }},
		{"enable users", func() error { _, err := cl.UserAdd(ctx, "mallory", "pw"); return err }},
	} {
		if err := tt.do(); !errors.Is(err, rpctypes.ErrPermissionDenied) {
			t.Errorf("%s as %s: %v, want permission denied", tt.what, EtcdSwitchyardUser, err)
		}
	}
}
