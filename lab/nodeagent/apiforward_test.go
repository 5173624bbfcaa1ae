package nodeagent

import (
	"bufio"
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/testenv"
)

// TestAPIForwarder forwards to an echo server for allowed sources only.
func TestAPIForwarder(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				line, _ := bufio.NewReader(c).ReadString('\n')
				_, _ = c.Write([]byte("echo " + line))
			}()
		}
	}()
	tests := []struct {
		name    string
		allowed netip.Prefix
		want    string
	}{
		{"from the pod network", netip.MustParsePrefix("127.0.0.0/8"), "echo hi\n"},
		{"from elsewhere", netip.MustParsePrefix("10.0.0.0/8"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := APIForwarder{Listen: testenv.FreeAddr(t, "127.0.0.1"), Target: echo.Addr().String(), Allowed: tt.allowed}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- f.Serve(ctx) }()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Error(err)
				}
			}()
			var c net.Conn
			for deadline := time.Now().Add(5 * time.Second); ; {
				if c, err = net.Dial("tcp", f.Listen); err == nil || time.Now().After(deadline) {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			_, _ = c.Write([]byte("hi\n"))
			got, _ := bufio.NewReader(c).ReadString('\n')
			if got != tt.want {
				t.Errorf("answer %q, want %q", got, tt.want)
			}
		})
	}
}
