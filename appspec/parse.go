package appspec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/switchyard/switchyard/marathon"
)

// Parse reads one app.yaml from data. file names it in errors and its
// directory is Spec.Dir (relative paths in the spec are resolved against it).
// An inline Marathon definition is decoded and validated; a Marathon file
// (marathon.path) is not read: Load does that. Errors are an ErrorList.
func Parse(file string, data []byte) (*Spec, error) {
	p := &parser{file: file}
	root, err := parseDocument(file, data)
	if err != nil {
		return nil, err
	}
	s := &Spec{File: file, Dir: filepath.Dir(file)}
	p.spec(root, s)
	if len(p.errs) == 0 {
		p.validate(s, root)
	}
	if err := p.errs.err(); err != nil {
		return nil, err
	}
	return s, nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseDocument decodes exactly one YAML document into a node.
func parseDocument(file string, data []byte) (*yaml.Node, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, ErrorList{{File: file, Line: 1, Message: "the file is empty", Fix: "write at least name:, type: and marathon: or helm:"}}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		e := &Error{File: file, Message: "invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: "), Fix: "check the indentation and quoting around that line"}
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			e.Line, _ = strconv.Atoi(m[1])
			e.Message = "invalid YAML: " + m[2]
		}
		return nil, ErrorList{e}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, ErrorList{{File: file, Line: extra.Line, Message: "a second YAML document (---)", Fix: "write one app per app.yaml; put other apps in their own directory"}}
	} else if !errors.Is(err, io.EOF) {
		return nil, ErrorList{{File: file, Message: "invalid YAML after the first document: " + err.Error()}}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return nil, ErrorList{{File: file, Line: root.Line, Message: "expected a mapping of fields (name:, type:...), got " + describe(root)}}
	}
	return root, nil
}

func (p *parser) spec(root *yaml.Node, s *Spec) {
	p.mapping(root, "", []field{
		{"name", func(n *yaml.Node, path string) { s.Name, _ = p.str(n, path) }},
		{"owner", func(n *yaml.Node, path string) { s.Owner, _ = p.str(n, path) }},
		{"priority", func(n *yaml.Node, path string) { s.Priority, _ = p.integer(n, path) }},
		{"type", func(n *yaml.Node, path string) {
			v, ok := p.str(n, path)
			if ok {
				s.Type = Type(v)
			}
		}},
		{"marathon", func(n *yaml.Node, path string) { s.Marathon = p.marathon(n, path) }},
		{"helm", func(n *yaml.Node, path string) { s.Helm = p.helm(n, path) }},
		{"route", func(n *yaml.Node, path string) { s.Route = p.route(n, path) }},
		{"resources", func(n *yaml.Node, path string) { s.Resources = p.resources(n, path) }},
		{"dependsOn", func(n *yaml.Node, path string) { s.DependsOn = p.strings(n, path) }},
		{"migration", func(n *yaml.Node, path string) { s.Migration = p.migration(n, path) }},
	})
}

// marathon reads either {path: FILE} or an inline app definition.
func (p *parser) marathon(n *yaml.Node, path string) *MarathonSource {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		p.add(n, path, "write path: FILE.json, or the app definition (id:, instances:...) indented under marathon:", "expected a mapping, got %s", describe(n))
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "path" {
			src := &MarathonSource{}
			p.mapping(n, path, []field{{"path", func(v *yaml.Node, fp string) { src.Path, _ = p.str(v, fp) }}})
			if src.Path == "" && len(p.errs) == 0 {
				p.add(n.Content[i+1], join(path, "path"), "name the Marathon JSON file, relative to this app.yaml", "empty path")
			}
			return src
		}
	}
	index := map[string]*yaml.Node{}
	v, ok := p.toValue(n, "", index)
	if !ok {
		return nil
	}
	data, err := json.Marshal(v)
	if err != nil {
		p.add(n, path, "", "cannot convert the inline definition to JSON: %v", err)
		return nil
	}
	app := checkMarathonApp(data, func(jsonPath string, _, _ int, msg, fix string) {
		node := nearest(index, jsonPath)
		p.add(node, join(path, jsonPath), fix, "%s", msg)
	})
	if app == nil {
		return nil
	}
	return &MarathonSource{JSON: data, App: app}
}

// nearest finds the node of a JSON path or of its closest parent.
func nearest(index map[string]*yaml.Node, path string) *yaml.Node {
	for {
		if n, ok := index[path]; ok {
			return n
		}
		if path == "" {
			return nil
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			path = ""
		} else {
			path = path[:i]
		}
	}
}

