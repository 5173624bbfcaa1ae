package mesos

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decodeStrict(t *testing.T, data []byte, into any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		t.Fatalf("decode: %v", err)
	}
}

func TestDecodeState(t *testing.T) {
	var s State
	decodeStrict(t, readTestdata(t, "state.json"), &s)

	if s.Version != "1.9.0" || s.Hostname != "mesos-master-1" || s.ActivatedSlaves != 3 {
		t.Errorf("master fields: version=%q hostname=%q activated=%v", s.Version, s.Hostname, s.ActivatedSlaves)
	}
	if s.LeaderInfo == nil || s.LeaderInfo.Port != 5050 {
		t.Errorf("leader_info = %+v", s.LeaderInfo)
	}
	if len(s.Slaves) != 3 {
		t.Fatalf("slaves = %d, want 3", len(s.Slaves))
	}
	n1 := s.Slaves[0]
	if n1.Hostname != "node-1" || n1.Port != 5051 || n1.PID != "slave(1)@10.0.1.1:5051" || !n1.Active {
		t.Errorf("node-1 identity: %+v", n1.SlaveInfo)
	}
	if got := n1.Attributes["rack"]; got.IsScalar || got.Text != "r1" {
		t.Errorf("rack attribute = %+v", got)
	}
	if got := n1.Attributes["cores"]; !got.IsScalar || got.Scalar != 8 || got.String() != "8" {
		t.Errorf("cores attribute = %+v (%q)", got, got.String())
	}
	if n1.Resources.CPUs != 8 || n1.Resources.Mem != 31000 || n1.Resources.Disk != 100000 {
		t.Errorf("node-1 resources = %+v", n1.Resources)
	}
	if want := (Ranges{{31000, 32000}}); !reflect.DeepEqual(n1.Resources.Ports, want) {
		t.Errorf("node-1 ports = %v, want %v", n1.Resources.Ports, want)
	}
	if string(n1.Resources.Other["cpus_revocable"]) != "2.0" {
		t.Errorf("cpus_revocable kept as %q", n1.Resources.Other["cpus_revocable"])
	}
	if want := (Ranges{{31000, 31001}, {31005, 31005}}); !reflect.DeepEqual(n1.UsedResources.Ports, want) {
		t.Errorf("node-1 used ports = %v", n1.UsedResources.Ports)
	}
	pub, ok := n1.ReservedResources["slave_public"]
	if !ok || pub.CPUs != 1 || pub.Mem != 2048 || pub.Ports.String() != "[80-80, 443-443]" {
		t.Errorf("reserved slave_public = %+v (present %v)", pub, ok)
	}
	if n1.UnreservedResources.CPUs != 7 {
		t.Errorf("unreserved cpus = %v", n1.UnreservedResources.CPUs)
	}
	if s.Slaves[1].ReregisteredTime != 1700003600.75 || s.Slaves[1].Domain == nil ||
		s.Slaves[1].Domain.FaultDomain.Zone.Name != "eu-1b" {
		t.Errorf("node-2 reregistered/domain: %v %+v", s.Slaves[1].ReregisteredTime, s.Slaves[1].Domain)
	}
	if s.Slaves[2].Active {
		t.Errorf("node-3 should be inactive")
	}

	if len(s.Frameworks) != 1 {
		t.Fatalf("frameworks = %d", len(s.Frameworks))
	}
	fw := s.Frameworks[0]
	if fw.Name != "marathon" || !reflect.DeepEqual(fw.Roles, []string{"*", "slave_public"}) || fw.FailoverTimeout != 604800 {
		t.Errorf("framework: %q roles=%v failover=%v", fw.Name, fw.Roles, fw.FailoverTimeout)
	}
	if len(fw.Tasks) != 3 || len(fw.CompletedTasks) != 1 || len(fw.Offers) != 1 {
		t.Fatalf("tasks=%d completed=%d offers=%d", len(fw.Tasks), len(fw.CompletedTasks), len(fw.Offers))
	}
	web := fw.Tasks[0]
	if web.State != TaskRunning || web.SlaveID != n1.ID || web.Resources.CPUs != 0.5 {
		t.Errorf("web task: %+v", web)
	}
	if want := (Ranges{{31000, 31001}}); !reflect.DeepEqual(web.Resources.Ports, want) {
		t.Errorf("web ports = %v", web.Resources.Ports)
	}
	if len(web.Statuses) != 2 || web.Statuses[1].Healthy == nil || !*web.Statuses[1].Healthy {
		t.Errorf("web statuses = %+v", web.Statuses)
	}
	if ip := web.Statuses[1].ContainerStatus.NetworkInfos[0].IPAddresses[0].IPAddress; ip != "10.0.1.1" {
		t.Errorf("web ip = %q", ip)
	}
	if web.Discovery == nil || web.Discovery.Ports.Ports[1].Name != "admin" || web.Discovery.Ports.Ports[1].Number != 31001 {
		t.Errorf("web discovery = %+v", web.Discovery)
	}
	if !reflect.DeepEqual(web.Labels, []Label{{Key: "team", Value: "payments"}}) {
		t.Errorf("web labels = %+v", web.Labels)
	}
	if fw.Tasks[2].Role != "slave_public" || len(fw.Tasks[2].Container) == 0 {
		t.Errorf("lb task role/container: %q %s", fw.Tasks[2].Role, fw.Tasks[2].Container)
	}

	// Helpers.
	if got := len(s.TasksOn(n1.ID)); got != 2 {
		t.Errorf("TasksOn(node-1) = %d, want 2", got)
	}
	if got := len(s.TasksOn(s.Slaves[2].ID)); got != 0 {
		t.Errorf("TasksOn(node-3) = %d, want 0 (its task is completed)", got)
	}
	if sl, ok := s.SlaveByID(s.Slaves[1].ID); !ok || sl.Hostname != "node-2" {
		t.Errorf("SlaveByID = %v %v", sl.Hostname, ok)
	}
}

