package redact

import (
	"net/url"
	"strings"
	"testing"
)

func TestURL(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"http://m:8080", "http://m:8080"},
		{"https://admin:hunter2@m:8443/service/marathon", "https://admin:xxxxx@m:8443/service/marathon"},
		{"http://a:hunter2@m1:8080, http://b:hunter2@m2:8080", "http://a:xxxxx@m1:8080,http://b:xxxxx@m2:8080"},
		{"http://a:hunter2@m:8080/%zz", invalid},
		{"a:hunter2@m:8080", invalid},
		{"", ""},
	} {
		if got := URL(tt.in); got != tt.want {
			t.Errorf("URL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestWebhook(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"https://hooks.example", "https://hooks.example"},
		{"https://hooks.example/", "https://hooks.example"},
		{"https://u:hunter2@hooks.example:8443/services/T0/B0/hunter2", "https://hooks.example:8443/…"},
		{"https://hooks.example/?token=hunter2", "https://hooks.example/…"},
		{"https://hooks.example/%zz/hunter2", invalid},
		{"hunter2", invalid},
	} {
		if got := Webhook(tt.in); got != tt.want {
			t.Errorf("Webhook(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCauseDropsTheURL(t *testing.T) {
	_, err := url.Parse("http://u:hunter2@m:8080/%zz")
	if got := Cause(err).Error(); strings.Contains(got, "hunter2") || !strings.Contains(got, "invalid URL escape") {
		t.Errorf("Cause = %q", got)
	}
}
