package bundle

import (
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// refChar reports whether c may be part of an image reference; a reference
// is rewritten only where it stands alone (the characters around it may
// not).
func refChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._:/@-", c) >= 0
}

// Rewrite replaces every whole occurrence of each key of refs in data (not
// a part of a longer reference) by its value and returns the result and
// the number of replacements. It is how Install points the apps' files at
// the site's registry: image references as the apps write them, in YAML,
// JSON and chart templates alike.
func Rewrite(data []byte, refs map[string]string) ([]byte, int) {
	keys := make([]string, 0, len(refs))
	for k := range refs {
		if k != "" {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return len(keys[i]) > len(keys[j]) })
	var out []byte
	n, last := 0, 0
	for i := 0; i < len(data); i++ {
		if i > 0 && refChar(data[i-1]) {
			continue
		}
		for _, k := range keys {
			end := i + len(k)
			if end <= len(data) && string(data[i:end]) == k && (end == len(data) || !refChar(data[end])) {
				out = append(append(out, data[last:i]...), refs[k]...)
				last, n = end, n+1
				i = end - 1
				break
			}
		}
	}
	if n == 0 {
		return data, 0
	}
	return append(out, data[last:]...), n
}

// SiteRefs maps each image's reference to where Install puts it: the same
// repository path at registry (HOST:PORT, optionally with a path prefix),
// by digest.
func SiteRefs(images []Image, registry string) (map[string]string, error) {
	out := map[string]string{}
	for _, im := range images {
		repo, err := name.NewRepository(strings.TrimSuffix(registry, "/") + "/" + im.Repository)
		if err != nil {
			return nil, err
		}
		out[im.Ref] = repo.Digest(im.Digest).String()
	}
	return out, nil
}
