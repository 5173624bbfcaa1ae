package nodeagent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// ipCmd runs `ip ARGS...` and returns its error with stderr.
func ipCmd(ctx context.Context, args ...string) error {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "ip", args...)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

func isExists(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "File exists") || strings.Contains(err.Error(), "already assigned"))
}

// EnsureBridge creates the lab bridge with the gateway address and brings it
// up; it is idempotent and safe to run from several agents at once.
func (n Network) EnsureBridge(ctx context.Context) error {
	out, err := exec.CommandContext(ctx, "ip", "-o", "-4", "addr", "show").Output()
	if err != nil {
		return fmt.Errorf("list addresses (is iproute2 installed?): %w", err)
	}
	if dev, addr := conflictingInterface(string(out), n.Bridge, n.Prefix); dev != "" {
		return fmt.Errorf("kubernetes.podCIDR %s overlaps %s on interface %s (another lab or a host network): choose a free range in lab.yaml", n.Prefix, addr, dev)
	}
	if err := ipCmd(ctx, "link", "add", n.Bridge, "type", "bridge"); err != nil && !isExists(err) {
		return fmt.Errorf("create pod bridge (is iproute2 installed and are we root?): %w", err)
	}
	gw := netip.PrefixFrom(n.Gateway, n.Prefix.Bits()).String()
	if err := ipCmd(ctx, "addr", "add", gw, "dev", n.Bridge); err != nil && !isExists(err) {
		return fmt.Errorf("pod bridge address: %w", err)
	}
	if err := ipCmd(ctx, "link", "set", n.Bridge, "up"); err != nil {
		return fmt.Errorf("pod bridge up: %w", err)
	}
	return nil
}

// SetupPod creates the pod's network namespace with lo up and a veth pair:
// eth0 inside with ip on the pod CIDR and a default route via the gateway,
// the host side attached to the lab bridge. A leftover namespace of the same
// name is replaced.
func (n Network) SetupPod(ctx context.Context, uid string, ip netip.Addr) error {
	ns, veth := n.Netns(uid), n.Veth(uid)
	_ = n.TeardownPod(ctx, uid)
	steps := [][]string{
		{"netns", "add", ns},
		{"link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns},
		{"link", "set", veth, "master", n.Bridge, "up"},
		{"-n", ns, "addr", "add", netip.PrefixFrom(ip, n.Prefix.Bits()).String(), "dev", "eth0"},
		{"-n", ns, "link", "set", "lo", "up"},
		{"-n", ns, "link", "set", "eth0", "up"},
		{"-n", ns, "route", "add", "default", "via", n.Gateway.String()},
	}
	for _, s := range steps {
		if err := ipCmd(ctx, s...); err != nil {
			_ = n.TeardownPod(context.WithoutCancel(ctx), uid)
			return fmt.Errorf("pod network: %w", err)
		}
	}
	return nil
}

// HasNetns reports whether the pod's network namespace exists.
func (n Network) HasNetns(uid string) bool {
	_, err := os.Stat("/run/netns/" + n.Netns(uid))
	return err == nil
}

// TeardownPod removes the pod's namespace (its veth pair goes with it).
func (n Network) TeardownPod(ctx context.Context, uid string) error {
	if !n.HasNetns(uid) {
		_ = ipCmd(ctx, "link", "del", n.Veth(uid))
		return nil
	}
	if err := ipCmd(ctx, "netns", "del", n.Netns(uid)); err != nil {
		return fmt.Errorf("remove pod network namespace: %w", err)
	}
	return nil
}

// Cleanup removes every network namespace of this lab and its bridge. It is
// idempotent.
func (n Network) Cleanup(ctx context.Context) error {
	var errs []error
	ents, _ := os.ReadDir("/run/netns")
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), n.NetnsPrefix) {
			if err := ipCmd(ctx, "netns", "del", e.Name()); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if _, err := os.Stat("/sys/class/net/" + n.Bridge); err == nil {
		if err := ipCmd(ctx, "link", "del", n.Bridge); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Wrap is the argv prefix that runs a program inside the pod's namespace.
func (n Network) Wrap(uid string) []string { return []string{"ip", "netns", "exec", n.Netns(uid)} }

// netnsPids lists pids of processes inside the named namespace (for sweeping).
func netnsPids(ctx context.Context, ns string) []int {
	out, err := exec.CommandContext(ctx, "ip", "netns", "pids", ns).Output()
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if p, err := strconv.Atoi(f); err == nil {
			pids = append(pids, p)
		}
	}
	return pids
}

// conflictingInterface finds, in `ip -o -4 addr show` output, an interface
// other than bridge with an address whose network overlaps prefix.
func conflictingInterface(out, bridge string, prefix netip.Prefix) (dev, addr string) {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || f[2] != "inet" {
			continue
		}
		name := strings.TrimSuffix(f[1], ":")
		if name == bridge {
			continue
		}
		p, err := netip.ParsePrefix(f[3])
		if err != nil {
			continue
		}
		if p.Masked().Overlaps(prefix) {
			return name, f[3]
		}
	}
	return "", ""
}
