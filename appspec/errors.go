package appspec

import (
	"fmt"
	"strings"
)

// Error is one problem in an app.yaml: where it is, which field, what is
// wrong and how to fix it.
type Error struct {
	// File is the app.yaml (or referenced file) with the problem.
	File string `json:"file,omitempty"`
	// Line and Column are 1-based (0 when unknown).
	Line   int `json:"line,omitempty"`
	Column int `json:"column,omitempty"`
	// Field is the dotted path of the field, e.g. "migration.maxErrorRate".
	Field string `json:"field,omitempty"`
	// Message says what is wrong; Fix what to write instead.
	Message string `json:"message"`
	Fix     string `json:"fix,omitempty"`
}

// Error renders "file:line: field: message: fix".
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	} else if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	if e.Fix != "" {
		b.WriteString(": ")
		b.WriteString(e.Fix)
	}
	return b.String()
}

// ErrorList is every problem found in one or more app.yaml files, in order.
type ErrorList []*Error

// Error renders one problem per line.
func (l ErrorList) Error() string {
	parts := make([]string, len(l))
	for i, e := range l {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// Unwrap lets errors.As find each *Error.
func (l ErrorList) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

// err returns nil for an empty list (so a nil ErrorList is never a non-nil error).
func (l ErrorList) err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}
