package migrate

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/switchyard/switchyard/journal"
)

// TestSummarize: the summary carries the weights, the pause (the
// dashboard offers resume rather than pause) and a rollback's cause.
func TestSummarize(t *testing.T) {
	for _, c := range []struct {
		name       string
		st         State
		reason     string
		wantK8s    int
		wantPaused bool
		wantReason string
	}{
		{"shifting", State{Phase: Shifting, KubePercent: 25}, "step 25%", 25, false, "step 25%"},
		{"paused", State{Phase: Shifting, KubePercent: 50, Paused: true}, "operator: pause", 50, true, "operator: pause"},
		{"rolled back", State{Phase: RolledBack, Cause: "gate maxErrorRate failed"}, "done", 0, false, "gate maxErrorRate failed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			data, err := json.Marshal(c.st)
			if err != nil {
				t.Fatal(err)
			}
			s, err := Summarize(journal.Entry{App: "web", To: string(c.st.Phase), Reason: c.reason, Seq: 7, Time: time.Unix(1, 0), State: data})
			if err != nil {
				t.Fatal(err)
			}
			if s.Kubernetes != c.wantK8s || s.Marathon != 100-c.wantK8s || s.Paused != c.wantPaused || s.Reason != c.wantReason || s.Phase != string(c.st.Phase) || s.Seq != 7 {
				t.Errorf("Summarize = %+v", s)
			}
		})
	}
}
