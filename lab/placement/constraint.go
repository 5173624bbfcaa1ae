package placement

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// missingKey groups tasks on agents that lack a constraint's attribute (they
// still count as a group for GROUP_BY, as in Marathon).
const missingKey = "\x00missing"

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

// fieldValue is the agent's value for a constraint field.
func fieldValue(a *Agent, field string) (string, bool) {
	if field == HostnameField {
		return a.Hostname, true
	}
	v, ok := a.Attributes[field]
	return v, ok
}

// groupKey is the key under which a task on agent a counts for field.
func groupKey(a *Agent, field string) string {
	if v, ok := fieldValue(a, field); ok {
		return v
	}
	return missingKey
}

// prepared is a constraint with what it needs to know about the app's
// placed tasks, computed once per placement.
type prepared struct {
	compiled
	// groups counts the app's tasks per field value (missingKey for agents
	// without the attribute); only values with tasks are present.
	groups map[string]int
	// minCount and size describe groups (for GROUP_BY).
	minCount, size int
	// clusterVal is the one value all placed tasks share (CLUSTER without
	// value); clusterMixed is set when they do not share one.
	clusterVal   string
	clusterMixed bool
}

func prepare(c compiled, groups map[string]int) prepared {
	p := prepared{compiled: c, groups: groups, minCount: -1}
	for k, n := range groups {
		p.size++
		if p.minCount < 0 || n < p.minCount {
			p.minCount = n
		}
		if p.size == 1 {
			p.clusterVal = k
		} else {
			p.clusterMixed = true
		}
	}
	return p
}

// satisfied reports whether placing one more task of the app on an agent
// whose field value is (val, has) keeps the constraint.
func (c *prepared) satisfied(val string, has bool) bool {
	if !has {
		// Marathon: a missing attribute only satisfies UNLIKE.
		return c.Operator == OpUnlike
	}
	switch c.Operator {
	case OpUnique:
		return c.groups[val] == 0
	case OpCluster:
		if c.Value != "" {
			return val == c.Value
		}
		return c.size == 0 || (!c.clusterMixed && c.clusterVal == val)
	case OpGroupBy:
		cnt := c.groups[val]
		if cnt == 0 {
			return true
		}
		return c.size >= c.n && cnt == c.minCount
	case OpLike:
		return c.re.MatchString(val)
	case OpUnlike:
		return !c.re.MatchString(val)
	case OpMaxPer:
		return c.groups[val] < c.n
	case OpIs:
		return val == c.Value
	}
	return false
}
