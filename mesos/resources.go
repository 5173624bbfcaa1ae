package mesos

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
)

// Resources is the summary form of a set of Mesos resources, as the master's
// HTTP endpoints render it (src/common/http.cpp): an object whose scalar
// resources cpus, gpus, mem and disk are always present (0 when absent),
// whose ranges (ports) are strings such as "[31000-31005]", and where
// revocable resources carry a "_revocable" suffix. Keys other than the ones
// modelled here (revocable amounts, custom resources) are kept in Other so
// that a decode followed by an encode loses nothing.
type Resources struct {
	// CPUs is the number of CPU shares.
	CPUs float64 `json:"cpus"`
	// GPUs is the number of GPUs.
	GPUs float64 `json:"gpus"`
	// Mem is the memory in MiB.
	Mem float64 `json:"mem"`
	// Disk is the disk space in MiB.
	Disk float64 `json:"disk"`
	// Ports are the port ranges; empty when the resources hold no ports
	// (Mesos then omits the key).
	Ports Ranges `json:"ports,omitempty"`
	// Other holds every other key as Mesos sent it (e.g. "cpus_revocable").
	Other map[string]json.RawMessage `json:"-"`
}

var knownResourceKeys = map[string]bool{"cpus": true, "gpus": true, "mem": true, "disk": true, "ports": true}

// UnmarshalJSON decodes the summary form, keeping unknown keys in Other.
func (r *Resources) UnmarshalJSON(data []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return fmt.Errorf("resources: want an object like {\"cpus\":1,\"mem\":128}: %w", err)
	}
	var out Resources
	for k, v := range raw {
		var err error
		switch k {
		case "cpus":
			err = json.Unmarshal(v, &out.CPUs)
		case "gpus":
			err = json.Unmarshal(v, &out.GPUs)
		case "mem":
			err = json.Unmarshal(v, &out.Mem)
		case "disk":
			err = json.Unmarshal(v, &out.Disk)
		case "ports":
			err = json.Unmarshal(v, &out.Ports)
		default:
			if out.Other == nil {
				out.Other = map[string]json.RawMessage{}
			}
			out.Other[k] = append(json.RawMessage(nil), v...)
		}
		if err != nil {
			return fmt.Errorf("resources.%s: %w", k, err)
		}
	}
	*r = out
	return nil
}

