package marathon

import (
	"maps"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/switchyard/switchyard/marathon"
	"github.com/switchyard/switchyard/mesos"
)

// mesosVersion is the Mesos version the master view reports.
const mesosVersion = "1.11.0"

// MesosHandler serves the Mesos master view of the scheduler's state:
// /master/state, /master/slaves (and /state, /slaves), /master/health.
func (s *Server) MesosHandler() http.Handler {
	mux := http.NewServeMux()
	state := func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.MesosState()) }
	slaves := func(w http.ResponseWriter, r *http.Request) {
		st := s.MesosState()
		writeJSON(w, http.StatusOK, mesos.Slaves{Slaves: st.Slaves, RecoveredSlaves: []mesos.SlaveInfo{}})
	}
	health := func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }
	mux.HandleFunc("/master/state", state)
	mux.HandleFunc("/state", state)
	mux.HandleFunc("/master/state.json", state)
	mux.HandleFunc("/master/slaves", slaves)
	mux.HandleFunc("/slaves", slaves)
	mux.HandleFunc("/master/health", health)
	mux.HandleFunc("/health", health)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "The lab's Mesos master view serves /master/state, /master/slaves and /master/health", http.StatusNotFound)
	})
	return mux
}

// MesosState builds /master/state from the scheduler state: one agent per
// lab node (id = node name, hostname = node address, attributes) whose
// resources are the node's total minus its kubernetesShare and all its port
// ranges, with used, reserved (none) and unreserved resources, and the
// Marathon framework with its non-terminal tasks and their resources and ports.
func (s *Server) MesosState() mesos.State {
	s.mu.Lock()
	defer s.mu.Unlock()
	start := float64(s.started.UnixNano()) / 1e9
	host, port := splitHost(s.cfg.Mesos.Listen)
	st := mesos.State{
		Version: mesosVersion, BuildDate: "2026-01-01 00:00:00", BuildTime: start, BuildUser: "switchyard",
		StartTime: start, ElectedTime: start, ID: s.cfg.ID + "-master", PID: "master@" + s.cfg.Mesos.Listen,
		Hostname: host, ActivatedSlaves: float64(len(s.agents)), Leader: "master@" + s.cfg.Mesos.Listen,
		LeaderInfo: &mesos.MasterInfo{ID: s.cfg.ID + "-master", PID: "master@" + s.cfg.Mesos.Listen, Port: port, Hostname: host, Version: mesosVersion},
		Cluster:    s.cfg.ID, Flags: map[string]string{"port": strconv.Itoa(port), "hostname": host},
		Slaves: []mesos.Slave{}, RecoveredSlaves: []mesos.SlaveInfo{}, CompletedFrameworks: []mesos.Framework{},
		OrphanTasks: []mesos.Task{}, UnregisteredFrameworks: []string{},
	}
	used := map[string]mesos.Resources{}
	var tasks []mesos.Task
	ids := slices.Sorted(maps.Keys(s.tasks))
	for _, id := range ids {
		t := s.tasks[id]
		if terminal(t.State) {
			continue
		}
		r := mesos.Resources{CPUs: t.CPUs, Mem: t.Mem, Disk: t.Disk, GPUs: t.GPUs, Ports: mesos.RangesOf(t.Ports...)}
		used[t.AgentID] = used[t.AgentID].Add(r)
		tasks = append(tasks, mesos.Task{
			ID: t.ID, Name: strings.ReplaceAll(strings.TrimPrefix(t.AppID, "/"), "/", "."), FrameworkID: s.frameworkID(),
			ExecutorID: "", SlaveID: t.AgentID, State: mesos.TaskState(t.State), Resources: r, Role: "*",
			Statuses: []mesos.TaskStatus{{State: mesos.TaskState(t.State), Timestamp: float64(t.StagedAt.UnixNano()) / 1e9}},
		})
	}
	var fwUsed mesos.Resources
	for _, ag := range s.agents {
		n := ag.Node
		var ranges mesos.Ranges
		for _, pr := range n.Ports {
			ranges = append(ranges, mesos.Range{Begin: pr.Begin, End: pr.End})
		}
		r := ag.Resources
		total := mesos.Resources{CPUs: r.CPUs, Mem: r.Mem, Disk: r.Disk, GPUs: r.GPUs, Ports: ranges.Normalize()}
		attrs := mesos.Attributes{}
		for k, v := range n.Attributes {
			attrs[k] = mesos.Text(v)
		}
		u := used[ag.ID]
		fwUsed = fwUsed.Add(u)
		st.Slaves = append(st.Slaves, mesos.Slave{
			SlaveInfo: mesos.SlaveInfo{ID: ag.ID, Hostname: ag.Hostname, Port: 5051, Attributes: attrs},
			PID:       "slave(1)@" + ag.Hostname + ":5051", RegisteredTime: start,
			Resources: total, UsedResources: u, OfferedResources: mesos.Resources{},
			ReservedResources: map[string]mesos.Resources{}, UnreservedResources: total, Active: true,
			Version: mesosVersion, Capabilities: []string{"MULTI_ROLE", "HIERARCHICAL_ROLE", "RESERVATION_REFINEMENT"},
		})
	}
	sort.Slice(st.Slaves, func(i, j int) bool { return st.Slaves[i].ID < st.Slaves[j].ID })
	if tasks == nil {
		tasks = []mesos.Task{}
	}
	mhost, _ := splitHost(s.cfg.Marathon.Listen)
	st.Frameworks = []mesos.Framework{{
		ID: s.frameworkID(), Name: "marathon", PID: "scheduler@" + s.cfg.Marathon.Listen,
		UsedResources: fwUsed, Resources: fwUsed, Capabilities: []string{"PARTITION_AWARE", "TASK_KILLING_STATE"},
		Hostname: mhost, WebuiURL: s.opts.AdvertiseURL, Active: true, Connected: true, User: "root",
		FailoverTimeout: 604800, Checkpoint: true, RegisteredTime: start, Role: "*", Tasks: tasks,
		UnreachableTasks: []mesos.Task{}, CompletedTasks: []mesos.Task{}, Offers: []mesos.Offer{},
	}}
	return st
}

