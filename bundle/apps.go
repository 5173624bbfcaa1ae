package bundle

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/switchyard/switchyard/appspec"
	"github.com/switchyard/switchyard/convert"
	"github.com/switchyard/switchyard/deploy"
	"github.com/switchyard/switchyard/internal/kubeclient"
)

// The files of an app in a bundle, under apps/<name>/.
const (
	appChartDir     = "chart"
	appConvertedDir = "converted-chart"
	appValues       = "values.yaml"
	appMarathon     = "marathon.json"
	checkRegistry   = "bundle.invalid:5000"
)

// appBundle is one app's files in a bundle (paths relative to
// apps/<name>/) and the images they reference, as written.
type appBundle struct {
	App
	files map[string][]byte
	// warnings are what the site must know of the app (printed by Create).
	warnings []string
}

// collectApp makes the bundle's copy of an app: app.yaml pointing at files
// next to it (marathon.json; chart/, the app's own chart, fetched when it is
// in a repository, with values.yaml, the values deploy would install it
// with; or converted-chart/, its Marathon definition converted as deploy
// does), and the image references of its Marathon definition and of its
// rendered chart. It checks that rewriting
// those references, as Install does, leaves none behind.
func collectApp(ctx context.Context, s *appspec.Spec) (*appBundle, error) {
	b := &appBundle{App: App{Name: s.Name, Type: string(s.Type)}, files: map[string][]byte{}}
	var images []string
	if s.Marathon != nil && len(s.Marathon.JSON) > 0 {
		var v any
		if err := json.Unmarshal(s.Marathon.JSON, &v); err != nil {
			return nil, fmt.Errorf("marathon definition: %w", err)
		}
		images = append(images, marathonImages(v, "")...)
		pretty, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return nil, err
		}
		b.files[appMarathon] = append(pretty, '\n')
	}
	ns := "default"
	if s.Helm != nil && s.Helm.Namespace != "" {
		ns = s.Helm.Namespace
	}
	// The app's own chart is installed from chart/ with values.yaml; a
	// Marathon definition's conversion goes to converted-chart/ for review
	// only: deploy and migrate convert marathon.json themselves, on the
	// site as anywhere (no network needed), with their own options.
	own := s.Helm.HasChart()
	if own || s.Marathon != nil && s.Marathon.App != nil {
		ch, err := appChart(s, ns)
		if err != nil {
			return nil, err
		}
		files, err := chartFiles(ch)
		if err != nil {
			return nil, fmt.Errorf("chart %s: %w", ch.Name(), err)
		}
		dir := appConvertedDir
		if own {
			dir = appChartDir
		}
		for p, data := range files {
			b.files[dir+"/"+p] = data
		}
		values, err := deploy.Values(s)
		if err != nil {
			return nil, err
		}
		if own {
			vb, err := sigsyaml.Marshal(values)
			if err != nil {
				return nil, fmt.Errorf("values: %w", err)
			}
			b.files[appValues] = vb
		}
		rendered, err := renderImages(ctx, s.ReleaseName(), ns, ch, values)
		if err != nil {
			return nil, err
		}
		if !own {
			// The converter's own images (its base image for a command
			// without a container, its fetcher) are not in marathon.json:
			// the site's conversion names them as they are.
			var extra []string
			for _, img := range uniqueSorted(rendered) {
				if !slices.Contains(images, img) {
					extra = append(extra, img)
				}
			}
			if len(extra) > 0 {
				b.warnings = append(b.warnings, fmt.Sprintf("converted, it runs %s, which the Marathon definition does not name: the bundle holds it and install pushes it, but deploy and migrate on the site name it as it is (have the site's container runtime mirror its registry from the site's), or give the app a container image or its own chart", strings.Join(extra, ", ")))
			}
		}
		images = append(images, rendered...)
	}
	appYAML, err := bundleAppYAML(s, own)
	if err != nil {
		return nil, err
	}
	b.files[appspec.FileName] = appYAML
	b.Images = uniqueSorted(images)
	if err := checkRewrite(ctx, b); err != nil {
		return nil, err
	}
	return b, nil
}

