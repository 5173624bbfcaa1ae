package marathon

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/switchyard/switchyard/lab/labconfig"
	"github.com/switchyard/switchyard/lab/proc"
)

// envNameRe matches the characters Marathon keeps in label and port names
// when it turns them into environment variable names.
var envNameRe = regexp.MustCompile(`[^A-Za-z0-9_]`)

func envName(s string) string { return strings.ToUpper(envNameRe.ReplaceAllString(s, "_")) }

// taskEnv builds the environment Mesos and Marathon give a task (see
// Marathon's EnvironmentHelper): HOST, PORT0..n, PORT, PORTS, PORT_<NAME>,
// PORT_<servicePort>, MESOS_TASK_ID, MESOS_SANDBOX, MARATHON_APP_ID,
// MARATHON_APP_VERSION, MARATHON_APP_RESOURCE_*, MARATHON_APP_LABELS and
// MARATHON_APP_LABEL_<NAME>; then the app's env (which wins), PATH from the
// server, and the lab marker.
func taskEnv(cfg labconfig.Config, path string, sp *appSpec, appVersion string, t *taskState) []string {
	env := map[string]string{
		"HOST":                       t.Host,
		"MESOS_TASK_ID":              t.ID,
		"MESOS_SANDBOX":              t.Sandbox,
		"MESOS_AGENT_ENDPOINT":       t.Host + ":5051",
		"MARATHON_APP_ID":            t.AppID,
		"MARATHON_APP_VERSION":       appVersion,
		"MARATHON_APP_RESOURCE_CPUS": fmtRes(sp.CPUs),
		"MARATHON_APP_RESOURCE_MEM":  fmtRes(sp.Mem),
		"MARATHON_APP_RESOURCE_DISK": fmtRes(sp.Disk),
		"MARATHON_APP_RESOURCE_GPUS": strconv.Itoa(int(sp.GPUs)),
		"MARATHON_APP_DOCKER_IMAGE":  sp.Image,
		"PATH":                       path,
	}
	if sp.Image == "" {
		delete(env, "MARATHON_APP_DOCKER_IMAGE")
	}
	var strs []string
	for i, p := range t.Ports {
		strs = append(strs, strconv.Itoa(p))
		env["PORT"+strconv.Itoa(i)] = strconv.Itoa(p)
	}
	if len(t.Ports) > 0 {
		env["PORT"] = strconv.Itoa(t.Ports[0])
		env["PORTS"] = strings.Join(strs, ",")
	}
	names := sp.portNames()
	svc := sp.servicePorts()
	for i, p := range t.Ports {
		if i < len(names) && names[i] != "" {
			env["PORT_"+envName(names[i])] = strconv.Itoa(p)
		}
		if i < len(svc) && svc[i] != 0 && len(sp.PortMappings) == 0 {
			env["PORT_"+strconv.Itoa(svc[i])] = strconv.Itoa(p)
		}
	}
	var labelNames []string
	for k, v := range sp.Labels {
		n := envName(k)
		env["MARATHON_APP_LABEL_"+n] = v
		labelNames = append(labelNames, n)
	}
	sort.Strings(labelNames)
	env["MARATHON_APP_LABELS"] = strings.Join(labelNames, " ")
	for k, v := range sp.Env {
		env[k] = v
	}
	env[labconfig.MarkerEnv] = cfg.ID
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

func fmtRes(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// taskArgv decides what the task runs: cmd through the shell, args as the
// argv, or for a Docker image without cmd the local program the lab maps the
// image to (cfg.Kubernetes.Images, "{switchyard}" = the switchyard binary),
// followed by the app's args or the image's default args.
func taskArgv(cfg labconfig.Config, self string, sp *appSpec) (shell string, argv []string, err error) {
	if sp.Cmd != "" {
		return sp.Cmd, nil, nil
	}
	if sp.Image == "" {
		if len(sp.Args) == 0 {
			return "", nil, fmt.Errorf("app %s has neither cmd, args nor a container image", sp.ID)
		}
		return "", sp.Args, nil
	}
	img, ok := cfg.Kubernetes.LookupImage(sp.Image)
	if !ok {
		return "", nil, fmt.Errorf("container image %q of app %s has no local program in the lab: add it under kubernetes.images in the lab config (e.g. %q: {command: [\"{switchyard}\", \"demo-app\"]}), or give the app a cmd", sp.Image, sp.ID, labconfig.ImageName(sp.Image))
	}
	for _, c := range img.Command {
		argv = append(argv, strings.ReplaceAll(c, "{switchyard}", self))
	}
	if len(sp.Args) > 0 {
		argv = append(argv, sp.Args...)
	} else {
		argv = append(argv, img.Args...)
	}
	if len(argv) == 0 {
		return "", nil, fmt.Errorf("container image %q of app %s maps to an empty command in the lab config", sp.Image, sp.ID)
	}
	return "", argv, nil
}

// processSpec builds the proc.Spec of a task: sandbox directory as working
// directory, stdout and stderr in the sandbox (as Mesos keeps them).
func (s *Server) processSpec(a *appState, sp *appSpec, t *taskState, ag agent) (proc.Spec, error) {
	shell, argv, err := taskArgv(s.cfg, s.opts.Self, sp)
	if err != nil {
		return proc.Spec{}, err
	}
	if err := os.MkdirAll(t.Sandbox, 0o700); err != nil {
		return proc.Spec{}, fmt.Errorf("sandbox: %w", err)
	}
	user := s.userFor(sp)
	if user != nil {
		if err := os.Chown(t.Sandbox, int(user.UID), int(user.GID)); err != nil {
			return proc.Spec{}, fmt.Errorf("sandbox: %w", err)
		}
	}
	spec := proc.Spec{
		User:    user,
		Env:     taskEnv(s.cfg, s.opts.PATH, sp, formatTime(a.Version), t),
		Dir:     t.Sandbox,
		LogPath: filepath.Join(t.Sandbox, "stdout"),
		// Send stderr to its own file, as the Mesos sandbox does; exec keeps
		// the task's process identity.
		Wrap: []string{"/bin/sh", "-c", `exec "$@" 2>>stderr`, "sh"},
	}
	if shell != "" {
		spec.Argv = []string{"/bin/sh", "-c", shell}
	} else {
		spec.Argv = argv
	}
	return spec, nil
}

// userFor is who a task of sp runs as: nil (the server's own identity) when
// the lab does not run as root or when the app asks for root and
// marathon.rootApps allows it; else the app's "user" when it names an
// existing account other than root, else the lab's task user. Mesos would
// fail a task whose user does not exist; the lab runs it as its task user
// and says so in its log, so that definitions written for a real cluster
// still run.
func (s *Server) userFor(sp *appSpec) *proc.User {
	if s.taskUser == nil {
		return nil
	}
	if sp.User == "root" && s.cfg.Marathon.RootAllowed(sp.ID) {
		return nil // a kubelet wrapper: it starts a node agent, which needs root
	}
	if sp.User != "" && sp.User != s.taskUser.Name {
		u, err := proc.LookupUser(sp.User)
		if err == nil {
			return &u
		}
		s.logf("app %s: user %q: %v; its tasks run as %s", sp.ID, sp.User, err, s.taskUser)
	}
	return s.taskUser
}
