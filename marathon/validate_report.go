package marathon

import (
	"errors"
	"sort"
)

// FileReport is the validation outcome of one document, as
// `switchyard marathon validate` prints it.
type FileReport struct {
	// File is the file name (or any label the caller gives).
	File string `json:"file"`
	// Kind is what the document is (app, apps, group, pod); empty when it
	// could not be decoded.
	Kind Kind `json:"kind,omitempty"`
	// IDs are the ids of the apps and pods in the document, in order.
	IDs []string `json:"ids"`
	// Valid is false when there is at least one error.
	Valid bool `json:"valid"`
	// Errors and Warnings count the issues by severity.
	Errors   int `json:"errors"`
	Warnings int `json:"warnings"`
	// Issues are all findings, sorted by position.
	Issues []Issue `json:"issues"`
	// UnknownFields and DeprecatedFields list the JSON paths of unknown and
	// deprecated fields.
	UnknownFields    []string `json:"unknownFields"`
	DeprecatedFields []string `json:"deprecatedFields"`
}

// Check decodes and validates one document and summarises the outcome.
// Decode errors become error issues (category "syntax" or "type").
func Check(file string, data []byte, opts Options) FileReport {
	r := FileReport{File: file, IDs: []string{}, Issues: []Issue{}, UnknownFields: []string{}, DeprecatedFields: []string{}}
	def, err := Decode(data)
	if err != nil {
		var de *DecodeError
		if !errors.As(err, &de) {
			r.Issues = append(r.Issues, Issue{Severity: SeverityError, Message: err.Error()})
		} else {
			for _, fe := range de.Errors {
				cat := CategoryType
				if fe.Syntax {
					cat = CategorySyntax
				}
				r.Issues = append(r.Issues, Issue{Path: fe.Path, Line: fe.Line, Column: fe.Column, Severity: SeverityError, Message: fe.Message, Category: cat, Hint: decodeHint(fe)})
			}
		}
	} else {
		r.Kind = def.Kind
		for _, pa := range def.AllApps() {
			if pa.App != nil {
				r.IDs = append(r.IDs, pa.App.ID)
			}
		}
		if def.Kind == KindPod {
			r.IDs = append(r.IDs, def.Pod.ID)
		}
		r.Issues = append(r.Issues, ValidateWith(def, opts)...)
	}
	for _, is := range r.Issues {
		switch is.Severity {
		case SeverityError:
			r.Errors++
		default:
			r.Warnings++
		}
		switch is.Category {
		case CategoryUnknown:
			r.UnknownFields = append(r.UnknownFields, is.Path)
		case CategoryDeprecated:
			r.DeprecatedFields = append(r.DeprecatedFields, is.Path)
		}
	}
	sort.Strings(r.UnknownFields)
	sort.Strings(r.DeprecatedFields)
	r.Valid = r.Errors == 0
	return r
}

func decodeHint(fe FieldError) string {
	if fe.Syntax {
		return "fix the JSON syntax at this position (a JSON linter such as `jq . FILE` shows the same spot)"
	}
	return "change the value to the expected type"
}
