package control

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// maxSocketPath is the longest unix socket path used (sun_path holds 108
// bytes on Linux, 104 on the BSDs, including the NUL).
const maxSocketPath = 100

// SocketPath is the control socket of the executor holding journalPath:
// control.sock in the journal's directory, or, when that path is too long
// for a unix socket, a name derived from the journal's path in the user's
// private runtime directory (RuntimeDir). It fails when no private
// directory can be had: a socket in a shared one could be bound first by
// another local user, who would then answer status and take commands.
func SocketPath(journalPath string) (string, error) {
	abs, err := filepath.Abs(journalPath)
	if err != nil {
		abs = journalPath
	}
	p := filepath.Join(filepath.Dir(abs), "control.sock")
	if len(p) < maxSocketPath {
		return p, nil
	}
	p, err = SocketPathForKey(abs)
	if err != nil {
		return "", fmt.Errorf("control socket of journal %s (its directory is too long for a socket): %w", journalPath, err)
	}
	return p, nil
}

// SocketPathForKey is the control socket of the executor holding the
// journal named by key (a file's absolute path, or an etcd journal's
// endpoints and prefix): a name derived from key in the user's private
// runtime directory (RuntimeDir).
func SocketPathForKey(key string) (string, error) {
	dir, err := RuntimeDir()
	if err != nil {
		return "", err
	}
	h := sha256.Sum256([]byte(key))
	p := filepath.Join(dir, "switchyard-"+hex.EncodeToString(h[:8])+".sock")
	if len(p) >= maxSocketPath {
		return "", fmt.Errorf("%s is too long for a unix socket (shorten $XDG_RUNTIME_DIR or $TMPDIR)", p)
	}
	return p, nil
}

// RuntimeDir is the current user's private directory for sockets:
// $XDG_RUNTIME_DIR when it is set, ours and 0700; else switchyard-<uid> in
// os.TempDir(), created 0700. The latter is refused (an error) unless it
// is a real directory (not a symbolic link) owned by us that neither group
// nor others can access: another user may have created it first.
func RuntimeDir() (string, error) {
	uid := os.Getuid()
	if x := os.Getenv("XDG_RUNTIME_DIR"); x != "" && filepath.IsAbs(x) && checkPrivateDir(x, uid) == nil {
		return x, nil
	}
	d := filepath.Join(os.TempDir(), fmt.Sprintf("switchyard-%d", uid))
	if err := os.Mkdir(d, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("runtime directory: %w", err)
	}
	if err := checkPrivateDir(d, uid); err != nil {
		return "", fmt.Errorf("runtime directory: %w", err)
	}
	return d, nil
}

// checkPrivateDir says why dir is not a private directory of uid (nil: it
// is): it must be a directory itself (not a link to one), owned by uid,
// with no permission for group or others.
func checkPrivateDir(dir string, uid int) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory (%s)", dir, fi.Mode().Type())
	}
	owner, ok := fileOwner(fi)
	if !ok {
		return fmt.Errorf("%s: cannot tell its owner", dir)
	}
	if owner != uid {
		return fmt.Errorf("%s belongs to uid %d, not to us (uid %d): refusing it", dir, owner, uid)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%s has mode %#o: group or others can reach it (want 0700): refusing it", dir, perm)
	}
	return nil
}
