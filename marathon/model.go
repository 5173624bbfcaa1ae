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

import "encoding/json"

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

	// source and positions let Validate report line/column for a JSON path.
	source    []byte
	positions map[string]int
	notes     []Issue
}

// RawJSON is a JSON value kept verbatim (used for status details the model
// does not interpret).
type RawJSON = json.RawMessage
