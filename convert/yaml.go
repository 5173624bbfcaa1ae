package convert

import (
	"bytes"
	"encoding/json"
	"fmt"

	"sigs.k8s.io/yaml"
)

// ObjectMap returns obj as a generic JSON map without the fields a
// manifest does not carry (status, creationTimestamp).
func ObjectMap(obj Object) (map[string]any, error) {
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("encode %s %s: %w", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName(), err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	delete(m, "status")
	if md, ok := m["metadata"].(map[string]any); ok {
		delete(md, "creationTimestamp")
	}
	prune(m)
	return m, nil
}

// prune removes creationTimestamp: null from nested object metadata
// (pod templates, claim templates).
func prune(v any) {
	switch x := v.(type) {
	case map[string]any:
		if ts, ok := x["creationTimestamp"]; ok && ts == nil {
			delete(x, "creationTimestamp")
		}
		if st, ok := x["status"].(map[string]any); ok && len(st) == 0 {
			delete(x, "status")
		}
		for _, e := range x {
			prune(e)
		}
	case []any:
		for _, e := range x {
			prune(e)
		}
	}
}

// YAML renders objects as a multi-document YAML stream, each document
// introduced by "---" (keys sorted: byte-identical for the same input).
func YAML(objs []Object) ([]byte, error) {
	var buf bytes.Buffer
	for _, o := range objs {
		m, err := ObjectMap(o)
		if err != nil {
			return nil, err
		}
		b, err := toYAML(m)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", o.GetName(), err)
		}
		buf.WriteString("---\n")
		buf.Write(b)
	}
	return buf.Bytes(), nil
}

// toYAML is sigs.k8s.io/yaml's Marshal (JSON, then YAML with sorted keys)
// made safe for characters YAML does not allow raw (DEL, C1 controls,
// U+FFFE/U+FFFF): they are escaped in the JSON first, which the YAML
// reader accepts and the writer then quotes.
func toYAML(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return yaml.JSONToYAML(escapeYAMLUnsafe(b))
}

// yamlUnsafe reports whether YAML forbids r raw in a document.
func yamlUnsafe(r rune) bool {
	return r == 0x7f || (r >= 0x80 && r <= 0x9f && r != 0x85) || r == 0xfffe || r == 0xffff
}

// yamlUnsafeRunes lists the runes yamlUnsafe reports.
func yamlUnsafeRunes() []rune {
	var rs []rune
	for r := rune(0x7f); r <= 0xffff; r++ {
		if yamlUnsafe(r) {
			rs = append(rs, r)
		}
	}
	return rs
}

func escapeYAMLUnsafe(b []byte) []byte {
	unsafe := yamlUnsafe
	if !bytes.ContainsFunc(b, unsafe) {
		return b
	}
	var out bytes.Buffer
	for _, r := range string(b) {
		if unsafe(r) {
			fmt.Fprintf(&out, `\u%04x`, r)
			continue
		}
		out.WriteRune(r)
	}
	return out.Bytes()
}
