package marathon

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

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
	// MarathonRejects is true when Marathon's API would refuse the
	// definition because of this issue (an error in strict mode).
	MarathonRejects bool `json:"marathonRejects,omitempty"`
	// Category groups issues: "syntax", "type", "unknown-field",
	// "deprecated", "range", "id", or "" for other rule violations.
	Category string `json:"category,omitempty"`
}

// Issue categories.
const (
	CategorySyntax     = "syntax"
	CategoryType       = "type"
	CategoryUnknown    = "unknown-field"
	CategoryDeprecated = "deprecated"
	// CategoryRange marks a number outside the bounds the converter can
	// represent (see MaxInstances, MaxCPUs, MaxMiB, MaxGPUs).
	CategoryRange = "range"
	// CategoryID marks an id that cannot name anything (control or space
	// characters); the converter refuses it.
	CategoryID = "id"
)

// HasErrors reports whether any issue is an error.
func HasErrors(issues []Issue) bool {
	for _, is := range issues {
		if is.Severity == SeverityError {
			return true
		}
	}
	return false
}

// Validate checks a decoded definition against Marathon's validation rules
// (required fields, path ids, resources, constraints, health checks, ports,
// volumes, secrets, networks) and reports deprecated and unknown fields as
// warnings. Read-only status fields of API responses are accepted and
// ignored. Issues carry the JSON path and, when the definition was decoded
// from source, the line and column; they are sorted by position.
func Validate(def *Definition) []Issue { return ValidateWith(def, Options{}) }

// Options tune validation.
type Options struct {
	// Strict reports every rule Marathon's API enforces as an error. By
	// default, rules whose breach leaves the definition understandable (an
	// upper-case id, a template placeholder, cmd together with args...) are
	// warnings, so that real-world definitions can still be migrated.
	Strict bool
}

