package cli

import (
	"fmt"
	"sort"

	"github.com/switchyard/switchyard/appspec"
	"github.com/switchyard/switchyard/plan"
)

// depthWaves is the fallback WavePlanner until package plan lands: wave 1
// holds the apps without dependencies, wave n the apps whose deepest
// dependency is in wave n-1 (no capacity or priority reasoning).
type depthWaves struct {
	waves [][]string
	err   error
}

func dependencyWaves(specs []*appspec.Spec) WavePlanner {
	ordered, err := appspec.Order(specs)
	if err != nil {
		return &depthWaves{err: err}
	}
	depth := map[string]int{}
	var waves [][]string
	for _, s := range ordered {
		d := 0
		for _, dep := range s.DependsOn {
			if depth[dep]+1 > d {
				d = depth[dep] + 1
			}
		}
		depth[s.Name] = d
		for len(waves) <= d {
			waves = append(waves, nil)
		}
		waves[d] = append(waves[d], s.Name)
	}
	for _, w := range waves {
		sort.Strings(w)
	}
	return &depthWaves{waves: waves}
}

// Wave implements WavePlanner.
func (w *depthWaves) Wave(n int) ([]string, error) {
	if w.err != nil {
		return nil, w.err
	}
	if n < 1 || n > len(w.waves) {
		return nil, fmt.Errorf("--wave %d: there are %d wave(s) (by dependsOn depth)", n, len(w.waves))
	}
	return w.waves[n-1], nil
}

// The planner's plan is a WavePlanner.
var _ WavePlanner = (*plan.Plan)(nil)
