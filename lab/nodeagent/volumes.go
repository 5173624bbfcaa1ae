package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// The volumes of a pod, as a kubelet fills them: this file computes what a
// volume holds and where each container sees it (pure); volumes_host.go
// writes the files under the pod's directory and mountexec.go bind-mounts
// them at their mountPath inside the container's own mount namespace.
//
// Supported: emptyDir (sizeLimit and medium are ignored: the directory is
// on the pod directory's filesystem), secret, configMap, downwardAPI and
// projected (secret, configMap, downwardAPI and serviceAccountToken
// sources, which is how the API server's ServiceAccount admission adds the
// kube-api-access token volume). Not supported: any other volume type,
// subPath, mount propagation; a container that needs one does not start
// (CreateContainerConfigError). The files are written when a container
// starts and rewritten while the pod runs, as the kubelet does (see
// podRunner.refreshVolumes): a changed Secret or ConfigMap reaches running
// containers, and a token is renewed before it expires.

// TokenRequester issues ServiceAccount tokens bound to a pod (the
// TokenRequest API), for serviceAccountToken projections.
type TokenRequester interface {
	ServiceAccountToken(ctx context.Context, pod *corev1.Pod, audience string, expirationSeconds int64) (Token, error)
}

// Token is an issued ServiceAccount token and the time it expires.
type Token struct {
	Value   string
	Expires time.Time
}

// VolumeFile is one file of a volume: its path relative to the volume's
// directory, its content and its permission bits.
type VolumeFile struct {
	Path string
	Data []byte
	Mode fs.FileMode
}

// VolumeContent is what a volume holds: files, or an empty directory the
// containers write to (emptyDir).
type VolumeContent struct {
	Files    []VolumeFile
	Writable bool
}

// Default file modes of the kubelet (0644 unless the volume says otherwise).
const defaultVolumeMode fs.FileMode = 0o644

// VolumeContents computes the content of volume v of the pod: Secrets and
// ConfigMaps through lk, tokens through tr (nil: serviceAccountToken
// sources fail). Errors wrap ErrConfig (CreateContainerConfigError).
func VolumeContents(ctx context.Context, pe PodEnv, v corev1.Volume, lk Lookup, tr TokenRequester) (VolumeContent, error) {
	vs := v.VolumeSource
	var files []VolumeFile
	var err error
	switch {
	case vs.EmptyDir != nil:
		return VolumeContent{Writable: true}, nil
	case vs.Secret != nil:
		files, err = secretFiles(ctx, pe.Pod.Namespace, vs.Secret.SecretName, vs.Secret.Items, vs.Secret.Optional, modeOr(vs.Secret.DefaultMode), lk)
	case vs.ConfigMap != nil:
		files, err = configMapFiles(ctx, pe.Pod.Namespace, vs.ConfigMap.Name, vs.ConfigMap.Items, vs.ConfigMap.Optional, modeOr(vs.ConfigMap.DefaultMode), lk)
	case vs.DownwardAPI != nil:
		files, err = downwardFiles(pe, vs.DownwardAPI.Items, modeOr(vs.DownwardAPI.DefaultMode))
	case vs.Projected != nil:
		files, err = projectedFiles(ctx, pe, vs.Projected, lk, tr)
	default:
		return VolumeContent{}, fmt.Errorf("%w: volume %s: unsupported type (the lab supports emptyDir, secret, configMap, downwardAPI and projected)", ErrConfig, v.Name)
	}
	if err != nil {
		return VolumeContent{}, fmt.Errorf("%w: volume %s: %w", ErrConfig, v.Name, err)
	}
	if err := checkFilePaths(files); err != nil {
		return VolumeContent{}, fmt.Errorf("%w: volume %s: %w", ErrConfig, v.Name, err)
	}
	return VolumeContent{Files: files}, nil
}

func modeOr(m *int32) fs.FileMode {
	if m == nil {
		return defaultVolumeMode
	}
	return fs.FileMode(*m) & fs.ModePerm
}

// keyFiles maps the keys of data to files: every key, or the items only
// (a missing item key is an error unless optional).
func keyFiles(kind, ns, name string, data map[string][]byte, items []corev1.KeyToPath, optional bool, mode fs.FileMode) ([]VolumeFile, error) {
	var out []VolumeFile
	if len(items) == 0 {
		for _, k := range sortedKeys(data) {
			out = append(out, VolumeFile{Path: k, Data: data[k], Mode: mode})
		}
		return out, nil
	}
	for _, it := range items {
		b, ok := data[it.Key]
		if !ok {
			if optional {
				continue
			}
			return nil, fmt.Errorf("couldn't find key %s in %s %s/%s", it.Key, kind, ns, name)
		}
		m := mode
		if it.Mode != nil {
			m = fs.FileMode(*it.Mode) & fs.ModePerm
		}
		out = append(out, VolumeFile{Path: it.Path, Data: b, Mode: m})
	}
	return out, nil
}

