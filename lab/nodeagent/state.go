package nodeagent

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/switchyard/switchyard/lab/proc"
)

// podState is what a node agent persists per pod in
// <pods dir>/<ns>_<pod>_<uid>/state.json so that a restarted agent re-adopts
// running containers instead of starting them again.
type podState struct {
	Pod        *corev1.Pod               `json:"pod"`
	IP         string                    `json:"ip"`
	StartTime  time.Time                 `json:"startTime"`
	InitDone   bool                      `json:"initDone"`
	Containers map[string]containerState `json:"containers"`
}

// containerState is one container's persisted state; keys are the
// container name, prefixed with "init:" for init containers.
type containerState struct {
	Proc      proc.ID   `json:"proc"`
	StartedAt time.Time `json:"startedAt"`
	Restarts  int32     `json:"restarts"`
	// Done is set when an init container completed successfully.
	Done bool `json:"done,omitempty"`
}

// PodDirName is the per-pod directory name under <lab dir>/pods.
func PodDirName(p *corev1.Pod) string { return p.Namespace + "_" + p.Name + "_" + string(p.UID) }

// podFile is the pod object the agent keeps in every pod directory, also
// after the pod finished (state.json is removed then): the kubelet API reads
// it to learn which containers the pod has.
const podFile = "pod.json"

func writeState(dir string, s *podState) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("pod state dir: %w", err)
	}
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("pod state: %w", err)
	}
	if err := writeAtomic(dir, "state.json", b); err != nil {
		return fmt.Errorf("pod state: %w", err)
	}
	if s.Pod == nil {
		return nil
	}
	if b, err = json.Marshal(s.Pod); err != nil {
		return fmt.Errorf("pod object: %w", err)
	}
	if err := writeAtomic(dir, podFile, b); err != nil {
		return fmt.Errorf("pod object: %w", err)
	}
	return nil
}

// writeAtomic replaces dir/name with b through a temporary file.
func writeAtomic(dir, name string, b []byte) error {
	tmp := filepath.Join(dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, name))
}

// readPodFile loads the pod object kept in a pod directory.
func readPodFile(dir string) (*corev1.Pod, error) {
	b, err := os.ReadFile(filepath.Join(dir, podFile))
	if err != nil {
		return nil, err
	}
	var p corev1.Pod
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, podFile), err)
	}
	return &p, nil
}

// readStates loads every persisted pod state under podsDir; unreadable
// entries are skipped (they are reported by the caller's log).
func readStates(podsDir string) (map[string]*podState, []error) {
	ents, err := os.ReadDir(podsDir)
	if err != nil {
		return nil, nil
	}
	out := map[string]*podState{}
	var errs []error
	for _, e := range ents {
		p := filepath.Join(podsDir, e.Name(), "state.json")
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var s podState
		if err := json.Unmarshal(b, &s); err != nil || s.Pod == nil {
			errs = append(errs, fmt.Errorf("pod state %s: unreadable, ignored: %v", p, err))
			continue
		}
		out[filepath.Join(podsDir, e.Name())] = &s
	}
	return out, errs
}

// containerOK returns a container's persisted state (s may be nil).
func (s *podState) containerOK(key string) (containerState, bool) {
	if s == nil {
		return containerState{}, false
	}
	c, ok := s.Containers[key]
	return c, ok
}
