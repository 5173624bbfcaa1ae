package appspec

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Load reads one app.yaml and the files it names: the Marathon JSON file
// (decoded and validated), and checks that a local chart and the values
// files exist. Every problem is reported (an ErrorList).
func Load(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, ErrorList{{File: path, Message: fmt.Sprintf("cannot read the app descriptor: %v", err), Fix: "check the path"}}
	}
	s, err := Parse(path, data)
	if err != nil {
		return nil, err
	}
	var errs ErrorList
	if m := s.Marathon; m != nil && m.Path != "" {
		file := s.Resolve(m.Path)
		b, rerr := os.ReadFile(file)
		if rerr != nil {
			errs = append(errs, &Error{File: path, Field: "marathon.path", Message: fmt.Sprintf("cannot read %s: %v", file, rerr), Fix: "give the Marathon JSON file's path relative to this app.yaml"})
		} else {
			m.JSON = b
			m.App = checkMarathonApp(b, func(jsonPath string, line, col int, msg, fix string) {
				errs = append(errs, &Error{File: file, Line: line, Column: col, Field: jsonPath, Message: msg, Fix: fix})
			})
		}
	}
	if h := s.Helm; h != nil {
		if h.Path != "" {
			if _, serr := os.Stat(s.Resolve(h.Path)); serr != nil {
				errs = append(errs, &Error{File: path, Field: "helm.path", Message: fmt.Sprintf("no chart at %s", s.Resolve(h.Path)), Fix: "give the chart directory or .tgz relative to this app.yaml"})
			}
		}
		for i, f := range h.ValuesFiles {
			if _, serr := os.Stat(s.Resolve(f)); serr != nil {
				errs = append(errs, &Error{File: path, Field: fmt.Sprintf("helm.valuesFiles[%d]", i), Message: fmt.Sprintf("no values file at %s", s.Resolve(f)), Fix: "give the file's path relative to this app.yaml"})
			}
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return s, nil
}

// Resolve returns a path named in the spec, relative to its app.yaml.
func (s *Spec) Resolve(p string) string {
	if filepath.IsAbs(p) || s.Dir == "" {
		return p
	}
	return filepath.Join(s.Dir, p)
}

// LoadPath loads one app.yaml, or every app.yaml under a directory (LoadDir).
func LoadPath(path string) ([]*Spec, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, ErrorList{{File: path, Message: fmt.Sprintf("cannot read: %v", err), Fix: "give an app.yaml or a directory holding app.yaml files"}}
	}
	if info.IsDir() {
		return LoadDir(path)
	}
	s, err := Load(path)
	if err != nil {
		return nil, err
	}
	return []*Spec{s}, nil
}

// LoadDir loads every app.yaml under dir (recursively), checks them all
// before returning any (names unique, dependencies present, no cycle), and
// returns them in deployment order: dependencies first, then higher
// priority, then by name.
func LoadDir(dir string) ([]*Spec, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != dir && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		if !d.IsDir() && d.Name() == FileName {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, ErrorList{{File: dir, Message: fmt.Sprintf("cannot read the directory: %v", err)}}
	}
	if len(files) == 0 {
		return nil, ErrorList{{File: dir, Message: "no " + FileName + " found", Fix: "write one " + FileName + " per app (in a directory per app)"}}
	}
	slices.Sort(files)
	var specs []*Spec
	var errs ErrorList
	for _, f := range files {
		s, err := Load(f)
		if err != nil {
			var l ErrorList
			if errors.As(err, &l) {
				errs = append(errs, l...)
			} else {
				errs = append(errs, &Error{File: f, Message: err.Error()})
			}
			continue
		}
		specs = append(specs, s)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return Order(specs)
}

// Order checks a set of specs (unique names, dependencies present and
// acyclic) and returns them in deployment order: every app after the apps it
// depends on; otherwise higher priority first, then by name.
func Order(specs []*Spec) ([]*Spec, error) {
	var errs ErrorList
	byName := map[string]*Spec{}
	for _, s := range specs {
		if o, dup := byName[s.Name]; dup {
			errs = append(errs, &Error{File: s.File, Field: "name", Message: fmt.Sprintf("app %q is also described in %s", s.Name, o.File), Fix: "give each app a unique name"})
			continue
		}
		byName[s.Name] = s
	}
	for _, s := range specs {
		for i, d := range s.DependsOn {
			if _, ok := byName[d]; !ok {
				errs = append(errs, &Error{File: s.File, Field: fmt.Sprintf("dependsOn[%d]", i), Message: fmt.Sprintf("no app named %q in this set", d), Fix: "deploy the directory that holds it too, or remove the dependency"})
			}
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	sorted := slices.Clone(specs)
	slices.SortStableFunc(sorted, func(a, b *Spec) int {
		if c := cmp.Compare(b.Priority, a.Priority); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	const (
		unvisited = iota
		visiting
		done
	)
	state := map[string]int{}
	var out []*Spec
	var visit func(s *Spec, chain []string) error
	visit = func(s *Spec, chain []string) error {
		switch state[s.Name] {
		case done:
			return nil
		case visiting:
			return &Error{File: s.File, Field: "dependsOn", Message: "dependency cycle: " + strings.Join(append(chain, s.Name), " -> "), Fix: "remove one of the dependencies"}
		}
		state[s.Name] = visiting
		for _, d := range s.DependsOn {
			if err := visit(byName[d], append(chain, s.Name)); err != nil {
				return err
			}
		}
		state[s.Name] = done
		out = append(out, s)
		return nil
	}
	for _, s := range sorted {
		if err := visit(s, nil); err != nil {
			return nil, ErrorList{err.(*Error)}
		}
	}
	return out, nil
}
