package lab

import (
	"fmt"
	"strings"

	"github.com/switchyard/switchyard/lab/component"
)

// Order returns the specs in start order: every component after the ones it
// names in After, otherwise in the given order. It rejects empty or duplicate
// names, unknown dependencies and cycles.
func Order(specs []component.Spec) ([]component.Spec, error) {
	index := map[string]int{}
	for i, s := range specs {
		if s.Name == "" {
			return nil, fmt.Errorf("component #%d has no name", i+1)
		}
		if _, dup := index[s.Name]; dup {
			return nil, fmt.Errorf("component %q is defined twice", s.Name)
		}
		index[s.Name] = i
	}
	for _, s := range specs {
		for _, a := range s.After {
			if _, ok := index[a]; !ok {
				return nil, fmt.Errorf("component %q must start after %q, which is not a lab component (known: %s)", s.Name, a, strings.Join(names(specs), ", "))
			}
		}
	}
	const (
		unvisited = iota
		visiting
		done
	)
	state := make([]int, len(specs))
	var out []component.Spec
	var visit func(i int, path []string) error
	visit = func(i int, path []string) error {
		switch state[i] {
		case done:
			return nil
		case visiting:
			return fmt.Errorf("components depend on each other in a cycle: %s", strings.Join(append(path, specs[i].Name), " -> "))
		}
		state[i] = visiting
		for _, a := range specs[i].After {
			if err := visit(index[a], append(path, specs[i].Name)); err != nil {
				return err
			}
		}
		state[i] = done
		out = append(out, specs[i])
		return nil
	}
	for i := range specs {
		if err := visit(i, nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func names(specs []component.Spec) []string {
	var n []string
	for _, s := range specs {
		n = append(n, s.Name)
	}
	return n
}
