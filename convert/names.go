package convert

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/switchyard/switchyard/marathon"
)

// maxNameLen keeps room for the suffixes controllers add to workload names
// (a StatefulSet's controller-revision-hash label is name-<10 chars>).
const maxNameLen = 52

// absID resolves a Marathon id against its parent group ("/" for top level):
// "web" in "/prod" is "/prod/web"; an empty id is the parent itself.
func absID(id, parent string) string {
	if id == "" {
		id = "."
	}
	return marathon.ResolveID(id, parent)
}

// sanitizeName turns any string into a DNS-1035 label (lower-case letters,
// digits and '-', starting with a letter, at most max characters) and says
// whether that lost information (so that a hash suffix keeps it unique).
func sanitizeName(s string, max int) (string, bool) {
	var b strings.Builder
	lossy := false
	dash := false
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case r >= 'A' && r <= 'Z':
			b.WriteRune(r + ('a' - 'A'))
			dash, lossy = false, true
		default:
			if r != '/' && r != '-' {
				lossy = true
			}
			if !dash && b.Len() > 0 {
				b.WriteByte('-')
				dash = true
			}
		}
	}
	out := strings.TrimRight(b.String(), "-")
	if out == "" || out[0] < 'a' || out[0] > 'z' {
		out = "x-" + out
		out = strings.TrimRight(out, "-")
		lossy = true
	}
	if len(out) > max {
		out = strings.TrimRight(out[:max], "-")
		lossy = true
	}
	return out, lossy
}

// shortHash is 6 hex digits of the SHA-256 of s.
func shortHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:3])
}

// withHash appends -<hash of id> to name, keeping it within max.
func withHash(name, id string, max int) string {
	suffix := "-" + shortHash(id)
	if len(name)+len(suffix) > max {
		name = strings.TrimRight(name[:max-len(suffix)], "-")
	}
	return name + suffix
}

// namer gives each Marathon id a DNS-1035 name, deterministic and
// collision-safe: a name that had to be shortened, or that two different ids
// share, gets a hash of the id as suffix.
type namer struct {
	byID map[string]string
}

// newNamer names all ids at once (so that collisions are seen).
func newNamer(ids []string) *namer {
	n := &namer{byID: map[string]string{}}
	base := map[string]string{}
	count := map[string]int{}
	truncated := map[string]bool{}
	for _, id := range ids {
		if _, ok := base[id]; ok {
			continue
		}
		s, _ := sanitizeName(strings.TrimPrefix(id, "/"), 1000)
		if len(s) > maxNameLen {
			truncated[id] = true
		}
		base[id] = s
		count[s]++
	}
	for id, s := range base {
		if count[s] > 1 || truncated[id] {
			n.byID[id] = withHash(s, id, maxNameLen)
		} else {
			n.byID[id] = s
		}
	}
	return n
}

func (n *namer) name(id string) string {
	if s, ok := n.byID[id]; ok {
		return s
	}
	s, _ := sanitizeName(strings.TrimPrefix(id, "/"), 1000)
	if len(s) > maxNameLen {
		s = withHash(s, id, maxNameLen)
	}
	return s
}

func dns1123Label(s string) string {
	return strings.Join(validation.IsDNS1123Label(s), "; ")
}

// portName turns a Marathon port name into an IANA service name (at most 15
// lower-case letters, digits and '-', with a letter, no double '-'), or ""
// when nothing usable is left.
func portName(s string) string {
	out, _ := sanitizeName(s, 15)
	if strings.HasPrefix(out, "x-") && !strings.HasPrefix(strings.ToLower(s), "x-") {
		return ""
	}
	if len(validation.IsValidPortName(out)) != 0 {
		return ""
	}
	return out
}

// uniquePortName returns name, or name with a number, not yet in used.
func uniquePortName(name string, used map[string]bool) string {
	if !used[name] {
		used[name] = true
		return name
	}
	for i := 2; ; i++ {
		suffix := "-" + strconv.Itoa(i)
		n := name
		if len(n)+len(suffix) > 15 {
			n = strings.TrimRight(n[:15-len(suffix)], "-")
		}
		if !used[n+suffix] {
			used[n+suffix] = true
			return n + suffix
		}
	}
}

// labelKey makes a valid label key from a Marathon label key: invalid
// characters become '-', the name part is cut to 63 characters. ok is false
// when nothing valid could be made.
func labelKey(k string) (string, bool) {
	if len(validation.IsQualifiedName(k)) == 0 {
		return k, true
	}
	prefix, name := "", k
	if i := strings.LastIndex(k, "/"); i >= 0 {
		prefix, name = k[:i], k[i+1:]
	}
	name = cleanLabelPart(name, 63)
	if prefix != "" {
		p, _ := sanitizeName(strings.ReplaceAll(prefix, ".", "-dot-"), 253)
		p = strings.ReplaceAll(p, "-dot-", ".")
		prefix = p
	}
	out := name
	if prefix != "" {
		out = prefix + "/" + name
	}
	if name == "" || len(validation.IsQualifiedName(out)) != 0 {
		return "", false
	}
	return out, true
}

// cleanLabelPart keeps [A-Za-z0-9._-], replacing others by '-', trims
// non-alphanumerics at both ends and cuts to max.
func cleanLabelPart(s string, max int) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			b[i] = '-'
		}
	}
	out := string(b)
	if len(out) > max {
		out = out[:max]
	}
	return strings.TrimFunc(out, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	})
}

func validLabelValue(v string) bool { return len(validation.IsValidLabelValue(v)) == 0 }

// secretKey makes a valid Secret data key ([-._a-zA-Z0-9]+).
func secretKey(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	out := string(b)
	if out == "" || out == "." || out == ".." {
		out = "value"
	}
	if len(out) > 253 {
		out = out[:253]
	}
	return out
}

// secretTarget maps a secret store path ("team/db/password", "/token") to
// the Kubernetes Secret name and key that hold it: the directory part names
// the Secret, the last element is the key; a single element names the
// Secret and the key is "value".
func secretTarget(source string) (name, key string) {
	s := strings.Trim(source, "/")
	if i := strings.LastIndex(s, "/"); i >= 0 {
		dir, base := s[:i], s[i+1:]
		n, lossy := sanitizeName(dir, 253)
		if lossy && n != strings.ReplaceAll(dir, "/", "-") {
			n = withHash(n, dir, 253)
		}
		return n, secretKey(base)
	}
	n, lossy := sanitizeName(s, 253)
	if lossy && s != "" && n != s {
		n = withHash(n, s, 253)
	}
	return n, "value"
}
