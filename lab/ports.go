package lab

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"syscall"

	"github.com/switchyard/switchyard/lab/component"
	"github.com/switchyard/switchyard/lab/labconfig"
	"github.com/switchyard/switchyard/lab/proc"
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
	if pid := proc.ListenerPID(u.Addr); pid > 0 {
		e.PID = pid
		e.Command = proc.Comm(pid)
		e.OurLeftover = proc.HasEnv(pid, marker)
	}
	return e
}
