package migrate

import (
	"strings"
	"time"

	"github.com/switchyard/switchyard/journal"
)

// Summary is one app's migration as operators see it: `switchyard status`,
// serve's API and its dashboard all show these fields.
type Summary struct {
	// App is the app; Phase its phase as labelled in the journal entry's
	// To (e.g. "Shifting[25% applied]"; BasePhase is the phase alone).
	App   string `json:"app"`
	Phase string `json:"phase"`
	// Kubernetes and Marathon are the traffic percentages.
	Kubernetes int `json:"kubernetesPercent"`
	Marathon   int `json:"marathonPercent"`
	// ErrorRate, P99 and Requests are the last step's observation.
	ErrorRate float64 `json:"lastErrorRate"`
	P99       string  `json:"lastP99"`
	Requests  int     `json:"lastRequests"`
	// Seq and Time are the journal entry's.
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	// Reason explains the transition (for a rollback: its cause).
	Reason string `json:"reason,omitempty"`
	// Paused is true while the migration holds its weights for an
	// operator (resume or abort it).
	Paused bool `json:"paused,omitempty"`
}

// Summarize is the summary of a journal entry.
func Summarize(e journal.Entry) (Summary, error) {
	s, err := StateOf(e)
	if err != nil {
		return Summary{}, err
	}
	r := Summary{App: e.App, Phase: e.To, Kubernetes: s.KubePercent, Marathon: 100 - s.KubePercent, ErrorRate: s.Last.ErrorRate,
		P99: s.Last.P99.String(), Requests: s.Last.Requests, Seq: e.Seq, Time: e.Time, Reason: e.Reason, Paused: s.Paused}
	if s.Phase == RolledBack && s.Cause != "" {
		r.Reason = s.Cause
	}
	return r, nil
}

// BasePhase is the phase without the label's tags ("Shifting" of
// "Shifting[25% applied]").
func (s Summary) BasePhase() Phase {
	p, _, _ := strings.Cut(s.Phase, "[")
	return Phase(p)
}
