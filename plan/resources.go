package plan

import (
	"fmt"
	"math"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// Minimum requests derived from observed usage.
const (
	MinObservedCPUs = 0.01
	MinObservedMem  = 16
)

// ParseQuantities reads app.yaml requests or limits (Kubernetes quantities
// keyed cpu, memory, ephemeral-storage) into Mesos units. field names the
// map in errors ("resources.requests").
func ParseQuantities(field string, m map[string]string) (*Partial, error) {
	if len(m) == 0 {
		return nil, nil
	}
	p := &Partial{}
	for k, v := range m {
		q, err := resource.ParseQuantity(v)
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %q is not a Kubernetes quantity (e.g. 250m, 1.5, 64Mi): %w", field, k, v, err)
		}
		if q.Sign() < 0 {
			return nil, fmt.Errorf("%s.%s: %q is negative", field, k, v)
		}
		switch k {
		case "cpu":
			f := float64(q.MilliValue()) / 1000
			p.CPUs = &f
		case "memory":
			f := q.AsApproximateFloat64() / (1 << 20)
			p.Mem = &f
		case "ephemeral-storage":
			f := q.AsApproximateFloat64() / (1 << 20)
			p.Disk = &f
		default:
			// Other resources (GPUs, hugepages) do not take part in the
			// shared-node capacity model.
		}
	}
	return p, nil
}

// Derive computes an app's per-pod requests and limits with the package's
// rule (see the package doc) and says where the requests came from.
func Derive(a App, headroom float64) (req, lim Resources, from string, warnings []string) {
	if headroom < 1 {
		headroom = 1.25
	}
	m := a.Marathon
	var srcs []string
	add := func(s string) {
		for _, x := range srcs {
			if x == s {
				return
			}
		}
		srcs = append(srcs, s)
	}
	pick := func(spec *float64, marathon, observed float64, haveObs bool, floor, ceil float64) float64 {
		switch {
		case spec != nil:
			add("app.yaml")
			return *spec
		case haveObs:
			add("observed")
			v := math.Max(observed*headroom, floor)
			if ceil > 0 {
				v = math.Min(v, ceil)
			}
			return round(v)
		default:
			add("marathon")
			return marathon
		}
	}
	var r Partial
	if a.Requests != nil {
		r = *a.Requests
	}
	obs := a.Observed
	req.CPUs = pick(r.CPUs, m.CPUs, valOr(obs, "cpus"), obs != nil, MinObservedCPUs, 0)
	req.Mem = pick(r.Mem, m.Mem, valOr(obs, "mem"), obs != nil, MinObservedMem, m.Mem)
	// Disk is not observed (sandbox size): from app.yaml or Marathon.
	req.Disk = pick(r.Disk, m.Disk, 0, false, 0, 0)
	from = strings.Join(srcs, "+")
	if obs != nil && r.CPUs == nil && obs.CPUs*headroom > m.CPUs && m.CPUs > 0 {
		warnings = append(warnings, fmt.Sprintf("app %s: observed cpu usage %s × %g is above Marathon's cpus %s; the request follows the usage", a.Name, fmtNum(obs.CPUs), headroom, fmtNum(m.CPUs)))
	}
	var l Partial
	if a.Limits != nil {
		l = *a.Limits
	}
	if l.CPUs != nil {
		lim.CPUs = *l.CPUs
	}
	lim.Mem = m.Mem
	if l.Mem != nil {
		lim.Mem = *l.Mem
	}
	lim.Disk = m.Disk
	if l.Disk != nil {
		lim.Disk = *l.Disk
	}
	// A limit below its request is invalid in Kubernetes: raise it.
	if lim.CPUs > 0 && lim.CPUs < req.CPUs {
		lim.CPUs = req.CPUs
	}
	if lim.Mem > 0 && lim.Mem < req.Mem {
		if l.Mem != nil {
			warnings = append(warnings, fmt.Sprintf("app %s: memory limit %s MiB is below the request %s MiB; raised to the request", a.Name, fmtNum(lim.Mem), fmtNum(req.Mem)))
		}
		lim.Mem = req.Mem
	}
	if lim.Disk > 0 && lim.Disk < req.Disk {
		lim.Disk = req.Disk
	}
	return req, lim, from, warnings
}

func valOr(r *Resources, name string) float64 {
	if r == nil {
		return 0
	}
	return r.Get(name)
}

// round keeps 3 decimals (millicores, KiB-ish precision of MiB).
func round(v float64) float64 { return math.Ceil(v*1000-1e-9) / 1000 }

func fmtNum(v float64) string { return fmt.Sprintf("%g", math.Round(v*1000)/1000+0) }