func secretFiles(ctx context.Context, ns, name string, items []corev1.KeyToPath, optional *bool, mode fs.FileMode, lk Lookup) ([]VolumeFile, error) {
	s, err := lk.Secret(ctx, ns, name)
	if err != nil {
		if apierrors.IsNotFound(err) && isTrue(optional) {
			return nil, nil
		}
		return nil, fmt.Errorf("secret %q: %w", name, err)
	}
	data := map[string][]byte{}
	for k, v := range s.StringData {
		data[k] = []byte(v)
	}
	for k, v := range s.Data {
		data[k] = v
	}
	return keyFiles("Secret", ns, name, data, items, isTrue(optional), mode)
}

func configMapFiles(ctx context.Context, ns, name string, items []corev1.KeyToPath, optional *bool, mode fs.FileMode, lk Lookup) ([]VolumeFile, error) {
	cm, err := lk.ConfigMap(ctx, ns, name)
	if err != nil {
		if apierrors.IsNotFound(err) && isTrue(optional) {
			return nil, nil
		}
		return nil, fmt.Errorf("configmap %q: %w", name, err)
	}
	data := map[string][]byte{}
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	return keyFiles("ConfigMap", ns, name, data, items, isTrue(optional), mode)
}

// downwardFiles resolves downwardAPI items; metadata.labels and
// metadata.annotations become key="value" lines, sorted, as the kubelet
// writes them.
func downwardFiles(pe PodEnv, items []corev1.DownwardAPIVolumeFile, mode fs.FileMode) ([]VolumeFile, error) {
	var out []VolumeFile
	for _, it := range items {
		var v string
		var err error
		switch {
		case it.FieldRef != nil:
			switch it.FieldRef.FieldPath {
			case "metadata.labels":
				v = formatMap(pe.Pod.Labels)
			case "metadata.annotations":
				v = formatMap(pe.Pod.Annotations)
			default:
				v, err = FieldValue(pe, it.FieldRef.FieldPath)
			}
		case it.ResourceFieldRef != nil:
			c, ok := containerNamed(pe.Pod, it.ResourceFieldRef.ContainerName)
			if !ok {
				return nil, fmt.Errorf("downwardAPI %s: no container %q", it.Path, it.ResourceFieldRef.ContainerName)
			}
			v, err = ResourceValue(pe, c, it.ResourceFieldRef)
		default:
			err = errors.New("neither fieldRef nor resourceFieldRef")
		}
		if err != nil {
			return nil, fmt.Errorf("downwardAPI %s: %w", it.Path, err)
		}
		m := mode
		if it.Mode != nil {
			m = fs.FileMode(*it.Mode) & fs.ModePerm
		}
		out = append(out, VolumeFile{Path: it.Path, Data: []byte(v), Mode: m})
	}
	return out, nil
}

func formatMap(m map[string]string) string {
	var b strings.Builder
	for i, k := range sortedKeys(m) {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s=%q", k, m[k])
	}
	return b.String()
}

func containerNamed(p *corev1.Pod, name string) (*corev1.Container, bool) {
	for i := range p.Spec.Containers {
		if p.Spec.Containers[i].Name == name {
			return &p.Spec.Containers[i], true
		}
	}
	return nil, false
}

// DefaultTokenExpirationSeconds is a serviceAccountToken projection's
// lifetime when it names none (the API's default).
const DefaultTokenExpirationSeconds = 3600

func projectedFiles(ctx context.Context, pe PodEnv, pv *corev1.ProjectedVolumeSource, lk Lookup, tr TokenRequester) ([]VolumeFile, error) {
	mode := modeOr(pv.DefaultMode)
	var out []VolumeFile
	for i, s := range pv.Sources {
		var files []VolumeFile
		var err error
		switch {
		case s.Secret != nil:
			files, err = secretFiles(ctx, pe.Pod.Namespace, s.Secret.Name, s.Secret.Items, s.Secret.Optional, mode, lk)
		case s.ConfigMap != nil:
			files, err = configMapFiles(ctx, pe.Pod.Namespace, s.ConfigMap.Name, s.ConfigMap.Items, s.ConfigMap.Optional, mode, lk)
		case s.DownwardAPI != nil:
			files, err = downwardFiles(pe, s.DownwardAPI.Items, mode)
		case s.ServiceAccountToken != nil:
			files, err = tokenFile(ctx, pe.Pod, s.ServiceAccountToken, mode, tr)
		default:
			err = errors.New("unsupported source (the lab supports secret, configMap, downwardAPI and serviceAccountToken)")
		}
		if err != nil {
			return nil, fmt.Errorf("projected source %d: %w", i, err)
		}
		out = append(out, files...)
	}
	return out, nil
}

