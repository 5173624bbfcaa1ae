package mesos

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Range is one inclusive range of a Mesos RANGES value, in the structured form
// Mesos uses in protobuf JSON ({"begin":31000,"end":31005}).
type Range struct {
	Begin int `json:"begin"`
	End   int `json:"end"`
}

// Len is the number of values in the range (0 for an inverted range).
func (r Range) Len() int {
	if r.End < r.Begin {
		return 0
	}
	return r.End - r.Begin + 1
}

// Ranges is a Mesos RANGES value such as the ports resource. In the summary
// resource objects of /master/state and /master/slaves Mesos renders it as a
// string, "[31000-31005, 31010-31010]"; that is how Ranges marshals to JSON.
// The structured protobuf form is ValueRanges.
type Ranges []Range

// ParsePorts parses a ports value as Mesos prints it, "[31000-31005, 31010-31010]"
// (spaces optional, "[]" for none), and checks every port is within 0-65535.
// The ranges are returned in the order written.
func ParsePorts(s string) (Ranges, error) {
	rs, err := ParseRanges(s)
	if err != nil {
		return nil, err
	}
	for _, r := range rs {
		if r.Begin < 0 || r.End > 65535 {
			return nil, fmt.Errorf("ports %q: range %d-%d is outside 0-65535", s, r.Begin, r.End)
		}
	}
	return rs, nil
}

// ParseRanges parses any Mesos RANGES value as Mesos prints it, "[a-b, c-d]".
func ParseRanges(s string) (Ranges, error) {
	t := strings.TrimSpace(s)
	if !strings.HasPrefix(t, "[") || !strings.HasSuffix(t, "]") {
		return nil, fmt.Errorf("ranges %q: want the Mesos form \"[begin-end, begin-end]\", e.g. \"[31000-31005]\"", s)
	}
	body := strings.TrimSpace(t[1 : len(t)-1])
	if body == "" {
		return Ranges{}, nil
	}
	parts := strings.Split(body, ",")
	out := make(Ranges, 0, len(parts))
	for i, p := range parts {
		p = strings.TrimSpace(p)
		lo, hi, ok := strings.Cut(p, "-")
		if !ok {
			return nil, fmt.Errorf("ranges %q: item %d %q is not \"begin-end\"", s, i+1, p)
		}
		b, err := strconv.Atoi(strings.TrimSpace(lo))
		if err != nil {
			return nil, fmt.Errorf("ranges %q: item %d %q: begin is not a whole number", s, i+1, p)
		}
		e, err := strconv.Atoi(strings.TrimSpace(hi))
		if err != nil {
			return nil, fmt.Errorf("ranges %q: item %d %q: end is not a whole number", s, i+1, p)
		}
		if b > e {
			return nil, fmt.Errorf("ranges %q: item %d %q: begin is greater than end", s, i+1, p)
		}
		out = append(out, Range{Begin: b, End: e})
	}
	return out, nil
}

// String formats the ranges as Mesos does: "[31000-31005, 31010-31010]".
func (rs Ranges) String() string {
	var b strings.Builder
	b.WriteByte('[')
	for i, r := range rs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(r.Begin))
		b.WriteByte('-')
		b.WriteString(strconv.Itoa(r.End))
	}
	b.WriteByte(']')
	return b.String()
}

// Count is the number of values in all ranges (overlaps counted twice; see Normalize).
func (rs Ranges) Count() int {
	n := 0
	for _, r := range rs {
		n += r.Len()
	}
	return n
}

// Contains reports whether v lies in one of the ranges.
func (rs Ranges) Contains(v int) bool {
	for _, r := range rs {
		if v >= r.Begin && v <= r.End {
			return true
		}
	}
	return false
}

// Normalize returns the ranges sorted with overlapping and adjacent ranges
// merged, as Mesos keeps them internally.
func (rs Ranges) Normalize() Ranges {
	if len(rs) == 0 {
		return Ranges{}
	}
	s := append(Ranges(nil), rs...)
	sort.Slice(s, func(i, j int) bool { return s[i].Begin < s[j].Begin })
	out := Ranges{s[0]}
	for _, r := range s[1:] {
		last := &out[len(out)-1]
		if r.Begin <= last.End+1 {
			if r.End > last.End {
				last.End = r.End
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

// RangesOf turns a list of single values (e.g. a task's host ports) into
// normalized ranges: [31000 31001 31005] becomes "[31000-31001, 31005-31005]".
func RangesOf(values ...int) Ranges {
	rs := make(Ranges, 0, len(values))
	for _, v := range values {
		rs = append(rs, Range{Begin: v, End: v})
	}
	return rs.Normalize()
}

// MarshalJSON renders the ranges as the Mesos string form.
func (rs Ranges) MarshalJSON() ([]byte, error) { return json.Marshal(rs.String()) }

// UnmarshalJSON reads the Mesos string form ("[31000-31005]").
func (rs *Ranges) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("ranges: want a string like \"[31000-31005]\", got %s", truncate(data))
	}
	v, err := ParseRanges(s)
	if err != nil {
		return err
	}
	*rs = v
	return nil
}

func truncate(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}
