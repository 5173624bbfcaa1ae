package traffic

import (
	"testing"
	"time"
)

// TestSamplerKeeps: every snapshot of the last Fine, one per Coarse
// before, nothing older than Keep.
func TestSamplerKeeps(t *testing.T) {
	s := &Sampler{Keep: 10 * time.Minute, Fine: time.Minute, Coarse: 10 * time.Second}
	t0 := time.Unix(1_700_000_000, 0)
	for i := 0; i <= 20*60; i++ {
		s.add(Snapshot{Time: t0.Add(time.Duration(i) * time.Second)})
	}
	newest := t0.Add(20 * time.Minute)
	var fine, coarse int
	for i, sn := range s.snaps {
		age := newest.Sub(sn.Time)
		if age > 10*time.Minute {
			t.Fatalf("kept a snapshot %s old", age)
		}
		if age <= time.Minute {
			fine++
		} else {
			coarse++
			if i > 0 && sn.Time.Sub(s.snaps[i-1].Time) < 10*time.Second {
				t.Fatalf("snapshots %s and %s closer than Coarse", s.snaps[i-1].Time, sn.Time)
			}
		}
	}
	if fine != 61 || coarse < 50 || coarse > 56 {
		t.Fatalf("kept %d fine and %d coarse snapshots", fine, coarse)
	}
	// Out of order: inserted in place.
	s.add(Snapshot{Time: newest.Add(-500 * time.Millisecond)})
	for i := 1; i < len(s.snaps); i++ {
		if s.snaps[i].Time.Before(s.snaps[i-1].Time) {
			t.Fatal("snapshots out of order")
		}
	}
}
