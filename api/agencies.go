package api

import (
	"net/http"
	"strings"

	"github.com/carecheck/carecheck/store"
)

type agencyRequest struct {
	Name     string `json:"name"`
	Timezone string `json:"timezone"`
}

// handleCreateAgency registers an agency; its API key is in this answer only.
func handleCreateAgency(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req agencyRequest
		if err := decode(w, r, &req); err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		if err := required("name", req.Name, 200); err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		if err := zone("timezone", req.Timezone); err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		a := &store.Agency{
			Name: strings.TrimSpace(req.Name), Timezone: req.Timezone,
			QuietStart: "21:00", QuietEnd: "08:00", MissedInARow: 2, MoodThreshold: 2,
			ReplyWindow: store.Duration(4 * 3600e9),
		}
		key, err := d.Store.CreateAgency(r.Context(), a)
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		d.Log.Info("agency created", "agency_id", a.ID)
		encode(w, http.StatusCreated, struct {
			*store.Agency
			APIKey string `json:"api_key"`
		}{a, key})
	})
}

// handleGetAgency shows the calling agency's settings.
func handleGetAgency(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, err := d.Store.Agency(r.Context(), agencyID(r))
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		encode(w, http.StatusOK, a)
	})
}
