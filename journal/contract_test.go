package journal_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/switchyard/switchyard/journal"
	"github.com/switchyard/switchyard/journal/journaltest"
)

// TestContract runs the journal contract against the bbolt journal: each
// handle reopens the same file.
func TestContract(t *testing.T) {
	journaltest.Run(t, func(t *testing.T) journaltest.Store {
		path := filepath.Join(t.TempDir(), "journal.db")
		return func(t *testing.T) journal.Journal {
			j, err := journal.Open(path, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			return j
		}
	})
}
