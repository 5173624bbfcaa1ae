package suggest

import "testing"

func TestDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"abc", "", 3}, {"", "abc", 3}, {"kitten", "sitting", 3},
		{"instances", "instnaces", 2}, {"cpus", "cpus", 0}, {"mem", "mems", 1},
	} {
		if got := Distance(tc.a, tc.b); got != tc.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestClosest(t *testing.T) {
	for _, tc := range []struct {
		name       string
		candidates []string
		want       string
		d          int
	}{
		{"Instances", []string{"cpus", "instances", "mem"}, "instances", 0},
		{"instnaces", []string{"cpus", "instances", "mem"}, "instances", 2},
		{"ab", []string{"xy", "zw"}, "xy", 2}, // the first of equals
		{"x", nil, "", -1},
	} {
		got, d := Closest(tc.name, tc.candidates)
		if got != tc.want || d != tc.d {
			t.Errorf("Closest(%q, %v) = %q, %d; want %q, %d", tc.name, tc.candidates, got, d, tc.want, tc.d)
		}
	}
}
