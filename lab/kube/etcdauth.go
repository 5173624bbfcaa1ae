package kube

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/switchyard/switchyard/lab/labconfig"
)

// EtcdSwitchyardUser is the lab etcd's user for Switchyard's own data (an
// etcd journal, the serve replicas' election): the CN of the certificate
// EtcdClientCert names. It may read and write under EtcdSwitchyardPrefix
// only; the API server's user is etcd's root.
const (
	EtcdSwitchyardUser   = "switchyard"
	EtcdSwitchyardPrefix = "/switchyard/"
	etcdSwitchyardCert   = "switchyard-etcd-client"
	etcdAPIServerUser    = "kube-apiserver-etcd-client"
)

// EtcdEndpoint is the lab etcd's client URL.
func EtcdEndpoint(cfg labconfig.Config) string {
	return "https://" + hostPort(cfg.Kubernetes.EtcdClientPort)
}

// EtcdClientCert returns the certificate and key files of EtcdSwitchyardUser
// (signed by the lab's CA, CAFile).
func EtcdClientCert(cfg labconfig.Config) (certFile, keyFile string) {
	return filepath.Join(pkiDir(cfg), etcdSwitchyardCert+".crt"), filepath.Join(pkiDir(cfg), etcdSwitchyardCert+".key")
}

// enableEtcdAuth turns etcd's role-based access on, once: the API server's
// certificate user becomes root, EtcdSwitchyardUser gets read-write on
// EtcdSwitchyardPrefix and nothing else, so that a Switchyard journal on
// the lab's etcd cannot read the cluster's Secrets under /registry.
// Client certificates authenticate (their CN is the user); no user has a
// password. A lab brought up again finds auth on and changes nothing.
func (l layout) enableEtcdAuth(ctx context.Context) error {
	tc, err := l.tlsConfig("apiserver-etcd-client")
	if err != nil {
		return err
	}
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{EtcdEndpoint(l.cfg)}, TLS: tc, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return fmt.Errorf("etcd auth: %w", err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	st, err := c.AuthStatus(ctx)
	if err != nil {
		return fmt.Errorf("etcd auth: status: %w", err)
	}
	if st.Enabled {
		return nil
	}
	noPassword := &clientv3.UserAddOptions{NoPassword: true}
	steps := []struct {
		what string
		do   func() error
	}{
		{"user root", func() error { _, err := c.UserAddWithOptions(ctx, "root", "", noPassword); return err }},
		{"root's role", func() error { _, err := c.UserGrantRole(ctx, "root", "root"); return err }},
		{"user " + etcdAPIServerUser, func() error { _, err := c.UserAddWithOptions(ctx, etcdAPIServerUser, "", noPassword); return err }},
		{etcdAPIServerUser + " as root", func() error { _, err := c.UserGrantRole(ctx, etcdAPIServerUser, "root"); return err }},
		{"role " + EtcdSwitchyardUser, func() error { _, err := c.RoleAdd(ctx, EtcdSwitchyardUser); return err }},
		{EtcdSwitchyardPrefix + " read-write", func() error {
			_, err := c.RoleGrantPermission(ctx, EtcdSwitchyardUser, EtcdSwitchyardPrefix, clientv3.GetPrefixRangeEnd(EtcdSwitchyardPrefix), clientv3.PermissionType(clientv3.PermReadWrite))
			return err
		}},
		{"user " + EtcdSwitchyardUser, func() error { _, err := c.UserAddWithOptions(ctx, EtcdSwitchyardUser, "", noPassword); return err }},
		{EtcdSwitchyardUser + "'s role", func() error { _, err := c.UserGrantRole(ctx, EtcdSwitchyardUser, EtcdSwitchyardUser); return err }},
		{"enable", func() error { _, err := c.AuthEnable(ctx); return err }},
	}
	for _, s := range steps {
		if err := s.do(); err != nil && !errors.Is(err, rpctypes.ErrUserAlreadyExist) && !errors.Is(err, rpctypes.ErrRoleAlreadyExist) {
			return fmt.Errorf("etcd auth: %s: %w", s.what, err)
		}
	}
	return nil
}
