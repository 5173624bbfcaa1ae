package proc

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// User is the unprivileged identity a lab started by root runs its
// workloads as (Marathon tasks, pod containers).
type User struct {
	// Name is the account's name (for messages).
	Name string
	// UID and GID are its numeric identity (no supplementary groups).
	UID, GID uint32
}

// String is "name (uid N)".
func (u User) String() string { return fmt.Sprintf("%s (uid %d)", u.Name, u.UID) }

// LookupUser resolves an account by name (or numeric uid) and refuses root:
// a lab never runs a workload as uid 0.
func LookupUser(name string) (User, error) {
	var u *user.User
	var err error
	if _, nerr := strconv.Atoi(name); nerr == nil {
		u, err = user.LookupId(name)
	} else {
		u, err = user.Lookup(name)
	}
	if err != nil {
		return User{}, fmt.Errorf("user %q: %w", name, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return User{}, fmt.Errorf("user %q: uid %q: %w", name, u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return User{}, fmt.Errorf("user %q: gid %q: %w", name, u.Gid, err)
	}
	if uid == 0 {
		return User{}, fmt.Errorf("user %q is root: workloads run as an unprivileged user", name)
	}
	return User{Name: u.Username, UID: uint32(uid), GID: uint32(gid)}, nil
}

// Setpriv is the argv prefix that runs the rest of a command line as u
// (util-linux setpriv: real and effective ids, no supplementary groups),
// for commands that must start as root first (ip netns exec).
func (u User) Setpriv() []string {
	return []string{"setpriv", "--reuid=" + strconv.FormatUint(uint64(u.UID), 10),
		"--regid=" + strconv.FormatUint(uint64(u.GID), 10), "--clear-groups", "--"}
}

// credential is the SysProcAttr credential of u (nil for nil).
func (u *User) credential() *syscall.Credential {
	if u == nil {
		return nil
	}
	return &syscall.Credential{Uid: u.UID, Gid: u.GID, Groups: []uint32{}}
}

// Reachable reports whether u can reach path: search permission on every
// directory above it, and mode (a combination of 4 read, 2 write, 1
// execute/search) on path itself. It reads the permission bits (owner,
// group, other), as the kernel does for a user with no capabilities.
func Reachable(path string, u User, mode os.FileMode) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	allowed := func(p string, want os.FileMode) error {
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		sys, ok := st.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("%s: no owner information", p)
		}
		perm := st.Mode().Perm()
		var bits os.FileMode
		switch {
		case sys.Uid == u.UID:
			bits = perm >> 6
		case sys.Gid == u.GID:
			bits = perm >> 3
		default:
			bits = perm
		}
		if bits&7&want != want {
			return fmt.Errorf("%s (mode %s, owner uid %d) does not let %s in", p, st.Mode().Perm(), sys.Uid, u)
		}
		return nil
	}
	for d := filepath.Dir(abs); ; d = filepath.Dir(d) {
		if err := allowed(d, 1); err != nil {
			return err
		}
		if d == "/" {
			break
		}
	}
	return allowed(abs, mode&7)
}

// Expose returns a path of the program bin that u can run: bin itself
// when u reaches it, else a copy at dst (mode 0755, its directory created
// 0755; an existing identical copy is reused). A lab started by root runs
// its workloads as u, and the switchyard binary may live in a directory
// only root can enter (a home directory, the Go build cache).
func Expose(bin, dst string, u User) (string, error) {
	if Reachable(bin, u, 5) == nil {
		return bin, nil
	}
	src, err := os.Open(bin)
	if err != nil {
		return "", fmt.Errorf("copy %s for %s: %w", bin, u, err)
	}
	defer src.Close()
	sst, err := src.Stat()
	if err != nil {
		return "", err
	}
	if dstSt, err := os.Stat(dst); err == nil && dstSt.Size() == sst.Size() && !dstSt.ModTime().Before(sst.ModTime()) {
		return dst, Reachable(dst, u, 5)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".expose-*")
	if err != nil {
		return "", err
	}
	_, cerr := io.Copy(tmp, src)
	if err := errors.Join(cerr, tmp.Chmod(0o755), tmp.Close()); err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("copy %s to %s: %w", bin, dst, err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		os.Remove(tmp.Name())
		return "", err
	}
	if err := Reachable(dst, u, 5); err != nil {
		return "", fmt.Errorf("%s cannot run the copy: %w", u, err)
	}
	return dst, nil
}

// WorkloadUser is who a lab's workloads run as: nil (the caller's own
// identity) unless the caller is root, then the account name, which must
// exist and not be root.
func WorkloadUser(name string) (*User, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := LookupUser(name)
	if err != nil {
		return nil, fmt.Errorf("the lab runs as root, so its workloads run as an unprivileged user: %w (scripts/deps.sh creates %q; or name another account in lab.yaml)", err, name)
	}
	return &u, nil
}

