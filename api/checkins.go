package api

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/carecheck/carecheck/bot/telegram"
	"github.com/carecheck/carecheck/conversations"
	"github.com/carecheck/carecheck/store"
)

// productErr maps the product services' errors to API errors.
func productErr(err error) error {
	if errors.Is(err, conversations.ErrInvalid) {
		return invalid("%s", strings.TrimPrefix(err.Error(), conversations.ErrInvalid.Error()+": "))
	}
	return err
}

// handleStartCheckin starts a check-in now (202: it is queued, the first question follows within seconds).
func handleStartCheckin(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Questionnaire string `json:"questionnaire"`
		}
		if err := decode(w, r, &req); err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		if req.Questionnaire == "" {
			respondErr(w, r, d.Log, invalid("questionnaire: required (see GET /v1/questionnaires)"))
			return
		}
		c, ok := clientOf(d, w, r)
		if !ok {
			return
		}
		id, err := d.Services.Checkins.StartCheckin(r.Context(), c, req.Questionnaire)
		if err != nil {
			respondErr(w, r, d.Log, productErr(err))
			return
		}
		status := "queued"
		if !c.Messageable() {
			status = "will be skipped: client has no consent, opted out, or is not active"
		}
		encode(w, http.StatusAccepted, map[string]string{"id": id, "status": status, "questionnaire": req.Questionnaire})
	})
}

// handleResponses is the client's timeline: answers, scores, free texts, missed and skipped check-ins.
func handleResponses(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := clientOf(d, w, r)
		if !ok {
			return
		}
		var since, until time.Time
		for name, dst := range map[string]*time.Time{"since": &since, "until": &until} {
			if v := r.URL.Query().Get(name); v != "" {
				t, err := time.Parse(time.RFC3339, v)
				if err != nil {
					respondErr(w, r, d.Log, invalid("%s: expected an RFC 3339 time", name))
					return
				}
				*dst = t
			}
		}
		limit, err := pageLimit(r)
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		cursor, err := pageCursor(r, timelineCursor)
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		page, err := d.Store.Timeline(r.Context(), c.ID, since, until, cursor, limit)
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{"responses": page.Items, "next": page.Next})
	})
}

// handleTelegramLink makes a one-time /start code and its t.me link.
func handleTelegramLink(d Deps, kind string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ag := agencyID(r)
		id := urlParam(r, "id")
		if kind == "client" {
			if _, err := d.Store.AgencyClient(r.Context(), ag, id); err != nil {
				respondErr(w, r, d.Log, err)
				return
			}
		} else if _, err := d.Store.CaseManager(r.Context(), ag, id); err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		code, err := d.Store.NewLinkCode(r.Context(), store.Owner{Kind: kind, ID: id, AgencyID: ag})
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		encode(w, http.StatusCreated, map[string]any{
			"code": code, "url": telegram.LinkURL(d.Services.TelegramBot, code), "expires_at": d.Now().Add(store.LinkTTL).UTC(),
		})
	})
}
