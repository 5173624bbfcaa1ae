package cli

import (
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func runMarathonAPI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := &cobra.Command{Use: "marathon", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(newMarathonAPICmds()...)
	return runCmd(t, root, args...)
}

func TestMarathonAPICmdErrors(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()

	tests := []struct {
		name string
		env  string
		args []string
		want []string
	}{
		{"no URL anywhere", "", []string{"apps"}, []string{"MARATHON_URL is not set", "--url"}},
		{"unreachable from env", dead, []string{"ping", "--timeout", "1s"}, []string{"cannot reach Marathon at " + dead, "connection refused", "check MARATHON_URL"}},
		{"unreachable from flag", "", []string{"tasks", "--url", dead}, []string{"cannot reach Marathon at " + dead}},
		{"bad instances", dead, []string{"scale", "/a", "many"}, []string{`INSTANCES "many": want a whole number >= 0`}},
		{"bad output", dead, []string{"apps", "-o", "xml"}, []string{`unknown output format "xml"`}},
		{"bad URL", "", []string{"info", "--url", "ftp://x"}, []string{"want http://HOST:PORT"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("MARATHON_URL", tt.env)
			t.Setenv("DCOS_URL", "")
			t.Setenv("SWITCHYARD_CONFIG", filepath.Join(t.TempDir(), "config.yaml"))
			_, err := runMarathonAPI(t, tt.args...)
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestMarathonAPIValidate(t *testing.T) {
	scale := func(args ...string) *marathonAPIOptions {
		return &marathonAPIOptions{marathonConnOptions: &marathonConnOptions{}, args: args, checkArgs: func(a []string) error {
			_, err := scaleInstances(a[1])
			return err
		}}
	}
	output := func(o string) *marathonAPIOptions {
		return &marathonAPIOptions{marathonConnOptions: &marathonConnOptions{output: o}}
	}
	tests := []struct {
		name string
		o    *marathonAPIOptions
		want string // "" when valid
	}{
		{"table", output("table"), ""},
		{"json", output("json"), ""},
		{"no -o flag", output(""), ""},
		{"xml", output("xml"), `unknown output format "xml": use table, json or yaml`},
		{"scale to 3", scale("/a", "3"), ""},
		{"scale to 0", scale("/a", "0"), ""},
		{"scale to many", scale("/a", "many"), `INSTANCES "many": want a whole number >= 0`},
		{"scale below 0", scale("/a", "-1"), `INSTANCES "-1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkValidate(t, tt.o.Validate(), tt.want)
		})
	}
}