// appChart is the app's own chart (deploy.LoadChart) or its Marathon
// definition converted with the converter's defaults, as deploy does.
func appChart(s *appspec.Spec, ns string) (*chart.Chart, error) {
	if s.Helm.HasChart() {
		return deploy.LoadChart(s)
	}
	if s.Marathon == nil || s.Marathon.App == nil {
		return nil, fmt.Errorf("type helm without a chart or a Marathon definition")
	}
	ch, _, err := deploy.ConvertChart(convert.Options{})(s.Marathon.App, s, ns)
	if err != nil {
		return nil, fmt.Errorf("convert Marathon app %s into a chart: %w", s.Marathon.App.ID, err)
	}
	return ch, nil
}

// chartFiles writes the chart out (dependencies included) and reads the
// files back, by slash path inside the chart.
func chartFiles(ch *chart.Chart) (map[string][]byte, error) {
	tmp, err := os.MkdirTemp("", "switchyard-bundle-chart-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := chartutil.SaveDir(ch, tmp); err != nil {
		return nil, err
	}
	root := filepath.Join(tmp, ch.Name())
	out := map[string][]byte{}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s: not a regular file", p)
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		out[filepath.ToSlash(rel)] = data
		return err
	})
	return out, err
}

// renderImages renders the chart as deploy would (client side) and returns
// the images of every container of the rendered objects.
func renderImages(ctx context.Context, release, ns string, ch *chart.Chart, values map[string]any) ([]string, error) {
	manifest, err := deploy.Render(ctx, deploy.Release{Name: release, Namespace: ns, Chart: ch, Values: values}, nil, false)
	if err != nil {
		return nil, err
	}
	objs, err := kubeclient.DecodeObjects([]byte(manifest))
	if err != nil {
		return nil, fmt.Errorf("chart %s renders objects that cannot be read: %w", ch.Name(), err)
	}
	var out []string
	for _, o := range objs {
		out = append(out, podImages(o.Object, "")...)
	}
	return out, nil
}

// podImages finds the images of containers, initContainers and
// ephemeralContainers anywhere in an object (pod templates of every
// workload kind).
func podImages(v any, key string) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		for k, c := range v {
			out = append(out, podImages(c, k)...)
		}
	case []any:
		for _, c := range v {
			if m, ok := c.(map[string]any); ok && (key == "containers" || key == "initContainers" || key == "ephemeralContainers") {
				if img, ok := m["image"].(string); ok && img != "" {
					out = append(out, img)
				}
			}
			out = append(out, podImages(c, key)...)
		}
	}
	return out
}

// marathonImages finds the images of a Marathon app (container.docker.image)
// or pod (containers[].image.id) anywhere in a definition.
func marathonImages(v any, key string) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		if img, ok := v["image"].(string); ok && key == "docker" && img != "" {
			out = append(out, img)
		}
		if img, ok := v["image"].(map[string]any); ok {
			if id, ok := img["id"].(string); ok && id != "" {
				out = append(out, id)
			}
		}
		for k, c := range v {
			out = append(out, marathonImages(c, k)...)
		}
	case []any:
		for _, c := range v {
			out = append(out, marathonImages(c, key)...)
		}
	}
	return out
}

