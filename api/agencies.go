package api

import (
	"net/http"
	"time"

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

type agencySettings struct {
	Name          *string         `json:"name"`
	Timezone      *string         `json:"timezone"`
	QuietStart    *string         `json:"quiet_start"`
	QuietEnd      *string         `json:"quiet_end"`
	ReplyWindow   *store.Duration `json:"reply_window"`
	MissedInARow  *int            `json:"missed_in_a_row"`
	MoodThreshold *int            `json:"mood_threshold"`
	AlertDetail   *bool           `json:"alert_detail"`
	AlertNames    *bool           `json:"alert_names"`
	ExportWords   *bool           `json:"export_words"`
	Retention     *store.Duration `json:"retention"`
	RequireTOTP   *bool           `json:"require_totp"`
	SessionIdle   *store.Duration `json:"session_idle"`
}

// handlePatchAgency changes the calling agency's settings (quiet hours,
// reply window, missed-in-a-row count, mood threshold, what alerts carry).
func handlePatchAgency(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req agencySettings
		if err := decode(w, r, &req); err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		ag, err := d.Store.Agency(r.Context(), agencyID(r))
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		old := *ag
		if err := req.apply(ag); err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		if err := d.Store.SaveAgency(r.Context(), ag); err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		d.Log.Info("agency settings changed", "agency_id", ag.ID)
		audit(d, r, "agency", ag.ID, "changed", &old, ag)
		encode(w, http.StatusOK, ag)
	})
}

func (req agencySettings) apply(ag *store.Agency) error {
	if req.Name != nil {
		name, err := text("name", *req.Name, nameRule)
		if err != nil {
			return err
		}
		ag.Name = name
	}
	if req.Timezone != nil {
		if err := zone("timezone", *req.Timezone); err != nil {
			return err
		}
		ag.Timezone = *req.Timezone
	}
	if req.QuietStart != nil {
		if err := clock("quiet_start", *req.QuietStart); err != nil {
			return err
		}
		ag.QuietStart = *req.QuietStart
	}
	if req.QuietEnd != nil {
		if err := clock("quiet_end", *req.QuietEnd); err != nil {
			return err
		}
		ag.QuietEnd = *req.QuietEnd
	}
	if req.ReplyWindow != nil {
		if w := time.Duration(*req.ReplyWindow); w < 10*time.Second || w > 72*time.Hour {
			return invalid("reply_window: between 10s and 72h")
		}
		ag.ReplyWindow = *req.ReplyWindow
	}
	if req.MissedInARow != nil {
		if *req.MissedInARow < 1 || *req.MissedInARow > 30 {
			return invalid("missed_in_a_row: between 1 and 30")
		}
		ag.MissedInARow = *req.MissedInARow
	}
	if req.MoodThreshold != nil {
		if *req.MoodThreshold < -1 || *req.MoodThreshold > 10 {
			return invalid("mood_threshold: between 0 and 10, or -1 to turn the rule off")
		}
		ag.MoodThreshold = *req.MoodThreshold
	}
	if req.AlertDetail != nil {
		ag.AlertDetail = *req.AlertDetail
	}
	if req.AlertNames != nil {
		ag.AlertNames = *req.AlertNames
	}
	if req.ExportWords != nil {
		ag.ExportWords = *req.ExportWords
	}
	if req.Retention != nil {
		// docs/clinical.md, "Retention and audit": configuration changes are kept 6 years (HIPAA).
		if v := *req.Retention; v < store.DefaultRetention || v > 5*store.DefaultRetention {
			return invalid("retention: from 52596h (6 years) to 262980h (30 years)")
		}
		ag.Retention = *req.Retention
	}
	if req.RequireTOTP != nil {
		ag.RequireTOTP = *req.RequireTOTP
	}
	if req.SessionIdle != nil {
		// The absolute limit of a console session is 12 h.
		if v := time.Duration(*req.SessionIdle); v < time.Minute || v > 12*time.Hour {
			return invalid("session_idle: between 1m and 12h")
		}
		ag.SessionIdle = *req.SessionIdle
	}
	return nil
}
