package deploy

import (
	"fmt"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/switchyard/switchyard/appspec"
	"github.com/switchyard/switchyard/convert"
	"github.com/switchyard/switchyard/marathon"
)

// ConvertChart is the ChartConverter of package convert: it converts the
// app with the given options into a release and that into a chart
// (convert.Chart). The app.yaml's resources replace the requests and limits
// derived from cpus/mem/disk (in the chart's values).
func ConvertChart(opts convert.Options) ChartConverter {
	return func(app *marathon.App, s *appspec.Spec, namespace string) (*chart.Chart, string, error) {
		res, err := convert.App(app, opts)
		if err != nil {
			return nil, "", err
		}
		if len(res.Releases) != 1 {
			return nil, "", fmt.Errorf("the conversion gave %d releases, want 1", len(res.Releases))
		}
		rel := res.Releases[0]
		if s.Resources != nil {
			if pt := rel.PodTemplate(); pt != nil {
				if err := setResources(pt, s.Resources); err != nil {
					return nil, "", err
				}
			}
		}
		files, err := convert.Chart(rel)
		if err != nil {
			return nil, "", err
		}
		var bf []*loader.BufferedFile
		for _, f := range files {
			bf = append(bf, &loader.BufferedFile{Name: f.Name, Data: f.Data})
		}
		ch, err := loader.LoadFiles(bf)
		if err != nil {
			return nil, "", fmt.Errorf("the converted chart does not load: %w", err)
		}
		t := res.Report.Totals
		summary := fmt.Sprintf("%d fields converted, %d approximated, %d unsupported (see `switchyard convert` for the report)", t.Converted, t.Approximated, t.Unsupported)
		return ch, summary, nil
	}
}

// setResources replaces the requests and limits of the app's containers.
func setResources(pt *corev1.PodTemplateSpec, r *appspec.Resources) error {
	parse := func(m map[string]string) (corev1.ResourceList, error) {
		if len(m) == 0 {
			return nil, nil
		}
		out := corev1.ResourceList{}
		for k, v := range m {
			q, err := resource.ParseQuantity(v)
			if err != nil {
				return nil, fmt.Errorf("resources.%s: %w", k, err)
			}
			out[corev1.ResourceName(k)] = q
		}
		return out, nil
	}
	req, err := parse(r.Requests)
	if err != nil {
		return err
	}
	lim, err := parse(r.Limits)
	if err != nil {
		return err
	}
	for i := range pt.Spec.Containers {
		c := &pt.Spec.Containers[i]
		if req != nil {
			c.Resources.Requests = req.DeepCopy()
		}
		if lim != nil {
			c.Resources.Limits = lim.DeepCopy()
		} else if req != nil {
			// Limits derived from Marathon must not fall below the new requests.
			for k, q := range req {
				if l, ok := c.Resources.Limits[k]; ok && l.Cmp(q) < 0 {
					delete(c.Resources.Limits, k)
				}
			}
		}
	}
	return nil
}
