package lab

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/switchyard/switchyard/lab/component"
	"github.com/switchyard/switchyard/lab/labconfig"
)

// PortUse is one listen address of the lab: which component binds it and
// which lab.yaml field sets it.
type PortUse struct {
	Addr      string // host:port
	Component string
	Field     string // lab.yaml field, "" when the address comes from the component itself
}

// Ports lists the listen addresses of the lab's components: the ones lab.yaml
// sets (for components present in specs) and each component's own Address.
// With no specs it lists every address lab.yaml sets for its enabled parts.
func Ports(cfg labconfig.Config, specs []component.Spec) []PortUse {
	owner := func(candidates ...string) string {
		if len(specs) == 0 {
			return candidates[0]
		}
		for _, c := range candidates {
			for _, s := range specs {
				if s.Name == c || strings.HasPrefix(s.Name, c+"-") {
					return s.Name
				}
			}
		}
		return ""
	}
	type field struct {
		addr, field string
		comps       []string
	}
	fields := []field{
		{cfg.Marathon.Listen, "marathon.listen", []string{"marathon"}},
		{cfg.Mesos.Listen, "mesos.listen", []string{"mesos", "marathon"}},
	}
	if k := cfg.Kubernetes; k.Enabled {
		lo := func(p int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p)) }
		fields = append(fields,
			field{lo(k.EtcdClientPort), "kubernetes.etcdClientPort", []string{"etcd"}},
			field{lo(k.EtcdPeerPort), "kubernetes.etcdPeerPort", []string{"etcd"}},
			field{lo(k.APIServerPort), "kubernetes.apiServerPort", []string{"kube-apiserver"}},
			field{lo(k.ControllerManagerPort), "kubernetes.controllerManagerPort", []string{"kube-controller-manager"}},
			field{lo(k.SchedulerPort), "kubernetes.schedulerPort", []string{"kube-scheduler"}},
		)
	}
	if cfg.Nginx.Enabled {
		fields = append(fields,
			field{cfg.Nginx.Listen, "nginx.listen", []string{"nginx"}},
			field{cfg.Nginx.Admin, "nginx.admin", []string{"nginx"}})
	}
	var out []PortUse
	seen := map[string]bool{}
	for _, f := range fields {
		if c := owner(f.comps...); c != "" && f.addr != "" && !seen[f.addr] {
			seen[f.addr] = true
			out = append(out, PortUse{Addr: f.addr, Component: c, Field: f.field})
		}
	}
	for _, s := range specs {
		if a := hostPort(s.Address); a != "" && !seen[a] {
			seen[a] = true
			out = append(out, PortUse{Addr: a, Component: s.Name})
		}
	}
	return out
}

// hostPort extracts host:port from a URL or a host:port ("" when neither).
func hostPort(addr string) string {
	if addr == "" {
		return ""
	}
	if strings.Contains(addr, "://") {
		u, err := url.Parse(addr)
		if err != nil || u.Port() == "" {
			return ""
		}
		return u.Host
	}
	if _, p, err := net.SplitHostPort(addr); err == nil && p != "" {
		return addr
	}
	return ""
}

// PortInUseError says that a lab port is taken and by whom.
type PortInUseError struct {
	Use         PortUse
	PID         int    // 0 when the owner is unknown
	Command     string // the owner's command name
	OurLeftover bool   // the owner carries this lab's marker
	ConfigPath  string
}

// Error names the port, the component, the owner and the fix.
func (e *PortInUseError) Error() string {
	by := "another process"
	if e.PID > 0 {
		by = fmt.Sprintf("another process (pid %d, %s)", e.PID, e.Command)
	}
	if e.OurLeftover {
		return fmt.Sprintf("port %s for %s is in use by a leftover process of this lab (pid %d, %s): run `switchyard lab down` to clean up, then `lab up` again",
			e.Use.Addr, e.Use.Component, e.PID, e.Command)
	}
	fix := fmt.Sprintf("change %s in %s", e.Use.Field, e.ConfigPath)
	if e.Use.Field == "" {
		fix = "change the component's address in " + e.ConfigPath
	}
	return fmt.Sprintf("port %s for %s is in use by %s; free it or %s", e.Use.Addr, e.Use.Component, by, fix)
}

// checkPort tries to bind addr; on failure it finds who listens there.
func checkPort(u PortUse, marker, configPath string) error {
	ln, err := net.Listen("tcp", u.Addr)
	if err == nil {
		ln.Close()
		return nil
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		if errors.Is(err, syscall.EADDRNOTAVAIL) {
			return fmt.Errorf("address %s for %s is not available on this machine (%v); change it in %s", u.Addr, u.Component, err, configPath)
		}
		return fmt.Errorf("check port %s for %s: %w", u.Addr, u.Component, err)
	}
	e := &PortInUseError{Use: u, ConfigPath: configPath}
	if pid := listenerPID(u.Addr); pid > 0 {
		e.PID = pid
		e.Command = comm(pid)
		e.OurLeftover = hasEnv(pid, marker)
	}
	return e
}

// listenerPID finds the process listening on addr (a listener on the
// wildcard address counts), or 0.
func listenerPID(addr string) int {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return 0
	}
	inodes := listenInodes(ap)
	if len(inodes) == 0 {
		return 0
	}
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		fds, err := os.ReadDir(filepath.Join("/proc", p.Name(), "fd"))
		if err != nil {
			continue
		}
		for _, fd := range fds {
			l, err := os.Readlink(filepath.Join("/proc", p.Name(), "fd", fd.Name()))
			if err == nil && strings.HasPrefix(l, "socket:[") && inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] {
				return pid
			}
		}
	}
	return 0
}

// Listening reports the TCP listeners (in this network namespace) whose
// address matches ap (or is a wildcard on its port), as inode -> true.
func listenInodes(ap netip.AddrPort) map[string]bool {
	out := map[string]bool{}
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		for _, l := range listeners(file) {
			if l.addr.Port() != ap.Port() {
				continue
			}
			a := l.addr.Addr().Unmap()
			if a == ap.Addr().Unmap() || a.IsUnspecified() {
				out[l.inode] = true
			}
		}
	}
	return out
}

type listener struct {
	addr  netip.AddrPort
	inode string
}

// listeners parses /proc/net/tcp{,6} for sockets in LISTEN state.
func listeners(file string) []listener {
	f, err := os.Open(file)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []listener
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 10 || fs[3] != "0A" {
			continue
		}
		if ap, ok := parseProcAddr(fs[1]); ok {
			out = append(out, listener{addr: ap, inode: fs[9]})
		}
	}
	return out
}

// parseProcAddr decodes "0100007F:1F90" (IPv4) or the 32-hex-digit IPv6 form;
// the address is stored as host-order 32-bit words.
func parseProcAddr(s string) (netip.AddrPort, bool) {
	h, p, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, false
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return netip.AddrPort{}, false
	}
	raw, err := hex.DecodeString(h)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, false
	}
	for i := 0; i < len(raw); i += 4 { // little-endian words
		raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	a, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(a, uint16(port)), true
}

func comm(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

func hasEnv(pid int, entry string) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return false
	}
	for _, kv := range strings.Split(string(b), "\x00") {
		if kv == entry {
			return true
		}
	}
	return false
}
