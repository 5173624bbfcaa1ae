package edge

import (
	"fmt"
	"math"

	"github.com/switchyard/switchyard/appspec"
	"github.com/switchyard/switchyard/capacity"
	"github.com/switchyard/switchyard/convert"
	"github.com/switchyard/switchyard/deploy"
	"github.com/switchyard/switchyard/migrate"
)

// PlanFromSpec is the migration plan of an app.yaml: its migration gates,
// else appspec's defaults.
func PlanFromSpec(s *appspec.Spec) migrate.Plan {
	p := migrate.Plan{Steps: appspec.DefaultSteps, PausePerStep: appspec.DefaultPausePerStep, Soak: appspec.DefaultSoak, MaxErrorRate: appspec.DefaultMaxErrorRate}
	if m := s.Migration; m != nil {
		if len(m.Steps) > 0 {
			p.Steps = m.Steps
		}
		if m.PausePerStep > 0 {
			p.PausePerStep = m.PausePerStep
		}
		if m.Soak > 0 {
			p.Soak = m.Soak
		}
		if m.MaxErrorRate != nil {
			p.MaxErrorRate = *m.MaxErrorRate
		}
		p.MaxP99, p.MinRequests = m.MaxP99Latency, m.MinRequests
		if m.AutoRollback != nil && !*m.AutoRollback {
			p.ManualRollback = true
		}
	}
	return p
}

// TargetFromSpec builds what a migration of the app.yaml moves: its
// Marathon app, its route, and its Helm release: the chart converted from
// the Marathon definition (package deploy's converter, in namespace ns
// unless the app.yaml's helm.namespace names one), released as the
// app.yaml's release name. The containers get the app.yaml's resources,
// else planned (the planner's requests and limits; nil: those derived from
// the Marathon definition).
func TargetFromSpec(s *appspec.Spec, ns string, planned *appspec.Resources) (Target, error) {
	if s.Marathon == nil || s.Marathon.App == nil {
		return Target{}, fmt.Errorf("%s: marathon: the app has no Marathon definition to migrate from", s.Label())
	}
	if s.Helm.HasChart() {
		return Target{}, fmt.Errorf("%s: helm: migrating onto the app's own chart is not supported yet; remove helm.path/helm.chart to migrate onto the chart converted from its Marathon definition", s.Label())
	}
	if s.Helm != nil && s.Helm.Namespace != "" {
		ns = s.Helm.Namespace
	}
	if ns == "" {
		ns = "default"
	}
	opts := convert.Options{Namespace: ns}
	res, err := convert.App(s.Marathon.App, opts)
	if err != nil {
		return Target{}, fmt.Errorf("%s: convert the Marathon definition: %w", s.Label(), err)
	}
	spec := s
	if s.Resources == nil && planned != nil {
		cp := *s
		cp.Resources = planned
		spec = &cp
	}
	ch, _, err := deploy.ConvertChart(opts)(s.Marathon.App, spec, ns)
	if err != nil {
		return Target{}, fmt.Errorf("%s: convert the Marathon definition into a chart: %w", s.Label(), err)
	}
	t := Target{App: migrate.App{Name: s.Name, MarathonID: s.Marathon.App.ID, Route: s.Name, Plan: PlanFromSpec(s)},
		Release:   &Release{Name: s.ReleaseName(), Namespace: ns, Chart: ch},
		Namespace: ns, PathPrefix: s.RoutePath()}
	if s.Route != nil {
		t.Host = s.Route.Host
	}
	for _, rel := range res.Releases {
		if rel.Service != nil && t.Service == "" {
			t.Service = rel.Service.Name
		}
	}
	if t.Service == "" {
		return Target{}, fmt.Errorf("%s: the converted app has no Service (does the Marathon app declare a port?)", s.Label())
	}
	return t, nil
}

// PlannedResources turns the planner's per-pod requests and limits (cores,
// MiB; a zero limit means none) into container resources (nil when the
// plan sets no requests).
func PlannedResources(requests, limits capacity.Resources) *appspec.Resources {
	conv := func(r capacity.Resources) map[string]string {
		m := map[string]string{}
		if r.CPUs > 0 {
			m["cpu"] = fmt.Sprintf("%dm", int64(math.Ceil(r.CPUs*1000)))
		}
		if r.Mem > 0 {
			m["memory"] = fmt.Sprintf("%dMi", int64(math.Ceil(r.Mem)))
		}
		if r.Disk > 0 {
			m["ephemeral-storage"] = fmt.Sprintf("%dMi", int64(math.Ceil(r.Disk)))
		}
		if len(m) == 0 {
			return nil
		}
		return m
	}
	out := &appspec.Resources{Requests: conv(requests), Limits: conv(limits)}
	if out.Requests == nil {
		return nil
	}
	return out
}
