package journal

import (
	"bytes"
	"math/rand"
	"os"
	"testing"
	"time"
)

// TestRandomDamageNeverCrashes flips random bytes anywhere in a journal:
// opening and reading it either works or fails with an error; it never
// panics or faults, and a journal it refuses is never written.
func TestRandomDamageNeverCrashes(t *testing.T) {
	n := 300
	if testing.Short() {
		n = 50
	}
	clean, err := os.ReadFile(written(t))
	must(t, err)
	path := t.TempDir() + "/journal.db"
	for seed := int64(0); seed < int64(n); seed++ {
		r := rand.New(rand.NewSource(seed))
		data := bytes.Clone(clean)
		for i := 0; i < 1+r.Intn(8); i++ {
			if seed%2 == 0 { // single bytes
				data[r.Intn(len(data))] = byte(r.Intn(256))
			} else { // runs of up to 64 bytes
				at := r.Intn(len(data))
				r.Read(data[at:min(len(data), at+1+r.Intn(64))])
			}
		}
		for _, open := range []func(string, time.Duration) (*Bolt, error){OpenReadOnly, Open} {
			must(t, os.WriteFile(path, data, 0o600))
			j, err := open(path, time.Second)
			if err == nil {
				_, _ = j.LoadAll()
				_, _ = j.Load("app-a")
				j.Close()
				continue
			}
			// A journal refused is never written.
			if got, _ := os.ReadFile(path); !bytes.Equal(got, data) {
				t.Fatalf("seed %d: a refused journal was modified (%v)", seed, err)
			}
		}
	}
}
