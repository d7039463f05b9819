package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/carecheck/carecheck/conversations"
	q "github.com/carecheck/carecheck/conversations/questionnaire"
	"github.com/carecheck/carecheck/store"
)

type scheduleRequest struct {
	Questionnaire string     `json:"questionnaire"`
	RRule         string     `json:"rrule"`
	Start         time.Time  `json:"start"`
	Until         *time.Time `json:"until"`
	Timezone      string     `json:"timezone"`
	Paused        bool       `json:"paused"`
	// Template names one of the agency's schedule templates, which gives
	// the questionnaire and rule (then both are left out).
	Template string `json:"template"`
}

// handleCreateSchedule gives a client a recurring check-in in their zone.
func handleCreateSchedule(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req scheduleRequest
		if err := decode(w, r, &req); err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		ctx := r.Context()
		c, ok := clientOf(d, w, r)
		if !ok {
			return
		}
		ag, err := d.Store.Agency(ctx, c.AgencyID)
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		sc := &store.Schedule{Questionnaire: req.Questionnaire, RRule: req.RRule,
			Start: req.Start, Until: req.Until, Timezone: req.Timezone, Paused: req.Paused}
		if req.Template != "" {
			if req.Questionnaire != "" || req.RRule != "" {
				respondErr(w, r, d.Log, invalid("template: gives the questionnaire and rrule; leave them out"))
				return
			}
			t, err := d.Store.ScheduleTemplate(ctx, ag.ID, req.Template)
			if errors.Is(err, store.ErrNotFound) {
				respondErr(w, r, d.Log, invalid("template: no schedule template %q in this agency (see GET /v1/schedule-templates)", req.Template))
				return
			}
			if err != nil {
				respondErr(w, r, d.Log, err)
				return
			}
			sc.Questionnaire, sc.RRule, sc.Template = t.Questionnaire, t.RRule, t.Name
		}
		if err := d.Services.Checkins.AddSchedule(ctx, ag, c, sc); err != nil {
			respondErr(w, r, d.Log, productErr(err))
			return
		}
		d.Log.Info("schedule created", "client_id", c.ID, "schedule_id", sc.ID)
		audit(d, r, "schedule", sc.ID, "created", nil, sc)
		encode(w, http.StatusCreated, sc)
	})
}

// handleListSchedules lists a client's schedules.
func handleListSchedules(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := pageCursor(r, onePage); err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		c, ok := clientOf(d, w, r)
		if !ok {
			return
		}
		list, err := d.Store.Schedules(r.Context(), c.ID)
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
		encode(w, http.StatusOK, map[string]any{"schedules": list, "next": ""})
	})
}

// handlePatchSchedule pauses or resumes a schedule.
func handlePatchSchedule(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Paused *bool `json:"paused"`
		}
		if err := decode(w, r, &req); err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		if req.Paused == nil {
			respondErr(w, r, d.Log, invalid("paused: required (true or false)"))
			return
		}
		ctx := r.Context()
		c, ok := clientOf(d, w, r)
		if !ok {
			return
		}
		sc, err := d.Store.ClientSchedule(ctx, c.ID, urlParam(r, "sid"))
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		old := *sc
		sc.Paused = *req.Paused
		if err := d.Store.SaveSchedule(ctx, sc); err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		audit(d, r, "schedule", sc.ID, "changed", &old, sc)
		if !sc.Paused {
			ag, err := d.Store.Agency(ctx, c.AgencyID)
			if err == nil {
				err = d.Services.Checkins.PlanSchedule(ctx, ag, sc, d.Now())
			}
			if err != nil {
				respondErr(w, r, d.Log, productErr(err))
				return
			}
		}
		encode(w, http.StatusOK, sc)
	})
}

