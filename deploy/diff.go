package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/pmezard/go-difflib/difflib"

	"github.com/switchyard/switchyard/appspec"
	"github.com/switchyard/switchyard/marathon"
	"github.com/switchyard/switchyard/traffic"
)

// Change is one field that differs between what runs and what the app.yaml
// describes. Old and New are JSON ("" when absent).
type Change struct {
	Path string `json:"path"`
	Old  string `json:"old,omitempty"`
	New  string `json:"new,omitempty"`
}

// Diff is what deploying an app would change.
type Diff struct {
	// App is the app's name; Platform "marathon" or "kubernetes"; ID the
	// Marathon app id or the release (namespace/name).
	App      string `json:"app"`
	File     string `json:"file,omitempty"`
	Platform string `json:"platform"`
	ID       string `json:"id"`
	// Exists says whether the app runs there now (else it would be created).
	Exists bool `json:"exists"`
	// Changes are the field-level changes of a Marathon app.
	Changes []Change `json:"changes,omitempty"`
	// Unified is the unified diff of a release's manifests (current
	// revision against the rendered chart).
	Unified string `json:"unified,omitempty"`
}

// Empty reports whether deploying would change nothing.
func (d *Diff) Empty() bool { return d.Exists && len(d.Changes) == 0 && d.Unified == "" }

// WriteText prints the diff for people.
func (d *Diff) WriteText(w io.Writer) error {
	var b strings.Builder
	where := d.Platform + " " + d.ID
	switch {
	case d.Empty():
		fmt.Fprintf(&b, "%s: no changes (%s)\n", d.App, where)
	case !d.Exists:
		fmt.Fprintf(&b, "%s: would create %s\n", d.App, where)
	default:
		fmt.Fprintf(&b, "%s: would change %s\n", d.App, where)
	}
	for _, c := range d.Changes {
		switch {
		case c.Old == "":
			fmt.Fprintf(&b, "  + %s: %s\n", c.Path, c.New)
		case c.New == "":
			fmt.Fprintf(&b, "  - %s: %s\n", c.Path, c.Old)
		default:
			fmt.Fprintf(&b, "  ~ %s: %s -> %s\n", c.Path, c.Old, c.New)
		}
	}
	b.WriteString(d.Unified)
	_, err := io.WriteString(w, b.String())
	return err
}

// Diff shows what deploying the app would change on the platform its type
// names: for Marathon the fields of the running app that differ from the
// definition, for Helm the unified diff of the release's current manifest
// against the rendered chart. Nothing is changed.
func (d *Deployer) Diff(ctx context.Context, s *appspec.Spec) (*Diff, error) {
	var df *Diff
	var err error
	switch s.Type {
	case appspec.TypeMarathon:
		df, err = d.diffMarathon(ctx, s)
	case appspec.TypeHelm:
		df, err = d.diffHelm(ctx, s)
	default:
		err = fmt.Errorf("unknown type %q", s.Type)
	}
	if err != nil {
		return nil, appErr(s, err)
	}
	df.File = s.File
	return df, nil
}

func (d *Deployer) diffMarathon(ctx context.Context, s *appspec.Spec) (*Diff, error) {
	app, c, err := d.marathonAppAndClient(s)
	if err != nil {
		return nil, err
	}
	df := &Diff{App: s.Name, Platform: traffic.Marathon, ID: app.ID}
	cur, err := c.App(ctx, app.ID)
	var curJSON map[string]any
	switch {
	case marathon.IsNotFound(err):
		curJSON = map[string]any{}
	case err != nil:
		return nil, unreachable(c, fmt.Errorf("read app %s: %w", app.ID, err))
	default:
		df.Exists = true
		if curJSON, err = definitionJSON(cur); err != nil {
			return nil, err
		}
	}
	want, err := definitionJSON(app)
	if err != nil {
		return nil, err
	}
	df.Changes = DiffDefinitions(curJSON, want)
	return df, nil
}

