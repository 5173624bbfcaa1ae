package dashboard_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/capacity/monitor"
	"github.com/switchyard/switchyard/serve/dashboard"
)

func get(t *testing.T, h http.Handler, method, path string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec.Result()
}

// TestHandler: the page's files with their content types and the CSP on
// every answer; anything else is 404, writes are refused.
func TestHandler(t *testing.T) {
	h := dashboard.Handler()
	for _, c := range []struct {
		method, path string
		code         int
		ctype, body  string
	}{
		{"GET", "/", 200, "text/html; charset=utf-8", `<script src="app.js" defer></script>`},
		{"GET", "/index.html", 200, "text/html; charset=utf-8", `<dialog id="confirm"`},
		{"GET", "/app.js", 200, "text/javascript; charset=utf-8", `"use strict";`},
		{"GET", "/app.css", 200, "text/css; charset=utf-8", "@media (max-width: 700px)"},
		{"GET", "/favicon.svg", 200, "image/svg+xml", "<svg"},
		{"HEAD", "/app.js", 200, "text/javascript; charset=utf-8", ""},
		{"GET", "/nope", 404, "text/plain; charset=utf-8", "404"},
		{"GET", "/assets/app.js", 404, "text/plain; charset=utf-8", "404"},
		{"GET", "/app.js/", 404, "text/plain; charset=utf-8", "404"},
		{"GET", "/api/v1/nope", 404, "text/plain; charset=utf-8", "404"},
		{"POST", "/app.js", 405, "text/plain; charset=utf-8", "method not allowed"},
	} {
		t.Run(c.method+c.path, func(t *testing.T) {
			resp := get(t, h, c.method, c.path)
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != c.code || resp.Header.Get("Content-Type") != c.ctype || !strings.Contains(string(body), c.body) {
				t.Errorf("%s %s = %d %q %.80q, want %d %q containing %q", c.method, c.path, resp.StatusCode, resp.Header.Get("Content-Type"), body, c.code, c.ctype, c.body)
			}
			if got := resp.Header.Get("Content-Security-Policy"); got != dashboard.CSP {
				t.Errorf("CSP %q", got)
			}
			if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("X-Frame-Options") != "DENY" {
				t.Errorf("headers %v", resp.Header)
			}
			if c.method == "HEAD" && resp.Header.Get("Content-Length") == "0" {
				t.Errorf("HEAD without the length")
			}
		})
	}
}

// TestCSP: the policy allows this server only, and no inline script or
// style (no 'unsafe-inline', no 'unsafe-eval', no other source).
func TestCSP(t *testing.T) {
	dirs := map[string]string{}
	for _, d := range strings.Split(dashboard.CSP, ";") {
		name, val, _ := strings.Cut(strings.TrimSpace(d), " ")
		dirs[name] = val
	}
	for name, want := range map[string]string{"default-src": "'self'", "script-src": "'self'", "style-src": "'self'",
		"connect-src": "'self'", "object-src": "'none'", "frame-ancestors": "'none'", "form-action": "'none'"} {
		if dirs[name] != want {
			t.Errorf("%s = %q, want %q (CSP %s)", name, dirs[name], want, dashboard.CSP)
		}
	}
	if strings.Contains(dashboard.CSP, "unsafe") || strings.Contains(dashboard.CSP, "http") || strings.Contains(dashboard.CSP, "*") {
		t.Errorf("CSP allows too much: %s", dashboard.CSP)
	}
}

func asset(t *testing.T, path string) string {
	t.Helper()
	resp := get(t, dashboard.Handler(), "GET", path)
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%s: %d %v", path, resp.StatusCode, err)
	}
	return string(b)
}

