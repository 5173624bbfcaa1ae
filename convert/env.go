package convert

import (
	"regexp"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// placeholderRE finds $NAME and ${NAME} references in a string.
var placeholderRE = regexp.MustCompile(`\$(\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z_][A-Za-z0-9_]*)`)

// taskEnv is the environment Mesos and Marathon give a task, as the
// converter rebuilds it: name -> how the value is produced.
type taskEnv struct {
	vars  map[string]corev1.EnvVar
	notes map[string]string // name -> "$HOST -> status.podIP" style note
	// always are defined whether referenced or not (HOST, PORT*, ids).
	always map[string]bool
	used   map[string]bool
}

func newTaskEnv() *taskEnv {
	return &taskEnv{vars: map[string]corev1.EnvVar{}, notes: map[string]string{}, always: map[string]bool{}, used: map[string]bool{}}
}

func (t *taskEnv) literal(name, value, note string, always bool) {
	t.vars[name] = corev1.EnvVar{Name: name, Value: value}
	t.notes[name] = note
	if always {
		t.always[name] = true
	}
}

func (t *taskEnv) field(name, fieldPath, note string, always bool) {
	t.vars[name] = corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: fieldPath}}}
	t.notes[name] = note
	if always {
		t.always[name] = true
	}
}

// scan finds the task variables s refers to, marks them used and returns
// the notes of each (sorted, unique), plus unknown $NAMES.
func (t *taskEnv) scan(s string) (notes []string, known []string) {
	seen := map[string]bool{}
	for _, m := range placeholderRE.FindAllStringSubmatch(s, -1) {
		name := strings.Trim(m[1], "{}")
		if _, ok := t.vars[name]; !ok || seen[name] {
			continue
		}
		seen[name] = true
		t.used[name] = true
		known = append(known, name)
		notes = append(notes, "$"+name+" -> "+t.notes[name])
	}
	sort.Strings(notes)
	sort.Strings(known)
	return notes, known
}

// rewriteArgs escapes s for Kubernetes' $(VAR) expansion and turns
// references to task variables into $(VAR), which Kubernetes expands in
// command and args (no shell runs there).
func (t *taskEnv) rewriteArgs(s string) string {
	s = escapeDollar(s)
	return placeholderRE.ReplaceAllStringFunc(s, func(m string) string {
		name := strings.Trim(m[1:], "{}")
		if _, ok := t.vars[name]; !ok {
			return m
		}
		return "$(" + name + ")"
	})
}

// escapeDollar keeps a string literal under Kubernetes' expansion of
// command, args and env values: "$$" reads as "$" and "$(X)" is replaced,
// so every '$' followed by '$' or '(' is doubled.
func escapeDollar(s string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteByte(s[i])
		if s[i] == '$' && i+1 < len(s) && (s[i+1] == '$' || s[i+1] == '(') {
			b.WriteByte('$')
		}
	}
	return b.String()
}

// list returns the variables to define (always ones and used ones),
// sorted by name, leaving out names the user environment sets.
func (t *taskEnv) list(user map[string]bool) []corev1.EnvVar {
	var names []string
	for n := range t.vars {
		if (t.always[n] || t.used[n]) && !user[n] {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	out := make([]corev1.EnvVar, 0, len(names))
	for _, n := range names {
		out = append(out, t.vars[n])
	}
	return out
}

// envName is Marathon's PORT_<NAME> spelling of a port name.
func envName(s string) string {
	b := []byte(strings.ToUpper(s))
	for i, c := range b {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}

// validEnvName: Kubernetes accepts any printable ASCII except '=' (relaxed
// environment variable validation).
func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 32 || s[i] > 126 || s[i] == '=' {
			return false
		}
	}
	return true
}

func itoa(i int) string { return strconv.Itoa(i) }
