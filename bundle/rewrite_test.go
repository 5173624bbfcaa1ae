package bundle

import "testing"

func TestRewrite(t *testing.T) {
	refs := map[string]string{
		"nginx:1.27":            "site:5000/library/nginx@sha256:aa",
		"switchyard/demo-app:1": "site:5000/switchyard/demo-app@sha256:bb",
		"nginx":                 "site:5000/library/nginx@sha256:cc",
	}
	tests := []struct {
		name, in, want string
		n              int
	}{
		{"yaml value", "image: nginx:1.27\n", "image: site:5000/library/nginx@sha256:aa\n", 1},
		{"quoted json", `{"image": "switchyard/demo-app:1"}`, `{"image": "site:5000/switchyard/demo-app@sha256:bb"}`, 1},
		{"longest first", "a: nginx\nb: nginx:1.27", "a: site:5000/library/nginx@sha256:cc\nb: site:5000/library/nginx@sha256:aa", 2},
		{"not inside a longer reference", "image: docker.io/library/nginx:1.27\nx: my-nginx\ny: nginx:1.270", "image: docker.io/library/nginx:1.27\nx: my-nginx\ny: nginx:1.270", 0},
		{"at the ends", "nginx:1.27", "site:5000/library/nginx@sha256:aa", 1},
		{"nothing", "replicas: 2", "replicas: 2", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, n := Rewrite([]byte(tc.in), refs)
			if string(got) != tc.want || n != tc.n {
				t.Fatalf("Rewrite(%q) = %q, %d; want %q, %d", tc.in, got, n, tc.want, tc.n)
			}
		})
	}
}

func TestSiteRefs(t *testing.T) {
	d := "sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	got, err := SiteRefs([]Image{{Ref: "nginx", Repository: "library/nginx", Digest: d}}, "10.0.0.9:5000")
	if err != nil {
		t.Fatal(err)
	}
	if want := "10.0.0.9:5000/library/nginx@" + d; got["nginx"] != want {
		t.Fatalf("SiteRefs = %v, want nginx → %s", got, want)
	}
	if _, err := SiteRefs([]Image{{Ref: "x", Repository: "UPPER", Digest: d}}, "r:5000"); err == nil {
		t.Fatal("SiteRefs accepts an invalid repository")
	}
}
