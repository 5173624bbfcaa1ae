package mesos

import "encoding/json"

// Mesos always writes arrays and objects, never null, for the collections it
// models; these MarshalJSON methods make nil Go slices and maps encode the
// same way, so a server filling these types answers exactly as Mesos does.

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// MarshalJSON encodes the state with empty collections as [] / {}.
func (s State) MarshalJSON() ([]byte, error) {
	type plain State
	p := plain(s)
	p.Slaves = nonNil(p.Slaves)
	p.RecoveredSlaves = nonNil(p.RecoveredSlaves)
	p.Frameworks = nonNil(p.Frameworks)
	p.CompletedFrameworks = nonNil(p.CompletedFrameworks)
	p.OrphanTasks = nonNil(p.OrphanTasks)
	p.UnregisteredFrameworks = nonNil(p.UnregisteredFrameworks)
	return json.Marshal(p)
}

// MarshalJSON encodes the agent list with empty collections as [].
func (s Slaves) MarshalJSON() ([]byte, error) {
	type plain Slaves
	p := plain(s)
	p.RecoveredSlaves = nonNil(p.RecoveredSlaves)
	// /master/slaves always carries the full resource forms, even when empty
	// (/master/state never does, so Slave alone omits them when empty).
	full := make([]json.RawMessage, 0, len(s.Slaves))
	for _, sl := range s.Slaves {
		if sl.ReservedResourcesFull == nil {
			sl.ReservedResourcesFull = map[string][]Resource{}
		}
		b, err := json.Marshal(slaveFull{Slave: sl, Reserved: sl.ReservedResourcesFull,
			Unreserved: nonNil(sl.UnreservedResourcesFull), Used: nonNil(sl.UsedResourcesFull), Offered: nonNil(sl.OfferedResourcesFull)})
		if err != nil {
			return nil, err
		}
		full = append(full, b)
	}
	return json.Marshal(struct {
		Slaves          []json.RawMessage `json:"slaves"`
		RecoveredSlaves []SlaveInfo       `json:"recovered_slaves"`
	}{full, p.RecoveredSlaves})
}

// slaveFull is a Slave whose full resource forms are always written.
type slaveFull struct {
	Slave
	Reserved   map[string][]Resource `json:"reserved_resources_full"`
	Unreserved []Resource            `json:"unreserved_resources_full"`
	Used       []Resource            `json:"used_resources_full"`
	Offered    []Resource            `json:"offered_resources_full"`
}

// MarshalJSON writes the agent's own fields and then the full forms.
func (s slaveFull) MarshalJSON() ([]byte, error) {
	base, err := s.Slave.MarshalJSON()
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(base, &m); err != nil {
		return nil, err
	}
	for k, v := range map[string]any{"reserved_resources_full": s.Reserved, "unreserved_resources_full": s.Unreserved,
		"used_resources_full": s.Used, "offered_resources_full": s.Offered} {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		m[k] = b
	}
	return json.Marshal(m)
}

// MarshalJSON encodes the attributes, {} when there are none.
func (as Attributes) MarshalJSON() ([]byte, error) {
	if as == nil {
		return []byte("{}"), nil
	}
	return json.Marshal(map[string]AttributeValue(as))
}

// MarshalJSON encodes the agent with empty collections as [] / {}.
func (s Slave) MarshalJSON() ([]byte, error) {
	type plain Slave
	p := plain(s)
	if p.ReservedResources == nil {
		p.ReservedResources = map[string]Resources{}
	}
	p.Capabilities = nonNil(p.Capabilities)
	return json.Marshal(p)
}

// MarshalJSON encodes the framework with empty collections as [].
func (f Framework) MarshalJSON() ([]byte, error) {
	type plain Framework
	p := plain(f)
	p.Capabilities = nonNil(p.Capabilities)
	p.Tasks = nonNil(p.Tasks)
	p.UnreachableTasks = nonNil(p.UnreachableTasks)
	p.CompletedTasks = nonNil(p.CompletedTasks)
	p.Offers = nonNil(p.Offers)
	if len(p.Executors) == 0 {
		p.Executors = json.RawMessage("[]")
	}
	return json.Marshal(p)
}

// MarshalJSON encodes the task with statuses as [] when empty.
func (t Task) MarshalJSON() ([]byte, error) {
	type plain Task
	p := plain(t)
	p.Statuses = nonNil(p.Statuses)
	return json.Marshal(p)
}
