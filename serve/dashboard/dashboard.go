// Package dashboard is the web page of `switchyard serve`: the two
// platforms side by side while a migration runs (each node's split, every
// app's phase and traffic weights, live request rate, error rate and p99
// per platform, the plan's waves, congestion alerts, each migration's
// history) and, for operators, start, pause, resume, abort and roll back.
//
// It is static: index.html, app.js and app.css, embedded in the binary and
// served with a strict Content-Security-Policy (scripts, styles and
// connections from this server only; no inline script or style). The page
// asks for an API token and calls the same API as every other client
// (package serve); this package holds no state and no credential, and
// fetches nothing at build or run time.
package dashboard

import (
	"embed"
	"net/http"
	"path"
	"strconv"
)

//go:embed assets
var assets embed.FS

// CSP is the Content-Security-Policy of every response: everything from
// this server only, no inline script or style, no plugin, no framing, no
// form posted anywhere (the sign-in form is handled by app.js).
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// files maps the page's paths to their embedded asset and content type.
var files = map[string]struct{ name, contentType string }{
	"/":            {"index.html", "text/html; charset=utf-8"},
	"/index.html":  {"index.html", "text/html; charset=utf-8"},
	"/app.js":      {"app.js", "text/javascript; charset=utf-8"},
	"/app.css":     {"app.css", "text/css; charset=utf-8"},
	"/favicon.svg": {"favicon.svg", "image/svg+xml"},
}

// Handler serves the dashboard's files under / (GET and HEAD); any other
// path is 404. Mount it where the API is served (serve.Options.Dashboard):
// the page calls api/v1/ relative to itself.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		f, ok := files[r.URL.Path]
		if !ok {
			http.Error(w, "404 page not found", http.StatusNotFound)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		data, err := assets.ReadFile(path.Join("assets", f.name))
		if err != nil { // cannot happen: the map names embedded files (TestHandler)
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		h.Set("Content-Type", f.contentType)
		h.Set("Content-Length", strconv.Itoa(len(data)))
		if h.Get("Cache-Control") == "" {
			h.Set("Cache-Control", "no-cache")
		}
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			_, _ = w.Write(data)
		}
	})
}
