package api

import (
	"errors"
	"net/http"

	"github.com/carecheck/carecheck/reports"
	"github.com/carecheck/carecheck/store"
)

// reportOf answers a report of the calling agency for ?from=&to= (local
// dates in the agency's zone, both included): need says what it reads,
// compute turns the records into the answer.
func reportOf[T any](d Deps, need reports.Need, compute func(*reports.Records) T) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ag, p, ok := agencyPeriod(w, r, d)
		if !ok {
			return
		}
		recs, err := reports.Gather(r.Context(), d.Store, ag.ID, p, need)
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		encode(w, http.StatusOK, compute(recs))
	})
}

// agencyPeriod reads the calling agency and its ?from=&to= period (local
// dates in its zone, both included; no other parameter). It answers the
// error itself and reports false when there is none to read.
func agencyPeriod(w http.ResponseWriter, r *http.Request, d Deps) (*store.Agency, reports.Period, bool) {
	for name := range r.URL.Query() {
		if name != "from" && name != "to" {
			respondErr(w, r, d.Log, invalid("%s: unknown parameter (from and to are read)", name))
			return nil, reports.Period{}, false
		}
	}
	ag, err := d.Store.Agency(r.Context(), agencyID(r))
	if err != nil {
		respondErr(w, r, d.Log, err)
		return nil, reports.Period{}, false
	}
	p, err := reports.ParsePeriod(r.URL.Query().Get("from"), r.URL.Query().Get("to"), ag.Timezone)
	var fe *reports.FieldError
	if errors.As(err, &fe) {
		respondErr(w, r, d.Log, invalid("%s", fe.Error()))
		return nil, reports.Period{}, false
	}
	if err != nil {
		respondErr(w, r, d.Log, err)
		return nil, reports.Period{}, false
	}
	return ag, p, true
}

// handleCheckinsReport: check-ins sent, answered, missed; response rates
// per client and per case manager.
func handleCheckinsReport(d Deps) http.Handler {
	return reportOf(d, reports.Need{Entries: true}, reports.Checkins)
}

// handleEscalationsReport: escalations opened and the time to their first
// acknowledgement, per case manager and per step reached.
func handleEscalationsReport(d Deps) http.Handler {
	return reportOf(d, reports.Need{Escalations: true}, reports.Escalations)
}

// handleWorseningReport: clients whose PHQ-9 or GAD-7 worsened.
func handleWorseningReport(d Deps) http.Handler {
	return reportOf(d, reports.Need{Entries: true}, reports.Worsening)
}
