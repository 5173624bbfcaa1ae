// Package charts holds the Helm charts Switchyard ships, embedded in the
// binary: Switchyard returns the chart of Switchyard itself (`switchyard
// serve` on Kubernetes, charts/switchyard, docs/serve-install.md). The
// directory is the chart's source: `helm install switchyard
// charts/switchyard` installs the same files this package embeds. It only
// loads the chart; installing it is the caller's (Helm's) business.
package charts

import (
	"embed"
	"fmt"
	"io/fs"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
)

// files are the charts' sources; all: keeps _helpers.tpl and .helmignore.
//
//go:embed all:switchyard
var files embed.FS

// SwitchyardDir is the directory of Switchyard's chart in this package and
// in the repository (charts/switchyard).
const SwitchyardDir = "switchyard"

// Switchyard loads Switchyard's own chart from the embedded files, as
// `helm install` loads the directory.
func Switchyard() (*chart.Chart, error) {
	var bufs []*loader.BufferedFile
	err := fs.WalkDir(files, SwitchyardDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		bufs = append(bufs, &loader.BufferedFile{Name: strings.TrimPrefix(p, SwitchyardDir+"/"), Data: data})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w", SwitchyardDir, err)
	}
	ch, err := loader.LoadFiles(bufs)
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w", SwitchyardDir, err)
	}
	return ch, nil
}
