package marathon

import (
	"fmt"
	"strings"
)

// labelSelector is Marathon's label query for GET /v2/apps?label=...:
// comma-separated selectors that must all hold: "key" (exists), "key==v",
// "key!=v", "key in (a,b)", "key notin (a,b)". A backslash escapes the next
// character.
type labelSelector []labelTerm

type labelTerm struct {
	key    string
	op     string // exists, ==, !=, in, notin
	values []string
}

// parseLabelSelector reads a label query ("" selects everything).
func parseLabelSelector(q string) (labelSelector, error) {
	var sel labelSelector
	for _, part := range splitTop(q) {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		switch {
		case strings.Contains(part, "=="):
			k, v, _ := strings.Cut(part, "==")
			sel = append(sel, labelTerm{unescape(k), "==", []string{unescape(v)}})
		case strings.Contains(part, "!="):
			k, v, _ := strings.Cut(part, "!=")
			sel = append(sel, labelTerm{unescape(k), "!=", []string{unescape(v)}})
		case strings.Contains(part, " notin "), strings.Contains(part, " in "):
			op := " in "
			if strings.Contains(part, " notin ") {
				op = " notin "
			}
			k, v, _ := strings.Cut(part, op)
			v = strings.TrimSpace(v)
			if !strings.HasPrefix(v, "(") || !strings.HasSuffix(v, ")") {
				return nil, fmt.Errorf("%q: the set must be in parentheses, e.g. env in (a,b)", part)
			}
			var vals []string
			for _, x := range strings.Split(v[1:len(v)-1], ",") {
				vals = append(vals, unescape(x))
			}
			sel = append(sel, labelTerm{unescape(k), strings.TrimSpace(op), vals})
		default:
			sel = append(sel, labelTerm{unescape(part), "exists", nil})
		}
	}
	return sel, nil
}

// splitTop splits on commas outside parentheses and not escaped.
func splitTop(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

func unescape(s string) string {
	s = strings.TrimSpace(s)
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// matches reports whether labels satisfy every term.
func (sel labelSelector) matches(labels map[string]string) bool {
	for _, t := range sel {
		v, ok := labels[t.key]
		switch t.op {
		case "exists":
			if !ok {
				return false
			}
		case "==":
			if !ok || v != t.values[0] {
				return false
			}
		case "!=":
			if !ok || v == t.values[0] {
				return false
			}
		case "in":
			if !ok || !contains(t.values, v) {
				return false
			}
		case "notin":
			if !ok || contains(t.values, v) {
				return false
			}
		}
	}
	return true
}
