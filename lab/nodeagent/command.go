package nodeagent

import (
	"fmt"
	"sort"
	"strings"

	"github.com/switchyard/switchyard/lab/labconfig"
)

// SelfPlaceholder in an image's command or args stands for the switchyard binary.
const SelfPlaceholder = "{switchyard}"

// ImageNotMappedError says that no local program stands in for an image.
type ImageNotMappedError struct{ Image string }

// Error says which image lacks a mapping and where to add it.
func (e *ImageNotMappedError) Error() string {
	return fmt.Sprintf("ImageNotMapped: image %s has no local program in lab.yaml kubernetes.images (add %q or its name without tag there)", e.Image, e.Image)
}

// LookupImage finds the local program for an image reference: the exact
// reference ("name:tag") first, then its name without tag or digest.
func LookupImage(images map[string]labconfig.Image, ref string) (labconfig.Image, error) {
	if img, ok := (labconfig.Kubernetes{Images: images}).LookupImage(ref); ok {
		return img, nil
	}
	return labconfig.Image{}, &ImageNotMappedError{Image: ref}
}

// Argv computes the program and arguments of a container with Kubernetes'
// rules: command replaces the image's ENTRYPOINT (its Command) and args
// replace its CMD (its Args); $(VAR) in command and args expands from the
// container's environment. "{switchyard}" in the image's entries becomes self.
// A command whose program is a bare name the image lists in Programs runs
// that local program (the image's PATH).
func Argv(img labconfig.Image, command, args []string, env map[string]string, self string) ([]string, error) {
	sub := func(ss []string) []string {
		out := make([]string, len(ss))
		for i, s := range ss {
			out[i] = strings.ReplaceAll(s, SelfPlaceholder, self)
		}
		return out
	}
	exp := func(ss []string) []string {
		out := make([]string, len(ss))
		for i, s := range ss {
			out[i] = Expand(s, mapLookup(env))
		}
		return out
	}
	var argv []string
	switch {
	case len(command) > 0:
		argv = append(exp(command), exp(args)...)
		if prog, ok := img.Programs[argv[0]]; ok && !strings.Contains(argv[0], "/") {
			argv[0] = strings.ReplaceAll(prog, SelfPlaceholder, self)
		}
	case len(args) > 0:
		argv = append(sub(img.Command), exp(args)...)
	default:
		argv = append(sub(img.Command), sub(img.Args)...)
	}
	if len(argv) == 0 {
		return nil, fmt.Errorf("nothing to run: the container sets no command and its image maps to an empty command in lab.yaml kubernetes.images")
	}
	return argv, nil
}

func sortedKeys[K ~string, V any](m map[K]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, string(k))
	}
	sort.Strings(ks)
	return ks
}
