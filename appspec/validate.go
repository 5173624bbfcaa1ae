package appspec

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/api/resource"
)

var (
	dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	hostName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	urlPath  = regexp.MustCompile(`^/[A-Za-z0-9._~/-]*$`)
	portName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
)

// MaxPriority is the highest priority.
const MaxPriority = 1000

// nodeAt finds the value node of a dotted path ("migration.steps[2]").
func nodeAt(root *yaml.Node, path string) *yaml.Node {
	n := root
	for _, part := range strings.Split(path, ".") {
		key, idx := part, -1
		if i := strings.IndexByte(part, '['); i >= 0 {
			key = part[:i]
			idx, _ = strconv.Atoi(strings.TrimSuffix(part[i+1:], "]"))
		}
		n = resolve(n)
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				next = n.Content[i+1]
			}
		}
		if next == nil {
			return nil
		}
		n = resolve(next)
		if idx >= 0 {
			if n.Kind != yaml.SequenceNode || idx >= len(n.Content) {
				return nil
			}
			n = resolve(n.Content[idx])
		}
	}
	return n
}

// validate checks the values and how the fields go together.
func (p *parser) validate(s *Spec, root *yaml.Node) {
	at := func(path string) *yaml.Node {
		for path != "" {
			if n := nodeAt(root, path); n != nil {
				return n
			}
			i := strings.LastIndexByte(path, '.')
			if i < 0 {
				break
			}
			path = path[:i]
		}
		return root
	}
	bad := func(path, fix, format string, args ...any) { p.add(at(path), path, fix, format, args...) }

	switch {
	case s.Name == "":
		bad("name", "add name: my-app (lowercase letters, digits and '-')", "missing")
	case !dnsLabel.MatchString(s.Name) || len(s.Name) > 53:
		bad("name", "use at most 53 lowercase letters, digits and '-', starting and ending with a letter or digit, e.g. "+strconv.Quote(suggestLabel(s.Name)), "%q is not a valid app name", s.Name)
	}
	if s.Priority < 0 || s.Priority > MaxPriority {
		bad("priority", fmt.Sprintf("write a whole number from 0 to %d (higher migrates first)", MaxPriority), "%d is out of range", s.Priority)
	}
	switch s.Type {
	case "":
		bad("type", "add type: marathon or type: helm", "missing")
	case TypeMarathon:
		if s.Marathon == nil {
			bad("marathon", "add marathon: with path: FILE.json or the inline app definition", "type marathon needs a Marathon definition")
		}
	case TypeHelm:
		if !s.Helm.HasChart() && s.Marathon == nil {
			bad("helm", "name a chart (helm.path, or helm.repository + helm.chart + helm.version), or give marathon: to convert the Marathon definition into a chart", "type helm needs a chart or a Marathon definition")
		}
	default:
		bad("type", "write type: marathon or type: helm", "unknown type %q", s.Type)
	}
	if h := s.Helm; h != nil {
		switch {
		case h.Path != "" && (h.Repository != "" || h.Chart != ""):
			bad("helm.path", "give either helm.path (a local chart) or helm.repository + helm.chart + helm.version", "a local chart path and a repository chart are both given")
		case h.Chart != "" && h.Repository == "" && !strings.HasPrefix(h.Chart, "oci://"):
			bad("helm.chart", "add helm.repository: https://charts.example.com (or use helm.path for a local chart)", "a chart name needs a repository")
		case h.Repository != "" && h.Chart == "":
			bad("helm.repository", "add helm.chart: NAME", "a repository needs a chart name")
		case (h.Repository != "" || h.Chart != "") && h.Version == "":
			bad("helm.version", `pin the chart version, e.g. version: "1.2.3"`, "a repository chart needs a version")
		}
		if h.Repository != "" && !strings.HasPrefix(h.Repository, "https://") && !strings.HasPrefix(h.Repository, "http://") && !strings.HasPrefix(h.Repository, "oci://") {
			bad("helm.repository", "write an https://, http:// or oci:// URL", "%q is not a chart repository URL", h.Repository)
		}
		if h.Release != "" && (!dnsLabel.MatchString(h.Release) || len(h.Release) > 53) {
			bad("helm.release", "use at most 53 lowercase letters, digits and '-'", "%q is not a valid release name", h.Release)
		}
		if h.Namespace != "" && (!dnsLabel.MatchString(h.Namespace) || len(h.Namespace) > 63) {
			bad("helm.namespace", "use at most 63 lowercase letters, digits and '-'", "%q is not a valid namespace", h.Namespace)
		}
		for i, f := range h.ValuesFiles {
			if f == "" {
				bad(fmt.Sprintf("helm.valuesFiles[%d]", i), "name a YAML file relative to this app.yaml", "empty file name")
			}
		}
	}
	if r := s.Route; r != nil {
		if r.Host != "" && (!hostName.MatchString(r.Host) || len(r.Host) > 253) {
			bad("route.host", "write a lowercase host name without scheme or port, e.g. shop.example.com", "%q is not a host name", r.Host)
		}
		if r.Path != "" && !urlPath.MatchString(r.Path) {
			bad("route.path", `write a path that starts with "/", e.g. /shop`, "%q is not a path prefix", r.Path)
		}
		if r.Port != "" {
			if n, err := strconv.Atoi(r.Port); err == nil {
				if n < 1 || n > 65535 {
					bad("route.port", "write a port from 1 to 65535 or a port name", "%d is not a port", n)
				}
			} else if !portName.MatchString(r.Port) || len(r.Port) > 15 {
				bad("route.port", "write a port name (lowercase, at most 15 characters) or a number", "%q is not a port name", r.Port)
			}
		}
	}
	if r := s.Resources; r != nil {
		parsed := map[string]map[string]resource.Quantity{}
		for _, kind := range []string{"requests", "limits"} {
			m := r.Requests
			if kind == "limits" {
				m = r.Limits
			}
			parsed[kind] = map[string]resource.Quantity{}
			for _, name := range resourceNames {
				v, ok := m[name]
				if !ok {
					continue
				}
				q, err := resource.ParseQuantity(v)
				path := "resources." + kind + "." + name
				switch {
				case err != nil:
					fix := `write a Kubernetes quantity such as "250m" or "0.5"`
					if name != "cpu" {
						fix = `write a Kubernetes quantity such as "128Mi" or "1Gi"`
						if strings.HasSuffix(strings.ToLower(v), "mb") || strings.HasSuffix(strings.ToLower(v), "gb") {
							fix = fmt.Sprintf("write %q (Kubernetes binary units: Ki, Mi, Gi)", strings.TrimSuffix(strings.TrimSuffix(v, "B"), "b")+"i")
						}
					}
					bad(path, fix, "%q is not a quantity", v)
				case q.Sign() <= 0:
					bad(path, "write a positive quantity, or leave it out", "%q must be more than 0", v)
				default:
					parsed[kind][name] = q
				}
			}
		}
		for name, lim := range parsed["limits"] {
			if req, ok := parsed["requests"][name]; ok && lim.Cmp(req) < 0 {
				bad("resources.limits."+name, fmt.Sprintf("raise the limit to at least %s or lower the request", req.String()), "limit %s is below the request %s", lim.String(), req.String())
			}
		}
	}
	seen := map[string]bool{}
	for i, d := range s.DependsOn {
		path := fmt.Sprintf("dependsOn[%d]", i)
		switch {
		case !dnsLabel.MatchString(d):
			bad(path, "name another app by its name: field", "%q is not an app name", d)
		case d == s.Name:
			bad(path, "remove it", "an app cannot depend on itself")
		case seen[d]:
			bad(path, "remove the repeated name", "%q is listed twice", d)
		}
		seen[d] = true
	}
	if m := s.Migration; m != nil {
		if m.Steps != nil {
			if len(m.Steps) == 0 {
				bad("migration.steps", "write the percentages sent to Kubernetes, e.g. [5, 25, 50, 100], or leave steps out", "empty list")
			}
			prev := 0
			for i, st := range m.Steps {
				path := fmt.Sprintf("migration.steps[%d]", i)
				switch {
				case st < 1 || st > 100:
					bad(path, "write a percentage from 1 to 100", "%d is not a percentage", st)
				case st <= prev:
					bad(path, "list the steps in increasing order, e.g. [5, 25, 50, 100]", "%d does not increase on %d", st, prev)
				}
				prev = st
			}
			if len(m.Steps) > 0 && m.Steps[len(m.Steps)-1] != 100 {
				bad("migration.steps", "end the steps with 100", "the last step is %d%%, so the migration would never finish", m.Steps[len(m.Steps)-1])
			}
		}
		if m.MinRequests < 0 {
			bad("migration.minRequests", "write 0 or more", "%d is negative", m.MinRequests)
		}
		if m.MaxP99Latency == 0 && nodeAt(root, "migration.maxP99Latency") != nil {
			bad("migration.maxP99Latency", `write a positive duration such as "250ms"`, "0 would fail every step")
		}
	}
}

// suggestLabel turns a name into a valid DNS label.
func suggestLabel(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	s := strings.Trim(b.String(), "-")
	if len(s) > 53 {
		s = strings.Trim(s[:53], "-")
	}
	if s == "" {
		s = "my-app"
	}
	return s
}
