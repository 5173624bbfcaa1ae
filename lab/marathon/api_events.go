package marathon

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/switchyard/switchyard/marathon"
)

// handleEvents is the /v2/events server-sent event stream, filtered by
// event_type parameters.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		methodNotAllowed(w, r)
		return
	}
	if acc := r.Header.Get("Accept"); acc != "" && !strings.Contains(acc, "text/event-stream") && !strings.Contains(acc, "*/*") {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusNotAcceptable)
		_, _ = io.WriteString(w, "<html><body><h2>HTTP ERROR: 406</h2><p>/v2/events needs Accept: text/event-stream</p></body></html>\n")
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeError(w, &apiError{Status: http.StatusInternalServerError, Message: "streaming is not supported by this connection"})
		return
	}
	filter := map[string]bool{}
	for _, t := range r.URL.Query()["event_type"] {
		for _, part := range strings.Split(t, ",") {
			filter[strings.TrimSpace(part)] = true
		}
	}
	ch, leave := s.bus.subscribe()
	defer func() {
		leave()
		s.bus.publish(marathon.EventStreamDetached, marathon.StreamAttachEvent{EventMeta: meta(marathon.EventStreamDetached), RemoteAddress: clientIP(r)})
	}()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	flusher.Flush() // clients wait for the headers before the first event
	send := func(ev busEvent) bool {
		if len(filter) > 0 && !filter[ev.Type] {
			return true
		}
		_, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev.Type, ev.Data)
		flusher.Flush()
		return err == nil
	}
	att, _ := json.Marshal(marathon.StreamAttachEvent{EventMeta: meta(marathon.EventStreamAttached), RemoteAddress: clientIP(r)})
	if !send(busEvent{Type: marathon.EventStreamAttached, Data: att}) {
		return
	}
	keepalive := time.NewTicker(15 * time.Second)
	defer keepalive.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-keepalive.C:
			if _, err := io.WriteString(w, ": keep-alive\n\n"); err != nil {
				return
			}
			flusher.Flush()
		case ev, ok := <-ch:
			if !ok {
				return
			}
			if !send(ev) {
				return
			}
		}
	}
}