// definitionJSON is an app definition as JSON data, without the read-only
// status fields and with an absolute id.
func definitionJSON(app *marathon.App) (map[string]any, error) {
	cp := *app
	cp.ID = "/" + strings.Trim(cp.ID, "/")
	cp.Version, cp.VersionInfo = nil, nil
	cp.TasksStaged, cp.TasksRunning, cp.TasksHealthy, cp.TasksUnhealthy = nil, nil, nil, nil
	cp.Deployments, cp.Tasks, cp.LastTaskFailure, cp.ReadinessCheckResults, cp.AppTaskStats = nil, nil, nil, nil, nil
	b, err := json.Marshal(&cp)
	if err != nil {
		return nil, fmt.Errorf("encode app %s: %w", app.ID, err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// keyedMaps are the fields whose keys are the user's (every key counts,
// a missing one is a removal); elsewhere a field that only the running app
// has is a default Marathon filled in and is not reported.
var keyedMaps = map[string]bool{"env": true, "labels": true, "secrets": true}

// DiffDefinitions compares a running Marathon app (cur) with the desired
// definition (want), both as JSON data, field by field. Fields want does
// not set are Marathon's defaults and are not reported, except keys of env,
// labels and secrets.
func DiffDefinitions(cur, want map[string]any) []Change {
	var out []Change
	diffValue(&out, "", cur, want, false)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func diffValue(out *[]Change, path string, cur, want any, keyed bool) {
	switch w := want.(type) {
	case map[string]any:
		c, ok := cur.(map[string]any)
		if !ok {
			break
		}
		keys := map[string]bool{}
		for k := range w {
			keys[k] = true
		}
		if keyed {
			for k := range c {
				keys[k] = true
			}
		}
		for k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			cv, inCur := c[k]
			wv, inWant := w[k]
			switch {
			case !inWant:
				*out = append(*out, Change{Path: p, Old: jsonText(cv)})
			case !inCur:
				*out = append(*out, Change{Path: p, New: jsonText(wv)})
			default:
				diffValue(out, p, cv, wv, path == "" && keyedMaps[k])
			}
		}
		return
	case []any:
		c, ok := cur.([]any)
		if !ok {
			break
		}
		for i := 0; i < max(len(c), len(w)); i++ {
			p := path + "[" + strconv.Itoa(i) + "]"
			switch {
			case i >= len(w):
				*out = append(*out, Change{Path: p, Old: jsonText(c[i])})
			case i >= len(c):
				*out = append(*out, Change{Path: p, New: jsonText(w[i])})
			default:
				diffValue(out, p, c[i], w[i], false)
			}
		}
		return
	}
	if jsonText(cur) != jsonText(want) && !assignedPort(path, cur, want) {
		*out = append(*out, Change{Path: path, Old: jsonText(cur), New: jsonText(want)})
	}
}

// assignedPort: a port 0 in the definition asks Marathon to assign one, so
// the port it assigned is no change.
func assignedPort(path string, cur, want any) bool {
	if w, ok := want.(float64); !ok || w != 0 {
		return false
	}
	if c, ok := cur.(float64); !ok || c == 0 {
		return false
	}
	return strings.HasPrefix(path, "ports[") ||
		strings.HasPrefix(path, "portDefinitions[") && strings.HasSuffix(path, "].port") ||
		strings.HasSuffix(path, ".servicePort") || strings.HasSuffix(path, ".hostPort")
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func (d *Deployer) diffHelm(ctx context.Context, s *appspec.Spec) (*Diff, error) {
	hp, err := d.renderHelm(ctx, s)
	if err != nil {
		return nil, err
	}
	df := &Diff{App: s.Name, Platform: traffic.Kubernetes, ID: hp.ID()}
	cur, from := "", "/dev/null"
	if hp.current != nil {
		df.Exists = true
		cur = hp.current.Manifest
		from = fmt.Sprintf("%s revision %d", df.ID, hp.current.Version)
	}
	df.Unified, err = UnifiedDiff(from, df.ID+" (rendered)", cur, hp.manifest)
	if err != nil {
		return nil, err
	}
	return df, nil
}

// UnifiedDiff is the unified diff (3 lines of context) of two texts, "" when equal.
func UnifiedDiff(fromName, toName, from, to string) (string, error) {
	if strings.TrimSpace(from) == strings.TrimSpace(to) {
		return "", nil
	}
	lines := func(s string) []string {
		if s = strings.TrimSpace(s); s == "" {
			return nil
		}
		return difflib.SplitLines(s + "\n")
	}
	return difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: lines(from), B: lines(to),
		FromFile: fromName, ToFile: toName, Context: 3,
	})
}
