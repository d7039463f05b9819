package api

import (
	"net/http"

	"github.com/carecheck/carecheck/settings"
	"github.com/carecheck/carecheck/store"
)

// handleListEscalations lists the agency's escalations, newest first (?status=open|acknowledged|resolved).
func handleListEscalations(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status := r.URL.Query().Get("status")
		switch status {
		case "", store.EscOpen, store.EscAcknowledged, store.EscResolved:
		default:
			respondErr(w, r, d.Log, invalid(`status: "open", "acknowledged" or "resolved"`))
			return
		}
		limit, err := pageLimit(r)
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		cursor, err := pageCursor(r, escalationCursor)
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		page, err := d.Store.Escalations(r.Context(), agencyID(r), status, cursor, limit)
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		for _, e := range page.Items {
			shown(e)
		}
		encode(w, http.StatusOK, map[string]any{"escalations": page.Items, "next": page.Next})
	})
}

// handleGetEscalation shows one escalation with its audit trail, each alert
// with its latest delivery status.
func handleGetEscalation(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e, err := d.Store.Escalation(r.Context(), agencyID(r), urlParam(r, "id"))
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		for i, a := range e.Audit {
			if a.MessageID == "" {
				continue
			}
			pid, err := d.Store.SentMarker(r.Context(), a.MessageID)
			if err != nil || pid == "" {
				e.Audit[i].Status = "pending"
				continue
			}
			if st, err := d.Store.Status(r.Context(), pid); err == nil {
				e.Audit[i].Status = st
			}
		}
		encode(w, http.StatusOK, shown(e))
	})
}

// shown leaves out what only the escalation service reads: the marker of
// an alert on its way (a timer id) says nothing to staff.
func shown(e *store.Escalation) *store.Escalation {
	e.Alerting = ""
	return e
}

// escalationActor names who acts in the audit trail: "api", or one of the
// agency's case managers named by "by".
func escalationActor(r *http.Request, d Deps, by string) (string, error) {
	if by == "" {
		return "api", nil
	}
	if _, err := d.Store.CaseManager(r.Context(), agencyID(r), by); err != nil {
		return "", invalid("by: no such case manager in this agency")
	}
	return "staff:" + by, nil
}

// handleAckEscalation acknowledges from the console.
func handleAckEscalation(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			By string `json:"by"`
		}
		if r.ContentLength != 0 {
			if err := decode(w, r, &req); err != nil {
				respondErr(w, r, d.Log, err)
				return
			}
		}
		actor, err := escalationActor(r, d, req.By)
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		e, _, err := d.Services.Escalations.Ack(r.Context(), agencyID(r), urlParam(r, "id"), actor, "api")
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		encode(w, http.StatusOK, shown(e))
	})
}

// handleResolveEscalation closes an escalation with a note.
func handleResolveEscalation(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Note string `json:"note"`
			By   string `json:"by"`
		}
		if err := decode(w, r, &req); err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		note, err := text("note", req.Note, noteRule)
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		actor, err := escalationActor(r, d, req.By)
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		e, err := d.Services.Escalations.Resolve(r.Context(), agencyID(r), urlParam(r, "id"), actor, note)
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		encode(w, http.StatusOK, shown(e))
	})
}

// handlePutPolicy sets the agency's escalation policy; open escalations keep theirs.
func handlePutPolicy(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p store.Policy
		if err := decode(w, r, &p); err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		ctx := r.Context()
		if err := settings.CheckPolicy(ctx, d.Store, agencyID(r), p); err != nil {
			respondErr(w, r, d.Log, settingsErr(err))
			return
		}
		before, ag, err := d.Store.UpdateAgency(ctx, agencyID(r), func(a *store.Agency) error {
			a.Policy = &p
			return nil
		})
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		old := before.Policy
		audit(d, r, "policy", ag.ID, "changed", old, &p)
		d.Log.Info("escalation policy changed", "agency_id", ag.ID, "steps", len(p.Steps))
		encode(w, http.StatusOK, p)
	})
}

// handlePutSafetyMessage sets the agency's own safety messages (by
// language); every phone number in them must be a valid one.
func handlePutSafetyMessage(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req map[string]string
		if err := decode(w, r, &req); err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		req, err := settings.SafetyMessages(req)
		if err != nil {
			respondErr(w, r, d.Log, settingsErr(err))
			return
		}
		before, ag, err := d.Store.UpdateAgency(r.Context(), agencyID(r), func(a *store.Agency) error {
			a.SafetyMessage = req
			return nil
		})
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		old := before.SafetyMessage
		audit(d, r, "safety_message", ag.ID, "changed", old, req)
		d.Log.Info("safety message changed", "agency_id", ag.ID)
		encode(w, http.StatusOK, req)
	})
}

// handlePutPhrases sets the agency's own crisis and concern phrases (local
// slang, a client's known warning words); they add to the built-in lexicon.
func handlePutPhrases(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Phrases []store.Phrase `json:"phrases"`
		}
		if err := decode(w, r, &req); err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		phrases, err := settings.Phrases(req.Phrases)
		if err != nil {
			respondErr(w, r, d.Log, settingsErr(err))
			return
		}
		req.Phrases = phrases
		before, ag, err := d.Store.UpdateAgency(r.Context(), agencyID(r), func(a *store.Agency) error {
			a.Phrases = req.Phrases
			return nil
		})
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		old := before.Phrases
		audit(d, r, "phrases", ag.ID, "changed", map[string]any{"phrases": old}, map[string]any{"phrases": req.Phrases})
		d.Log.Info("agency phrases changed", "agency_id", ag.ID, "count", len(req.Phrases))
		encode(w, http.StatusOK, map[string]any{"phrases": req.Phrases})
	})
}
