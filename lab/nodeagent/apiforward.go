package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/switchyard/switchyard/lab/kube"
	"github.com/switchyard/switchyard/lab/labconfig"
)

// APIForwarder lets pods reach the lab's API server, which binds loopback
// only: it listens on kube.PodAPIAddress (the pod network's gateway) and
// copies every connection from a pod address to the API server on
// 127.0.0.1. TLS passes through untouched. Connections from any other
// source are closed at once, so the API server stays out of reach of other
// machines even if one routes to the gateway address. Every node agent of
// a lab runs one on the same address (SO_REUSEPORT): pods keep reaching the
// API server while one agent restarts.
type APIForwarder struct {
	// Listen is the gateway address and the API server's port.
	Listen string
	// Target is the API server on loopback.
	Target string
	// Allowed is the pod network: only its addresses are served.
	Allowed netip.Prefix
	// Logger receives accept errors (default: discard).
	Logger *slog.Logger
}

// APIForwarderFor returns the forwarder of the lab's pod network.
func APIForwarderFor(cfg labconfig.Config) (APIForwarder, error) {
	host, port, err := kube.PodAPIAddress(cfg)
	if err != nil {
		return APIForwarder{}, err
	}
	nw, err := NetworkFor(cfg)
	if err != nil {
		return APIForwarder{}, err
	}
	return APIForwarder{Listen: net.JoinHostPort(host, port), Target: net.JoinHostPort("127.0.0.1", port), Allowed: nw.Prefix}, nil
}

// listen opens the forwarder's socket (shared with the lab's other agents).
func (f APIForwarder) listen(ctx context.Context) (net.Listener, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		})
		return errors.Join(err, serr)
	}}
	ln, err := lc.Listen(ctx, "tcp4", f.Listen)
	if err != nil {
		return nil, fmt.Errorf("API forwarder for pods: %w", err)
	}
	return ln, nil
}

// Serve forwards connections until ctx ends; it returns once every copy
// has stopped.
func (f APIForwarder) Serve(ctx context.Context) error {
	log := f.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ln, err := f.listen(ctx)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("API forwarder for pods: %w", err)
		}
		if !f.allowed(c.RemoteAddr()) {
			log.Warn("API forwarder: refused a connection from outside the pod network", "from", c.RemoteAddr().String())
			c.Close()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.pipe(ctx, c)
		}()
	}
}

// allowed reports whether addr is in the pod network.
func (f APIForwarder) allowed(addr net.Addr) bool {
	ap, err := netip.ParseAddrPort(addr.String())
	return err == nil && f.Allowed.Contains(ap.Addr().Unmap())
}

// pipe copies both ways between a pod's connection and the API server.
func (f APIForwarder) pipe(ctx context.Context, c net.Conn) {
	defer c.Close()
	var d net.Dialer
	up, err := d.DialContext(ctx, "tcp", f.Target)
	if err != nil {
		return
	}
	defer up.Close()
	stop := context.AfterFunc(ctx, func() { c.Close(); up.Close() })
	defer stop()
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(up, c)
		if tc, ok := up.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		close(done)
	}()
	_, _ = io.Copy(c, up)
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	<-done
}
