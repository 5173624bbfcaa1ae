package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// fakeTokens issues "token-for-<pod>-<audience>-<seconds>".
type fakeTokens struct{}

func (fakeTokens) ServiceAccountToken(_ context.Context, pod *corev1.Pod, audience string, exp int64) (Token, error) {
	return Token{Value: fmt.Sprintf("token-for-%s-%s-%d", pod.Name, audience, exp)}, nil
}

func TestVolumeContents(t *testing.T) {
	lk := fakeLookup{
		secrets: map[string]*corev1.Secret{"ns/creds": {Data: map[string][]byte{"user": []byte("u"), "pass": []byte("p")}}},
		cms: map[string]*corev1.ConfigMap{"ns/cfg": {Data: map[string]string{"a.yaml": "a: 1"}, BinaryData: map[string][]byte{"b.bin": {0, 1}}},
			"ns/kube-root-ca.crt": {Data: map[string]string{"ca.crt": "CA"}}},
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "ns", Labels: map[string]string{"b": "2", "a": "1"}}}
	pe := PodEnv{Pod: pod, PodIP: "10.0.0.2"}
	file := func(p, data string, mode fs.FileMode) VolumeFile {
		return VolumeFile{Path: p, Data: []byte(data), Mode: mode}
	}
	tests := []struct {
		name    string
		src     corev1.VolumeSource
		want    VolumeContent
		wantErr string
	}{
		{"emptyDir", corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}, VolumeContent{Writable: true}, ""},
		{"secret, every key, default mode", corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "creds"}},
			VolumeContent{Files: []VolumeFile{file("pass", "p", 0o644), file("user", "u", 0o644)}}, ""},
		{"secret items and modes", corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "creds", DefaultMode: ptr.To[int32](0o440),
			Items: []corev1.KeyToPath{{Key: "user", Path: "dir/user.txt"}, {Key: "pass", Path: "pass", Mode: ptr.To[int32](0o400)}}}},
			VolumeContent{Files: []VolumeFile{file("dir/user.txt", "u", 0o440), file("pass", "p", 0o400)}}, ""},
		{"secret item key missing", corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "creds", Items: []corev1.KeyToPath{{Key: "nope", Path: "x"}}}},
			VolumeContent{}, "couldn't find key nope"},
		{"optional secret missing", corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "gone", Optional: ptr.To(true)}}, VolumeContent{}, ""},
		{"secret missing", corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "gone"}}, VolumeContent{}, `secret "gone"`},
		{"configMap data and binaryData", corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}},
			VolumeContent{Files: []VolumeFile{{Path: "a.yaml", Data: []byte("a: 1"), Mode: 0o644}, {Path: "b.bin", Data: []byte{0, 1}, Mode: 0o644}}}, ""},
		{"downwardAPI", corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{
			{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
			{Path: "ip", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}, Mode: ptr.To[int32](0o400)}}}},
			VolumeContent{Files: []VolumeFile{file("labels", "a=\"1\"\nb=\"2\"", 0o644), file("ip", "10.0.0.2", 0o400)}}, ""},
		{"projected ServiceAccount token volume", corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{DefaultMode: ptr.To[int32](0o644), Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr.To[int64](3607)}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"}, Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}}}}}},
			VolumeContent{Files: []VolumeFile{file("token", "token-for-web-1--3607", 0o644), file("ca.crt", "CA", 0o644), file("namespace", "ns", 0o644)}}, ""},
		{"item path leaves the volume", corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "creds", Items: []corev1.KeyToPath{{Key: "user", Path: "../../etc/passwd"}}}},
			VolumeContent{}, "must not start with .."},
		{"absolute item path", corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "creds", Items: []corev1.KeyToPath{{Key: "user", Path: "/etc/passwd"}}}},
			VolumeContent{}, "relative"},
		{"unclean item path", corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "creds", Items: []corev1.KeyToPath{{Key: "user", Path: "a/../../b"}}}},
			VolumeContent{}, "not clean"},
		{"unsupported type", corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}, VolumeContent{}, "unsupported type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := VolumeContents(context.Background(), pe, corev1.Volume{Name: "v", VolumeSource: tt.src}, lk, fakeTokens{})
			if wantConfigErr(t, err, tt.wantErr) {
				return
			}
			if got.Writable != tt.want.Writable || !slices.EqualFunc(got.Files, tt.want.Files, func(a, b VolumeFile) bool {
				return a.Path == b.Path && string(a.Data) == string(b.Data) && a.Mode == b.Mode
			}) {
				t.Errorf("content = %+v, want %+v", got, tt.want)
			}
		})
	}
	if _, err := VolumeContents(context.Background(), pe, corev1.Volume{Name: "t", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}}}}}}, lk, nil); err == nil {
		t.Error("a token volume without a TokenRequester was accepted")
	}
}

