// Package version reports the build's version, commit and Go version.
//
// Version and Commit may be set at link time with
// -ldflags "-X github.com/switchyard/switchyard/internal/version.Version=v1.2.3";
// when they are not, the commit comes from the Go toolchain's VCS stamp.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is the release version of this build ("dev" for local builds).
var Version = "dev"

// Commit is the VCS revision of this build; empty means "read it from build info".
var Commit = ""

// Info describes one build of switchyard.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// Get returns the build's Info.
func Get() Info {
	info := Info{Version: Version, Commit: Commit, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if info.Commit == "" {
		info.Commit = "unknown"
		if bi, ok := debug.ReadBuildInfo(); ok {
			var rev, modified string
			for _, s := range bi.Settings {
				switch s.Key {
				case "vcs.revision":
					rev = s.Value
				case "vcs.modified":
					modified = s.Value
				}
			}
			if rev != "" {
				info.Commit = rev
				if modified == "true" {
					info.Commit += "-dirty"
				}
			}
		}
	}
	return info
}

// String renders the Info on one line.
func (i Info) String() string {
	return fmt.Sprintf("switchyard %s (commit %s, %s, %s)", i.Version, i.Commit, i.GoVersion, i.Platform)
}
