package control

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/testenv"
	"github.com/switchyard/switchyard/journal"
)

const helperEnv = "SWITCHYARD_CONTROL_PEER_HELPER"

// TestPeerHelper is the other user's process in TestPeerOtherUser: it
// calls the socket (call) or serves one (serve) and reports on stdout.
func TestPeerHelper(t *testing.T) {
	mode, sock := os.Getenv(helperEnv), os.Getenv(helperEnv+"_SOCK")
	switch mode {
	case "call":
		_, err := Call(context.Background(), sock, Request{Op: OpStatus})
		fmt.Printf("result: %v\n", err)
	case "serve":
		j, err := journal.Open(filepath.Join(filepath.Dir(sock), "journal.db"), time.Second)
		if err != nil {
			fmt.Printf("result: %v\n", err)
			return
		}
		srv, err := Serve(sock, nil, j)
		if err != nil {
			fmt.Printf("result: %v\n", err)
			return
		}
		_ = os.Chmod(sock, 0o666)
		fmt.Println("ready")
		_, _ = io.Copy(io.Discard, os.Stdin) // until the test closes stdin
		srv.Close()
		j.Close()
	}
}

// TestPeerOtherUser proves the uid check end to end: a client running as
// another user is refused by the server even when the socket's mode lets
// it connect, and a client does not talk to a server run by another user.
func TestPeerOtherUser(t *testing.T) {
	if os.Getenv(helperEnv) != "" {
		return
	}
	if os.Getuid() != 0 {
		t.Skip("needs root to run a process as another user (checkPeerUID is tested on its own)")
	}
	// A directory everyone can reach: the sockets' modes are not the guard here.
	dir := t.TempDir()
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		must(t, os.Chmod(d, 0o755))
	}
	other := func(mode, sock string) *exec.Cmd {
		cmd := testenv.TestAsNobody(t, "^TestPeerHelper$")
		cmd.Env = append(os.Environ(), helperEnv+"="+mode, helperEnv+"_SOCK="+sock)
		return cmd
	}

	t.Run("server refuses another user's client", func(t *testing.T) {
		sock := filepath.Join(dir, "ours.sock")
		srv, err := Serve(sock, nil, journalWith(t))
		must(t, err)
		defer srv.Close()
		must(t, os.Chmod(sock, 0o666))
		out, err := other("call", sock).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "result: refused: the peer runs as uid 65534") {
			t.Fatalf("another user's call: %v\n%s", err, out)
		}
		if _, err := Call(context.Background(), sock, Request{Op: OpStatus}); err != nil {
			t.Fatalf("our own call: %v", err)
		}
	})

	t.Run("client refuses another user's server", func(t *testing.T) {
		theirs := filepath.Join(dir, "theirs")
		must(t, os.Mkdir(theirs, 0o755))
		must(t, os.Chown(theirs, 65534, 65534))
		sock := filepath.Join(theirs, "control.sock")
		cmd := other("serve", sock)
		stdin, err := cmd.StdinPipe()
		must(t, err)
		stdout, err := cmd.StdoutPipe()
		must(t, err)
		must(t, cmd.Start())
		defer cmd.Wait()
		defer stdin.Close()
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil || line != "ready\n" {
			t.Fatalf("helper server: %q %v", line, err)
		}
		_, err = Call(context.Background(), sock, Request{Op: OpStatus})
		if err == nil || !strings.Contains(err.Error(), "refusing to talk to its server: the peer runs as uid 65534") {
			t.Fatalf("call to another user's server: %v", err)
		}
	})
}
