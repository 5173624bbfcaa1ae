package migrate

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/journal"
)

// TestStartable: what Migrate would take as done without journaling
// anything is refused up front (serve answers it at once).
func TestStartable(t *testing.T) {
	j, err := journal.Open(filepath.Join(t.TempDir(), "j.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	for _, st := range []State{{App: "done", Phase: Finalized, KubePercent: 100}, {App: "back", Phase: RolledBack}, {App: "mid", Phase: Shifting, KubePercent: 50}} {
		data, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		if err := j.Append(context.Background(), &journal.Entry{App: st.App, To: Label(st), Event: "test", Time: time.Now(), State: data}); err != nil {
			t.Fatal(err)
		}
	}
	rb := []Event{{Kind: EvRollback}}
	tests := []struct {
		app     string
		first   []Event
		wantErr string
	}{
		{"new", nil, ""},
		{"mid", nil, ""},
		{"back", nil, ""}, // a new attempt
		{"done", nil, "done is migrated already"},
		{"done", rb, ""},
		{"mid", rb, ""},
		{"back", rb, "back is rolled back already"},
		{"new", rb, "new: no migration of this app in the journal to roll back"},
	}
	for _, tt := range tests {
		err := Startable(j, tt.app, tt.first)
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("Startable(%s, rollback %v) = %v, want %q", tt.app, tt.first != nil, err, tt.wantErr)
		}
	}
}
