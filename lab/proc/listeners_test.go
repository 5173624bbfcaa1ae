package proc

import (
	"net"
	"os"
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
