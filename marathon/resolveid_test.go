package marathon

import "testing"

func TestResolveID(t *testing.T) {
	for _, tt := range []struct{ id, base, want string }{
		{"web", "/prod", "/prod/web"},
		{"web", "/", "/web"},
		{"/abs/web", "/prod", "/abs/web"},
		{"../db", "/prod/api", "/prod/db"},
		{"./web/", "/prod/", "/prod/web"},
		{"../../..", "/a", "/"},
		{".", "/prod", "/prod"},
		{"", "/prod", ""},
	} {
		if got := ResolveID(tt.id, tt.base); got != tt.want {
			t.Errorf("ResolveID(%q, %q) = %q, want %q", tt.id, tt.base, got, tt.want)
		}
	}
}
