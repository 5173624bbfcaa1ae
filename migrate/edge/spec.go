package edge

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/switchyard/switchyard/appspec"
	"github.com/switchyard/switchyard/convert"
	"github.com/switchyard/switchyard/migrate"
)

// PlanFromSpec is the migration plan of an app.yaml (its migration gates;
// defaults: steps 5, 25, 50, 100, a 10 s pause, a 30 s soak, 1% errors).
func PlanFromSpec(s *appspec.Spec) migrate.Plan {
	p := migrate.Plan{Steps: migrate.DefaultSteps, PausePerStep: 10e9, Soak: 30e9, MaxErrorRate: 0.01}
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
// Marathon app, its route, and its Kubernetes objects (the Marathon
// definition converted by package convert, in namespace ns).
func TargetFromSpec(s *appspec.Spec, ns string) (Target, error) {
	if s.Marathon == nil || s.Marathon.App == nil {
		return Target{}, fmt.Errorf("%s: marathon: the app has no Marathon definition to migrate from", s.Label())
	}
	if s.Helm != nil && s.Helm.Namespace != "" {
		ns = s.Helm.Namespace
	}
	if ns == "" {
		ns = "default"
	}
	res, err := convert.App(s.Marathon.App, convert.Options{Namespace: ns})
	if err != nil {
		return Target{}, fmt.Errorf("%s: convert the Marathon definition: %w", s.Label(), err)
	}
	t := Target{App: migrate.App{Name: s.Name, MarathonID: s.Marathon.App.ID, Route: s.Name, Plan: PlanFromSpec(s)},
		Namespace: ns, PathPrefix: s.RoutePath()}
	if s.Route != nil {
		t.Host = s.Route.Host
	}
	for _, rel := range res.Releases {
		if rel.Service != nil && t.Service == "" {
			t.Service = rel.Service.Name
		}
		for _, o := range rel.Objects() {
			m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
			if err != nil {
				return Target{}, fmt.Errorf("%s: %w", s.Label(), err)
			}
			u := &unstructured.Unstructured{Object: m}
			if u.GetKind() == "" {
				return Target{}, fmt.Errorf("%s: converted %T without kind", s.Label(), o)
			}
			delete(u.Object, "status")
			t.Objects = append(t.Objects, u)
		}
	}
	if t.Service == "" {
		return Target{}, fmt.Errorf("%s: the converted app has no Service (does the Marathon app declare a port?)", s.Label())
	}
	return t, nil
}
