package convert

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// Status says how well one source field survived the conversion.
type Status string

// Statuses of report entries.
const (
	// Converted: the field has an exact Kubernetes equivalent.
	Converted Status = "converted"
	// Approximated: the field was mapped to the nearest equivalent, with
	// a difference the reason explains.
	Approximated Status = "approximated"
	// Unsupported: the field has no equivalent and is not in the output.
	Unsupported Status = "unsupported"
	// Ignored: a read-only status field of an API response (tasksRunning,
	// version...), not part of the definition.
	Ignored Status = "ignored"
)

// Entry is the fate of one source field.
type Entry struct {
	// Path is the JSON path of the field in its app, pod or group, e.g.
	// "healthChecks[0].portIndex".
	Path string `json:"path"`
	// Status is converted, approximated, unsupported or ignored.
	Status Status `json:"status"`
	// Target is the field of the output that carries it, e.g.
	// "Deployment/web: spec.template.spec.containers[0].livenessProbe".
	Target string `json:"target,omitempty"`
	// Reason explains the mapping or why there is none.
	Reason string `json:"reason,omitempty"`
	// Hint says what to do (for approximated and unsupported fields).
	Hint string `json:"hint,omitempty"`
}

// Totals count entries by status.
type Totals struct {
	Converted    int `json:"converted"`
	Approximated int `json:"approximated"`
	Unsupported  int `json:"unsupported"`
	Ignored      int `json:"ignored"`
	Total        int `json:"total"`
}

func (t *Totals) add(s Status) {
	switch s {
	case Converted:
		t.Converted++
	case Approximated:
		t.Approximated++
	case Unsupported:
		t.Unsupported++
	case Ignored:
		t.Ignored++
	}
	t.Total++
}

// Add adds other to t.
func (t *Totals) Add(o Totals) {
	t.Converted += o.Converted
	t.Approximated += o.Approximated
	t.Unsupported += o.Unsupported
	t.Ignored += o.Ignored
	t.Total += o.Total
}

// SourceReport is the report of one app, pod or group of the source.
type SourceReport struct {
	// ID is the Marathon id (absolute).
	ID string `json:"id"`
	// Kind is app, pod or group.
	Kind string `json:"kind"`
	// Path is where the source sits in its document ("" for the document
	// itself, "groups[0].apps[1]"...). Entry paths are relative to it.
	Path string `json:"path"`
	// Release is the Kubernetes name the app or pod became ("" for groups).
	Release string `json:"release,omitempty"`
	// Entries are sorted by path.
	Entries []Entry `json:"entries"`
	// Totals count the entries.
	Totals Totals `json:"totals"`
}

// Report is the fidelity report of a conversion.
type Report struct {
	// File names the source when the caller knows it.
	File string `json:"file,omitempty"`
	// Sources are in the order of the releases (groups first).
	Sources []SourceReport `json:"sources"`
	// Totals sum every source.
	Totals Totals `json:"totals"`
}

func (r *Report) add(s SourceReport) {
	sortEntries(s.Entries)
	s.Totals = Totals{}
	for _, e := range s.Entries {
		s.Totals.add(e.Status)
	}
	r.Sources = append(r.Sources, s)
	r.Totals.Add(s.Totals)
}

// Merge appends the sources of o (another file's report) to r.
func (r *Report) Merge(o *Report) {
	for _, s := range o.Sources {
		r.Sources = append(r.Sources, s)
		r.Totals.Add(s.Totals)
	}
}

func sortEntries(es []Entry) {
	sort.SliceStable(es, func(i, j int) bool { return es[i].Path < es[j].Path })
}

// WriteText writes the report for people: per source, a table of the
// entries that are not plainly converted, then the totals.
func (r *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, s := range r.Sources {
		name := s.ID
		if s.Release != "" {
			name += " -> " + s.Release
		}
		fmt.Fprintf(tw, "%s %s: %d converted, %d approximated, %d unsupported, %d ignored\n", s.Kind, name,
			s.Totals.Converted, s.Totals.Approximated, s.Totals.Unsupported, s.Totals.Ignored)
		any := false
		for _, e := range s.Entries {
			if e.Status != Approximated && e.Status != Unsupported {
				continue
			}
			if !any {
				fmt.Fprintln(tw, "  STATUS\tFIELD\tTARGET\tREASON / HINT")
				any = true
			}
			note := e.Reason
			if e.Hint != "" {
				note += "; hint: " + e.Hint
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", e.Status, e.Path, dash(e.Target), oneLine(note))
		}
	}
	fmt.Fprintf(tw, "total: %d fields: %d converted, %d approximated, %d unsupported, %d ignored\n",
		r.Totals.Total, r.Totals.Converted, r.Totals.Approximated, r.Totals.Unsupported, r.Totals.Ignored)
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }

// recorder collects the entries of one source.
type recorder struct {
	entries []Entry
}

func (r *recorder) add(path string, st Status, target, reason, hint string) {
	r.entries = append(r.entries, Entry{Path: path, Status: st, Target: target, Reason: reason, Hint: hint})
}

func (r *recorder) conv(path, target, reason string) { r.add(path, Converted, target, reason, "") }
func (r *recorder) approx(path, target, reason, hint string) {
	r.add(path, Approximated, target, reason, hint)
}
func (r *recorder) unsup(path, reason, hint string) { r.add(path, Unsupported, "", reason, hint) }
func (r *recorder) ignore(path, reason string)      { r.add(path, Ignored, "", reason, "") }
