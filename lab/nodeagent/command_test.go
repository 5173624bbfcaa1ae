package nodeagent

import (
	"errors"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/lab/labconfig"
)

func TestLookupImage(t *testing.T) {
	images := map[string]labconfig.Image{
		"switchyard/demo-app": {Command: []string{"{switchyard}", "demo-app"}},
		"busybox:1.36":        {Command: []string{"/bin/sh"}},
		"registry:5000/tool":  {Command: []string{"/usr/bin/tool"}},
	}
	tests := []struct {
		ref, want string
	}{
		{"switchyard/demo-app:1", "{switchyard}"},
		{"switchyard/demo-app", "{switchyard}"},
		{"switchyard/demo-app@sha256:abcd", "{switchyard}"},
		{"busybox:1.36", "/bin/sh"},
		{"busybox:1.37", ""},
		{"registry:5000/tool:v2", "/usr/bin/tool"},
		{"registry:5000/other:v2", ""},
	}
	for _, tt := range tests {
		img, err := LookupImage(images, tt.ref)
		if tt.want == "" {
			var nm *ImageNotMappedError
			if !errors.As(err, &nm) || !strings.Contains(err.Error(), "ImageNotMapped: image "+tt.ref+" has no local program in lab.yaml kubernetes.images") {
				t.Errorf("LookupImage(%q) error = %v, want ImageNotMapped", tt.ref, err)
			}
			continue
		}
		if err != nil || img.Command[0] != tt.want {
			t.Errorf("LookupImage(%q) = %v, %v; want command %s", tt.ref, img.Command, err, tt.want)
		}
	}
}

func TestArgv(t *testing.T) {
	img := labconfig.Image{Command: []string{"{switchyard}", "demo-app"}, Args: []string{"--version", "v1"},
		Programs: map[string]string{"switchyard": "{switchyard}", "tool": "/opt/tool"}}
	env := map[string]string{"PORT": "8080", "NAME": "x"}
	tests := []struct {
		name          string
		command, args []string
		want          string
		wantErr       bool
	}{
		{"image defaults", nil, nil, "/bin/sy demo-app --version v1", false},
		{"args replace CMD only", nil, []string{"--listen", ":$(PORT)"}, "/bin/sy demo-app --listen :8080", false},
		{"command replaces both", []string{"/bin/echo", "$(NAME)"}, nil, "/bin/echo x", false},
		{"command and args", []string{"/bin/echo"}, []string{"$(NAME)", "$$(NAME)", "$(NOPE)"}, "/bin/echo x $(NAME) $(NOPE)", false},
		{"command names a program of the image", []string{"switchyard"}, []string{"serve", "--listen=:$(PORT)"}, "/bin/sy serve --listen=:8080", false},
		{"image program without placeholder", []string{"tool", "switchyard"}, nil, "/opt/tool switchyard", false},
		{"a path is not a program name", []string{"./switchyard"}, nil, "./switchyard", false},
		{"args never name programs", nil, []string{"switchyard"}, "/bin/sy demo-app switchyard", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Argv(img, tt.command, tt.args, env, "/bin/sy")
			if (err != nil) != tt.wantErr {
				t.Fatal(err)
			}
			if strings.Join(got, " ") != tt.want {
				t.Errorf("argv = %q, want %q", strings.Join(got, " "), tt.want)
			}
		})
	}
	if _, err := Argv(labconfig.Image{}, nil, nil, nil, "/bin/sy"); err == nil {
		t.Error("empty command accepted")
	}
}

func TestShellQuote(t *testing.T) {
	got := ShellQuote([]string{"cat", "/tmp/a b", "it's"})
	if want := `'cat' '/tmp/a b' 'it'\''s'`; got != want {
		t.Errorf("ShellQuote = %s, want %s", got, want)
	}
}
