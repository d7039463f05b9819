package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/carecheck/carecheck/fhir"
	"github.com/carecheck/carecheck/store"
)

// handleClientFHIR answers a client's PHQ-2, PHQ-9, GAD-2 and GAD-7 scored
// since ?since= (RFC 3339; all without it) as a FHIR R4 Bundle of
// QuestionnaireResponses and Observations (fhir.Build), the client named
// by the agency's identifier: a client without an external_id is 409.
func handleClientFHIR(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var since time.Time
		for name, vals := range r.URL.Query() {
			if name != "since" {
				respondErr(w, r, d.Log, invalid("%s: unknown parameter (since is read)", name))
				return
			}
			t, err := time.Parse(time.RFC3339, vals[0])
			if err != nil {
				respondErr(w, r, d.Log, invalid("since: %q is not an RFC 3339 time", vals[0]))
				return
			}
			since = t
		}
		c, err := d.Store.AgencyClient(r.Context(), agencyID(r), urlParam(r, "id"))
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		if c.ExternalID == "" {
			respondErr(w, r, d.Log, &Error{Code: CodeConflict, Message: "external_id: the client has none; set it (PATCH /v1/clients/{id}) to name the client in FHIR"})
			return
		}
		ag, err := d.Store.Agency(r.Context(), c.AgencyID)
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		loc, err := time.LoadLocation(ag.Timezone)
		if err != nil {
			loc = time.UTC
		}
		now := d.Now()
		// A check-in's answers may come days before its score: read a week
		// before since for them.
		from := time.Time{}
		if !since.IsZero() {
			from = since.Add(-7 * 24 * time.Hour)
		}
		var entries []store.Entry
		err = d.Store.EachEntry(r.Context(), c.ID, from, now.Add(time.Millisecond), false, func(e store.Entry) error {
			if e.Type == "answer" || e.Type == "score" {
				entries = append(entries, e)
			}
			return nil
		})
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		w.Header().Set("Content-Type", "application/fhir+json")
		w.WriteHeader(http.StatusOK)
		_ = json.NewEncoder(w).Encode(fhir.Build(c.AgencyID, c.ExternalID, entries, since, now, loc))
	})
}
