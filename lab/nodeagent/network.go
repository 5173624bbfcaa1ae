package nodeagent

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"

	"github.com/switchyard/switchyard/lab/labconfig"
)

// Network names the host-level objects of a lab's pod network and holds its
// addresses. It is pure data; iproute.go creates and removes the objects.
type Network struct {
	// Bridge is the per-lab bridge (≤15 chars, derived from the lab ID).
	Bridge string
	// Gateway is the bridge's address: the first address of the pod CIDR.
	Gateway netip.Addr
	// Prefix is the whole pod CIDR (every pod and the bridge share this L2 network).
	Prefix netip.Prefix
	// NetnsPrefix starts the name of every pod network namespace of this lab.
	NetnsPrefix string
	labHash     string
}

// NetworkFor derives the lab's pod network from its config.
func NetworkFor(cfg labconfig.Config) (Network, error) {
	p, err := netip.ParsePrefix(cfg.Kubernetes.PodCIDR)
	if err != nil {
		return Network{}, fmt.Errorf("kubernetes.podCIDR: %w", err)
	}
	p = p.Masked()
	if !p.Addr().Is4() || p.Bits() > 24 {
		return Network{}, fmt.Errorf("kubernetes.podCIDR: %s must be an IPv4 range of /24 or larger", p)
	}
	gw, err := cfg.Kubernetes.PodGateway()
	if err != nil {
		return Network{}, err
	}
	h := shortHash(cfg.ID, 6)
	return Network{
		Bridge:      "sy" + h + "br", // 10 chars
		Gateway:     gw,
		Prefix:      p,
		NetnsPrefix: "sy-" + h + "-",
		labHash:     h,
	}, nil
}

// Netns is the network namespace name of the pod with that UID.
func (n Network) Netns(uid string) string { return n.NetnsPrefix + uid }

// Veth is the host-side veth name of the pod with that UID (≤15 chars).
func (n Network) Veth(uid string) string { return "vsy" + shortHash(n.labHash+"/"+uid, 10) }

func shortHash(s string, n int) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:n]
}

// PickPodIP returns the lowest free address of a node's /24 for a new pod,
// skipping the network, gateway (.1) and broadcast addresses and every
// address in used.
func PickPodIP(node netip.Prefix, used map[netip.Addr]bool) (netip.Addr, error) {
	b := node.Masked().Addr().As4()
	for i := 2; i < 255; i++ {
		b[3] = byte(i)
		a := netip.AddrFrom4(b)
		if !used[a] {
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("pod range %s is full (253 pods)", node)
}
