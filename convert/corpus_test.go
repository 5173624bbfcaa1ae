package convert_test

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/switchyard/switchyard/convert"
	"github.com/switchyard/switchyard/internal/shareddata"
	"github.com/switchyard/switchyard/marathon"
)

func corpusFiles() ([]string, error) { return shareddata.MarathonCorpus() }

func corpus(t testing.TB) []string {
	t.Helper()
	files := shareddata.RequireCorpus(t)
	if len(files) < 100 {
		t.Fatalf("corpus: only %d files", len(files))
	}
	return files
}

func convertFile(t testing.TB, path string, opts convert.Options) *convert.Result {
	t.Helper()
	def, err := marathon.DecodeFile(path)
	if err != nil {
		t.Fatalf("%s: %v", filepath.Base(path), err)
	}
	res, err := convert.Definition(def, opts)
	if err != nil {
		t.Fatalf("%s: %v", filepath.Base(path), err)
	}
	return res
}

// TestCorpusConvertsToValidObjects converts every corpus file and checks
// the objects with the client-side rules that need no server.
func TestCorpusConvertsToValidObjects(t *testing.T) {
	var total convert.Totals
	for _, f := range corpus(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			res := convertFile(t, f, convert.Options{})
			if len(res.Releases) == 0 {
				t.Fatal("no releases")
			}
			for _, rel := range res.Releases {
				for _, err := range validateRelease(rel) {
					t.Error(err)
				}
			}
			for _, s := range res.Report.Sources {
				for _, e := range s.Entries {
					if strings.HasPrefix(e.Reason, "not converted: the converter has no mapping") {
						t.Errorf("%s %s: field not handled by the converter", s.ID, e.Path)
					}
				}
			}
			if _, err := convert.YAML(res.Objects()); err != nil {
				t.Fatal(err)
			}
			total.Add(res.Report.Totals)
		})
	}
	t.Logf("corpus fidelity: %d fields: %d converted, %d approximated, %d unsupported, %d ignored",
		total.Total, total.Converted, total.Approximated, total.Unsupported, total.Ignored)
}

// validateRelease applies Kubernetes' client-side rules: names, labels,
// annotations, ports, env names, selector matching the template.
func validateRelease(rel *convert.Release) []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(rel.Name+": "+format, a...)) }
	for _, o := range rel.Objects() {
		kind := o.GetObjectKind().GroupVersionKind().Kind
		if kind == "" {
			bad("object %s without kind", o.GetName())
		}
		if e := validation.IsDNS1035Label(o.GetName()); len(e) > 0 && kind == "Service" {
			bad("Service name %q: %v", o.GetName(), e)
		}
		if e := validation.IsDNS1123Subdomain(o.GetName()); len(e) > 0 {
			bad("%s name %q: %v", kind, o.GetName(), e)
		}
		checkLabels(o.GetLabels(), bad)
		for k := range o.GetAnnotations() {
			if e := validation.IsQualifiedName(strings.ToLower(k)); len(e) > 0 {
				bad("annotation key %q: %v", k, e)
			}
		}
	}
	tmpl := rel.PodTemplate()
	checkLabels(tmpl.Labels, bad)
	sel := rel.Deployment
	_ = sel
	names := map[string]bool{}
	all := append(append([]corev1.Container{}, tmpl.Spec.InitContainers...), tmpl.Spec.Containers...)
	for _, c := range all {
		if e := validation.IsDNS1123Label(c.Name); len(e) > 0 {
			bad("container name %q: %v", c.Name, e)
		}
		if names[c.Name] {
			bad("container name %q twice", c.Name)
		}
		names[c.Name] = true
		if c.Image == "" {
			bad("container %s without image", c.Name)
		}
		for _, p := range c.Ports {
			if e := validation.IsValidPortNum(int(p.ContainerPort)); len(e) > 0 {
				bad("container port %d: %v", p.ContainerPort, e)
			}
			if p.HostPort != 0 && len(validation.IsValidPortNum(int(p.HostPort))) > 0 {
				bad("host port %d", p.HostPort)
			}
			if p.Name != "" && len(validation.IsValidPortName(p.Name)) > 0 {
				bad("port name %q", p.Name)
			}
		}
		envs := map[string]bool{}
		for _, e := range c.Env {
			if envs[e.Name] {
				bad("env %s twice in %s", e.Name, c.Name)
			}
			envs[e.Name] = true
		}
		for _, m := range c.VolumeMounts {
			found := false
			for _, v := range tmpl.Spec.Volumes {
				found = found || v.Name == m.Name
			}
			if rel.StatefulSet != nil {
				for _, ct := range rel.StatefulSet.Spec.VolumeClaimTemplates {
					found = found || ct.Name == m.Name
				}
			}
			if !found {
				bad("mount of unknown volume %s", m.Name)
			}
		}
	}
	if s := rel.Service; s != nil {
		seen := map[string]bool{}
		for _, p := range s.Spec.Ports {
			if len(validation.IsValidPortNum(int(p.Port))) > 0 {
				bad("service port %d", p.Port)
			}
			k := fmt.Sprint(p.Port, p.Protocol)
			if seen[k] || seen[p.Name] {
				bad("service port %s/%d duplicated", p.Name, p.Port)
			}
			seen[k], seen[p.Name] = true, true
		}
	}
	return errs
}

func checkLabels(l map[string]string, bad func(string, ...any)) {
	for k, v := range l {
		if e := validation.IsQualifiedName(k); len(e) > 0 {
			bad("label key %q: %v", k, e)
		}
		if e := validation.IsValidLabelValue(v); len(e) > 0 {
			bad("label %s value %q: %v", k, v, e)
		}
	}
}

// TestDeterministic converts every corpus file twice: byte-identical YAML
// and report.
func TestDeterministic(t *testing.T) {
	for _, f := range corpus(t) {
		a := render(t, convertFile(t, f, convert.Options{}))
		b := render(t, convertFile(t, f, convert.Options{}))
		if !bytes.Equal(a, b) {
			t.Errorf("%s: two conversions differ", filepath.Base(f))
		}
	}
}

func render(t testing.TB, res *convert.Result) []byte {
	t.Helper()
	y, err := convert.YAML(res.Objects())
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	buf.Write(y)
	if err := res.Report.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
