package convert_test

import (
	"testing"

	"github.com/switchyard/switchyard/convert"
)

// TestChartLintAndRender writes the chart of every release of the corpus,
// lints it with Helm's linter and renders it with its default values: the
// rendered objects must equal the manifests output.
func TestChartLintAndRender(t *testing.T) {
	files := corpus(t)
	if testing.Short() {
		files = files[:10]
	}
	for _, f := range files {
		res := convertFile(t, f, convert.Options{})
		for _, rel := range res.Releases {
			lintChart(t, rel)
		}
		checkChartMatchesManifests(t, res)
	}
}