// TestRoundTripIsLossless checks that encoding what was decoded gives back
// the same JSON document as Mesos sent (same keys, same values), which is what
// the lab's Mesos view relies on when it serves these types.
func TestRoundTripIsLossless(t *testing.T) {
	for _, tc := range []struct {
		file string
		v    any
	}{
		{"state.json", &State{}},
		{"slaves.json", &Slaves{}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			data := readTestdata(t, tc.file)
			decodeStrict(t, data, tc.v)
			out, err := json.Marshal(tc.v)
			if err != nil {
				t.Fatal(err)
			}
			var want, got any
			if err := json.Unmarshal(data, &want); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			if d := diff("", want, got); d != "" {
				t.Errorf("re-encoded document differs from the original:\n%s", d)
			}
		})
	}
}

// diff returns a readable description of the first differences between two
// generic JSON values.
func diff(path string, a, b any) string {
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok {
			return path + ": object vs " + describe(b) + "\n"
		}
		var out string
		for k, x := range av {
			y, ok := bv[k]
			if !ok {
				out += path + "." + k + ": missing after re-encode\n"
				continue
			}
			out += diff(path+"."+k, x, y)
		}
		for k := range bv {
			if _, ok := av[k]; !ok {
				out += path + "." + k + ": added by re-encode\n"
			}
		}
		return out
	case []any:
		bv, ok := b.([]any)
		if !ok || len(av) != len(bv) {
			return path + ": array differs: " + describe(a) + " vs " + describe(b) + "\n"
		}
		var out string
		for i := range av {
			out += diff(path+"["+itoa(i)+"]", av[i], bv[i])
		}
		return out
	default:
		if !reflect.DeepEqual(a, b) {
			return path + ": " + describe(a) + " vs " + describe(b) + "\n"
		}
		return ""
	}
}

func describe(v any) string { b, _ := json.Marshal(v); return truncate(b) }

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestEmptyCollectionsEncodeAsMesosDoes(t *testing.T) {
	cases := []struct {
		name string
		v    any
		want []string
	}{
		{"state", State{}, []string{`"slaves":[]`, `"recovered_slaves":[]`, `"frameworks":[]`, `"completed_frameworks":[]`, `"orphan_tasks":[]`, `"unregistered_frameworks":[]`}},
		{"slaves", Slaves{}, []string{`"slaves":[]`, `"recovered_slaves":[]`}},
		{"slaves with an agent", Slaves{Slaves: []Slave{{SlaveInfo: SlaveInfo{ID: "S0"}}}}, []string{`"id":"S0"`, `"reserved_resources_full":{}`, `"unreserved_resources_full":[]`, `"used_resources_full":[]`, `"offered_resources_full":[]`}},
		{"state agent has no full forms", State{Slaves: []Slave{{SlaveInfo: SlaveInfo{ID: "S0"}}}}, []string{`"slaves":[{"id":"S0"`}},
		{"slave", Slave{SlaveInfo: SlaveInfo{ID: "S0", Hostname: "n"}}, []string{`"id":"S0"`, `"attributes":{}`, `"reserved_resources":{}`, `"capabilities":[]`, `"resources":{"cpus":0,"disk":0,"gpus":0,"mem":0}`}},
		{"framework", Framework{}, []string{`"tasks":[]`, `"completed_tasks":[]`, `"unreachable_tasks":[]`, `"offers":[]`, `"executors":[]`, `"capabilities":[]`}},
		{"task", Task{ID: "t", State: TaskRunning, Resources: Resources{CPUs: 0.1, Mem: 32, Ports: RangesOf(31000)}}, []string{`"statuses":[]`, `"state":"TASK_RUNNING"`, `"resources":{"cpus":0.1,"disk":0,"gpus":0,"mem":32,"ports":"[31000-31000]"}`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.v)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(b), w) {
					t.Errorf("%s lacks %s", b, w)
				}
			}
			if strings.Contains(string(b), "_full") && strings.HasPrefix(tc.name, "state") {
				t.Errorf("%s: /master/state never carries *_full fields", b)
			}
			if strings.Contains(string(b), "null") {
				t.Errorf("%s contains null", b)
			}
		})
	}
}