// MarshalJSON encodes the summary form exactly as Mesos does: the four
// scalars always, ports when non-empty, then the kept keys in name order.
func (r Resources) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	write := func(k string, v any) error {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		vb, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("resources.%s: %w", k, err)
		}
		b.Write(vb)
		return nil
	}
	for _, kv := range []struct {
		k string
		v float64
	}{{"cpus", r.CPUs}, {"disk", r.Disk}, {"gpus", r.GPUs}, {"mem", r.Mem}} {
		if err := write(kv.k, kv.v); err != nil {
			return nil, err
		}
	}
	if len(r.Ports) > 0 {
		if err := write("ports", r.Ports); err != nil {
			return nil, err
		}
	}
	keys := make([]string, 0, len(r.Other))
	for k := range r.Other {
		if !knownResourceKeys[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := write(k, r.Other[k]); err != nil {
			return nil, err
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// Add returns r + o for the scalars, with the port ranges of both (normalized).
// Other keys are not combined.
func (r Resources) Add(o Resources) Resources {
	out := Resources{CPUs: r.CPUs + o.CPUs, GPUs: r.GPUs + o.GPUs, Mem: r.Mem + o.Mem, Disk: r.Disk + o.Disk}
	if len(r.Ports)+len(o.Ports) > 0 {
		out.Ports = append(append(Ranges{}, r.Ports...), o.Ports...).Normalize()
	}
	return out
}

// Sub returns r - o for the scalars (which may go negative: callers check
// over-commitment with Fits). Ports are not subtracted.
func (r Resources) Sub(o Resources) Resources {
	return Resources{CPUs: r.CPUs - o.CPUs, GPUs: r.GPUs - o.GPUs, Mem: r.Mem - o.Mem, Disk: r.Disk - o.Disk, Ports: r.Ports}
}

// Fits reports whether every scalar of r is at most the same scalar of capacity.
func (r Resources) Fits(capacity Resources) bool {
	return r.CPUs <= capacity.CPUs && r.GPUs <= capacity.GPUs && r.Mem <= capacity.Mem && r.Disk <= capacity.Disk
}

// Resource is one resource in the full protobuf JSON form Mesos uses for the
// "*_full" fields of /master/slaves (converted to the ENDPOINT format: the
// pre-refinement "role"/"reservation" fields plus "reservations").
type Resource struct {
	// Name is the resource name: "cpus", "mem", "disk", "gpus", "ports"...
	Name string `json:"name"`
	// Type is SCALAR, RANGES, SET or TEXT.
	Type string `json:"type"`
	// Scalar is set for SCALAR resources.
	Scalar *ValueScalar `json:"scalar,omitempty"`
	// Ranges is set for RANGES resources.
	Ranges *ValueRanges `json:"ranges,omitempty"`
	// Set is set for SET resources.
	Set *ValueSet `json:"set,omitempty"`
	// Role is the role the resource is reserved for, "*" when unreserved.
	Role string `json:"role,omitempty"`
	// Reservation describes a dynamic reservation (pre-refinement form).
	Reservation *ReservationInfo `json:"reservation,omitempty"`
	// Reservations is the reservation stack (refinement form).
	Reservations []ReservationInfo `json:"reservations,omitempty"`
	// AllocationInfo names the role the resource is allocated to.
	AllocationInfo *AllocationInfo `json:"allocation_info,omitempty"`
	// Disk holds disk source and persistent volume details, as sent.
	Disk json.RawMessage `json:"disk,omitempty"`
	// Revocable is present ({}) for revocable resources.
	Revocable json.RawMessage `json:"revocable,omitempty"`
	// ProviderID identifies a resource provider, as sent.
	ProviderID json.RawMessage `json:"provider_id,omitempty"`
}

// ValueScalar is a protobuf Value.Scalar.
type ValueScalar struct {
	Value float64 `json:"value"`
}

// ValueRanges is a protobuf Value.Ranges: {"range":[{"begin":1,"end":2}]}.
type ValueRanges struct {
	Range []Range `json:"range"`
}

// ValueSet is a protobuf Value.Set: {"item":["a","b"]}.
type ValueSet struct {
	Item []string `json:"item"`
}

// ReservationInfo is a protobuf Resource.ReservationInfo.
type ReservationInfo struct {
	// Type is STATIC or DYNAMIC (refinement form only).
	Type string `json:"type,omitempty"`
	// Role is the reservation's role (refinement form only).
	Role string `json:"role,omitempty"`
	// Principal made a dynamic reservation.
	Principal string `json:"principal,omitempty"`
	// Labels are the reservation's labels.
	Labels *Labels `json:"labels,omitempty"`
}

// AllocationInfo is a protobuf Resource.AllocationInfo.
type AllocationInfo struct {
	Role string `json:"role,omitempty"`
}

// Labels is a protobuf Labels message as nested inside other protobuf JSON
// ({"labels":[{"key":"k","value":"v"}]}).
type Labels struct {
	Labels []Label `json:"labels"`
}

// Label is one key/value label.
type Label struct {
	Key   string `json:"key"`
	Value string `json:"value,omitempty"`
}

// FullResources builds the full protobuf form of summary resources, every
// resource unreserved (role "*"), in Mesos' order (cpus, mem, disk, gpus, ports);
// zero scalars are left out as Mesos has no such resource.
func FullResources(r Resources) []Resource {
	var out []Resource
	add := func(name string, v float64) {
		if v != 0 {
			out = append(out, Resource{Name: name, Type: "SCALAR", Scalar: &ValueScalar{Value: v}, Role: "*"})
		}
	}
	add("cpus", r.CPUs)
	add("mem", r.Mem)
	add("disk", r.Disk)
	add("gpus", r.GPUs)
	if len(r.Ports) > 0 {
		out = append(out, Resource{Name: "ports", Type: "RANGES", Ranges: &ValueRanges{Range: append([]Range(nil), r.Ports...)}, Role: "*"})
	}
	return out
}

// Summarize adds up full-form resources into the summary form, as Mesos does
// for the summary fields (revocable resources go to Other with a "_revocable"
// suffix, other scalars and ranges to Other too).
func Summarize(rs []Resource) Resources {
	var out Resources
	other := map[string]float64{}
	otherRanges := map[string]Ranges{}
	for _, r := range rs {
		name := r.Name
		if len(r.Revocable) > 0 {
			name += "_revocable"
		}
		switch {
		case r.Scalar != nil:
			switch name {
			case "cpus":
				out.CPUs += r.Scalar.Value
			case "mem":
				out.Mem += r.Scalar.Value
			case "disk":
				out.Disk += r.Scalar.Value
			case "gpus":
				out.GPUs += r.Scalar.Value
			default:
				other[name] += r.Scalar.Value
			}
		case r.Ranges != nil:
			if name == "ports" {
				out.Ports = append(out.Ports, r.Ranges.Range...)
			} else {
				otherRanges[name] = append(otherRanges[name], r.Ranges.Range...)
			}
		}
	}
	if len(out.Ports) > 0 {
		out.Ports = out.Ports.Normalize()
	}
	for k, v := range other {
		if out.Other == nil {
			out.Other = map[string]json.RawMessage{}
		}
		b, _ := json.Marshal(v)
		out.Other[k] = b
	}
	for k, v := range otherRanges {
		if out.Other == nil {
			out.Other = map[string]json.RawMessage{}
		}
		b, _ := json.Marshal(v.Normalize())
		out.Other[k] = b
	}
	return out
}
