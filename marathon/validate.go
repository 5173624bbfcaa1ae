package marathon

// Severity of a validation issue.
type Severity string

// Severities.
const (
	// SeverityError marks a definition Marathon would reject or cannot run.
	SeverityError Severity = "error"
	// SeverityWarning marks deprecated, unknown or suspicious content.
	SeverityWarning Severity = "warning"
)

// Issue is one finding about a definition.
type Issue struct {
	// Path is the JSON path of the offending value, e.g. "apps[0].instances".
	Path string `json:"path"`
	// Line and Column locate the value in the source (1-based; 0 when unknown).
	Line   int `json:"line,omitempty"`
	Column int `json:"column,omitempty"`
	// Severity is "error" or "warning".
	Severity Severity `json:"severity"`
	// Message says what is wrong.
	Message string `json:"message"`
	// Hint says what to do about it.
	Hint string `json:"hint,omitempty"`
}
