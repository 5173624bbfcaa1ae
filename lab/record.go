package lab

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/switchyard/switchyard/lab/component"
	"github.com/switchyard/switchyard/lab/labconfig"
	"github.com/switchyard/switchyard/lab/proc"
)

// Record is what the supervisor writes to <dir>/run/<name>.json for a
// component it started: enough to find the process again, to tell whether
// it still runs with the same configuration, and to stop it.
type Record struct {
	Name       string        `json:"name"`
	Argv       []string      `json:"argv"`
	Env        []string      `json:"env,omitempty"` // the spec's own env, not the inherited one
	Dir        string        `json:"dir,omitempty"`
	Address    string        `json:"address,omitempty"`
	Process    proc.ID       `json:"process"`
	StartedAt  time.Time     `json:"startedAt"`
	ConfigHash string        `json:"configHash"`
	StopGrace  time.Duration `json:"stopGrace"`
	Log        string        `json:"log"`
}

// ExitInfo is how a component ended on its own (<dir>/run/<name>.exit).
type ExitInfo struct {
	Code int       `json:"code"`
	At   time.Time `json:"at"`
}

// String renders the exit like a shell would explain it.
func (e ExitInfo) String() string {
	at := e.At.Local().Format("15:04:05")
	if e.Code > 128 && e.Code < 128+65 {
		return fmt.Sprintf("killed by signal %d at %s", e.Code-128, at)
	}
	return fmt.Sprintf("exited with status %d at %s", e.Code, at)
}

func runDir(cfg labconfig.Config) string                  { return cfg.Path("run") }
func recordPath(cfg labconfig.Config, name string) string { return cfg.Path("run", name+".json") }
func exitPath(cfg labconfig.Config, name string) string   { return cfg.Path("run", name+".exit") }

// LogPath is the log file of the named component.
func LogPath(cfg labconfig.Config, name string) string { return cfg.Path("logs", name+".log") }

func readRecord(cfg labconfig.Config, name string) (*Record, error) {
	b, err := os.ReadFile(recordPath(cfg, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", recordPath(cfg, name), err)
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s is damaged (%w): stop the process by hand if it runs, then delete the file", recordPath(cfg, name), err)
	}
	return &r, nil
}

// readRecords returns every record in <dir>/run, by name.
func readRecords(cfg labconfig.Config) (map[string]*Record, error) {
	ents, err := os.ReadDir(runDir(cfg))
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]*Record{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", runDir(cfg), err)
	}
	out := map[string]*Record{}
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || e.IsDir() {
			continue
		}
		r, err := readRecord(cfg, name)
		if err != nil {
			return nil, err
		}
		if r != nil {
			out[name] = r
		}
	}
	return out, nil
}

func writeRecord(cfg labconfig.Config, r *Record) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	p := recordPath(cfg, r.Name)
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	return os.Rename(tmp, p)
}

func removeRecord(cfg labconfig.Config, name string) {
	_ = os.Remove(recordPath(cfg, name))
	_ = os.Remove(exitPath(cfg, name))
}

func readExit(cfg labconfig.Config, name string) (ExitInfo, bool) {
	b, err := os.ReadFile(exitPath(cfg, name))
	if err != nil {
		return ExitInfo{}, false
	}
	var e ExitInfo
	if json.Unmarshal(b, &e) != nil {
		return ExitInfo{}, false
	}
	return e, true
}

// configHash fingerprints the lab config so a running lab notices that its
// lab.yaml changed underneath it.
func configHash(cfg labconfig.Config) string {
	b, err := cfg.Marshal()
	if err != nil {
		return ""
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}

// drift says how a running component differs from what the spec and config
// would start now ("" when it does not).
func drift(r *Record, s component.Spec, hash string) string {
	switch {
	case !slices.Equal(r.Argv, s.Argv):
		return "its command line changed"
	case !slices.Equal(r.Env, s.Env):
		return "its environment changed"
	case r.ConfigHash != hash:
		return "the lab config changed"
	}
	return ""
}

// shimScript runs the component as a child of a small shell that records how
// it ended. The shell traps (rather than ignores) TERM so the child gets the
// default disposition and the group's SIGTERM reaches it; the shell then
// waits for it, writes the exit file and exits with the same status.
const shimScript = `f=$1; shift
trap ':' TERM INT HUP
"$@"
c=$?
printf '{"code":%d,"at":"%s"}\n' "$c" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" > "$f.tmp" && mv "$f.tmp" "$f"
echo "switchyard lab: process exited with status $c"
exit $c`

func shimArgv(exitFile string, argv []string) []string {
	return append([]string{"/bin/sh", "-c", shimScript, "switchyard-lab-shim", exitFile}, argv...)
}

func ensureDirs(cfg labconfig.Config) error {
	for _, d := range []string{cfg.Path("logs"), runDir(cfg)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("create lab directory %s: %w", d, err)
		}
	}
	return nil
}

// tail returns the last n lines of a file (nil when it cannot be read).
func tail(path string, n int) []string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return nil
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}

func absDir(cfg labconfig.Config, dir string) string {
	if dir == "" {
		return cfg.Dir
	}
	if filepath.IsAbs(dir) {
		return dir
	}
	return cfg.Path(dir)
}
