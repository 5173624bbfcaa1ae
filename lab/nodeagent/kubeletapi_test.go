package nodeagent

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// TestContainerLogsServesSpecContainersOnly is the regression test of issue
// 13: the container-log endpoint read any file a container name led to
// (../../logs/etcd). It serves the containers of the pod's spec only, for a
// running pod and for a finished one (whose directory keeps pod.json).
func TestContainerLogsServesSpecContainersOnly(t *testing.T) {
	lab := t.TempDir()
	podsDir := filepath.Join(lab, "pods")
	if err := os.MkdirAll(filepath.Join(lab, "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(lab, "logs", "etcd.log"), []byte("etcd secret log\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pod := func(name string) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID("uid-" + name)},
			Spec: corev1.PodSpec{
				InitContainers:      []corev1.Container{{Name: "setup"}},
				Containers:          []corev1.Container{{Name: "main"}},
				EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug"}}},
			},
		}
	}
	running, finished := pod("running"), pod("finished")
	rt := &Runtime{node: "n1", podsDir: podsDir, pods: map[string]*podRunner{}}
	for _, p := range []*corev1.Pod{running, finished} {
		dir := filepath.Join(podsDir, PodDirName(p))
		if err := writeState(dir, &podState{Pod: p}); err != nil {
			t.Fatal(err)
		}
		for _, c := range []string{"setup", "main", "debug"} {
			if err := os.WriteFile(filepath.Join(dir, c+".log"), []byte(p.Name+" "+c+" log\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		// A log file of no container of the spec.
		if err := os.WriteFile(filepath.Join(dir, "stray.log"), []byte("stray\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The finished pod's state.json is gone, as after termination.
	if err := os.Remove(filepath.Join(podsDir, PodDirName(finished), "state.json")); err != nil {
		t.Fatal(err)
	}
	rt.pods[podKey("ns", "running")] = &podRunner{dir: filepath.Join(podsDir, PodDirName(running)), pod: running}
	srv := httptest.NewServer((&KubeletAPI{Runtime: rt}).routes())
	defer srv.Close()

	for _, tc := range []struct {
		name, path string
		code       int
		body       string
	}{
		{"container", "/containerLogs/ns/running/main", 200, "running main log"},
		{"init container", "/containerLogs/ns/running/setup", 200, "running setup log"},
		{"ephemeral container", "/containerLogs/ns/running/debug", 200, "running debug log"},
		{"finished pod's container", "/containerLogs/ns/finished/main", 200, "finished main log"},
		{"traversal", "/containerLogs/ns/running/..%2F..%2Flogs%2Fetcd", 404, ""},
		{"traversal, finished pod", "/containerLogs/ns/finished/..%2F..%2Flogs%2Fetcd", 404, ""},
		{"not in the spec", "/containerLogs/ns/running/stray", 404, ""},
		{"not in the spec, finished pod", "/containerLogs/ns/finished/stray", 404, ""},
		{"dot-dot", "/containerLogs/ns/running/..", 404, ""},
		{"unknown pod", "/containerLogs/ns/nothere/main", 404, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Get(srv.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.code {
				t.Fatalf("GET %s: %d %q, want %d", tc.path, resp.StatusCode, b, tc.code)
			}
			if strings.Contains(string(b), "etcd secret") || strings.Contains(string(b), "stray") && tc.code == 200 {
				t.Fatalf("GET %s leaked another file: %q", tc.path, b)
			}
			if tc.body != "" && !strings.Contains(string(b), tc.body) {
				t.Fatalf("GET %s: %q, want %q", tc.path, b, tc.body)
			}
		})
	}
}
