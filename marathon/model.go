// Package marathon owns the typed model of Marathon's v2 definitions (apps,
// groups and pods, as documented in mesosphere/marathon's RAML types), their
// lossless JSON decoding and encoding (unknown fields are kept and reported),
// their validation, and the REST client for the Marathon v2 API.
//
// Every optional scalar is a pointer so that "absent" and "zero" stay
// distinct; every optional slice or map is tagged omitzero so that an explicit
// empty array or object survives a round trip. JSON null is read as "absent",
// as Marathon itself does. Each object type keeps the members it does not know
// in its Unknown map and writes them back when marshalled.
package marathon

import (
	"encoding/json"
	"fmt"
)

// Unknown holds the members of a JSON object that the model does not know,
// keyed by member name, with their raw JSON values.
type Unknown = map[string]json.RawMessage

// Labels are Marathon key/value labels.
type Labels = map[string]string

// Kind says what a decoded document is.
type Kind string

// The kinds of documents Decode recognises.
const (
	// KindApp is a single app definition (POST /v2/apps body).
	KindApp Kind = "app"
	// KindAppList is a JSON array of app definitions.
	KindAppList Kind = "apps"
	// KindGroup is a group definition (PUT /v2/groups body or GET /v2/groups response).
	KindGroup Kind = "group"
	// KindPod is a pod definition (POST /v2/pods body).
	KindPod Kind = "pod"
)

// Envelope names the wrapper object around the definition, if any, as found
// in saved API responses: `{"app": {...}}` (GET /v2/apps/{id}) or
// `{"apps": [...]}` (GET /v2/apps).
type Envelope string

// The envelopes Decode recognises.
const (
	// EnvelopeNone means the document is the definition itself.
	EnvelopeNone Envelope = ""
	// EnvelopeApp is `{"app": {...}}`.
	EnvelopeApp Envelope = "app"
	// EnvelopeApps is `{"apps": [...]}`.
	EnvelopeApps Envelope = "apps"
)

// Definition is one decoded document: an app, a list of apps, a group or a pod.
// Exactly one of App, Apps, Group and Pod is set, according to Kind.
type Definition struct {
	// Kind says which of App, Apps, Group or Pod is set.
	Kind Kind
	// Envelope is the API-response wrapper the document came in, if any.
	Envelope Envelope
	// App is set when Kind is KindApp.
	App *App
	// Apps is set when Kind is KindAppList.
	Apps []*App
	// Group is set when Kind is KindGroup.
	Group *Group
	// Pod is set when Kind is KindPod.
	Pod *Pod
	// EnvelopeUnknown keeps members of an API-response envelope other than
	// "app"/"apps".
	EnvelopeUnknown Unknown

	// source, root and lines let Validate report line/column for a JSON
	// path; notes are the warnings found while decoding.
	source []byte
	root   node
	lines  lineIndex
	notes  []Issue
}

// RawJSON is a JSON value kept verbatim (used for status details the model
// does not interpret).
type RawJSON = json.RawMessage

// MarshalJSON writes the document back in the shape it was read in (a bare
// definition, an array of apps, or an API-response envelope).
func (d *Definition) MarshalJSON() ([]byte, error) {
	var body any
	switch d.Kind {
	case KindApp:
		body = d.App
	case KindAppList:
		apps := d.Apps
		if apps == nil {
			apps = []*App{}
		}
		body = apps
	case KindGroup:
		body = d.Group
	case KindPod:
		body = d.Pod
	default:
		return nil, fmt.Errorf("marshal definition: unknown kind %q", d.Kind)
	}
	if d.Envelope == EnvelopeNone {
		return json.Marshal(body)
	}
	if d.Envelope == EnvelopeApp {
		return marshalObject(struct {
			App any `json:"app"`
		}{body}, d.EnvelopeUnknown)
	}
	return marshalObject(struct {
		Apps any `json:"apps"`
	}{body}, d.EnvelopeUnknown)
}

// AllApps returns every app of the document, with the JSON path of each:
// the app itself, the apps of a list, or all apps of a group tree
// (depth-first, in document order).
func (d *Definition) AllApps() []PathApp {
	var out []PathApp
	switch d.Kind {
	case KindApp:
		p := ""
		if d.Envelope == EnvelopeApp {
			p = "app"
		}
		out = append(out, PathApp{Path: p, App: d.App})
	case KindAppList:
		p := ""
		if d.Envelope == EnvelopeApps {
			p = "apps"
		}
		for i, a := range d.Apps {
			out = append(out, PathApp{Path: joinIndex(p, i), App: a})
		}
	case KindGroup:
		var walk func(g *Group, path string)
		walk = func(g *Group, path string) {
			if g == nil {
				return
			}
			for i, a := range g.Apps {
				out = append(out, PathApp{Path: joinIndex(joinKey(path, "apps"), i), App: a})
			}
			for i, sub := range g.Groups {
				walk(sub, joinIndex(joinKey(path, "groups"), i))
			}
		}
		walk(d.Group, "")
	}
	return out
}

// PathApp is an app with the JSON path where it sits in its document.
type PathApp struct {
	Path string
	App  *App
}

// Position returns the 1-based line and column of the value at the JSON
// path (as Issue.Path spells it) in the decoded source, or 0, 0 when the
// path does not exist there (for example a value added after decoding).
func (d *Definition) Position(path string) (line, col int) {
	off := d.offsetOf(path)
	if off < 0 {
		return 0, 0
	}
	return d.lines.lineCol(d.source, off)
}

// offsetOf returns the byte offset of the member key (for object members)
// or of the value (for array elements and the document) at path, or -1.
func (d *Definition) offsetOf(path string) int {
	if d.source == nil {
		return -1
	}
	segs, ok := splitPath(path)
	if !ok {
		return -1
	}
	n := &d.root
	off := n.start
	for _, s := range segs {
		if s.index >= 0 {
			if n.kind != kindArray || s.index >= len(n.elems) {
				return -1
			}
			n = &n.elems[s.index]
			off = n.start
			continue
		}
		if n.kind != kindObject {
			return -1
		}
		found := false
		for i := len(n.members) - 1; i >= 0; i-- {
			if n.members[i].key == s.key {
				off, n, found = n.members[i].keyOff, &n.members[i].val, true
				break
			}
		}
		if !found {
			return -1
		}
	}
	return off
}

// closingQuote returns the index of the quote closing the string that
// starts at s[1] (s starts with `["`), or -1.
func closingQuote(s string) int {
	for i := 2; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}
