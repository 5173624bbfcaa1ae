package nodeagent

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"

	"github.com/switchyard/switchyard/lab/labconfig"
	"github.com/switchyard/switchyard/lab/proc"
)

// VolumesDirName is the directory inside a pod's directory that holds its
// volumes, one directory each (mode 0700, owned by the containers' user).
const VolumesDirName = "volumes"

// writeVolume materializes a volume's content in dir: directories 0700,
// files with their modes, everything owned by owner (nil: the agent's own
// identity). Each file that differs (content, mode or owner) is replaced
// atomically, and only those: a rewrite with the same content (the periodic
// refresh) changes nothing a container watching its files would notice.
// Files of an earlier content that are gone from this one are removed. A
// writable volume (emptyDir) is only created: its content is the
// containers'.
func writeVolume(dir string, vc VolumeContent, owner *proc.User) error {
	if err := mkdirOwned(dir, owner); err != nil {
		return err
	}
	if vc.Writable {
		return nil
	}
	keep := map[string]bool{}
	for _, f := range vc.Files {
		dst := filepath.Join(dir, filepath.FromSlash(f.Path))
		keep[dst] = true
		for d := filepath.Dir(dst); d != dir; d = filepath.Dir(d) {
			keep[d] = true
		}
		if err := mkdirAllOwned(dir, filepath.Dir(dst), owner); err != nil {
			return err
		}
		if unchanged(dst, f, owner) {
			continue
		}
		tmp := filepath.Join(filepath.Dir(dst), ".tmp-"+filepath.Base(dst))
		if err := os.WriteFile(tmp, f.Data, 0o600); err != nil {
			return fmt.Errorf("volume file %s: %w", f.Path, err)
		}
		if err := chownTo(tmp, owner); err != nil {
			return err
		}
		if err := os.Chmod(tmp, f.Mode); err != nil {
			return fmt.Errorf("volume file %s: %w", f.Path, err)
		}
		if err := os.Rename(tmp, dst); err != nil {
			return fmt.Errorf("volume file %s: %w", f.Path, err)
		}
	}
	// Remove what an earlier content had and this one lacks (deepest first).
	var stale []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && p != dir && !keep[p] {
			stale = append(stale, p)
		}
		return nil
	})
	sort.Sort(sort.Reverse(sort.StringSlice(stale)))
	for _, p := range stale {
		_ = os.RemoveAll(p)
	}
	return nil
}

// mkdirAllOwned creates dir's missing directories below root (which exists).
func mkdirAllOwned(root, dir string, owner *proc.User) error {
	if dir == root {
		return nil
	}
	if err := mkdirAllOwned(root, filepath.Dir(dir), owner); err != nil {
		return err
	}
	return mkdirOwned(dir, owner)
}

func mkdirOwned(dir string, owner *proc.User) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("volume directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("volume directory: %w", err)
	}
	return chownTo(dir, owner)
}

// unchanged tells whether the regular file at p already holds f's content
// and mode, owned by owner (when given).
func unchanged(p string, f VolumeFile, owner *proc.User) bool {
	st, err := os.Lstat(p)
	if err != nil || !st.Mode().IsRegular() || st.Mode().Perm() != f.Mode.Perm() || st.Size() != int64(len(f.Data)) {
		return false
	}
	if owner != nil {
		sys, ok := st.Sys().(*syscall.Stat_t)
		if !ok || sys.Uid != owner.UID || sys.Gid != owner.GID {
			return false
		}
	}
	b, err := os.ReadFile(p)
	return err == nil && bytes.Equal(b, f.Data)
}

func chownTo(p string, owner *proc.User) error {
	if owner == nil {
		return nil
	}
	if err := os.Lchown(p, int(owner.UID), int(owner.GID)); err != nil {
		return fmt.Errorf("volume: %w", err)
	}
	return nil
}

// Mount points: a container's mountPath that does not exist on the host
// needs a directory to mount on. The containers share the host's root
// filesystem (each in its own mount namespace, where the volumes are
// mounted), so the lab creates the missing directories on the host: empty,
// root-owned, mode 0755, never mounted on outside the containers'
// namespaces. Each one is recorded, before it is made, in the lab's
// mount-point ledger (<lab dir>/run/mountpoints), and `lab down` (Cleanup)
// removes them, deepest first, if they are still empty. Nothing is ever
// mounted over an existing host directory outside a container's namespace,
// so no host file is hidden from anyone but that container.

// mountPointLedger is the file listing the directories the lab made.
func mountPointLedger(cfg labconfig.Config) string { return cfg.Path("run", "mountpoints") }

// ledgerMu serializes this process's appends (the agents of a lab are
// separate processes: each line is one O_APPEND write).
var ledgerMu sync.Mutex

// EnsureMountPoint makes target a directory: the missing ones on its way
// are created and recorded in ledger first.
func EnsureMountPoint(ledger, target string) error {
	if err := ValidateMountPath(target); err != nil {
		return err
	}
	var missing []string
	for d := target; d != "/"; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil {
			break
		}
		missing = append(missing, d)
	}
	if len(missing) == 0 {
		return nil
	}
	ledgerMu.Lock()
	defer ledgerMu.Unlock()
	if err := os.MkdirAll(filepath.Dir(ledger), 0o755); err != nil {
		return fmt.Errorf("mount point ledger: %w", err)
	}
	f, err := os.OpenFile(ledger, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("mount point ledger: %w", err)
	}
	defer f.Close()
	for i := len(missing) - 1; i >= 0; i-- {
		if _, err := f.WriteString(missing[i] + "\n"); err != nil {
			return fmt.Errorf("mount point ledger: %w", err)
		}
		if err := os.Mkdir(missing[i], 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("mount point %s: %w", target, err)
		}
	}
	return nil
}

// RemoveMountPoints removes the directories the ledger lists that are
// still empty, deepest first, then the ledger; it returns the ones that
// could not go (not empty: something else uses them now).
func RemoveMountPoints(ledger string) ([]string, error) {
	f, err := os.Open(ledger)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("mount point ledger: %w", err)
	}
	var dirs []string
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		d := strings.TrimSpace(sc.Text())
		if d != "" && !seen[d] && ValidateMountPath(d) == nil {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	f.Close()
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("mount point ledger: %w", err)
	}
	sort.Slice(dirs, func(i, j int) bool { return depth(dirs[i]) > depth(dirs[j]) })
	var kept []string
	for _, d := range dirs {
		if err := os.Remove(d); err != nil && !errors.Is(err, fs.ErrNotExist) {
			kept = append(kept, d)
		}
	}
	if err := os.Remove(ledger); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return kept, fmt.Errorf("mount point ledger: %w", err)
	}
	return kept, nil
}
