package marathon

import (
	"net/http"
	"strings"
)

// handlePods serves the listing endpoints of /v2/pods (the lab runs no pods):
// GET /v2/pods and /v2/pods/::status answer empty lists; creating pods is
// not supported by the lab and answers 501 with a message saying so.
func (s *Server) handlePods(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/v2/pods")
	switch {
	case r.Method == http.MethodGet && (rest == "" || rest == "/"):
		writeJSON(w, http.StatusOK, []any{})
	case r.Method == http.MethodGet && rest == "/::status":
		writeJSON(w, http.StatusOK, []any{})
	case r.Method == http.MethodGet || r.Method == http.MethodDelete:
		writeError(w, notFound("Pod '%s' does not exist", strings.TrimSuffix(rest, "::status")))
	default:
		writeError(w, &apiError{Status: http.StatusNotImplemented, Message: "The lab Marathon does not run pods: deploy the pod's containers as apps instead."})
	}
}
