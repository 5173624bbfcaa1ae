package placement

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// compiled is a validated constraint ready to evaluate.
type compiled struct {
	Constraint
	re *regexp.Regexp // LIKE, UNLIKE
	n  int            // MAX_PER maximum, GROUP_BY minimum group count
}

// ValidateConstraint reports what is wrong with a constraint: an unknown
// operator, a missing value, a bad regular expression or number.
func ValidateConstraint(c Constraint) error {
	_, err := compile(c)
	return err
}

func compile(c Constraint) (compiled, error) {
	out := compiled{Constraint: c}
	out.Operator = strings.ToUpper(c.Operator)
	if c.Field == "" {
		return out, fmt.Errorf("constraint %s: the field is empty; use \"hostname\" or an agent attribute name", c)
	}
	switch out.Operator {
	case OpUnique, OpCluster:
	case OpIs:
		if c.Value == "" {
			return out, fmt.Errorf("constraint %s: IS needs a value to compare with", c)
		}
	case OpLike, OpUnlike:
		if c.Value == "" {
			return out, fmt.Errorf("constraint %s: %s needs a regular expression as value", c, out.Operator)
		}
		re, err := regexp.Compile("^(?:" + c.Value + ")$")
		if err != nil {
			return out, fmt.Errorf("constraint %s: value %q is not a valid regular expression: %w", c, c.Value, err)
		}
		out.re = re
	case OpMaxPer:
		n, err := strconv.Atoi(c.Value)
		if err != nil || n < 1 {
			return out, fmt.Errorf("constraint %s: MAX_PER needs a positive whole number as value, got %q", c, c.Value)
		}
		out.n = n
	case OpGroupBy:
		if c.Value != "" {
			n, err := strconv.Atoi(c.Value)
			if err != nil || n < 1 {
				return out, fmt.Errorf("constraint %s: GROUP_BY value must be a positive whole number (the number of groups), got %q", c, c.Value)
			}
			out.n = n
		}
	default:
		return out, fmt.Errorf("constraint %s: operator %q is not one of UNIQUE, CLUSTER, GROUP_BY, LIKE, UNLIKE, MAX_PER, IS", c, c.Operator)
	}
	return out, nil
}

// fieldIndex interns one constraint field's values across the cluster's
// agents, so that matching compares small integers instead of strings.
type fieldIndex struct {
	vals []string // value id -> value
	of   []int32  // agent index -> value id, -1 when the agent lacks the field
}

func newFieldIndex(agents []agentState, field string) *fieldIndex {
	fi := &fieldIndex{of: make([]int32, len(agents))}
	ids := map[string]int32{}
	for i := range agents {
		var v string
		if field == HostnameField {
			v = agents[i].Hostname
		} else {
			var ok bool
			if v, ok = agents[i].Attributes[field]; !ok {
				fi.of[i] = -1
				continue
			}
		}
		id, ok := ids[v]
		if !ok {
			id = int32(len(fi.vals))
			ids[v] = id
			fi.vals = append(fi.vals, v)
		}
		fi.of[i] = id
	}
	return fi
}

// prepared is a constraint with what it needs to know about the app's
// placed tasks, computed once per placement.
type prepared struct {
	compiled
	field *fieldIndex
	// counts is the app's tasks per value id; missing those on agents
	// without the field (a group of its own for GROUP_BY, as in Marathon).
	counts  []int
	missing int
	// size is the number of groups with tasks, minCount the smallest one.
	size, minCount int
	// clusterVal is the value id all placed tasks share (CLUSTER without a
	// value), -1 when they are on agents without the field; clusterMixed is
	// set when they do not share one.
	clusterVal   int32
	clusterMixed bool
	// static is the per value id outcome of value-only operators
	// (LIKE, UNLIKE, IS, CLUSTER with a value).
	static []bool
}

func prepare(c compiled, fi *fieldIndex, appTasks []int32, buf *[]int) prepared {
	if cap(*buf) < len(fi.vals) {
		*buf = make([]int, len(fi.vals))
	}
	counts := (*buf)[:len(fi.vals)]
	clear(counts)
	p := prepared{compiled: c, field: fi, counts: counts, minCount: -1, clusterVal: -1}
	for idx, n := range appTasks {
		if n == 0 {
			continue
		}
		if v := fi.of[idx]; v >= 0 {
			p.counts[v] += int(n)
		} else {
			p.missing += int(n)
		}
	}
	group := func(n int, id int32) {
		if n == 0 {
			return
		}
		p.size++
		if p.minCount < 0 || n < p.minCount {
			p.minCount = n
		}
		if p.size == 1 {
			p.clusterVal = id
		} else {
			p.clusterMixed = true
		}
	}
	group(p.missing, -1)
	for id, n := range p.counts {
		group(n, int32(id))
	}
	switch {
	case c.Operator == OpLike, c.Operator == OpUnlike, c.Operator == OpIs, c.Operator == OpCluster && c.Value != "":
		p.static = make([]bool, len(fi.vals))
		for id, v := range fi.vals {
			switch c.Operator {
			case OpLike:
				p.static[id] = c.re.MatchString(v)
			case OpUnlike:
				p.static[id] = !c.re.MatchString(v)
			default:
				p.static[id] = v == c.Value
			}
		}
	}
	return p
}

// satisfied reports whether placing one more task of the app on the agent
// at index idx keeps the constraint.
func (c *prepared) satisfied(idx int) bool {
	v := c.field.of[idx]
	if v < 0 {
		// Marathon: a missing attribute only satisfies UNLIKE.
		return c.Operator == OpUnlike
	}
	if c.static != nil {
		return c.static[v]
	}
	switch c.Operator {
	case OpUnique:
		return c.counts[v] == 0
	case OpCluster: // without a value
		return c.size == 0 || (!c.clusterMixed && c.clusterVal == v)
	case OpGroupBy:
		cnt := c.counts[v]
		return cnt == 0 || (c.size >= c.n && cnt == c.minCount)
	case OpMaxPer:
		return c.counts[v] < c.n
	}
	return false
}