func TestValidateMountPath(t *testing.T) {
	tests := []struct {
		path string
		ok   bool
	}{
		{"/etc/switchyard/config", true},
		{"/var/run/secrets/kubernetes.io/serviceaccount", true},
		{"/tmp", true},
		{"relative/path", false},
		{"", false},
		{"/", false},
		{"/etc/../root", false},
		{"/etc/", false},
		{"/etc//x", false},
		{"/a/./b", false},
		{"/..", false},
	}
	for _, tt := range tests {
		if err := ValidateMountPath(tt.path); (err == nil) != tt.ok {
			t.Errorf("ValidateMountPath(%q) = %v, want ok %v", tt.path, err, tt.ok)
		}
	}
}

func TestContainerMounts(t *testing.T) {
	vols := []corev1.Volume{{Name: "tmp"}, {Name: "config"}, {Name: "nested"}}
	dir := func(n string) string { return "/pods/p/volumes/" + n }
	writable := func(n string) bool { return n == "tmp" }
	tests := []struct {
		name    string
		mounts  []corev1.VolumeMount
		want    []Mount
		wantErr string
	}{
		{"parents first, emptyDir writable unless readOnly", []corev1.VolumeMount{
			{Name: "nested", MountPath: "/etc/app/config/extra"},
			{Name: "config", MountPath: "/etc/app/config", ReadOnly: true},
			{Name: "tmp", MountPath: "/tmp"},
		}, []Mount{
			{Source: "/pods/p/volumes/tmp", Target: "/tmp", Writable: true},
			{Source: "/pods/p/volumes/config", Target: "/etc/app/config"},
			{Source: "/pods/p/volumes/nested", Target: "/etc/app/config/extra"},
		}, ""},
		{"readOnly emptyDir", []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp", ReadOnly: true}}, []Mount{{Source: "/pods/p/volumes/tmp", Target: "/tmp"}}, ""},
		{"unknown volume", []corev1.VolumeMount{{Name: "nope", MountPath: "/x"}}, nil, "no volume"},
		{"subPath", []corev1.VolumeMount{{Name: "config", MountPath: "/x", SubPath: "a"}}, nil, "subPath"},
		{"relative mountPath", []corev1.VolumeMount{{Name: "config", MountPath: "x"}}, nil, "absolute"},
		{"traversal", []corev1.VolumeMount{{Name: "config", MountPath: "/x/../../etc"}}, nil, "clean"},
		{"same target twice", []corev1.VolumeMount{{Name: "config", MountPath: "/x"}, {Name: "tmp", MountPath: "/x"}}, nil, "used twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ContainerMounts(&corev1.Container{VolumeMounts: tt.mounts}, vols, dir, writable)
			if wantConfigErr(t, err, tt.wantErr) {
				return
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("mounts = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestWriteVolume(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "v")
	first := VolumeContent{Files: []VolumeFile{{Path: "a", Data: []byte("1"), Mode: 0o440}, {Path: "sub/b", Data: []byte("2"), Mode: 0o400}, {Path: "old/c", Data: []byte("3"), Mode: 0o644}}}
	if err := writeVolume(dir, first, nil); err != nil {
		t.Fatal(err)
	}
	second := VolumeContent{Files: []VolumeFile{{Path: "a", Data: []byte("one"), Mode: 0o600}, {Path: "sub/b", Data: []byte("2"), Mode: 0o400}}}
	if err := writeVolume(dir, second, nil); err != nil {
		t.Fatal(err)
	}
	want := map[string]fs.FileMode{".": 0o700 | fs.ModeDir, "a": 0o600, "sub": 0o700 | fs.ModeDir, "sub/b": 0o400}
	got := map[string]fs.FileMode{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		got[rel] = st.Mode() & (fs.ModeDir | fs.ModePerm)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("volume tree = %v, want %v (old/c removed, modes as given, directories 0700)", got, want)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "a")); string(b) != "one" {
		t.Errorf("a = %q, want the new content", b)
	}
	// The same content again (the periodic refresh) replaces no file; a
	// changed mode alone does.
	inode := func(rel string) uint64 {
		st, err := os.Stat(filepath.Join(dir, rel))
		if err != nil {
			t.Fatal(err)
		}
		return st.Sys().(*syscall.Stat_t).Ino
	}
	a, b := inode("a"), inode("sub/b")
	second.Files[1].Mode = 0o440
	if err := writeVolume(dir, second, nil); err != nil {
		t.Fatal(err)
	}
	if inode("a") != a {
		t.Error("an unchanged file was replaced")
	}
	if inode("sub/b") == b {
		t.Error("a file whose mode changed was kept")
	}
	// An emptyDir keeps what the containers wrote.
	empty := filepath.Join(t.TempDir(), "e")
	if err := writeVolume(empty, VolumeContent{Writable: true}, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(empty, "data"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := writeVolume(empty, VolumeContent{Writable: true}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(empty, "data")); err != nil {
		t.Errorf("emptyDir lost its content on the next container start: %v", err)
	}
}

func TestMountPoints(t *testing.T) {
	root := t.TempDir()
	ledger := filepath.Join(root, "run", "mountpoints")
	existing := filepath.Join(root, "etc")
	if err := os.Mkdir(existing, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{existing + "/app/config", existing + "/app/tokens", existing + "/app/config", existing} {
		if err := EnsureMountPoint(ledger, target); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(ledger)
	if err != nil {
		t.Fatal(err)
	}
	if want := existing + "/app\n" + existing + "/app/config\n" + existing + "/app/tokens\n"; string(b) != want {
		t.Errorf("ledger = %q, want %q (only what the lab made, parents first)", b, want)
	}
	// Something else now uses one of them: it stays.
	if err := os.WriteFile(existing+"/app/tokens/file", nil, 0o600); err != nil {
		t.Fatal(err)
	}
	kept, err := RemoveMountPoints(ledger)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(kept, []string{existing + "/app/tokens", existing + "/app"}) {
		t.Errorf("kept %v, want the non-empty tokens directory and its parent", kept)
	}
	if _, err := os.Stat(existing + "/app/config"); !os.IsNotExist(err) {
		t.Errorf("empty mount point not removed: %v", err)
	}
	if _, err := os.Stat(existing); err != nil {
		t.Errorf("a directory the lab did not make was removed: %v", err)
	}
	if _, err := os.Stat(ledger); !os.IsNotExist(err) {
		t.Errorf("ledger left: %v", err)
	}
	if kept, err := RemoveMountPoints(ledger); err != nil || kept != nil {
		t.Errorf("second removal = %v, %v; want nothing to do", kept, err)
	}
	if err := EnsureMountPoint(ledger, "../relative"); err == nil {
		t.Error("relative mount point accepted")
	}
}

func TestParseMountExec(t *testing.T) {
	mounts := []Mount{{Source: "/pods/p/volumes/tmp", Target: "/tmp", Writable: true}, {Source: "/pods/p/volumes/c", Target: "/etc/c"}}
	argv := append(MountExecArgv("/bin/sy", mounts), "setpriv", "--", "/bin/sy", "serve")
	if argv[0] != "/bin/sy" || argv[1] != MountExecArg {
		t.Fatalf("argv = %q", argv)
	}
	got, cmd, err := ParseMountExec(argv[2:])
	if err != nil || !slices.Equal(got, mounts) || !slices.Equal(cmd, []string{"setpriv", "--", "/bin/sy", "serve"}) {
		t.Errorf("round trip = %+v %q %v", got, cmd, err)
	}
	for _, bad := range [][]string{
		{"ro", "/a", "/b"},                       // no --
		{"ro", "/a", "/b", "--"},                 // nothing to run
		{"rx", "/a", "/b", "--", "x"},            // mode
		{"ro", "a", "/b", "--", "x"},             // relative source
		{"ro", "/a", "/b/../etc", "--", "x"},     // unclean target
		{"ro", "/a", "--", "x"},                  // short triple
		{"ro", "/a/../../x", "/b", "--", "true"}, // unclean source
	} {
		if _, _, err := ParseMountExec(bad); err == nil {
			t.Errorf("ParseMountExec(%q) accepted", bad)
		}
	}
}

func TestAPIServerEnv(t *testing.T) {
	got := APIServerEnv("10.9.0.1", "6443")
	for _, kv := range []string{"KUBERNETES_SERVICE_HOST=10.9.0.1", "KUBERNETES_SERVICE_PORT=6443", "KUBERNETES_PORT=tcp://10.9.0.1:6443", "KUBERNETES_PORT_6443_TCP_ADDR=10.9.0.1"} {
		if !slices.Contains(got, kv) {
			t.Errorf("APIServerEnv lacks %s: %q", kv, got)
		}
	}
}

// wantConfigErr checks err: with want "", that there is none; else that it
// is an ErrConfig containing want. It reports whether an error was wanted
// (the case is then done).
func wantConfigErr(t *testing.T, err error, want string) bool {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatal(err)
		}
		return false
	}
	if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, ErrConfig) {
		t.Fatalf("err = %v, want ErrConfig containing %q", err, want)
	}
	return true
}

// TestHiddenBy: a program path below a mount's target (a binary built
// under /tmp, with an emptyDir on /tmp) is one the shim must hold open.
func TestHiddenBy(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin", "switchyard")
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, []byte("#!/bin/true\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	mounts := []Mount{{Source: "/v/config", Target: "/etc/switchyard/config"}, {Source: "/v/tmp", Target: dir, Writable: true}}
	tests := []struct {
		arg  string
		want bool
	}{
		{bin, true},
		{filepath.Join(dir, "bin"), false},            // a directory, not a program
		{filepath.Join(dir, "missing"), false},        // nothing to hold
		{dir + "x/switchyard", false},                 // a sibling of the target, not below it
		{"/usr/bin/setpriv", false},                   // not below any target
		{"serve", false},                              // not a path
		{"--listen=" + bin, false},                    // not a path either
		{"/etc/switchyard/config/config.yaml", false}, // below a target, but no such file here
	}
	for _, tt := range tests {
		if got := HiddenBy(tt.arg, mounts); got != tt.want {
			t.Errorf("HiddenBy(%q) = %v, want %v", tt.arg, got, tt.want)
		}
	}
}
