package marathon

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
	Field    string
	Operator string
	// Value is nil when the constraint has no third element.
	Value *string
	// Legacy is true when the constraint was written as "field:OP[:value]".
	Legacy bool
}

// PodConstraint is a pod placement constraint (RAML constraint.Constraint).
type PodConstraint struct {
	FieldName string  `json:"fieldName,omitempty"`
	Operator  string  `json:"operator,omitempty"`
	Value     *string `json:"value,omitempty"`
	Unknown   Unknown `json:"-"`
}
