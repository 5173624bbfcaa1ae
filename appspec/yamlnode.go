package appspec

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/internal/suggest"

	"go.yaml.in/yaml/v3"
)

// parser walks a YAML node tree, collecting errors with positions.
type parser struct {
	file string
	errs ErrorList
}

func (p *parser) add(n *yaml.Node, field, fix, format string, args ...any) {
	e := &Error{File: p.file, Field: field, Message: fmt.Sprintf(format, args...), Fix: fix}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	p.errs = append(p.errs, e)
}

// resolve follows aliases.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// describe says what a node holds, for "got ..." in messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!str":
			return strconv.Quote(n.Value)
		case "!!null":
			return "nothing (null)"
		default:
			return n.Value
		}
	}
	return "an unexpected YAML node"
}

func join(path, key string) string {
	if key == "" {
		return path
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// field is one known key of a mapping and what to do with its value.
type field struct {
	key string
	set func(n *yaml.Node, path string)
}

// mapping checks that n is a mapping, reports unknown and repeated keys and
// calls the setter of every known key (a null value counts as absent).
func (p *parser) mapping(n *yaml.Node, path string, fields []field) bool {
	n = resolve(n)
	if isNull(n) {
		return false
	}
	if n.Kind != yaml.MappingNode {
		p.add(n, path, "write it as key: value lines indented under "+lastKey(path), "expected a mapping, got %s", describe(n))
		return false
	}
	known := make(map[string]func(*yaml.Node, string), len(fields))
	var names []string
	for _, f := range fields {
		known[f.key] = f.set
		names = append(names, f.key)
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.add(k, path, "keys are plain words", "expected a key, got %s", describe(k))
			continue
		}
		fp := join(path, k.Value)
		if line, dup := seen[k.Value]; dup {
			p.add(k, fp, "remove one of them", "repeated key (first at line %d)", line)
			continue
		}
		seen[k.Value] = k.Line
		set, ok := known[k.Value]
		if !ok {
			p.add(k, fp, unknownFix(k.Value, names), "unknown field")
			continue
		}
		if isNull(resolve(v)) {
			p.add(v, fp, "give a value or remove the line", "no value (null)")
			continue
		}
		set(v, fp)
	}
	return true
}

func lastKey(path string) string {
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[i+1:]
	}
	if path == "" {
		return "the document"
	}
	return path
}

// unknownFix suggests the closest known key, else lists them.
func unknownFix(key string, known []string) string {
	sorted := append([]string(nil), known...)
	sort.Strings(sorted)
	best, bestD := suggest.Closest(key, sorted)
	if best != "" && (bestD <= 2 || bestD <= len(key)/3) {
		return fmt.Sprintf("did you mean %q? (known fields: %s)", best, strings.Join(sorted, ", "))
	}
	return "remove it; known fields: " + strings.Join(sorted, ", ")
}

func (p *parser) str(n *yaml.Node, path string) (string, bool) {
	n = resolve(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		return n.Value, true
	}
	fix := "write a text value"
	if n.Kind == yaml.ScalarNode {
		fix = fmt.Sprintf("quote it: %s: %q", lastKey(path), n.Value)
	}
	p.add(n, path, fix, "expected a string, got %s", describe(n))
	return "", false
}

func (p *parser) integer(n *yaml.Node, path string) (int, bool) {
	n = resolve(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!int" {
		v, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64)
		if err == nil && v >= math.MinInt32 && v <= math.MaxInt32 {
			return int(v), true
		}
	}
	fix := "write a whole number without quotes"
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		if v, err := strconv.Atoi(strings.TrimSpace(n.Value)); err == nil {
			fix = fmt.Sprintf("write %d without quotes", v)
		}
	}
	p.add(n, path, fix, "expected a whole number, got %s", describe(n))
	return 0, false
}

func (p *parser) boolean(n *yaml.Node, path string) (bool, bool) {
	n = resolve(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!bool" {
		var b bool
		if err := n.Decode(&b); err == nil {
			return b, true
		}
	}
	p.add(n, path, "write true or false without quotes", "expected true or false, got %s", describe(n))
	return false, false
}