func tokenFile(ctx context.Context, pod *corev1.Pod, p *corev1.ServiceAccountTokenProjection, mode fs.FileMode, tr TokenRequester) ([]VolumeFile, error) {
	if tr == nil {
		return nil, errors.New("serviceAccountToken: this node agent cannot request tokens")
	}
	exp := int64(DefaultTokenExpirationSeconds)
	if p.ExpirationSeconds != nil {
		exp = *p.ExpirationSeconds
	}
	tok, err := tr.ServiceAccountToken(ctx, pod, p.Audience, exp)
	if err != nil {
		return nil, fmt.Errorf("serviceAccountToken: %w", err)
	}
	return []VolumeFile{{Path: p.Path, Data: []byte(tok.Value), Mode: mode}}, nil
}

// checkFilePaths refuses file paths that could leave the volume's
// directory or collide: each must be relative, clean, without "..".
func checkFilePaths(files []VolumeFile) error {
	seen := map[string]bool{}
	for _, f := range files {
		if err := checkRelPath(f.Path); err != nil {
			return err
		}
		if seen[f.Path] {
			return fmt.Errorf("path %q is given twice", f.Path)
		}
		seen[f.Path] = true
	}
	return nil
}

func checkRelPath(p string) error {
	switch {
	case p == "" || path.IsAbs(p):
		return fmt.Errorf("path %q must be a non-empty relative path", p)
	case path.Clean(p) != p:
		return fmt.Errorf("path %q is not clean (write %q)", p, path.Clean(p))
	case strings.HasPrefix(p, ".."):
		return fmt.Errorf("path %q must not start with ..", p)
	}
	return nil
}

// ValidateMountPath checks a volumeMount's mountPath before it reaches a
// mount: absolute, clean, no ".." element, not the root directory.
func ValidateMountPath(p string) error {
	switch {
	case !path.IsAbs(p):
		return fmt.Errorf("mountPath %q must be absolute", p)
	case path.Clean(p) != p:
		return fmt.Errorf("mountPath %q is not clean (write %q)", p, path.Clean(p))
	case p == "/":
		return errors.New("mountPath / would hide the whole filesystem")
	}
	for _, e := range strings.Split(p, "/") {
		if e == ".." {
			return fmt.Errorf("mountPath %q must not contain ..", p)
		}
	}
	return nil
}

// Mount is one volume at its place in a container: the volume's directory
// on the host (Source) bind-mounted at Target, read-only unless Writable.
type Mount struct {
	Source, Target string
	Writable       bool
}

// ContainerMounts lists the mounts of container c, parents before what is
// mounted inside them (/a before /a/b): volumeDir gives the host directory
// of a volume, writable whether the volume is (emptyDir; a readOnly mount
// of it is not).
func ContainerMounts(c *corev1.Container, volumes []corev1.Volume, volumeDir func(name string) string, writable func(name string) bool) ([]Mount, error) {
	have := map[string]bool{}
	for _, v := range volumes {
		have[v.Name] = true
	}
	var out []Mount
	targets := map[string]bool{}
	for _, m := range c.VolumeMounts {
		if !have[m.Name] {
			return nil, fmt.Errorf("%w: volumeMount %s: the pod has no volume of that name", ErrConfig, m.Name)
		}
		if err := ValidateMountPath(m.MountPath); err != nil {
			return nil, fmt.Errorf("%w: volumeMount %s: %w", ErrConfig, m.Name, err)
		}
		if m.SubPath != "" || m.SubPathExpr != "" {
			return nil, fmt.Errorf("%w: volumeMount %s: subPath is not supported by the lab", ErrConfig, m.Name)
		}
		if targets[m.MountPath] {
			return nil, fmt.Errorf("%w: volumeMount %s: mountPath %s is used twice", ErrConfig, m.Name, m.MountPath)
		}
		targets[m.MountPath] = true
		out = append(out, Mount{Source: volumeDir(m.Name), Target: m.MountPath, Writable: writable(m.Name) && !m.ReadOnly})
	}
	// Parents first, whatever the order given: /a before /a/b.
	sort.SliceStable(out, func(i, j int) bool { return depth(out[i].Target) < depth(out[j].Target) })
	return out, nil
}

func depth(p string) int { return strings.Count(p, "/") }
