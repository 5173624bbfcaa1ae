package marathon

import (
	"encoding/json"
	"strings"
)

// Constraint operators.
const (
	OpUnique  = "UNIQUE"
	OpCluster = "CLUSTER"
	OpGroupBy = "GROUP_BY"
	OpLike    = "LIKE"
	OpUnlike  = "UNLIKE"
	OpMaxPer  = "MAX_PER"
	OpIs      = "IS"
)

// Constraint is an app placement constraint: `["field", "OP"]` or
// `["field", "OP", "value"]`, or the legacy string form "field:OP:value".
type Constraint struct {
	// Parts are the elements: field, operator and optional value (a valid
	// constraint has 2 or 3; others are kept as written and reported by Validate).
	Parts []string
	// Legacy is true when the constraint was written as "field:OP[:value]".
	Legacy bool
}

// PodConstraint is a pod placement constraint (RAML constraint.Constraint).
type PodConstraint struct {
	FieldName string  `json:"fieldName"`
	Operator  string  `json:"operator"`
	Value     *string `json:"value,omitempty"`
	Unknown   Unknown `json:"-"`
}

// NewConstraint returns the array-form constraint [field, op] or [field, op, value].
func NewConstraint(field, op string, value ...string) Constraint {
	return Constraint{Parts: append([]string{field, op}, value...)}
}

// Field is the attribute the constraint applies to ("hostname", "rack"...).
func (c Constraint) Field() string { return c.part(0) }

// Operator is the constraint operator (UNIQUE, CLUSTER...).
func (c Constraint) Operator() string { return c.part(1) }

// Value returns the third element and whether there is one.
func (c Constraint) Value() (string, bool) {
	if len(c.Parts) < 3 {
		return "", false
	}
	return c.Parts[2], true
}

func (c Constraint) part(i int) string {
	if i < len(c.Parts) {
		return c.Parts[i]
	}
	return ""
}

// String renders the constraint in the "field:OP:value" form.
func (c Constraint) String() string { return strings.Join(c.Parts, ":") }

// MarshalJSON writes the array form, or the original legacy string form.
func (c Constraint) MarshalJSON() ([]byte, error) {
	if c.Legacy {
		return json.Marshal(c.String())
	}
	if c.Parts == nil {
		return []byte("[]"), nil
	}
	return json.Marshal(c.Parts)
}

// UnmarshalJSON reads the array form or the legacy "field:OP:value" string.
func (c *Constraint) UnmarshalJSON(data []byte) error { return decodeInto(data, c) }

func (c *Constraint) decodeNode(d *decoder, n *node) {
	switch n.kind {
	case kindArray:
		parts := make([]string, len(n.elems))
		for i := range n.elems {
			e := &n.elems[i]
			if e.kind != kindString {
				d.pushIndex(i)
				d.errorf(e, "expected a string in a constraint, got %s", describe(e))
				d.pop()
				continue
			}
			parts[i] = e.str
		}
		*c = Constraint{Parts: parts}
	case kindString:
		*c = Constraint{Parts: strings.SplitN(n.str, ":", 3), Legacy: true}
	default:
		d.errorf(n, `expected a constraint ["field", "OPERATOR"(, "value")] or "field:OPERATOR:value", got %s`, describe(n))
	}
}