// stripComments removes // and /* */ comments from JavaScript or CSS,
// leaving string literals alone (good enough for our own files, which
// hold no regular expression literal with quotes or slashes in a string).
func stripComments(src string) string {
	var b strings.Builder
	for i := 0; i < len(src); i++ {
		switch c := src[i]; {
		case c == '"' || c == '\'' || c == '`':
			j := i + 1
			for j < len(src) && src[j] != c {
				if src[j] == '\\' {
					j++
				}
				j++
			}
			b.WriteString(src[i:min(j+1, len(src))])
			i = j
		case strings.HasPrefix(src[i:], "//") && (i == 0 || src[i-1] != ':'):
			for i < len(src) && src[i] != '\n' {
				i++
			}
			b.WriteByte('\n')
		case strings.HasPrefix(src[i:], "/*"):
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return b.String()
			}
			i += end + 3
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func TestStripComments(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"a // http://x\nb", "a \nb"},
		{`a = "http://x"; // c`, `a = "http://x"; ` + "\n"},
		{"a /* https://x */ b", "a  b"},
		{`s = "/* not */"`, `s = "/* not */"`},
		{`s = 'it\'s // here'`, `s = 'it\'s // here'`},
	} {
		if got := stripComments(c.in); got != c.want {
			t.Errorf("stripComments(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestNoMarkupFromData: the script never parses data as markup (no
// innerHTML, outerHTML, insertAdjacentHTML, document.write, eval), and
// neither the script nor the page nor the style names any URL outside
// this server (nothing is fetched from elsewhere).
func TestNoMarkupFromData(t *testing.T) {
	js := stripComments(asset(t, "/app.js"))
	for _, bad := range []*regexp.Regexp{
		regexp.MustCompile(`\binnerHTML\b`), regexp.MustCompile(`\bouterHTML\b`), regexp.MustCompile(`insertAdjacentHTML`),
		regexp.MustCompile(`document\.write`), regexp.MustCompile(`\beval\s*\(`), regexp.MustCompile(`new\s+Function\s*\(`),
		regexp.MustCompile(`setAttribute\(\s*["']style`), regexp.MustCompile(`setAttribute\(\s*["']on`),
		regexp.MustCompile(`EventSource`), regexp.MustCompile(`localStorage`),
	} {
		if loc := bad.FindStringIndex(js); loc != nil {
			t.Errorf("app.js uses %s: %q", bad, js[max(0, loc[0]-60):min(len(js), loc[1]+60)])
		}
	}
	url := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}|https?://`)
	for path, src := range map[string]string{"/app.js": js, "/app.css": stripComments(asset(t, "/app.css")), "/": asset(t, "/")} {
		if m := url.FindString(src); m != "" {
			t.Errorf("%s names an external URL: %q", path, m)
		}
	}
	html := asset(t, "/")
	for _, bad := range []string{"<style", " style=", "<script>"} {
		if strings.Contains(strings.ToLower(html), bad) {
			t.Errorf("index.html has inline %q", bad)
		}
	}
	if regexp.MustCompile(`\son[a-z]+=`).MatchString(html) {
		t.Errorf("index.html has an inline event handler")
	}
}

// TestGuardsCatch: the guards above fail on what they look for (a guard
// that cannot fail proves nothing).
func TestGuardsCatch(t *testing.T) {
	js := stripComments("// el.innerHTML = x is forbidden\nrow.innerHTML = data.app;\nfetch(\"https://cdn.example/x.js\");")
	if !regexp.MustCompile(`\binnerHTML\b`).MatchString(js) {
		t.Error("innerHTML guard misses an assignment")
	}
	if !regexp.MustCompile(`https?://`).MatchString(js) {
		t.Error("URL guard misses a URL in code")
	}
	if regexp.MustCompile(`https?://`).MatchString(stripComments("// see https://example.org\nx = 1;")) {
		t.Error("URL guard flags a comment")
	}
}

// TestThresholds: the page raises and clears congestion alerts at the
// capacity monitor's thresholds.
func TestThresholds(t *testing.T) {
	js := asset(t, "/app.js")
	th := monitor.DefaultThresholds()
	for name, want := range map[string]float64{"RAISE": th.Raise, "CLEAR": th.Clear} {
		m := regexp.MustCompile(`const ` + name + ` = ([0-9.]+);`).FindStringSubmatch(js)
		if m == nil {
			t.Fatalf("app.js has no const %s", name)
		}
		if got, _ := strconv.ParseFloat(m[1], 64); got != want {
			t.Errorf("app.js %s = %v, capacity/monitor's is %v", name, got, want)
		}
	}
}