// LetThrough creates the directories that are missing (mode 0711) and adds
// search permission for others to each of dirs (not read: nobody lists
// them), then checks that u reaches the last one. Give it the lab's own
// directories, outermost first: the directories above belong to the
// operator, and an error says which one keeps u out.
func LetThrough(u User, dirs ...string) error {
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o711); err != nil {
			return err
		}
		st, err := os.Stat(d)
		if err != nil {
			return err
		}
		if st.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(d, st.Mode().Perm()|0o001); err != nil {
				return err
			}
		}
	}
	if len(dirs) == 0 {
		return nil
	}
	last := dirs[len(dirs)-1]
	if err := Reachable(last, u, 1); err != nil {
		return fmt.Errorf("%s cannot reach %s: %w; make the directories above the lab directory searchable (chmod o+x) or put the lab elsewhere", u, last, err)
	}
	return nil
}

// FallbackWorkRoot is where a lab started by root keeps its workloads'
// directories when the lab directory is out of the workloads' user's reach
// (a lab in /root): FallbackWorkRoot/<lab id>/...
const FallbackWorkRoot = "/var/lib/switchyard-lab"

// WorkDir returns the directory the workloads' user u works in for a
// lab's dir (a directory inside labDir, such as the task sandboxes): dir
// itself when u can reach it once the lab's own directories are searchable
// (LetThrough), else FallbackWorkRoot/<id>/<dir relative to labDir>, with
// dir made a symbolic link to it so that the lab's own paths still lead
// there (what was in dir moves along). The directories above the lab
// directory are the operator's and are never changed.
func WorkDir(u User, labDir, id, dir string) (string, error) {
	rel, err := filepath.Rel(labDir, dir)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("%s is not inside the lab directory %s", dir, labDir)
	}
	chain := []string{labDir}
	for d := labDir; d != dir; {
		next, _, _ := strings.Cut(strings.TrimPrefix(dir, d+string(filepath.Separator)), string(filepath.Separator))
		d = filepath.Join(d, next)
		chain = append(chain, d)
	}
	if st, err := os.Lstat(dir); err == nil && st.Mode()&os.ModeSymlink != 0 {
		// Relocated before.
		target, err := filepath.EvalSymlinks(dir)
		if err != nil {
			return "", err
		}
		return target, LetThrough(u, target)
	}
	if err := LetThrough(u, chain...); err == nil {
		return dir, nil
	} else if Reachable(labDir, u, 1) == nil {
		return "", err // a directory inside the lab keeps u out: report it
	}
	target := filepath.Join(FallbackWorkRoot, id, rel)
	if err := os.MkdirAll(filepath.Dir(target), 0o711); err != nil {
		return "", err
	}
	for d := filepath.Dir(target); d != filepath.Dir(FallbackWorkRoot); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o711); err != nil {
			return "", err
		}
	}
	switch {
	case !exists(dir):
	case isEmptyDir(dir):
		// A new lab where an earlier one of the same directory (and id)
		// left its work: the link leads there.
		if err := os.Remove(dir); err != nil {
			return "", err
		}
	case !exists(target) || isEmptyDir(target):
		_ = os.Remove(target)
		if err := os.Rename(dir, target); err != nil {
			return "", fmt.Errorf("move %s to %s (the lab directory is out of %s's reach): %w", dir, target, u, err)
		}
	default:
		return "", fmt.Errorf("%s is out of %s's reach and %s, where it would move, is not empty: remove one of them", dir, u, target)
	}
	if err := os.MkdirAll(target, 0o711); err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return "", err
	}
	if err := os.Symlink(target, dir); err != nil {
		// Another process of the lab (a node agent beside the Marathon)
		// made the same link first.
		if got, lerr := os.Readlink(dir); lerr != nil || got != target {
			return "", err
		}
	}
	return target, LetThrough(u, target)
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

func isEmptyDir(path string) bool {
	ents, err := os.ReadDir(path)
	return err == nil && len(ents) == 0
}

// ExposeToLab returns a path of the program bin that u can run, for the
// lab of labDir and id: bin itself when u reaches it, else a copy in the
// lab's bin directory (moved under FallbackWorkRoot with the rest of the
// lab's work when u cannot reach the lab directory; see WorkDir).
func ExposeToLab(bin string, u User, labDir, id string) (string, error) {
	if Reachable(bin, u, 5) == nil {
		return bin, nil
	}
	dir, err := WorkDir(u, labDir, id, filepath.Join(labDir, "bin"))
	if err != nil {
		return "", err
	}
	return Expose(bin, filepath.Join(dir, "switchyard"), u)
}
