package api

import (
	"errors"
	"net/http"

	"github.com/carecheck/carecheck/escalation"
	"github.com/carecheck/carecheck/freetext"
	"github.com/carecheck/carecheck/settings"

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
		name, err := text("name", req.Name, nameRule)
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		if err := zone("timezone", req.Timezone); err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		a := &store.Agency{
			Name: name, Timezone: req.Timezone,
			QuietStart: "21:00", QuietEnd: "08:00", MissedInARow: 2, MoodThreshold: 2,
			ReplyWindow: store.Duration(4 * 3600e9),
		}
		key, err := d.Store.CreateAgency(r.Context(), a)
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		d.Log.Info("agency created", "agency_id", a.ID)
		audit(d, r, "agency", a.ID, "created", nil, a)
		if keys, err := d.Store.APIKeys(r.Context(), a.ID, false); err == nil && len(keys) == 1 {
			auditAs(d, r, a.ID, store.Actor{Kind: "operator"}, "api_key", keys[0].ID, "created", nil, keys[0])
		}
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

// handlePatchAgency changes the calling agency's settings (quiet hours,
// reply window, missed-in-a-row count, mood threshold, what alerts carry).
func handlePatchAgency(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req settings.Changes
		if err := decode(w, r, &req); err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		old, ag, err := d.Store.UpdateAgency(r.Context(), agencyID(r), req.Apply)
		if err != nil {
			respondErr(w, r, d.Log, settingsErr(err))
			return
		}
		d.Log.Info("agency settings changed", "agency_id", ag.ID)
		audit(d, r, "agency", ag.ID, "changed", old, ag)
		encode(w, http.StatusOK, ag)
	})
}

// settingsErr turns the settings package's refusals into 400s with its text.
func settingsErr(err error) error {
	var fe *freetext.Error
	var se *settings.Error
	var ee *escalation.SettingError
	if errors.As(err, &fe) || errors.As(err, &se) || errors.As(err, &ee) {
		return invalid("%s", err.Error())
	}
	return err
}
