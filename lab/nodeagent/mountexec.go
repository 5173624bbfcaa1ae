package nodeagent

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// MountExecArg is the first argument that makes the switchyard binary the
// lab's mount shim (cmd/switchyard hands it to MountExec before anything
// else): `switchyard __lab-mount-exec ro|rw SOURCE TARGET ... -- ARGV...`.
// The node agent starts a container with volumes as
// `ip netns exec NS switchyard __lab-mount-exec ... -- [setpriv ...] ARGV`:
// the shim runs as root inside the pod's network namespace, gives itself a
// private mount namespace, bind-mounts each volume directory at its target
// (read-only unless rw), and replaces itself with ARGV. Its arguments are
// an argv, never a shell line; the mounts vanish with the container's
// mount namespace when its last process ends.
const MountExecArg = "__lab-mount-exec"

// MountExecArgv is the argv prefix that runs the rest of a command line
// with mounts in place: self is the switchyard binary.
func MountExecArgv(self string, mounts []Mount) []string {
	argv := []string{self, MountExecArg}
	for _, m := range mounts {
		mode := "ro"
		if m.Writable {
			mode = "rw"
		}
		argv = append(argv, mode, m.Source, m.Target)
	}
	return append(argv, "--")
}

// ParseMountExec parses the shim's arguments (those after MountExecArg)
// into the mounts and the command line to run.
func ParseMountExec(args []string) ([]Mount, []string, error) {
	var mounts []Mount
	for i := 0; i < len(args); i += 3 {
		if args[i] == "--" {
			if i+1 >= len(args) {
				return nil, nil, errors.New("nothing to run after --")
			}
			return mounts, args[i+1:], nil
		}
		if i+2 >= len(args) {
			return nil, nil, fmt.Errorf("mount %d: want ro|rw SOURCE TARGET", len(mounts)+1)
		}
		mode, src, dst := args[i], args[i+1], args[i+2]
		if mode != "ro" && mode != "rw" {
			return nil, nil, fmt.Errorf("mount %d: mode %q: want ro or rw", len(mounts)+1, mode)
		}
		if !filepath.IsAbs(src) || filepath.Clean(src) != src {
			return nil, nil, fmt.Errorf("mount %d: source %q must be an absolute clean path", len(mounts)+1, src)
		}
		if err := ValidateMountPath(dst); err != nil {
			return nil, nil, fmt.Errorf("mount %d: %w", len(mounts)+1, err)
		}
		mounts = append(mounts, Mount{Source: src, Target: dst, Writable: mode == "rw"})
	}
	return nil, nil, errors.New("missing -- before the command line")
}

// MountExec is the shim's body: it returns only on error (the caller exits
// non-zero with it; the container then fails to start like any program
// that exits at once).
func MountExec(args []string) error {
	mounts, argv, err := ParseMountExec(args)
	if err != nil {
		return fmt.Errorf("lab mount shim: %w", err)
	}
	// The mount namespace is the thread's: unshare, mount and exec on one.
	runtime.LockOSThread()
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("lab mount shim: unshare the mount namespace: %w", err)
	}
	// Nothing mounted here may propagate back to the host.
	if err := unix.Mount("", "/", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("lab mount shim: make / a slave mount: %w", err)
	}
	// Hold every source first: a mount (an emptyDir on /tmp) may hide the
	// sources of the next ones (the lab directory under /tmp).
	srcs := make([]string, len(mounts))
	for i, m := range mounts {
		fd, err := unix.Open(m.Source, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("lab mount shim: volume %s: %w", m.Source, err)
		}
		srcs[i] = "/proc/self/fd/" + strconv.Itoa(fd)
	}
	// Likewise a program named by path (the switchyard binary a test built
	// under /tmp) that a mount would hide: held open, without close-on-exec
	// so that it survives the exec chain (setpriv), and named by its fd.
	for i, a := range argv {
		if !HiddenBy(a, mounts) {
			continue
		}
		fd, err := unix.Open(a, unix.O_RDONLY, 0)
		if err != nil {
			return fmt.Errorf("lab mount shim: program %s: %w", a, err)
		}
		argv[i] = "/proc/self/fd/" + strconv.Itoa(fd)
	}
	for i, m := range mounts {
		if err := unix.Mount(srcs[i], m.Target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("lab mount shim: bind %s on %s: %w", m.Source, m.Target, err)
		}
		if !m.Writable {
			flags := uintptr(unix.MS_REMOUNT | unix.MS_BIND | unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV)
			if err := unix.Mount("", m.Target, "", flags, ""); err != nil {
				return fmt.Errorf("lab mount shim: make %s read-only: %w", m.Target, err)
			}
		}
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return fmt.Errorf("lab mount shim: %w", err)
	}
	if err := unix.Exec(path, argv, os.Environ()); err != nil {
		return fmt.Errorf("lab mount shim: exec %s: %w", path, err)
	}
	return nil
}

// HiddenBy reports whether arg is an absolute path below one of the mounts'
// targets (the mount would hide it from the container) naming a regular
// file that exists now.
func HiddenBy(arg string, mounts []Mount) bool {
	if !filepath.IsAbs(arg) {
		return false
	}
	for _, m := range mounts {
		if strings.HasPrefix(arg, strings.TrimSuffix(m.Target, "/")+"/") {
			st, err := os.Stat(arg)
			return err == nil && st.Mode().IsRegular()
		}
	}
	return false
}
