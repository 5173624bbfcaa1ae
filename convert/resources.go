package convert

import (
	"fmt"
	"math"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/switchyard/switchyard/marathon"
)

func cpuQuantity(cpus float64) resource.Quantity {
	m := int64(math.Round(cpus * 1000))
	if m < 1 && cpus > 0 {
		m = 1
	}
	return *resource.NewMilliQuantity(m, resource.DecimalSI)
}

func mibQuantity(mib float64) resource.Quantity {
	b := int64(math.Round(mib * 1024 * 1024))
	if b%(1024*1024) == 0 {
		return *resource.NewQuantity(b, resource.BinarySI)
	}
	return *resource.NewQuantity(b, resource.DecimalSI)
}

func scaled(q resource.Quantity, f float64, cpu bool) resource.Quantity {
	if f == 1 {
		return q
	}
	if cpu {
		return *resource.NewMilliQuantity(int64(math.Ceil(float64(q.MilliValue())*f)), resource.DecimalSI)
	}
	return *resource.NewQuantity(int64(math.Ceil(float64(q.Value())*f)), q.Format)
}

// resourceSpec is what an app or pod container asks for.
type resourceSpec struct {
	cpus, mem, disk *float64
	gpus            *int
	limits          *marathon.ResourceLimits
}

// resources converts cpus/mem/disk/gpus with the limit policy. prefix is
// the JSON path prefix ("" for apps, "containers[0].resources." for pods).
func resources(o Options, rec *recorder, r resourceSpec, prefix, limPrefix, tgt string) corev1.ResourceRequirements {
	req := corev1.ResourceList{}
	lim := corev1.ResourceList{}
	cpus := 1.0
	if r.cpus != nil {
		cpus = *r.cpus
	}
	mem := 128.0
	if r.mem != nil {
		mem = *r.mem
	}
	factor := 1.0
	if o.Limits.Kind == LimitFactor {
		factor = o.Limits.Factor
	}
	policy := "limit policy " + o.Limits.String()
	if cpus > 0 {
		q := cpuQuantity(cpus)
		req[corev1.ResourceCPU] = q
		if o.Limits.Kind != LimitNoCPU {
			lim[corev1.ResourceCPU] = scaled(q, factor, true)
		}
	}
	if mem > 0 {
		q := mibQuantity(mem)
		req[corev1.ResourceMemory] = q
		lim[corev1.ResourceMemory] = scaled(q, factor, false)
	}
	if r.cpus != nil {
		rec.conv(prefix+"cpus", tgt+".resources.requests.cpu", policy)
	}
	if r.mem != nil {
		rec.conv(prefix+"mem", tgt+".resources.requests.memory", "MiB; "+policy)
	}
	if r.disk != nil {
		if *r.disk > 0 {
			q := mibQuantity(*r.disk)
			req[corev1.ResourceEphemeralStorage] = q
			lim[corev1.ResourceEphemeralStorage] = scaled(q, factor, false)
			rec.conv(prefix+"disk", tgt+".resources.requests.ephemeral-storage", "MiB of sandbox disk; "+policy)
		} else {
			rec.conv(prefix+"disk", tgt+".resources", "no disk asked")
		}
	}
	if r.gpus != nil {
		if *r.gpus > 0 {
			q := *resource.NewQuantity(int64(*r.gpus), resource.DecimalSI)
			req[corev1.ResourceName(o.GPUResource)] = q
			lim[corev1.ResourceName(o.GPUResource)] = q
			rec.approx(prefix+"gpus", tgt+".resources.limits."+o.GPUResource, "extended resource "+o.GPUResource+" (requests = limits)", "check the GPU device plugin's resource name")
		} else {
			rec.conv(prefix+"gpus", tgt+".resources", "no GPU asked")
		}
	}
	if l := r.limits; l != nil {
		if l.CPUs != nil {
			if l.CPUs.Unlimited {
				delete(lim, corev1.ResourceCPU)
				rec.conv(limPrefix+"resourceLimits.cpus", tgt+".resources.limits.cpu", "unlimited: no cpu limit")
			} else if l.CPUs.Value > 0 {
				lim[corev1.ResourceCPU] = cpuQuantity(l.CPUs.Value)
				rec.conv(limPrefix+"resourceLimits.cpus", tgt+".resources.limits.cpu", "")
			} else {
				rec.unsup(limPrefix+"resourceLimits.cpus", "a limit of 0 is not a limit", "")
			}
		}
		if l.Mem != nil {
			if l.Mem.Unlimited {
				delete(lim, corev1.ResourceMemory)
				rec.conv(limPrefix+"resourceLimits.mem", tgt+".resources.limits.memory", "unlimited: no memory limit")
			} else if l.Mem.Value > 0 {
				lim[corev1.ResourceMemory] = mibQuantity(l.Mem.Value)
				rec.conv(limPrefix+"resourceLimits.mem", tgt+".resources.limits.memory", "")
			} else {
				rec.unsup(limPrefix+"resourceLimits.mem", "a limit of 0 is not a limit", "")
			}
		}
	}
	// A limit below its request is invalid: raise it to the request.
	for k, l := range lim {
		if rq, ok := req[k]; ok && l.Cmp(rq) < 0 {
			lim[k] = rq
			rec.approx(limPrefix+"resourceLimits", tgt+".resources.limits."+string(k), fmt.Sprintf("limit %s is below the request %s; raised to the request", l.String(), rq.String()), "")
		}
	}
	out := corev1.ResourceRequirements{}
	if len(req) > 0 {
		out.Requests = req
	}
	if len(lim) > 0 {
		out.Limits = lim
	}
	return out
}

// executorResources reports executorResources (no executor in Kubernetes).
func executorResources(rec *recorder, path string, e *marathon.ExecutorResources) {
	if e == nil {
		return
	}
	rec.unsup(path, "Kubernetes runs no executor per task; its resources have no equivalent", "add them to the containers' requests if they mattered")
}
