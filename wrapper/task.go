// Package wrapper owns the kubelet wrapper: the process Marathon runs on a
// shared node to hold the Kubernetes share. It reads its resources from the
// task environment, computes the kubelet reservations (capacity package),
// writes the KubeletConfiguration, starts and supervises kubelet (restart
// with backoff, give up when it keeps failing), forwards signals, serves a
// health endpoint for Marathon, and on SIGTERM cordons and drains its node
// through the Eviction API (PodDisruptionBudgets respected) before stopping
// kubelet, so pods move instead of dying.
package wrapper

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/switchyard/switchyard/capacity"
)

// Task is what the wrapper learns from its Marathon/Mesos task environment.
type Task struct {
	// Share is the task's cpus/mem/disk (MARATHON_APP_RESOURCE_CPUS/MEM/DISK).
	Share capacity.Resources
	// Host is the agent's hostname/address ($HOST).
	Host string
	// TaskID is $MESOS_TASK_ID.
	TaskID string
	// Sandbox is $MESOS_SANDBOX (where the kubelet config is written), may be "".
	Sandbox string
	// HealthPort is $PORT0 (0 when the app has no port).
	HealthPort int
}

// TaskFromEnv reads the task environment Marathon sets; a missing or bad
// resource variable is an error naming it.
func TaskFromEnv(getenv func(string) string) (Task, error) {
	var t Task
	num := func(name string) (float64, error) {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			return 0, fmt.Errorf("%s is not set: the wrapper must run as a Marathon task (or set it to the share, e.g. %s=2)", name, name)
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 {
			return 0, fmt.Errorf("%s=%q: want a number >= 0", name, v)
		}
		return f, nil
	}
	var err error
	if t.Share.CPUs, err = num("MARATHON_APP_RESOURCE_CPUS"); err != nil {
		return Task{}, err
	}
	if t.Share.Mem, err = num("MARATHON_APP_RESOURCE_MEM"); err != nil {
		return Task{}, err
	}
	if getenv("MARATHON_APP_RESOURCE_DISK") != "" {
		if t.Share.Disk, err = num("MARATHON_APP_RESOURCE_DISK"); err != nil {
			return Task{}, err
		}
	}
	t.Host, t.TaskID, t.Sandbox = getenv("HOST"), getenv("MESOS_TASK_ID"), getenv("MESOS_SANDBOX")
	if p := getenv("PORT0"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 65535 {
			return Task{}, fmt.Errorf("PORT0=%q: not a port", p)
		}
		t.HealthPort = n
	}
	return t, nil
}

// Setup is the wrapper's computed kubelet setup: the node's reservations,
// allocatable and kubelet config.
type Setup struct {
	// Node is the Kubernetes node name.
	Node string
	// Reservations are the kubelet's systemReserved/kubeReserved/evictionHard.
	Reservations capacity.Reservations
	// Allocatable is what the node will register with.
	Allocatable capacity.Resources
	// KubeletConfig is the KubeletConfiguration YAML.
	KubeletConfig []byte
}

// Compute derives the kubelet setup from the node total, the task's share
// and the overhead policy: systemReserved = total − share (the Mesos share),
// kubeReserved and evictionHard carved from the share, allocatable through
// capacity.Allocatable.
func Compute(node string, total capacity.Resources, t Task, o capacity.Overhead) (Setup, error) {
	if node == "" {
		return Setup{}, fmt.Errorf("no node name: pass --node (the Kubernetes node name)")
	}
	if total.CPUs <= 0 || total.Mem <= 0 {
		return Setup{}, fmt.Errorf("node %s: the node total %s is not set: pass --total cpus=..,mem=..,disk=.. (or --lab-config)", node, total)
	}
	r, err := capacity.ReservationsFor(node, total, t.Share, o)
	if err != nil {
		return Setup{}, fmt.Errorf("task share %s on node %s: %w", t.Share, node, err)
	}
	a, err := capacity.Allocatable(node, total, r)
	if err != nil {
		return Setup{}, err
	}
	y, err := capacity.KubeletConfigYAML(r)
	if err != nil {
		return Setup{}, fmt.Errorf("kubelet config: %w", err)
	}
	return Setup{Node: node, Reservations: r, Allocatable: a, KubeletConfig: y}, nil
}

// KubeletArgv is the kubelet command line: the program, its args with
// "{node}" and "{kubelet-config}" replaced, and "--config=<file>" appended
// unless an arg already used {kubelet-config}.
func KubeletArgv(program string, args []string, node, configPath string) []string {
	out := []string{program}
	used := false
	for _, a := range args {
		if strings.Contains(a, "{kubelet-config}") {
			used = true
		}
		a = strings.ReplaceAll(a, "{kubelet-config}", configPath)
		out = append(out, strings.ReplaceAll(a, "{node}", node))
	}
	if !used {
		out = append(out, "--config="+configPath)
	}
	return out
}