// handleUpcoming previews the next check-ins as they will be sent, local
// and UTC: quiet hours included (conversations.Upcoming).
func handleUpcoming(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := clientOf(d, w, r)
		if !ok {
			return
		}
		sc, err := d.Store.ClientSchedule(r.Context(), c.ID, urlParam(r, "sid"))
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		n := 5
		if v := r.URL.Query().Get("n"); v != "" {
			if n, err = strconv.Atoi(v); err != nil || n < 1 || n > 100 {
				respondErr(w, r, d.Log, invalid("n: a number from 1 to 100"))
				return
			}
		}
		ag, err := d.Store.Agency(r.Context(), c.AgencyID)
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		occs, loc, err := conversations.Upcoming(ag, sc, d.Now(), n)
		if err != nil {
			respondErr(w, r, d.Log, invalid("%v", err))
			return
		}
		out := make([]map[string]string, len(occs))
		for i, o := range occs {
			out[i] = map[string]string{"local": o.Send.In(loc).Format(time.RFC3339), "utc": o.Send.UTC().Format(time.RFC3339), "id": o.ID}
			if o.Deferred() {
				// Quiet hours move it: the rule's own time, for the record.
				out[i]["scheduled_local"] = o.At.In(loc).Format(time.RFC3339)
			}
		}
		encode(w, http.StatusOK, map[string]any{"upcoming": out, "timezone": sc.Timezone})
	})
}

type appointmentRequest struct {
	At        *time.Time `json:"at"`
	With      *string    `json:"with"`
	Location  *string    `json:"location"`
	Reminders []string   `json:"reminders"`
	Status    *string    `json:"status"`
}

// texts checks the free-text fields the request sets and writes them onto ap.
func (req *appointmentRequest) texts(ap *store.Appointment) error {
	if req.With != nil {
		with, err := text("with", *req.With, nameRule)
		if err != nil {
			return err
		}
		ap.With = with
	}
	if req.Location != nil {
		loc, err := text("location", *req.Location, optionalLine)
		if err != nil {
			return err
		}
		ap.Location = loc
	}
	return nil
}

// handleCreateAppointment books an appointment and plans its reminders.
func handleCreateAppointment(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req appointmentRequest
		if err := decode(w, r, &req); err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		c, ok := clientOf(d, w, r)
		if !ok {
			return
		}
		if c.Status == store.StatusDischarged {
			respondErr(w, r, d.Log, &Error{Code: CodeConflict, Message: "client is discharged"})
			return
		}
		if req.At == nil || req.At.IsZero() {
			respondErr(w, r, d.Log, invalid("at: required (RFC 3339)"))
			return
		}
		if !req.At.After(d.Now()) {
			respondErr(w, r, d.Log, invalid("at: must be in the future"))
			return
		}
		if req.With == nil {
			respondErr(w, r, d.Log, invalid("with: required (whom the appointment is with)"))
			return
		}
		if req.Status != nil {
			respondErr(w, r, d.Log, invalid("status: set with PATCH"))
			return
		}
		ap := &store.Appointment{ClientID: c.ID, AgencyID: c.AgencyID, At: req.At.UTC(), Reminders: req.Reminders}
		if err := req.texts(ap); err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		saveAppointment(d, w, r, c, ap, nil, http.StatusCreated)
	})
}

func saveAppointment(d Deps, w http.ResponseWriter, r *http.Request, c *store.Client, ap, old *store.Appointment, status int) {
	ag, err := d.Store.Agency(r.Context(), c.AgencyID)
	if err != nil {
		respondErr(w, r, d.Log, err)
		return
	}
	if err := d.Services.Appointments.SaveAppointment(r.Context(), ag, c, ap, old); err != nil {
		respondErr(w, r, d.Log, productErr(err))
		return
	}
	d.Log.Info("appointment saved", "client_id", c.ID, "appointment_id", ap.ID)
	if old == nil {
		audit(d, r, "appointment", ap.ID, "created", nil, ap)
	} else {
		audit(d, r, "appointment", ap.ID, "changed", old, ap)
	}
	encode(w, status, ap)
}