// fraction reads a number between 0 and 1 (an error rate).
func (p *parser) fraction(n *yaml.Node, path string) (float64, bool) {
	n = resolve(n)
	if n.Kind == yaml.ScalarNode && (n.Tag == "!!int" || n.Tag == "!!float") {
		v, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
		if err == nil && v >= 0 && v <= 1 {
			return v, true
		}
		if err == nil && v > 1 && v <= 100 {
			p.add(n, path, fmt.Sprintf("write %s (a fraction, not a percentage)", formatFloat(v/100)), "expected a number between 0 and 1, got %s", n.Value)
			return 0, false
		}
	}
	fix := "write a fraction such as 0.01 (1%)"
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		s := strings.TrimSpace(n.Value)
		if pct, ok := strings.CutSuffix(s, "%"); ok {
			if v, err := strconv.ParseFloat(strings.TrimSpace(pct), 64); err == nil && v >= 0 && v <= 100 {
				fix = "write " + formatFloat(v/100)
			}
		} else if v, err := strconv.ParseFloat(s, 64); err == nil && v >= 0 && v <= 1 {
			fix = "write " + formatFloat(v) + " without quotes"
		}
	}
	p.add(n, path, fix, "expected a number between 0 and 1, got %s", describe(n))
	return 0, false
}

func formatFloat(v float64) string {
	return strconv.FormatFloat(math.Round(v*1e9)/1e9, 'f', -1, 64)
}

// duration reads a Go duration string ("250ms", "30s", "5m").
func (p *parser) duration(n *yaml.Node, path string) (time.Duration, bool) {
	n = resolve(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		d, err := time.ParseDuration(strings.TrimSpace(n.Value))
		if err == nil && d >= 0 {
			return d, true
		}
	}
	fix := `write a duration with a unit, such as "500ms", "30s" or "5m"`
	if n.Kind == yaml.ScalarNode && (n.Tag == "!!int" || n.Tag == "!!float") {
		fix = fmt.Sprintf("write %q (seconds) or %q (milliseconds)", n.Value+"s", n.Value+"ms")
	}
	p.add(n, path, fix, "expected a duration, got %s", describe(n))
	return 0, false
}

// list calls each for every element of a sequence.
func (p *parser) list(n *yaml.Node, path string, each func(i int, el *yaml.Node, path string)) {
	n = resolve(n)
	if n.Kind != yaml.SequenceNode {
		fix := "write a list: [a, b] or one \"- item\" per line"
		if n.Kind == yaml.ScalarNode {
			fix = fmt.Sprintf("write a list: %s: [%s]", lastKey(path), n.Value)
		}
		p.add(n, path, fix, "expected a list, got %s", describe(n))
		return
	}
	for i, el := range n.Content {
		each(i, el, fmt.Sprintf("%s[%d]", path, i))
	}
}

func (p *parser) strings(n *yaml.Node, path string) []string {
	var out []string
	p.list(n, path, func(_ int, el *yaml.Node, ep string) {
		if s, ok := p.str(el, ep); ok {
			out = append(out, s)
		}
	})
	return out
}

// toValue converts a YAML node into JSON-compatible Go values (maps with
// string keys), recording the node of every JSON path in index.
func (p *parser) toValue(n *yaml.Node, path string, index map[string]*yaml.Node) (any, bool) {
	n = resolve(n)
	if index != nil {
		index[path] = n
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		ok := true
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := resolve(n.Content[i])
			if k.Kind != yaml.ScalarNode {
				p.add(k, path, "keys are plain words", "expected a key, got %s", describe(k))
				ok = false
				continue
			}
			if _, dup := m[k.Value]; dup {
				p.add(k, join(path, k.Value), "remove one of them", "repeated key")
				ok = false
				continue
			}
			v, vok := p.toValue(n.Content[i+1], join(path, k.Value), index)
			ok = ok && vok
			m[k.Value] = v
		}
		return m, ok
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		ok := true
		for i, el := range n.Content {
			v, vok := p.toValue(el, fmt.Sprintf("%s[%d]", path, i), index)
			ok = ok && vok
			out = append(out, v)
		}
		return out, ok
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			p.add(n, path, "", "unreadable value: %v", err)
			return nil, false
		}
		if f, isF := v.(float64); isF && (math.IsInf(f, 0) || math.IsNaN(f)) {
			p.add(n, path, "write a finite number", "expected a finite number, got %s", n.Value)
			return nil, false
		}
		return v, true
	}
	p.add(n, path, "", "unexpected YAML content")
	return nil, false
}