func TestFullFormMatchesSummary(t *testing.T) {
	var s Slaves
	decodeStrict(t, readTestdata(t, "slaves.json"), &s)
	if len(s.Slaves) != 2 || len(s.RecoveredSlaves) != 1 || s.RecoveredSlaves[0].Hostname != "node-7" {
		t.Fatalf("slaves=%d recovered=%+v", len(s.Slaves), s.RecoveredSlaves)
	}
	for _, sl := range s.Slaves {
		got := Summarize(sl.UnreservedResourcesFull)
		want := sl.UnreservedResources
		if got.CPUs != want.CPUs || got.Mem != want.Mem || got.Disk != want.Disk || got.GPUs != want.GPUs || got.Ports.String() != want.Ports.String() {
			t.Errorf("%s: Summarize(unreserved_resources_full) = %+v, unreserved_resources = %+v", sl.Hostname, got, want)
		}
		used := Summarize(sl.UsedResourcesFull)
		if used.CPUs != sl.UsedResources.CPUs || used.Ports.String() != sl.UsedResources.Ports.String() {
			t.Errorf("%s: Summarize(used_resources_full) = %+v, used_resources = %+v", sl.Hostname, used, sl.UsedResources)
		}
		for role, full := range sl.ReservedResourcesFull {
			if got, want := Summarize(full), sl.ReservedResources[role]; got.CPUs != want.CPUs || got.Mem != want.Mem || got.Ports.String() != want.Ports.String() {
				t.Errorf("%s role %s: full %+v vs summary %+v", sl.Hostname, role, got, want)
			}
		}
	}
	// FullResources is the inverse for unreserved resources.
	r := Resources{CPUs: 2, Mem: 1024, Disk: 10, Ports: Ranges{{31000, 31010}}}
	if got := Summarize(FullResources(r)); got.CPUs != 2 || got.Mem != 1024 || got.Disk != 10 || got.GPUs != 0 || got.Ports.String() != "[31000-31010]" {
		t.Errorf("Summarize(FullResources(r)) = %+v", got)
	}
}

func TestResourcesDecodeErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"cpus":"many"}`, "resources.cpus"},
		{`{"ports":[31000]}`, "resources.ports"},
		{`{"ports":"31000-31005"}`, `want the Mesos form`},
		{`[1]`, "want an object"},
	} {
		var r Resources
		err := json.Unmarshal([]byte(tc.in), &r)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to mention %q", tc.in, err, tc.want)
		}
	}
}

func TestResourceArithmetic(t *testing.T) {
	a := Resources{CPUs: 1, Mem: 512, Ports: Ranges{{31000, 31001}}}
	b := Resources{CPUs: 0.5, Mem: 512, Disk: 1, Ports: Ranges{{31002, 31002}}}
	sum := a.Add(b)
	if sum.CPUs != 1.5 || sum.Mem != 1024 || sum.Disk != 1 || sum.Ports.String() != "[31000-31002]" {
		t.Errorf("Add = %+v", sum)
	}
	if d := sum.Sub(b); d.CPUs != 1 || d.Mem != 512 || d.Disk != 0 {
		t.Errorf("Sub = %+v", d)
	}
	if !b.Fits(sum) || sum.Fits(b) {
		t.Errorf("Fits wrong")
	}
	if !(Resources{CPUs: 1}).Fits(Resources{CPUs: 1}) {
		t.Errorf("exact fit should fit")
	}
}

func TestTaskStateTerminal(t *testing.T) {
	for s, want := range map[TaskState]bool{
		TaskStaging: false, TaskStarting: false, TaskRunning: false, TaskKilling: false, TaskUnreachable: false, TaskUnknown: false,
		TaskFinished: true, TaskFailed: true, TaskKilled: true, TaskError: true, TaskLost: true, TaskDropped: true, TaskGone: true, TaskGoneByOperator: true,
	} {
		if s.Terminal() != want {
			t.Errorf("%s.Terminal() = %v", s, !want)
		}
	}
}

func TestAttributes(t *testing.T) {
	var as Attributes
	if err := json.Unmarshal([]byte(`{"rack":"r1","cores":8,"weight":0.5,"ports":"[1-2]"}`), &as); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"rack": "r1", "cores": "8", "weight": "0.5", "ports": "[1-2]"}
	if got := as.Strings(); !reflect.DeepEqual(got, want) {
		t.Errorf("Strings() = %v, want %v", got, want)
	}
	b, _ := json.Marshal(as)
	var back map[string]any
	json.Unmarshal(b, &back)
	if back["cores"] != 8.0 || back["rack"] != "r1" {
		t.Errorf("re-encoded attributes %s lost scalar/text kinds", b)
	}
	for _, bad := range []string{`{"rack":true}`, `{"rack":{"a":1}}`} {
		if err := json.Unmarshal([]byte(bad), &as); err == nil || !strings.Contains(err.Error(), "want a string or a number") {
			t.Errorf("%s: err = %v", bad, err)
		}
	}
}