// offerOf renders an agent's unused resources (total minus what tasks hold)
// as the offer /v2/queue's lastUnusedOffers shows.
func (s *Server) offerOf(ag agent) marathon.Offer {
	o := marathon.Offer{ID: s.cfg.ID + "-offer-" + ag.ID, Hostname: ag.Hostname, AgentID: ag.ID}
	for _, pa := range s.placementAgents() {
		if pa.ID != ag.ID {
			continue
		}
		for _, r := range []struct {
			name string
			v    float64
		}{{"cpus", pa.Total.CPUs - pa.Used.CPUs}, {"mem", pa.Total.Mem - pa.Used.Mem}, {"disk", pa.Total.Disk - pa.Used.Disk}} {
			v := r.v
			o.Resources = append(o.Resources, marathon.OfferResource{Name: r.name, Scalar: &v, Role: "*"})
		}
		var free []int
		for _, pr := range pa.PortRanges {
			for p := pr.Begin; p <= pr.End; p++ {
				if !pa.UsedPorts[p] {
					free = append(free, p)
				}
			}
		}
		pr := marathon.OfferResource{Name: "ports", Role: "*"}
		for _, r := range mesos.RangesOf(free...) {
			pr.Ranges = append(pr.Ranges, marathon.NumberRange{Begin: int64(r.Begin), End: int64(r.End)})
		}
		o.Resources = append(o.Resources, pr)
	}
	for k, v := range ag.Node.Attributes {
		o.Attributes = append(o.Attributes, marathon.AgentAttribute{Name: k, Text: v})
	}
	sort.Slice(o.Attributes, func(i, j int) bool { return o.Attributes[i].Name < o.Attributes[j].Name })
	return o
}

func splitHost(hp string) (string, int) {
	i := strings.LastIndex(hp, ":")
	if i < 0 {
		return hp, 0
	}
	p, _ := strconv.Atoi(hp[i+1:])
	return hp[:i], p
}