// checkMarathonApp decodes and validates one Marathon app definition (JSON),
// reporting every error, unknown field included, through report.
// report gets the JSON path, the line and column in data, the message and a fix.
func checkMarathonApp(data []byte, report func(jsonPath string, line, col int, msg, fix string)) *marathon.App {
	def, err := marathon.Decode(data)
	if err != nil {
		var de *marathon.DecodeError
		if errors.As(err, &de) {
			for _, fe := range de.Errors {
				report(fe.Path, fe.Line, fe.Column, fe.Message, "")
			}
		} else {
			report("", 0, 0, err.Error(), "")
		}
		return nil
	}
	if def.Kind != marathon.KindApp || def.App == nil {
		report("", 1, 1, fmt.Sprintf("expected one Marathon app definition, got a %s", def.Kind), "describe one app per app.yaml (groups and pods: one app.yaml per app)")
		return nil
	}
	bad := false
	for _, is := range marathon.Validate(def) {
		if is.Severity == marathon.SeverityError || is.Category == marathon.CategoryUnknown {
			msg := is.Message
			if is.Category == marathon.CategoryUnknown && !strings.Contains(msg, "unknown") {
				msg = "unknown field: " + msg
			}
			report(is.Path, is.Line, is.Column, msg, is.Hint)
			bad = true
		}
	}
	if bad {
		return nil
	}
	return def.App
}

func (p *parser) helm(n *yaml.Node, path string) *HelmSource {
	h := &HelmSource{}
	ok := p.mapping(n, path, []field{
		{"path", func(n *yaml.Node, path string) { h.Path, _ = p.str(n, path) }},
		{"repository", func(n *yaml.Node, path string) { h.Repository, _ = p.str(n, path) }},
		{"chart", func(n *yaml.Node, path string) { h.Chart, _ = p.str(n, path) }},
		{"version", func(n *yaml.Node, path string) { h.Version, _ = p.str(n, path) }},
		{"values", func(n *yaml.Node, path string) {
			n = resolve(n)
			if n.Kind != yaml.MappingNode {
				p.add(n, path, "indent the chart's values under values:", "expected a mapping, got %s", describe(n))
				return
			}
			if v, ok := p.toValue(n, path, nil); ok {
				h.Values = v.(map[string]any)
			}
		}},
		{"valuesFiles", func(n *yaml.Node, path string) { h.ValuesFiles = p.strings(n, path) }},
		{"release", func(n *yaml.Node, path string) { h.Release, _ = p.str(n, path) }},
		{"namespace", func(n *yaml.Node, path string) { h.Namespace, _ = p.str(n, path) }},
	})
	if !ok {
		return nil
	}
	return h
}

func (p *parser) route(n *yaml.Node, path string) *Route {
	r := &Route{}
	ok := p.mapping(n, path, []field{
		{"host", func(n *yaml.Node, path string) { r.Host, _ = p.str(n, path) }},
		{"path", func(n *yaml.Node, path string) { r.Path, _ = p.str(n, path) }},
		{"port", func(n *yaml.Node, path string) {
			n = resolve(n)
			if n.Kind == yaml.ScalarNode && (n.Tag == "!!int" || n.Tag == "!!str") {
				r.Port = n.Value
				return
			}
			p.add(n, path, "write a port name (http) or a container port number (8080)", "expected a port name or number, got %s", describe(n))
		}},
	})
	if !ok {
		return nil
	}
	return r
}

func (p *parser) resources(n *yaml.Node, path string) *Resources {
	r := &Resources{}
	quantities := func(n *yaml.Node, path string) map[string]string {
		out := map[string]string{}
		var fields []field
		for _, name := range resourceNames {
			fields = append(fields, field{name, func(n *yaml.Node, path string) {
				n = resolve(n)
				if n.Kind == yaml.ScalarNode && (n.Tag == "!!str" || n.Tag == "!!int" || n.Tag == "!!float") {
					out[name] = n.Value
					return
				}
				p.add(n, path, `write a Kubernetes quantity such as "250m", "1" or "128Mi"`, "expected a quantity, got %s", describe(n))
			}})
		}
		p.mapping(n, path, fields)
		return out
	}
	ok := p.mapping(n, path, []field{
		{"requests", func(n *yaml.Node, path string) { r.Requests = quantities(n, path) }},
		{"limits", func(n *yaml.Node, path string) { r.Limits = quantities(n, path) }},
	})
	if !ok {
		return nil
	}
	return r
}

// resourceNames are the resources app.yaml sets.
var resourceNames = []string{"cpu", "memory", "ephemeral-storage"}

func (p *parser) migration(n *yaml.Node, path string) *Migration {
	m := &Migration{}
	ok := p.mapping(n, path, []field{
		{"maxErrorRate", func(n *yaml.Node, path string) {
			if v, ok := p.fraction(n, path); ok {
				m.MaxErrorRate = &v
			}
		}},
		{"maxP99Latency", func(n *yaml.Node, path string) { m.MaxP99Latency, _ = p.duration(n, path) }},
		{"steps", func(n *yaml.Node, path string) {
			m.Steps = []int{}
			p.list(n, path, func(_ int, el *yaml.Node, ep string) {
				if v, ok := p.integer(el, ep); ok {
					m.Steps = append(m.Steps, v)
				}
			})
		}},
		{"pausePerStep", func(n *yaml.Node, path string) { m.PausePerStep, _ = p.duration(n, path) }},
		{"soak", func(n *yaml.Node, path string) { m.Soak, _ = p.duration(n, path) }},
		{"minRequests", func(n *yaml.Node, path string) { m.MinRequests, _ = p.integer(n, path) }},
		{"autoRollback", func(n *yaml.Node, path string) {
			if v, ok := p.boolean(n, path); ok {
				m.AutoRollback = &v
			}
		}},
	})
	if !ok {
		return nil
	}
	return m
}
