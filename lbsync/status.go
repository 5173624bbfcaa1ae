package lbsync

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/switchyard/switchyard/internal/atomicfile"
	"os"
	"syscall"

	"path/filepath"
)

// StatusFile is what `lb sync --status-file` writes after every sync, for
// a supervisor to probe (the lab's readiness check).
type StatusFile struct {
	// PID is the sync's process id.
	PID int `json:"pid"`
	Status
}

// WriteStatusFile replaces path with the status (atomically).
func WriteStatusFile(path string, st Status) error {
	b, err := json.Marshal(StatusFile{PID: os.Getpid(), Status: st})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("status file: %w", err)
	}
	return atomicfile.Write(path, append(b, '\n'), 0o644)
}

// CheckStatusFile reports whether the sync that writes path runs and has
// completed a sync: nil when it did, else why not.
func CheckStatusFile(path string) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("lb sync has not synced yet (no %s)", path)
	}
	if err != nil {
		return fmt.Errorf("lb sync status: %w", err)
	}
	var f StatusFile
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("lb sync status %s: %w", path, err)
	}
	if err := syscall.Kill(f.PID, 0); f.PID <= 0 || (err != nil && !errors.Is(err, syscall.EPERM)) {
		return fmt.Errorf("lb sync (pid %d) is not running", f.PID)
	}
	if f.Syncs == 0 {
		return fmt.Errorf("lb sync has not synced yet: %s", f.LastError)
	}
	return nil
}
