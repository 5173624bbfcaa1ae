package proc

import (
	"bufio"
	"encoding/hex"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Listener is a TCP socket in LISTEN state in this network namespace.
type Listener struct {
	// Addr is the address it listens on (IPv4-mapped addresses unmapped).
	Addr netip.AddrPort
	// Inode identifies the socket (see ListenerPID).
	Inode string
}

// Listeners returns the TCP listeners of /proc/net/tcp and /proc/net/tcp6.
func Listeners() []Listener {
	var out []Listener
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		out = append(out, listenersIn(file)...)
	}
	return out
}

func listenersIn(file string) []Listener {
	f, err := os.Open(file)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []Listener
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 10 || fs[3] != "0A" {
			continue
		}
		if ap, ok := parseProcAddr(fs[1]); ok {
			out = append(out, Listener{Addr: netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), Inode: fs[9]})
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

// ListenerPID finds the process listening on addr (a listener on the
// wildcard address of its port counts), or 0.
func ListenerPID(addr string) int {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return 0
	}
	inodes := map[string]bool{}
	for _, l := range Listeners() {
		if l.Addr.Port() == ap.Port() && (l.Addr.Addr() == ap.Addr().Unmap() || l.Addr.Addr().IsUnspecified()) {
			inodes[l.Inode] = true
		}
	}
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

// Comm is the command name of a process ("?" when it is gone).
func Comm(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

// HasEnv reports whether the process's environment holds the exact
// KEY=VALUE entry.
func HasEnv(pid int, entry string) bool {
	k, v, _ := strings.Cut(entry, "=")
	got, ok := Getenv(pid, k)
	return ok && got == v
}

// Getenv returns the value of key in the process's environment.
func Getenv(pid int, key string) (string, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return "", false
	}
	for _, kv := range strings.Split(string(b), "\x00") {
		if v, ok := strings.CutPrefix(kv, key+"="); ok {
			return v, true
		}
	}
	return "", false
}

// FindByCwd returns the running processes (not zombies) whose working
// directory is dir or lies under it: a lab's tasks run in their sandboxes,
// so this finds them even when they dropped the lab's marker.
func FindByCwd(dir string) []ID {
	return find(func(pid int) bool { return cwdUnder(pid, dir) })
}

// FindLab returns a lab's running processes in one scan: those carrying
// its marker (KEY=VALUE) and those working inside its directory (a task
// that dropped the marker still runs in its sandbox).
func FindLab(marker, dir string) []ID {
	return find(func(pid int) bool { return HasEnv(pid, marker) || cwdUnder(pid, dir) })
}

// Find returns the running processes (not zombies, not this one) for which
// match is true.
func Find(match func(pid int) bool) []ID { return find(match) }

func cwdUnder(pid int, dir string) bool {
	dir = filepath.Clean(dir)
	cwd, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/cwd")
	return err == nil && (cwd == dir || strings.HasPrefix(cwd, dir+string(filepath.Separator)))
}

// Describe is "PID (command line)" of a process, for messages.
func Describe(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || len(b) == 0 {
		return strconv.Itoa(pid) + " (" + Comm(pid) + ")"
	}
	return strconv.Itoa(pid) + " (" + strings.ReplaceAll(strings.TrimRight(string(b), "\x00"), "\x00", " ") + ")"
}

// FindByPID returns the identity of a running process (not a zombie), or
// nothing when it is gone.
func FindByPID(pid int) []ID {
	if st, state, err := stat(pid); err == nil && state != "Z" {
		return []ID{{PID: pid, StartTime: st}}
	}
	return nil
}
