package marathon

// Group is a Marathon group: a tree of apps (and, in responses, pods) with a
// path id (RAML GroupUpdate / GroupInfo).
type Group struct {
	ID           string      `json:"id,omitempty"`
	Apps         []*App      `json:"apps,omitzero"`
	Groups       []*Group    `json:"groups,omitzero"`
	Pods         []PodStatus `json:"pods,omitzero"`
	Dependencies []string    `json:"dependencies,omitzero"`
	Version      *string     `json:"version,omitempty"`
	EnforceRole  *bool       `json:"enforceRole,omitempty"`
	ScaleBy      *float64    `json:"scaleBy,omitempty"`
	Unknown      Unknown     `json:"-"`
}
