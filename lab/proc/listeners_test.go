package proc

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func TestParseProcAddr(t *testing.T) {
	for in, want := range map[string]string{
		"0100007F:1F90":                         "127.0.0.1:8080",
		"00000000:0050":                         "0.0.0.0:80",
		"00000000000000000000000001000000:0016": "[::1]:22",
	} {
		ap, ok := parseProcAddr(in)
		if !ok || ap.String() != want {
			t.Errorf("parseProcAddr(%q) = %v, %v; want %s", in, ap, ok, want)
		}
	}
	if _, ok := parseProcAddr("zz:1"); ok {
		t.Error("bad hex accepted")
	}
}

func TestListenersAndFindByCwd(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	found := false
	for _, l := range Listeners() {
		if l.Addr.String() == ln.Addr().String() {
			found = true
		}
	}
	if !found {
		t.Fatalf("Listeners() misses %s", ln.Addr())
	}
	if pid := ListenerPID(ln.Addr().String()); pid != os.Getpid() {
		t.Errorf("ListenerPID(%s) = %d, want this process %d", ln.Addr(), pid, os.Getpid())
	}

	dir := t.TempDir()
	p, err := Start(Spec{Argv: []string{"sleep", "30"}, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop(0)
	ids := FindByCwd(dir)
	if len(ids) != 1 || ids[0] != p.ID() {
		t.Errorf("FindByCwd(%s) = %v, want [%v]", dir, ids, p.ID())
	}
	if ids := FindByCwd(dir + "x"); len(ids) != 0 {
		t.Errorf("FindByCwd of a sibling with the same prefix = %v, want none", ids)
	}
	p.Stop(0)
	if ids := FindByCwd(dir); len(ids) != 0 {
		t.Errorf("FindByCwd after Stop = %v", ids)
	}
}

// TestWorkDir: a lab directory the workloads' user can reach keeps its
// work directories; one inside a directory that keeps them out (a lab in
// /root) has them moved under FallbackWorkRoot/<id>, a symbolic link in
// their place, their content along.
func TestWorkDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (directories of another user)")
	}
	u, err := LookupUser("nobody")
	if err != nil {
		t.Skip(err)
	}
	open, err := os.MkdirTemp("", "workdir-open-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(open)
	got, err := WorkDir(u, open, "unused", filepath.Join(open, "marathon", "sandboxes"))
	if err != nil || got != filepath.Join(open, "marathon", "sandboxes") {
		t.Fatalf("reachable lab: WorkDir = %q, %v; want the lab's own directory", got, err)
	}

	home, err := os.MkdirTemp("", "workdir-home-") // 0700: like /root
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(home)
	lab := filepath.Join(home, "repo", ".lab")
	dir := filepath.Join(lab, "pods")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kept"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	id := "workdir-test-" + strconv.Itoa(os.Getpid())
	defer os.RemoveAll(filepath.Join(FallbackWorkRoot, id))
	for range 2 { // the second call finds the link
		got, err = WorkDir(u, lab, id, dir)
		if want := filepath.Join(FallbackWorkRoot, id, "pods"); err != nil || got != want {
			t.Fatalf("unreachable lab: WorkDir = %q, %v; want %s", got, err, want)
		}
	}
	if err := Reachable(got, u, 1); err != nil {
		t.Error(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "kept")); err != nil || string(b) != "x" {
		t.Errorf("content through the link: %q, %v", b, err)
	}
	// A new lab in the same directory (same id) finds the earlier work.
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := WorkDir(u, lab, id, dir); err != nil || got != filepath.Join(FallbackWorkRoot, id, "pods") {
		t.Fatalf("new lab, same id: WorkDir = %q, %v", got, err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "kept")); err != nil || string(b) != "x" {
		t.Errorf("content through the new link: %q, %v", b, err)
	}
	if st, err := os.Stat(home); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("the directory above the lab changed: %v %v", st.Mode(), err)
	}
}
