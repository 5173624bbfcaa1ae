package marathon

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/switchyard/switchyard/marathon"
)

func (s *Server) handleQueue(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		methodNotAllowed(w, r)
		return
	}
	withOffers := false
	for _, e := range r.URL.Query()["embed"] {
		if strings.Contains(e, "lastUnusedOffers") {
			withOffers = true
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	out := []marathon.QueueItem{}
	for _, id := range slices.Sorted(maps.Keys(s.apps)) {
		a := s.apps[id]
		if a.Deleted || a.queue == nil {
			continue
		}
		m, _ := s.appMode(a)
		tasks := s.tasksOf(a.ID)
		d := decide(m, a.spec.Instances, strategy{a.spec.MinHealth, a.spec.MaxOver, a.spec.KillSelection}, s.views(a, tasks))
		if d.Launch == 0 {
			continue
		}
		// No "role": python-marathon 0.13 rejects members it does not know.
		item := marathon.QueueItem{Count: d.Launch, Since: formatTime(a.queue.Since)}
		var app marathon.App
		if b, err := json.Marshal(s.renderApp(a, nil)); err == nil && json.Unmarshal(b, &app) == nil {
			item.App = &app
		}
		left := a.DelayUntil.Sub(now)
		item.Delay = marathon.QueueDelay{TimeLeftSeconds: int64(max(0, left.Seconds())), Overdue: left <= 0}
		pos := &marathon.ProcessedOffersSummary{ProcessedOffersCount: a.queue.Processed, UnusedOffersCount: a.queue.Unused}
		if !a.queue.LastUnusedAt.IsZero() {
			pos.LastUnusedOfferAt = formatTime(a.queue.LastUnusedAt)
		}
		if !a.queue.LastUsedAt.IsZero() {
			pos.LastUsedOfferAt = formatTime(a.queue.LastUsedAt)
		}
		for _, reason := range slices.Sorted(maps.Keys(a.queue.Reasons)) {
			pos.RejectSummaryLastOffers = append(pos.RejectSummaryLastOffers, marathon.DeclinedOfferStep{Reason: reason, Declined: a.queue.Reasons[reason], Processed: len(s.agents)})
			pos.RejectSummaryLaunchAttempt = append(pos.RejectSummaryLaunchAttempt, marathon.DeclinedOfferStep{Reason: reason, Declined: a.queue.Reasons[reason], Processed: len(s.agents)})
		}
		item.ProcessedOffersSummary = pos
		if withOffers {
			for _, ag := range s.agents {
				reasons := a.queue.LastOfferReason[ag.ID]
				if len(reasons) == 0 {
					continue
				}
				item.LastUnusedOffers = append(item.LastUnusedOffers, marathon.UnusedOffer{
					Offer:     s.offerOf(ag),
					Reason:    reasons,
					Timestamp: formatTime(a.queue.LastUnusedAt),
				})
			}
		}
		out = append(out, item)
	}
	writeJSON(w, http.StatusOK, map[string]any{"queue": out})
}

// handleQueueDelay is DELETE /v2/queue/{appId}/delay.
func (s *Server) handleQueueDelay(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/v2/queue")
	if !strings.HasSuffix(rest, "/delay") {
		writeError(w, notFound("Resource %s does not exist", r.URL.Path))
		return
	}
	if r.Method != http.MethodDelete {
		methodNotAllowed(w, r)
		return
	}
	id := resolveAppID(strings.TrimSuffix(rest, "/delay"))
	s.mu.Lock()
	defer s.mu.Unlock()
	a, e := s.liveApp(id)
	if e != nil {
		writeError(w, notFound("Application %s not found in tasks queue.", id))
		return
	}
	a.Delay, a.DelayUntil = 0, time.Time{}
	s.dirty = true
	s.flush()
	s.kickNow()
	w.WriteHeader(http.StatusNoContent)
}
