// Package registrytest runs Debian's docker-registry for tests, on
// loopback or inside a network namespace of its own (Netns), and stops it
// when the test ends. Only tests import it.
package registrytest

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/testenv"
)

// Start starts Debian's docker-registry on addr with storage under
// dir, inside the network namespace ns when it is not "" (through `ip
// netns exec`), and stops it when the test ends.
func Start(t testing.TB, ns, addr, dir string) {
	t.Helper()
	cfg := filepath.Join(dir, "config.yml")
	conf := fmt.Sprintf("version: 0.1\nlog: {level: warn}\nstorage:\n  filesystem: {rootdirectory: %s}\n  delete: {enabled: true}\nhttp: {addr: %q}\n",
		filepath.Join(dir, "data"), addr)
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"docker-registry", "serve", cfg}
	if ns != "" {
		args = append([]string{"ip", "netns", "exec", ns}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	log, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill() // the registry we started, by its pid
		<-exited
		log.Close()
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		var err error
		if ns == "" {
			var resp *http.Response
			if resp, err = http.Get("http://" + addr + "/v2/"); err == nil {
				resp.Body.Close()
			}
		} else {
			err = exec.Command("ip", "netns", "exec", ns, "curl", "-sf", "-o", "/dev/null", "http://"+addr+"/v2/").Run()
		}
		if err == nil {
			return
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(log.Name())
			t.Fatalf("docker-registry on %s exited:\n%s", addr, b)
		default:
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(log.Name())
			t.Fatalf("docker-registry on %s does not answer: %v\n%s", addr, err, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Netns makes a network namespace with only its loopback up, removed when
// the test ends.
func Netns(t testing.TB) string {
	t.Helper()
	ns := fmt.Sprintf("sy-bundle-%d", os.Getpid())
	exec.Command("ip", "netns", "del", ns).Run() // a leftover of a killed run with this pid
	for _, args := range [][]string{{"netns", "add", ns}, {"-n", ns, "link", "set", "lo", "up"}} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v\n%s", ns, err, out)
		}
	})
	return ns
}

// Require skips t (fails it under CI) when docker-registry is missing, or
// with netns root and ip, which network namespaces need.
func Require(t testing.TB, netns bool) {
	t.Helper()
	need := []string{"docker-registry", "curl"}
	if netns {
		if os.Geteuid() != 0 {
			testenv.Missing(t, "root (network namespaces)")
		}
		need = append(need, "ip")
	}
	for _, p := range need {
		if _, err := exec.LookPath(p); err != nil {
			testenv.Missing(t, "%s not found (scripts/deps.sh installs it)", p)
		}
	}
}
