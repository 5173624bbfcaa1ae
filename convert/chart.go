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
// the release (without namespace: Helm installs into the release's).
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
		subst := map[string]string{}
		if obj == rel.Workload() {
			spec := m["spec"].(map[string]any)
			spec["replicas"] = sentinel(subst, "{{ .Values.replicaCount }}", false)
			pod := spec["template"].(map[string]any)["spec"].(map[string]any)
			ctrs, _ := pod["containers"].([]any)
			for _, c := range ctrs {
				cm := c.(map[string]any)
				name := cm["name"].(string)
				ref := fmt.Sprintf("(index .Values.containers %s)", strconv.Quote(name))
				cv := map[string]any{}
				ctrValues[name] = cv
				cv["image"] = cm["image"]
				cm["image"] = sentinel(subst, "{{ "+ref+".image | quote }}", false)
				if v, ok := cm["imagePullPolicy"]; ok {
					cv["imagePullPolicy"] = v
					cm["imagePullPolicy"] = sentinel(subst, "{{ "+ref+".imagePullPolicy | quote }}", false)
				}
				for _, k := range []string{"resources", "env", "livenessProbe", "readinessProbe", "startupProbe"} {
					v, ok := cm[k]
					if !ok {
						continue
					}
					cv[k] = v
					cm[k] = sentinel(subst, "toYaml "+ref+"."+k, true)
				}
			}
		}
		b, err := toYAML(m)
		if err != nil {
			return nil, fmt.Errorf("chart %s: %w", rel.Name, err)
		}
		files = append(files, ChartFile{Name: "templates/" + strings.ToLower(kind) + ".yaml", Data: applySentinels(b, subst)})
	}
	vb, err := toYAML(values)
	if err != nil {
		return nil, fmt.Errorf("chart %s: values: %w", rel.Name, err)
	}
	head := fmt.Sprintf("# Tunables of %s, converted from Marathon %s %s.\n# replicaCount: Marathon instances; containers.NAME: image, resources (from cpus/mem/disk),\n# env (task variables and the app's env), probes (health and readiness checks).\n", rel.Name, rel.Kind, rel.ID)
	files = append([]ChartFile{{Name: "Chart.yaml", Data: chartYAML(rel)}, {Name: "values.yaml", Data: append([]byte(head), vb...)},
		{Name: ".helmignore", Data: []byte("*.orig\n*.bak\n.git/\n")}}, files...)
	return files, nil
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

// sentinel registers a template expression and returns the placeholder
// that stands for it in the marshalled YAML; block expressions replace
// the whole value with an indented block.
func sentinel(subst map[string]string, expr string, block bool) string {
	k := fmt.Sprintf("SWITCHYARDTPL%03d", len(subst))
	if block {
		expr = "\x00" + expr
	}
	subst[k] = expr
	return k
}

// applySentinels puts the template expressions in place of the placeholders.
func applySentinels(b []byte, subst map[string]string) []byte {
	if len(subst) == 0 {
		return b
	}
	lines := bytes.Split(b, []byte("\n"))
	for i, l := range lines {
		s := string(l)
		idx := strings.Index(s, "SWITCHYARDTPL")
		if idx < 0 {
			continue
		}
		key := s[idx : idx+len("SWITCHYARDTPL")+3]
		expr := subst[key]
		if strings.HasPrefix(expr, "\x00") {
			col := len(s) - len(strings.TrimLeft(s, " -"))
			lines[i] = []byte(s[:idx-1] + "\n{{- " + expr[1:] + " | nindent " + strconv.Itoa(col+2) + " }}")
			continue
		}
		lines[i] = []byte(s[:idx] + expr + s[idx+len(key):])
	}
	return bytes.Join(lines, []byte("\n"))
}