// bundleAppYAML is the app's app.yaml with its sources replaced by the
// bundle's files: marathon: {path: marathon.json}; with its own chart,
// helm: the chart in chart/ with values.yaml (its release and namespace
// kept). Comments and every other field stay as they were.
func bundleAppYAML(s *appspec.Spec, hasChart bool) ([]byte, error) {
	orig, err := os.ReadFile(s.File)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(orig, &doc); err != nil || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: not a YAML mapping: %v", s.File, err)
	}
	root := doc.Content[0]
	if s.Marathon != nil && len(s.Marathon.JSON) > 0 {
		setKey(root, "marathon", mapping("path", appMarathon))
	}
	if hasChart {
		h := mapping("path", appChartDir)
		h.Content = append(h.Content, scalar("valuesFiles"), &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle, Content: []*yaml.Node{scalar(appValues)}})
		if s.Helm != nil && s.Helm.Release != "" {
			h.Content = append(h.Content, scalar("release"), scalar(s.Helm.Release))
		}
		if s.Helm != nil && s.Helm.Namespace != "" {
			h.Content = append(h.Content, scalar("namespace"), scalar(s.Helm.Namespace))
		}
		setKey(root, "helm", h)
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.File, err)
	}
	return append([]byte("# Written by `switchyard bundle create` from "+filepath.Base(filepath.Dir(s.File))+"/"+appspec.FileName+": the app's sources are the files next to it.\n"), out...), nil
}

func scalar(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: v} }

func mapping(k, v string) *yaml.Node {
	return &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{scalar(k), scalar(v)}}
}

// setKey replaces the value of key in a mapping, or appends it.
func setKey(m *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = v
			return
		}
	}
	m.Content = append(m.Content, scalar(key), v)
}

// checkRewrite writes the app's files with their images rewritten to a
// placeholder registry, loads them as deploy would and checks that every
// image it renders (and every Marathon image) is a rewritten one: an image
// a chart assembles from parts (repository + tag) cannot be rewritten, and
// is refused here rather than on the site.
func checkRewrite(ctx context.Context, b *appBundle) error {
	refs := map[string]string{}
	for _, ref := range b.Images {
		refs[ref] = checkRegistry + "/checked@sha256:" + strings.Repeat("0", 64)
	}
	tmp, err := os.MkdirTemp("", "switchyard-bundle-app-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, b.Name)
	for _, p := range sortedKeys(b.files) {
		data, _ := Rewrite(b.files[p], refs)
		f := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(f, data, 0o644); err != nil {
			return err
		}
	}
	s, err := appspec.Load(filepath.Join(dir, appspec.FileName))
	if err != nil {
		return fmt.Errorf("the bundle's app.yaml does not load: %w", err)
	}
	var left []string
	if data, ok := b.files[appMarathon]; ok {
		var v any
		rewritten, _ := Rewrite(data, refs)
		if err := json.Unmarshal(rewritten, &v); err != nil {
			return fmt.Errorf("%s: %w", appMarathon, err)
		}
		for _, img := range marathonImages(v, "") {
			if !strings.HasPrefix(img, checkRegistry+"/") {
				left = append(left, img+" (in the Marathon definition)")
			}
		}
	}
	if s.Helm.HasChart() {
		ch, err := deploy.LoadChart(s)
		if err != nil {
			return err
		}
		values, err := deploy.Values(s)
		if err != nil {
			return err
		}
		ns := s.Helm.Namespace
		if ns == "" {
			ns = "default"
		}
		imgs, err := renderImages(ctx, s.ReleaseName(), ns, ch, values)
		if err != nil {
			return fmt.Errorf("the bundle's chart: %w", err)
		}
		for _, img := range imgs {
			if !strings.HasPrefix(img, checkRegistry+"/") {
				left = append(left, img+" (rendered by the chart)")
			}
		}
	}
	if len(left) > 0 {
		sort.Strings(left)
		return fmt.Errorf("image references that cannot be rewritten to the site's registry: %s; write each image as one value (e.g. image: registry/name:tag in values.yaml), not assembled from parts in a template", strings.Join(left, ", "))
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// appSources are the app's files as bundle sources under apps/<name>/.
func (b *appBundle) sources() []Source {
	var out []Source
	for _, p := range sortedKeys(b.files) {
		out = append(out, BytesSource(path.Join(dirApps, b.Name, p), b.files[p], 0o644))
	}
	return out
}

// jsonMarathonImages are the images of a Marathon definition in JSON.
func jsonMarathonImages(data []byte) ([]string, error) {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, err
	}
	return marathonImages(v, ""), nil
}