// ValidateWith is Validate with options.
func ValidateWith(def *Definition, opts Options) []Issue {
	v := &validator{def: def, opts: opts}
	v.issues = append(v.issues, def.notes...)
	switch def.Kind {
	case KindApp:
		p := ""
		if def.Envelope == EnvelopeApp {
			p = "app"
		}
		v.app(def.App, p, "/")
	case KindAppList:
		p := ""
		if def.Envelope == EnvelopeApps {
			p = "apps"
		}
		if len(def.Apps) == 0 {
			v.warn(p, "the list holds no apps", "")
		}
		ids := map[string]string{}
		for i, a := range def.Apps {
			ap := joinIndex(p, i)
			if a == nil {
				v.err(ap, "expected an app definition, got null", "remove the null entry")
				continue
			}
			v.app(a, ap, "/")
			v.uniqueID(ids, ResolveID(a.ID, "/"), ap)
		}
	case KindGroup:
		v.group(def.Group, "", "/", true)
	case KindPod:
		v.pod(def.Pod, "", "/")
	default:
		v.err("", "unknown document kind "+string(def.Kind), "")
	}
	v.unknownFields()
	for i := range v.issues {
		is := &v.issues[i]
		if is.Line == 0 {
			is.Line, is.Column = def.positionNear(is.Path)
		}
	}
	sort.SliceStable(v.issues, func(i, j int) bool {
		a, b := v.issues[i], v.issues[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	return v.issues
}

// positionNear is Position for path or, when it does not exist in the
// source (a missing field), for its closest existing parent.
func (d *Definition) positionNear(path string) (int, int) {
	for {
		if l, c := d.Position(path); l > 0 {
			return l, c
		}
		if path == "" {
			return 0, 0
		}
		path = parentPath(path)
	}
}

func parentPath(p string) string {
	if strings.HasSuffix(p, "]") {
		if i := strings.LastIndexByte(p, '['); i >= 0 {
			return p[:i]
		}
	}
	if i := strings.LastIndexAny(p, ".["); i >= 0 {
		return p[:i]
	}
	return ""
}

type validator struct {
	opts   Options
	def    *Definition
	issues []Issue
}

func (v *validator) err(path, msg, hint string) {
	v.issues = append(v.issues, Issue{Path: path, Severity: SeverityError, Message: msg, Hint: hint})
}

// reject records a rule that Marathon's API enforces but that does not stop
// the definition from being understood and migrated: an error in strict
// mode, a warning otherwise.
func (v *validator) reject(path, msg, hint string) {
	sev := SeverityWarning
	if v.opts.Strict {
		sev = SeverityError
	}
	v.issues = append(v.issues, Issue{Path: path, Severity: sev, Message: msg + " (Marathon's API rejects this)", Hint: hint, MarathonRejects: true})
}

func (v *validator) warn(path, msg, hint string) {
	v.issues = append(v.issues, Issue{Path: path, Severity: SeverityWarning, Message: msg, Hint: hint})
}

func (v *validator) deprecated(path, field, instead string) {
	v.issues = append(v.issues, Issue{Path: joinKey(path, field), Severity: SeverityWarning, Message: field + " is deprecated", Hint: "use " + instead + " instead", Category: CategoryDeprecated})
}

func (v *validator) uniqueID(seen map[string]string, id, path string) {
	if id == "" {
		return
	}
	if prev, ok := seen[id]; ok {
		v.err(joinKey(path, "id"), fmt.Sprintf("duplicate id %s (also at %s)", id, prev), "give every app and group a distinct id")
		return
	}
	seen[id] = path
}

// --- ids ---

var (
	idSegment      = regexp.MustCompile(`^((([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])|\.|\.\.)$`)
	reservedIDEnds = map[string]bool{"restart": true, "tasks": true, "versions": true, ".": true, "..": true}
)

// checkID validates a Marathon path id and returns whether it is usable.
func (v *validator) checkID(id, path, what string) bool {
	p := joinKey(path, "id")
	if id == "" {
		v.err(p, what+" id is required", `set "id", e.g. "/team/web"`)
		return false
	}
	trimmed := strings.Trim(id, "/")
	if trimmed == "" {
		if what != "group" {
			v.reject(p, what+` id must not be the root "/"`, `use a path such as "/web"`)
			return false
		}
		return true
	}
	if r, bad := UnusableIDRune(id); bad {
		v.issues = append(v.issues, Issue{Path: p, Severity: SeverityError, Category: CategoryID,
			Message: fmt.Sprintf("invalid %s id %q: it contains %U, a control or space character", what, id, r),
			Hint:    "ids are path segments of lowercase letters, digits, '-' and '.'"})
		return false
	}
	if isTemplate(id) {
		v.warn(p, fmt.Sprintf("%s id %q holds a template placeholder", what, id), "substitute the placeholder before deploying")
		return true
	}
	segs := strings.Split(trimmed, "/")
	for _, s := range segs {
		if !idSegment.MatchString(s) {
			hint := "each path segment may hold lowercase letters, digits, '-' and '.', and must start and end with a letter or digit"
			if strings.ToLower(s) != s {
				hint = "ids are lowercase: use " + strconv.Quote(strings.ToLower(id))
			}
			v.reject(p, fmt.Sprintf("invalid %s id %q: segment %q is not a valid name", what, id, s), hint)
			return false
		}
	}
	if last := segs[len(segs)-1]; reservedIDEnds[last] && what != "group" {
		v.reject(p, fmt.Sprintf("%s id %q must not end with the reserved word %q", what, id, last), "rename the last path segment")
		return false
	}
	return true
}

// ResolveID resolves id against base (an absolute group path) as Marathon
// does: relative ids are children of base; "." and ".." are resolved
// ("web" under "/prod" is "/prod/web"). An empty id stays empty.
func ResolveID(id, base string) string {
	if id == "" {
		return ""
	}
	var out []string
	if !strings.HasPrefix(id, "/") {
		for _, s := range strings.Split(strings.Trim(base, "/"), "/") {
			if s != "" {
				out = append(out, s)
			}
		}
	}
	for _, s := range strings.Split(strings.Trim(id, "/"), "/") {
		switch s {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, s)
		}
	}
	return "/" + strings.Join(out, "/")
}

// --- groups ---

func (v *validator) group(g *Group, path, base string, root bool) {
	if g == nil {
		v.err(path, "expected a group, got null", "remove the null entry")
		return
	}
	what := "group"
	if !v.checkID(g.ID, path, what) {
		return
	}
	id := ResolveID(g.ID, base)
	if !root && (id == base || !strings.HasPrefix(id+"/", strings.TrimSuffix(base, "/")+"/")) {
		v.reject(joinKey(path, "id"), fmt.Sprintf("group id %s is not a child of %s", id, base), "use a relative id or one under the parent group's path")
	}
	for i, d := range g.Dependencies {
		v.dependency(d, joinIndex(joinKey(path, "dependencies"), i))
	}
	if g.ScaleBy != nil && *g.ScaleBy < 0 {
		v.reject(joinKey(path, "scaleBy"), "scaleBy must not be negative", "")
	}
	ids := map[string]string{}
	for i, a := range g.Apps {
		ap := joinIndex(joinKey(path, "apps"), i)
		if a == nil {
			v.err(ap, "expected an app definition, got null", "remove the null entry")
			continue
		}
		v.app(a, ap, id)
		if a.ID != "" {
			aid := ResolveID(a.ID, id)
			if !strings.HasPrefix(aid, strings.TrimSuffix(id, "/")+"/") {
				v.reject(joinKey(ap, "id"), fmt.Sprintf("app id %s is not a child of group %s", aid, id), "use a relative id or one under the group's path")
			}
			v.uniqueID(ids, aid, ap)
		}
	}
	for i, sub := range g.Groups {
		sp := joinIndex(joinKey(path, "groups"), i)
		v.group(sub, sp, id, false)
		if sub != nil && sub.ID != "" {
			v.uniqueID(ids, ResolveID(sub.ID, id), sp)
		}
	}
	for i, ps := range g.Pods {
		pp := joinIndex(joinKey(path, "pods"), i)
		if ps.Spec != nil {
			v.pod(ps.Spec, joinKey(pp, "spec"), id)
		}
	}
}

func (v *validator) dependency(d, path string) {
	if d == "" {
		v.err(path, "empty dependency", "name the app or group this one depends on, e.g. \"/db\"")
		return
	}
	for _, s := range strings.Split(strings.Trim(d, "/"), "/") {
		if !idSegment.MatchString(s) {
			v.reject(path, fmt.Sprintf("invalid dependency %q: segment %q is not a valid name", d, s), "dependencies are app or group path ids")
			return
		}
	}
}

// UnusableIDRune returns the first rune of id that no name can hold,
// whatever the id's other flaws: a control, space or otherwise unprintable
// character (a newline would end a line of every file that names the id).
func UnusableIDRune(id string) (rune, bool) {
	for _, r := range id {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) {
			return r, true
		}
	}
	return 0, false
}

// isTemplate reports whether s holds a templating placeholder such as
// ${VAR}, {{ var }}, <env> or @var@, as definitions kept in CI pipelines do.
func isTemplate(s string) bool {
	return strings.Contains(s, "${") || strings.Contains(s, "{{") || templateMarker.MatchString(s)
}

var templateMarker = regexp.MustCompile(`<[A-Za-z_][A-Za-z0-9_-]*>|@[A-Za-z_][A-Za-z0-9_]*@|\$[A-Z_][A-Z0-9_]*`)
