package kubeclient

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestDecodeObjects(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string // kind/name of each object
		err      string
	}{
		{"yaml documents, empty ones skipped", "---\n# a comment\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: demo}\n---\n\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: demo}\nspec: {replicas: 2}\n",
			[]string{"Namespace/demo", "Deployment/web"}, ""},
		{"json", `{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}}`, []string{"Service/web"}, ""},
		{"nothing", "", nil, ""},
		{"no kind", "apiVersion: v1\nmetadata: {name: x}\n", nil, "document 1: apiVersion, kind and metadata.name are required"},
		{"no apiVersion (the lab's former decoder refused it, the edge's did not)", "kind: Service\nmetadata: {name: x}\n", nil, "document 1: apiVersion, kind and metadata.name are required"},
		{"no name in the second document", "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Service\nmetadata: {}\n", nil, "document 2: apiVersion, kind"},
		{"not yaml", "apiVersion: v1\nkind: [\n", nil, "document 1"},
		{"a list, not an object", "- a\n- b\n", nil, "document 1: not an object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := DecodeObjects([]byte(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range objs {
				got = append(got, o.GetKind()+"/"+o.GetName())
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestDecodeObjectsIntegers: integers decode as int64, so unstructured's
// accessors read them (the former decoders gave float64, which
// NestedInt64 does not read).
func TestDecodeObjectsIntegers(t *testing.T) {
	objs, err := DecodeObjects([]byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 3, x: 1.5}\n"))
	if err != nil {
		t.Fatal(err)
	}
	n, found, err := unstructured.NestedInt64(objs[0].Object, "spec", "replicas")
	if err != nil || !found || n != 3 {
		t.Fatalf("replicas %d %v %v", n, found, err)
	}
	if f, ok := objs[0].Object["spec"].(map[string]any)["x"].(float64); !ok || f != 1.5 {
		t.Fatalf("x: %#v", objs[0].Object["spec"])
	}
}

func TestReadObjects(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("kind: Service\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadObjects(bad); err == nil || !strings.Contains(err.Error(), bad+": document 1") {
		t.Fatalf("err %v, want the file and the document", err)
	}
	if _, err := ReadObjects(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Fatalf("err %v", err)
	}
}
