package api

import (
	"errors"
	"net/http"
	"regexp"
	"time"

	"github.com/carecheck/carecheck/conversations"
	q "github.com/carecheck/carecheck/conversations/questionnaire"
	"github.com/carecheck/carecheck/conversations/schedule"
	"github.com/carecheck/carecheck/store"
)

// templateName is a schedule template's name: it goes in URLs and files.
var templateName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// handleListScheduleTemplates lists the agency's schedule templates by name.
func handleListScheduleTemplates(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := pageCursor(r, onePage); err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		list, err := d.Store.ScheduleTemplates(r.Context(), agencyID(r))
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{"schedule_templates": list, "next": ""})
	})
}

// handlePutScheduleTemplate creates (201) or replaces (200) the agency's
// template of the route's name: {"questionnaire","rrule"}, checked as a
// schedule is (the questionnaire one the agency can send, the rule read
// from the next whole minute in the agency's zone).
func handlePutScheduleTemplate(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Questionnaire string `json:"questionnaire"`
			RRule         string `json:"rrule"`
		}
		if err := decode(w, r, &req); err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		name := urlParam(r, "name")
		if !templateName.MatchString(name) {
			respondErr(w, r, d.Log, invalid("name: 1-64 of a-z 0-9 . _ - starting with a letter or digit"))
			return
		}
		ctx := r.Context()
		ag, err := d.Store.Agency(ctx, agencyID(r))
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		if req.Questionnaire == "" {
			respondErr(w, r, d.Log, invalid("questionnaire: required (see GET /v1/questionnaires)"))
			return
		}
		cat, err := conversations.AgencyCatalogue(ctx, d.Store, q.Builtin(), ag.ID)
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		if _, ok := cat.Get(req.Questionnaire); !ok {
			respondErr(w, r, d.Log, invalid("questionnaire: unknown %q (see GET /v1/questionnaires)", req.Questionnaire))
			return
		}
		rule, err := schedule.Parse(req.RRule, d.Now().Truncate(time.Minute).Add(time.Minute), nil, ag.Timezone)
		if err != nil {
			respondErr(w, r, d.Log, invalid("%v", err))
			return
		}
		old, err := d.Store.ScheduleTemplate(ctx, ag.ID, name)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			respondErr(w, r, d.Log, err)
			return
		}
		t := &store.ScheduleTemplate{Name: name, Questionnaire: req.Questionnaire, RRule: rule.RRule}
		if err := d.Store.SaveScheduleTemplate(ctx, ag.ID, t); err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		status := http.StatusOK
		if old == nil {
			status = http.StatusCreated
			audit(d, r, "schedule_template", name, "created", nil, t)
		} else {
			audit(d, r, "schedule_template", name, "changed", old, t)
		}
		encode(w, status, t)
	})
}

// handleDeleteScheduleTemplate removes a template; schedules made from it
// keep their own copy.
func handleDeleteScheduleTemplate(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := urlParam(r, "name")
		if err := d.Store.DeleteScheduleTemplate(r.Context(), agencyID(r), name); err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		audit(d, r, "schedule_template", name, "deleted", nil, nil)
		w.WriteHeader(http.StatusNoContent)
	})
}
