package convert

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// ChartFile is one file of a generated Helm chart, with its path relative
// to the chart directory (slash-separated).
type ChartFile struct {
	Name string
	Data []byte
}

// Chart renders a release as a Helm chart (in memory): Chart.yaml,
// values.yaml with the tunables (replicaCount; per container image,
// imagePullPolicy, resources, env and probes) and templates that read them.
// Rendered with its default values, the chart gives exactly the objects of
// the release (without namespace: Helm installs into the release's),
// whatever their strings hold: template text is escaped, so user data
// (labels, env, args, cmd, paths) never runs as a template.
func Chart(rel *Release) ([]ChartFile, error) {
	tmpl := rel.PodTemplate()
	if tmpl == nil {
		return nil, fmt.Errorf("chart %s: no workload", rel.Name)
	}
	values := map[string]any{"replicaCount": replicasOf(rel)}
	ctrValues := map[string]any{}
	values["containers"] = ctrValues

	var files []ChartFile
	for _, obj := range rel.Objects() {
		m, err := ObjectMap(obj)
		if err != nil {
			return nil, err
		}
		if md, ok := m["metadata"].(map[string]any); ok {
			delete(md, "namespace")
		}
		kind := obj.GetObjectKind().GroupVersionKind().Kind
		plain, err := toYAML(m)
		if err != nil {
			return nil, fmt.Errorf("chart %s: %s: %w", rel.Name, kind, err)
		}
		subst := newPlaceholders(plain)
		if obj == rel.Workload() {
			spec := m["spec"].(map[string]any)
			spec["replicas"] = subst.add(".Values.replicaCount", false)
			pod := spec["template"].(map[string]any)["spec"].(map[string]any)
			ctrs, _ := pod["containers"].([]any)
			for _, c := range ctrs {
				cm := c.(map[string]any)
				name := cm["name"].(string)
				ref := fmt.Sprintf("(index .Values.containers %s)", strconv.Quote(name))
				cv := map[string]any{}
				ctrValues[name] = cv
				cv["image"] = cm["image"]
				cm["image"] = subst.add(ref+".image | quote", false)
				if v, ok := cm["imagePullPolicy"]; ok {
					cv["imagePullPolicy"] = v
					cm["imagePullPolicy"] = subst.add(ref+".imagePullPolicy | quote", false)
				}
				for _, k := range []string{"resources", "env", "livenessProbe", "readinessProbe", "startupProbe"} {
					v, ok := cm[k]
					if !ok {
						continue
					}
					cv[k] = v
					cm[k] = subst.add("include \"switchyard.toYaml\" "+ref+"."+k, true)
				}
			}
		}
		b, err := toYAML(m)
		if err != nil {
			return nil, fmt.Errorf("chart %s: %s: %w", rel.Name, kind, err)
		}
		files = append(files, ChartFile{Name: "templates/" + strings.ToLower(kind) + ".yaml", Data: subst.template(b)})
	}
	vb, err := toYAML(values)
	if err != nil {
		return nil, fmt.Errorf("chart %s: values: %w", rel.Name, err)
	}
	head := fmt.Sprintf("# Tunables of %s, converted from Marathon %s %s.\n# replicaCount: Marathon instances; containers.NAME: image, resources (from cpus/mem/disk),\n# env (task variables and the app's env), probes (health and readiness checks).\n", rel.Name, rel.Kind, rel.ID)
	files = append([]ChartFile{{Name: "Chart.yaml", Data: chartYAML(rel)}, {Name: "values.yaml", Data: append([]byte(head), vb...)},
		{Name: ".helmignore", Data: []byte("*.orig\n*.bak\n.git/\n")}, {Name: "templates/_helpers.tpl", Data: helpersTPL()}}, files...)
	return files, nil
}

// helpersTPL returns the chart's named templates. switchyard.toYaml writes
// a value as YAML (in JSON form) that YAML readers accept whatever its
// strings contain: Helm's toYaml and toJson write DEL, C1 controls and
// U+FFFE/U+FFFF raw, which YAML forbids, so they are escaped as \uXXXX.
func helpersTPL() []byte {
	var b strings.Builder
	b.WriteString("{{/* switchyard.toYaml: a value as YAML readers accept it (JSON, with the characters YAML forbids raw escaped). */}}\n")
	b.WriteString(`{{- define "switchyard.toYaml" -}}` + "\n{{- toJson .")
	for _, r := range yamlUnsafeRunes() {
		fmt.Fprintf(&b, ` | replace "\u%04x" "\\u%04x"`, r, r)
	}
	b.WriteString(" -}}\n{{- end -}}\n")
	return []byte(b.String())
}

