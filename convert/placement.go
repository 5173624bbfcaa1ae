package convert

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"

	"github.com/switchyard/switchyard/marathon"
)

// placement collects scheduling rules from constraints, roles and the
// unreachable strategy, and applies them to a pod spec.
type placement struct {
	nodeReqs     []corev1.NodeSelectorRequirement
	antiAffinity []string // topology keys
	affinity     []string // topology keys
	spreads      []corev1.TopologySpreadConstraint
	tolerations  []corev1.Toleration
}

// topologyKey maps a Mesos attribute or field to a node label key.
func topologyKey(field string) (key string, exact bool, ok bool) {
	switch field {
	case "hostname", "@hostname":
		return corev1.LabelHostname, false, true
	case "@zone":
		return corev1.LabelTopologyZone, true, true
	case "@region":
		return corev1.LabelTopologyRegion, true, true
	}
	if len(validation.IsQualifiedName(field)) != 0 {
		return "", false, false
	}
	return field, true, true
}

var plainAlternation = regexp.MustCompile(`^\^?\(?([^()]*)\)?\$?$`)

// literals expands a regex that is a plain alternation of literals
// ("a|b", "^(a|b)$", "rack\.1") into its values; loose is true when an
// unescaped '.' was taken literally.
func literals(re string) (vals []string, loose bool, ok bool) {
	m := plainAlternation.FindStringSubmatch(re)
	if m == nil {
		return nil, false, false
	}
	for _, alt := range strings.Split(m[1], "|") {
		var b strings.Builder
		for i := 0; i < len(alt); i++ {
			ch := alt[i]
			switch {
			case ch == '\\' && i+1 < len(alt) && strings.ContainsRune(`.-_/\`, rune(alt[i+1])):
				b.WriteByte(alt[i+1])
				i++
			case ch == '.':
				loose = true
				b.WriteByte('.')
			case strings.ContainsRune(`\*+?[]{}^$|`, rune(ch)):
				return nil, false, false
			default:
				b.WriteByte(ch)
			}
		}
		if b.Len() == 0 {
			return nil, false, false
		}
		vals = append(vals, b.String())
	}
	slices.Sort(vals)
	return slices.Compact(vals), loose, true
}

// constraint converts one constraint at path.
func (pl *placement) constraint(rec *recorder, path, tgt, field, op string, value string, hasValue bool) {
	key, exact, ok := topologyKey(field)
	if !ok {
		rec.unsup(path, fmt.Sprintf("attribute %q cannot be a node label key", field), "label the nodes with a valid key and write the constraint as node affinity by hand")
		return
	}
	hostHint := ""
	if !exact {
		hostHint = "the nodes' kubernetes.io/hostname labels must be the Mesos agent hostnames"
	}
	cons := func(reason string) {
		if hostHint != "" && (op == marathon.OpCluster || op == marathon.OpLike || op == marathon.OpUnlike || op == marathon.OpIs) && hasValue {
			rec.approx(path, tgt, reason, hostHint)
			return
		}
		rec.conv(path, tgt, reason)
	}
	switch op {
	case marathon.OpUnique:
		pl.antiAffinity = append(pl.antiAffinity, key)
		cons("required pod anti-affinity on " + key + ": at most one pod per value")
	case marathon.OpCluster:
		if !hasValue || value == "" {
			pl.affinity = append(pl.affinity, key)
			cons("required pod affinity on " + key + ": all pods share one value")
			return
		}
		if !validLabelValue(value) {
			rec.unsup(path, fmt.Sprintf("%q is not a valid label value, so no node label can match it", value), "relabel the nodes with a valid value")
			return
		}
		pl.nodeReqs = append(pl.nodeReqs, corev1.NodeSelectorRequirement{Key: key, Operator: corev1.NodeSelectorOpIn, Values: []string{value}})
		cons("required node affinity " + key + " In [" + value + "]")
	case marathon.OpIs:
		if !hasValue || !validLabelValue(value) {
			rec.unsup(path, fmt.Sprintf("IS needs a value that is a valid label value, got %q", value), "")
			return
		}
		pl.nodeReqs = append(pl.nodeReqs, corev1.NodeSelectorRequirement{Key: key, Operator: corev1.NodeSelectorOpIn, Values: []string{value}})
		cons("required node affinity " + key + " In [" + value + "]")
	case marathon.OpGroupBy:
		tsc := corev1.TopologySpreadConstraint{MaxSkew: 1, TopologyKey: key, WhenUnsatisfiable: corev1.DoNotSchedule}
		reason := "topology spread on " + key + " with maxSkew 1"
		if hasValue && value != "" {
			n, err := strconv.Atoi(value)
			if err != nil || n < 1 {
				rec.unsup(path, fmt.Sprintf("GROUP_BY value %q is not a positive number", value), "")
				return
			}
			tsc.MinDomains = ptr.To(int32(n))
			reason += fmt.Sprintf(" over at least %d values (minDomains)", n)
		}
		pl.spreads = append(pl.spreads, tsc)
		cons(reason)
	case marathon.OpMaxPer:
		n, err := strconv.Atoi(value)
		if !hasValue || err != nil || n < 1 {
			rec.unsup(path, fmt.Sprintf("MAX_PER value %q is not a positive number", value), "")
			return
		}
		if n == 1 {
			pl.antiAffinity = append(pl.antiAffinity, key)
			rec.conv(path, tgt, "MAX_PER 1 is UNIQUE: required pod anti-affinity on "+key)
			return
		}
		pl.spreads = append(pl.spreads, corev1.TopologySpreadConstraint{MaxSkew: int32(n), TopologyKey: key, WhenUnsatisfiable: corev1.DoNotSchedule})
		rec.approx(path, tgt+".topologySpreadConstraints", fmt.Sprintf("topology spread on %s with maxSkew %d: bounds the difference between values, not the count per value", key, n), "for a hard cap per value there is no Kubernetes equivalent; keep replicas <= values x "+value)
	case marathon.OpLike, marathon.OpUnlike:
		if !hasValue {
			rec.unsup(path, op+" needs a regular expression", "")
			return
		}
		if value == ".*" || value == "^.*$" {
			o := corev1.NodeSelectorOpExists
			if op == marathon.OpUnlike {
				o = corev1.NodeSelectorOpDoesNotExist
			}
			pl.nodeReqs = append(pl.nodeReqs, corev1.NodeSelectorRequirement{Key: key, Operator: o})
			cons("required node affinity " + key + " " + string(o))
			return
		}
		vals, loose, ok := literals(value)
		if ok {
			for _, v := range vals {
				if !validLabelValue(v) {
					ok = false
				}
			}
		}
		if !ok {
			rec.unsup(path, fmt.Sprintf("regular expression %q is not a plain list of alternatives, and node affinity matches only exact values", value), fmt.Sprintf("label the matching nodes (e.g. %s-match=true) and select that label with node affinity", key))
			return
		}
		o := corev1.NodeSelectorOpIn
		if op == marathon.OpUnlike {
			o = corev1.NodeSelectorOpNotIn
		}
		pl.nodeReqs = append(pl.nodeReqs, corev1.NodeSelectorRequirement{Key: key, Operator: o, Values: vals})
		reason := fmt.Sprintf("required node affinity %s %s %v", key, o, vals)
		if loose {
			rec.approx(path, tgt, reason+"; '.' was read as a literal dot", "escape dots (\\.) if a literal dot was meant")
			return
		}
		cons(reason)
	default:
		rec.unsup(path, "unknown constraint operator "+op, "")
	}
}

// roles converts acceptedResourceRoles.
func (pl *placement) roles(rec *recorder, path, tgt, label string, roles []string) {
	if len(roles) == 0 {
		rec.conv(path, tgt, "no role restriction")
		return
	}
	if slices.Contains(roles, "*") {
		rec.conv(path, tgt, "\"*\" accepts any node: no node selection")
		return
	}
	var vals []string
	for _, r := range roles {
		if validLabelValue(r) {
			vals = append(vals, r)
		}
	}
	if len(vals) == 0 {
		rec.unsup(path, "no role is a valid label value", "select nodes by hand with node affinity")
		return
	}
	slices.Sort(vals)
	vals = slices.Compact(vals)
	pl.nodeReqs = append(pl.nodeReqs, corev1.NodeSelectorRequirement{Key: label, Operator: corev1.NodeSelectorOpIn, Values: vals})
	rec.approx(path, tgt+".affinity.nodeAffinity", fmt.Sprintf("Mesos roles reserve agent resources; nodes are selected by label %s In %v", label, vals), fmt.Sprintf("label the nodes that offered these roles: kubectl label node NODE %s=%s", label, vals[0]))
}

// unreachable converts an unreachableStrategy into tolerations.
func (pl *placement) unreachable(rec *recorder, path, tgt string, u *marathon.UnreachableStrategy) {
	tol := func(secs *int64) {
		for _, k := range []string{corev1.TaintNodeUnreachable, corev1.TaintNodeNotReady} {
			pl.tolerations = append(pl.tolerations, corev1.Toleration{Key: k, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: secs})
		}
	}
	if u.Disabled {
		tol(nil)
		rec.approx(path, tgt+".tolerations", "disabled: pods on an unreachable node are never replaced (they tolerate the unreachable and not-ready taints forever)", "")
		return
	}
	if u.InactiveAfterSeconds != nil {
		tol(ptr.To(*u.InactiveAfterSeconds))
		rec.conv(path+".inactiveAfterSeconds", tgt+".tolerations[].tolerationSeconds", "pods are evicted from an unreachable node and replaced after that many seconds")
	}
	if u.ExpungeAfterSeconds != nil {
		rec.approx(path+".expungeAfterSeconds", tgt+".tolerations", "Kubernetes deletes evicted pods when it replaces them; there is no separate expunge delay", "")
	}
	if u.InactiveAfterSeconds == nil && u.ExpungeAfterSeconds == nil {
		rec.conv(path, tgt, "the cluster's default eviction (300 s) applies")
	}
}

// apply writes the rules into spec, selecting the release's own pods.
func (pl *placement) apply(spec *corev1.PodSpec, selector map[string]string) {
	sel := &metav1.LabelSelector{MatchLabels: selector}
	if len(pl.nodeReqs) > 0 {
		spec.Affinity = ensureAffinity(spec.Affinity)
		spec.Affinity.NodeAffinity = &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: pl.nodeReqs}},
		}}
	}
	if len(pl.antiAffinity) > 0 {
		spec.Affinity = ensureAffinity(spec.Affinity)
		aa := &corev1.PodAntiAffinity{}
		for _, k := range uniq(pl.antiAffinity) {
			aa.RequiredDuringSchedulingIgnoredDuringExecution = append(aa.RequiredDuringSchedulingIgnoredDuringExecution, corev1.PodAffinityTerm{LabelSelector: sel, TopologyKey: k})
		}
		spec.Affinity.PodAntiAffinity = aa
	}
	if len(pl.affinity) > 0 {
		spec.Affinity = ensureAffinity(spec.Affinity)
		pa := &corev1.PodAffinity{}
		for _, k := range uniq(pl.affinity) {
			pa.RequiredDuringSchedulingIgnoredDuringExecution = append(pa.RequiredDuringSchedulingIgnoredDuringExecution, corev1.PodAffinityTerm{LabelSelector: sel, TopologyKey: k})
		}
		spec.Affinity.PodAffinity = pa
	}
	seen := map[string]bool{}
	for _, s := range pl.spreads {
		// Kubernetes refuses two spreads with the same key and
		// whenUnsatisfiable: the first one wins.
		k := s.TopologyKey + "/" + string(s.WhenUnsatisfiable)
		if seen[k] {
			continue
		}
		seen[k] = true
		s.LabelSelector = sel
		spec.TopologySpreadConstraints = append(spec.TopologySpreadConstraints, s)
	}
	spec.Tolerations = append(spec.Tolerations, pl.tolerations...)
}

func ensureAffinity(a *corev1.Affinity) *corev1.Affinity {
	if a == nil {
		return &corev1.Affinity{}
	}
	return a
}

func uniq(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}