// handlePatchAppointment moves or cancels an appointment; reminders are re-planned.
func handlePatchAppointment(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req appointmentRequest
		if err := decode(w, r, &req); err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		ctx := r.Context()
		c, ok := clientOf(d, w, r)
		if !ok {
			return
		}
		old, err := d.Store.ClientAppointment(ctx, c.ID, urlParam(r, "aid"))
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		ap := *old
		if req.At != nil {
			if !req.At.After(d.Now()) {
				respondErr(w, r, d.Log, invalid("at: must be in the future"))
				return
			}
			ap.At = req.At.UTC()
			ap.Status = conversations.ApptScheduled
		}
		if err := req.texts(&ap); err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		if req.Reminders != nil {
			ap.Reminders = req.Reminders
		}
		if req.Status != nil {
			if *req.Status != conversations.ApptCancelled {
				respondErr(w, r, d.Log, invalid(`status: only "cancelled" can be set`))
				return
			}
			ap.Status = conversations.ApptCancelled
		}
		saveAppointment(d, w, r, c, &ap, old, http.StatusOK)
	})
}

// handleListAppointments lists a client's appointments by time.
func handleListAppointments(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := pageCursor(r, onePage); err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		c, ok := clientOf(d, w, r)
		if !ok {
			return
		}
		list, err := d.Store.Appointments(r.Context(), c.ID)
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		sort.Slice(list, func(i, j int) bool { return list[i].At.Before(list[j].At) })
		encode(w, http.StatusOK, map[string]any{"appointments": list, "next": ""})
	})
}

// handleListQuestionnaires lists the built-in and the agency's questionnaires.
func handleListQuestionnaires(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := pageCursor(r, onePage); err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		cat, err := conversations.AgencyCatalogue(r.Context(), d.Store, q.Builtin(), agencyID(r))
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{"questionnaires": cat.List(), "next": ""})
	})
}

// handleCreateQuestionnaire adds an agency-defined questionnaire.
func handleCreateQuestionnaire(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var qn q.Questionnaire
		if err := decode(w, r, &qn); err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		if err := questionnaireTexts(&qn); err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		if _, builtin := q.Builtin().Get(qn.ID); builtin {
			respondErr(w, r, d.Log, &Error{Code: CodeConflict, Message: "id: a built-in questionnaire has this id"})
			return
		}
		qn.Custom = true
		if qn.Instrument == "" {
			qn.Instrument = q.InstrumentCustom
		}
		if err := q.Validate(&qn); err != nil {
			respondErr(w, r, d.Log, invalid("%v", err))
			return
		}
		body, _ := json.Marshal(&qn)
		ok, err := d.Store.SaveQuestionnaire(r.Context(), agencyID(r), qn.ID, body)
		if err != nil {
			respondErr(w, r, d.Log, err)
			return
		}
		if !ok {
			respondErr(w, r, d.Log, &Error{Code: CodeConflict, Message: "id: this agency already has a questionnaire with this id"})
			return
		}
		audit(d, r, "questionnaire", qn.ID, "created", nil, nil)
		encode(w, http.StatusCreated, &qn)
	})
}

// questionnaireTexts runs every string of an agency-defined questionnaire
// (titles, question and option texts, aliases) through text: these go to
// clients' phones.
func questionnaireTexts(qn *q.Questionnaire) error {
	raw, err := json.Marshal(qn)
	if err != nil {
		return fmt.Errorf("encode questionnaire: %w", err)
	}
	var tree any
	if err := json.Unmarshal(raw, &tree); err != nil {
		return fmt.Errorf("decode questionnaire: %w", err)
	}
	tree, err = textTree("", tree, formRule)
	if err != nil {
		return err
	}
	raw, err = json.Marshal(tree)
	if err != nil {
		return fmt.Errorf("encode questionnaire: %w", err)
	}
	*qn = q.Questionnaire{}
	if err := json.Unmarshal(raw, qn); err != nil {
		return fmt.Errorf("decode questionnaire: %w", err)
	}
	return nil
}
