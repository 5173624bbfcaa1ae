package marathon

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/switchyard/switchyard/marathon"
)

// timeFormat is Marathon's ISO-8601 timestamp with milliseconds, used for
// versions and every timestamp in API answers.
const timeFormat = "2006-01-02T15:04:05.000Z"

// formatTime renders t as Marathon does (UTC, milliseconds).
func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

// parseTime reads a Marathon timestamp.
func parseTime(s string) (time.Time, error) { return time.Parse(time.RFC3339Nano, s) }

// segmentRe is Marathon's rule for one segment of an app or group id.
var segmentRe = regexp.MustCompile(`^(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])$`)

// absPath resolves id against base (a group path) the way Marathon resolves
// relative ids: "a" under "/g" is "/g/a", ".." climbs, "/x" is absolute; an
// empty id is base itself.
func absPath(id, base string) string {
	if id == "" {
		id = "."
	}
	return marathon.ResolveID(id, base)
}

// splitPath returns the segments of an absolute path ("/" has none).
func splitPath(p string) []string {
	var out []string
	for _, s := range strings.Split(p, "/") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// parentPath is the group that contains id ("/a/b" -> "/a", "/a" -> "/").
func parentPath(id string) string {
	parts := splitPath(id)
	if len(parts) <= 1 {
		return "/"
	}
	return "/" + strings.Join(parts[:len(parts)-1], "/")
}

// isUnder reports whether id is path itself or lies below it.
func isUnder(id, path string) bool {
	if path == "/" {
		return true
	}
	return id == path || strings.HasPrefix(id, path+"/")
}

// validPathErrors checks every segment of an absolute id against Marathon's rule.
func validPathErrors(id string) []string {
	if id == "" || id == "/" {
		return []string{"must not be empty"}
	}
	for _, s := range splitPath(id) {
		if !segmentRe.MatchString(s) {
			return []string{fmt.Sprintf("'%s' must fully match the regular expression '^(([a-z0-9]|[a-z0-9][a-z0-9\\-]*[a-z0-9])\\.)*([a-z0-9]|[a-z0-9][a-z0-9\\-]*[a-z0-9])|(\\.|\\.\\.)$'", s)}
		}
	}
	return nil
}

// newUUID returns a random RFC 4122 version 4 UUID.
func newUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// newTaskID builds a task id the way Marathon's classic scheme does: the app
// path with "/" replaced by "_" (leading one dropped), a dot, and a UUID,
// e.g. "tools_docker_registry.002b4d28-46b9-11e5-b731-525400cce7ed".
func newTaskID(appID string) string {
	return strings.ReplaceAll(strings.TrimPrefix(appID, "/"), "/", "_") + "." + newUUID()
}

// appIDOfTask recovers the app id from a task id built by newTaskID.
func appIDOfTask(taskID string) string {
	i := strings.LastIndexByte(taskID, '.')
	if i <= 0 {
		return ""
	}
	return "/" + strings.ReplaceAll(taskID[:i], "_", "/")
}

// versionClock hands out strictly increasing version timestamps, so two
// changes within one millisecond still get distinct versions.
type versionClock struct{ last time.Time }

// next returns a version for now, later than every version handed out before.
func (c *versionClock) next(now time.Time) time.Time {
	now = now.UTC().Truncate(time.Millisecond)
	if !now.After(c.last) {
		now = c.last.Add(time.Millisecond)
	}
	c.last = now
	return now
}