func replicasOf(rel *Release) int32 {
	if rel.Deployment != nil && rel.Deployment.Spec.Replicas != nil {
		return *rel.Deployment.Spec.Replicas
	}
	if rel.StatefulSet != nil && rel.StatefulSet.Spec.Replicas != nil {
		return *rel.StatefulSet.Spec.Replicas
	}
	return 1
}

func chartYAML(rel *Release) []byte {
	appVersion := "1"
	if t := rel.PodTemplate(); t != nil && len(t.Spec.Containers) > 0 {
		img := t.Spec.Containers[0].Image
		if i := strings.LastIndex(img, ":"); i > strings.LastIndex(img, "/") && i >= 0 {
			appVersion = img[i+1:]
		}
	}
	ann := map[string]string{AnnotationMarathonID: rel.ID}
	if len(rel.DependsOn) > 0 {
		ann[AnnotationDependsOn] = strings.Join(rel.DependsOn, ",")
	}
	c := map[string]any{
		"apiVersion":  "v2",
		"name":        rel.Name,
		"description": fmt.Sprintf("%s, converted from Marathon %s %s by switchyard", rel.Name, rel.Kind, rel.ID),
		"type":        "application",
		"version":     "0.1.0",
		"appVersion":  appVersion,
		"annotations": ann,
	}
	b, _ := toYAML(c)
	return b
}

// placeholders stands template expressions in for values of an object
// while it is marshalled to YAML, then turns the YAML into a template.
// The placeholder prefix is chosen so that it occurs nowhere in the
// object's YAML without placeholders: user data can never be taken for a
// placeholder, and every occurrence in the marshalled YAML is one.
type placeholders struct {
	prefix string
	exprs  []placeholder
}

type placeholder struct {
	expr  string
	block bool // replaces the whole value with an indented block
}

// newPlaceholders returns placeholders whose prefix does not occur in plain.
func newPlaceholders(plain []byte) *placeholders {
	prefix := "SWITCHYARDTPL"
	for n := 0; bytes.Contains(plain, []byte(prefix)); n++ {
		prefix = "SWITCHYARDTPL" + strconv.Itoa(n) + "X"
	}
	return &placeholders{prefix: prefix}
}

// add registers a template expression and returns the placeholder that
// stands for it in the marshalled YAML; a block expression replaces the
// whole value with an indented block (toYaml ... | nindent).
func (p *placeholders) add(expr string, block bool) string {
	p.exprs = append(p.exprs, placeholder{expr: expr, block: block})
	return p.prefix + strconv.Itoa(len(p.exprs)-1) + "Z"
}

// template returns b as the text of a Helm template: the placeholders
// become their expressions and everything else is escaped so that the
// template engine outputs it literally, whatever it contains.
func (p *placeholders) template(b []byte) []byte {
	lines := strings.Split(string(b), "\n")
	for i, s := range lines {
		idx := strings.Index(s, p.prefix)
		if idx < 0 {
			lines[i] = escapeTemplateText(s)
			continue
		}
		rest := s[idx+len(p.prefix):]
		end := strings.IndexByte(rest, 'Z')
		n, err := strconv.Atoi(rest[:max(end, 0)])
		if end < 0 || err != nil || n < 0 || n >= len(p.exprs) {
			// Unreachable: the prefix occurs only in placeholders.
			panic(fmt.Sprintf("convert: malformed chart placeholder in %q", s))
		}
		ph := p.exprs[n]
		if ph.block {
			col := len(s) - len(strings.TrimLeft(s, " -"))
			lines[i] = escapeTemplateText(strings.TrimRight(s[:idx], " ")) + "\n{{- " + ph.expr + " | nindent " + strconv.Itoa(col+2) + " }}"
			continue
		}
		lines[i] = escapeTemplateText(s[:idx]) + "{{ " + ph.expr + " }}" + escapeTemplateText(rest[end+1:])
	}
	return []byte(strings.Join(lines, "\n"))
}

// escapeTemplateText returns s as template text that Go's template engine
// (Helm's) outputs unchanged: every "{{" becomes the action {{"{{"}}, and a
// trailing "{", which would join the delimiter of a following action,
// becomes {{"{"}}.
func escapeTemplateText(s string) string {
	if !strings.Contains(s, "{") {
		return s
	}
	s = strings.ReplaceAll(s, "{{", `{{"{{"}}`)
	if strings.HasSuffix(s, "{") {
		s = s[:len(s)-1] + `{{"{"}}`
	}
	return s
}
