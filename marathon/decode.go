package marathon

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
)

// FieldError is one problem found while decoding: a syntax error or a value
// of the wrong type, with its position and JSON path.
type FieldError struct {
	// Path is the JSON path of the value, e.g. "apps[0].instances" ("" for the document).
	Path string `json:"path"`
	// Line and Column are 1-based; Offset is the byte offset.
	Line   int `json:"line"`
	Column int `json:"column"`
	Offset int `json:"offset"`
	// Syntax is true for JSON syntax errors (malformed or truncated input).
	Syntax bool `json:"syntax,omitempty"`
	// Message says what is wrong.
	Message string `json:"message"`
}

// Error renders "line 12, column 5: apps[0].instances: expected ...".
func (e FieldError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "line %d, column %d: ", e.Line, e.Column)
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// DecodeError is returned when a document cannot be decoded: it lists every
// syntax or type error found (a syntax error stops decoding, so it is alone).
type DecodeError struct {
	// File is the file name, when known.
	File string
	// Errors are the problems, in document order.
	Errors []FieldError
}

// Error renders one problem per line, prefixed with the file name if known.
func (e *DecodeError) Error() string {
	var b strings.Builder
	for i, fe := range e.Errors {
		if i > 0 {
			b.WriteByte('\n')
		}
		if e.File != "" {
			b.WriteString(e.File)
			b.WriteString(": ")
		}
		b.WriteString(fe.Error())
	}
	if len(e.Errors) >= maxErrors {
		b.WriteString("\n(further errors not shown)")
	}
	return b.String()
}

func newSyntaxError(src []byte, se *syntaxError) *DecodeError {
	line, col := lineCol(src, se.off)
	msg := se.msg
	if se.off >= len(src) && !strings.Contains(msg, "truncated") {
		msg += " (the JSON is truncated)"
	}
	return &DecodeError{Errors: []FieldError{{Path: se.path, Line: line, Column: col, Offset: se.off, Syntax: true, Message: "invalid JSON: " + msg}}}
}

// Decode reads one Marathon document: an app, a group, a pod, a JSON array
// of apps, or a saved API response ({"app": {...}} or {"apps": [...]}).
// Errors are a *DecodeError naming line, column and JSON path of each problem.
func Decode(data []byte) (*Definition, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &DecodeError{Errors: []FieldError{{Line: 1, Column: 1, Syntax: true, Message: "empty document: expected a JSON app, group or pod definition"}}}
	}
	root, serr := parseJSON(data)
	if serr != nil {
		return nil, newSyntaxError(data, serr)
	}
	d := &decoder{src: data}
	def := &Definition{source: data, root: root}
	switch root.kind {
	case kindArray:
		def.Kind = KindAppList
		d.bind(&root, reflect.ValueOf(&def.Apps).Elem())
		for i, a := range def.Apps {
			if a == nil {
				d.pushIndex(i)
				d.errorf(&root.elems[i], "expected an app definition (an object), got null")
				d.pop()
			}
		}
	case kindObject:
		detect(d, def, &root)
	default:
		d.errorf(&root, "expected a JSON object (app, group or pod) or an array of apps, got %s", describe(&root))
	}
	if len(d.errs) > 0 {
		return nil, &DecodeError{Errors: d.errs}
	}
	def.notes = d.notes
	// Build the line index now so that Position is read-only (safe for
	// concurrent use).
	def.lines = d.lines
	def.lines.lineCol(data, 0)
	return def, nil
}

// detect decides what an object document is and binds it.
func detect(d *decoder, def *Definition, root *node) {
	// A member whose value is null counts as absent, as everywhere else,
	// and so does an empty id (the model does not write it back).
	has := func(k string) bool {
		n := root.get(k)
		return n != nil && n.kind != kindNull && !(k == "id" && n.kind == kindString && n.str == "")
	}
	switch {
	case has("containers"):
		def.Kind = KindPod
		def.Pod = &Pod{}
		d.bind(root, reflect.ValueOf(def.Pod).Elem())
	case !has("id") && has("apps") && root.get("apps").kind == kindArray:
		def.Kind, def.Envelope = KindAppList, EnvelopeApps
		bindEnvelope(d, def, root, "apps", reflect.ValueOf(&def.Apps).Elem())
	case !has("id") && has("app") && root.get("app").kind == kindObject:
		def.Kind, def.Envelope = KindApp, EnvelopeApp
		def.App = &App{}
		bindEnvelope(d, def, root, "app", reflect.ValueOf(def.App).Elem())
	case has("apps") || has("groups") || has("pods"):
		def.Kind = KindGroup
		def.Group = &Group{}
		d.bind(root, reflect.ValueOf(def.Group).Elem())
	default:
		def.Kind = KindApp
		def.App = &App{}
		d.bind(root, reflect.ValueOf(def.App).Elem())
	}
}

func bindEnvelope(d *decoder, def *Definition, root *node, key string, v reflect.Value) {
	for i := range root.members {
		mb := &root.members[i]
		if mb.key == key {
			continue
		}
		if def.EnvelopeUnknown == nil {
			def.EnvelopeUnknown = Unknown{}
		}
		def.EnvelopeUnknown[mb.key] = append([]byte(nil), d.src[mb.val.start:mb.val.end]...)
	}
	n := root.get(key)
	d.pushKey(key)
	d.bind(n, v)
	d.pop()
}

// DecodeFile reads and decodes one file; errors name the file.
func DecodeFile(path string) (*Definition, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read marathon definition: %w", err)
	}
	def, err := Decode(data)
	if err != nil {
		var de *DecodeError
		if errors.As(err, &de) {
			de.File = path
		}
		return nil, err
	}
	return def, nil
}
