package console

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/carecheck/carecheck/console/chart"
	"github.com/carecheck/carecheck/conversations"
	q "github.com/carecheck/carecheck/conversations/questionnaire"
	"github.com/carecheck/carecheck/conversations/schedule"
	"github.com/carecheck/carecheck/reports"
	"github.com/carecheck/carecheck/store"
)

// sendTime is one upcoming check-in as shown: its local time (RFC 3339
// for the <time> element, and as read) and, when quiet hours moved it,
// the rule's own time.
type sendTime struct {
	Datetime, Shown, Moved string
}

// scheduleView is one of the client's schedules.
type scheduleView struct {
	ID, Questionnaire, Plain, RRule string
	Paused                          bool
	Next                            []sendTime
}

// scheduleForm is the schedule form's values, its preview and its problem.
type scheduleForm struct {
	Questionnaire, Every, At string
	Day                      int
	Options                  []string
	Preview                  []sendTime
	Problem                  string
}

// timelineRow is one timeline entry as shown.
type timelineRow struct {
	Datetime, Shown, Kind, Detail string
	// Link is the page the row is about (an escalation's), if any.
	Link string
	at   time.Time
}

// clientView is the client page's data.
type clientView struct {
	Client       *store.Client
	CaseManager  string
	Schedules    []scheduleView
	Appointments []*store.Appointment
	Form         scheduleForm
	Charts       []chart.Figure
	Timeline     []timelineRow
	Zone         *time.Location
}

// Weekdays are the form's days, Sunday first (time.Weekday's order).
var weekdays = []string{"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"}

// sendTimes shows conversations.Upcoming's answer as GET …/upcoming does.
func sendTimes(times []conversations.SendTime, loc *time.Location) []sendTime {
	out := make([]sendTime, len(times))
	for i, s := range times {
		out[i] = sendTime{Datetime: s.Send.In(loc).Format(time.RFC3339), Shown: s.Send.In(loc).Format("Mon 2006-01-02 15:04 MST")}
		if s.Deferred() {
			out[i].Moved = s.At.In(loc).Format("15:04")
		}
	}
	return out
}

// formOf reads the schedule form from a request's values; a form not yet
// filled takes the defaults (daily mood, every day at 10:00).
func formOf(r *http.Request) scheduleForm {
	f := scheduleForm{Questionnaire: r.FormValue("questionnaire"), Every: r.FormValue("every"), At: r.FormValue("at")}
	f.Day, _ = strconv.Atoi(r.FormValue("day"))
	if f.Questionnaire == "" {
		f.Questionnaire = "daily-mood"
	}
	if f.Every == "" {
		f.Every = schedule.EveryDay
	}
	if f.At == "" {
		f.At = "10:00"
	}
	return f
}

// newSchedule is the schedule the form describes, starting now.
func (f scheduleForm) newSchedule(cl *store.Client, now time.Time) (*store.Schedule, error) {
	rule, err := schedule.Simple{Every: f.Every, Day: time.Weekday(f.Day), At: f.At}.RRule()
	if err != nil {
		return nil, err
	}
	return &store.Schedule{ClientID: cl.ID, AgencyID: cl.AgencyID, Questionnaire: f.Questionnaire, RRule: rule,
		Start: now.UTC().Truncate(time.Minute), Timezone: cl.Timezone}, nil
}

// handleClient is a client's page: profile, consent and channel, schedules
// with their next check-ins and the schedule form (?preview=1 previews it),
// appointments, the mood and PHQ-9 / GAD-7 charts with their tables, and
// the last 30 days' timeline.
func handleClient(c *console) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cl, ok := c.visibleClient(w, r)
		if !ok {
			return
		}
		f := formOf(r)
		if r.URL.Query().Get("preview") != "" {
			v := viewerOf(r)
			sc, err := f.newSchedule(cl, c.Now())
			if err == nil {
				var times []conversations.SendTime
				var loc *time.Location
				if times, loc, err = conversations.Upcoming(v.Agency, sc, c.Now(), 5); err == nil {
					f.Preview = sendTimes(times, loc)
				}
			}
			if err != nil {
				f.Problem = err.Error()
			}
		}
		flash := ""
		if r.URL.Query().Get("saved") != "" {
			flash = texts[langOf(r)]["schedule_saved"]
		}
		c.clientPage(w, r, cl, f, http.StatusOK, flash)
	})
}

// handleAddSchedule saves the schedule form through the check-in service
// the API uses (conversations.Checkins.AddSchedule), audited as the
// signed-in staff member; a problem shows the form again with it.
func handleAddSchedule(c *console) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cl, ok := c.visibleClient(w, r)
		if !ok {
			return
		}
		v := viewerOf(r)
		f := formOf(r)
		sc, err := f.newSchedule(cl, c.Now())
		if err == nil {
			err = c.Schedules.AddSchedule(r.Context(), v.Agency, cl, sc)
		}
		var fe *schedule.FieldError
		if errors.Is(err, conversations.ErrInvalid) || errors.As(err, &fe) {
			f.Problem = strings.TrimPrefix(err.Error(), conversations.ErrInvalid.Error()+": ")
			c.clientPage(w, r, cl, f, http.StatusBadRequest, "")
			return
		}
		if err != nil {
			c.fail(w, r, err)
			return
		}
		if err := c.Store.RecordChange(r.Context(), v.Agency.ID, store.Actor{Kind: "staff", ID: v.Staff.ID}, "schedule", sc.ID, "created", nil, sc); err != nil {
			c.Log.Error("console: audit not written", "agency_id", v.Agency.ID, "record_id", sc.ID, "err", err)
		}
		c.Log.Info("schedule created", "client_id", cl.ID, "schedule_id", sc.ID, "staff_id", v.Staff.ID)
		http.Redirect(w, r, "/console/clients/"+cl.ID+"?saved=1#schedules", http.StatusSeeOther)
	})
}

// clientPage reads what the client page shows and renders it.
func (c *console) clientPage(w http.ResponseWriter, r *http.Request, cl *store.Client, f scheduleForm, status int, flash string) {
	ctx := r.Context()
	v := viewerOf(r)
	now := c.Now()
	T := texts[langOf(r)]
	loc, err := schedule.LoadZone(cl.Timezone)
	if err != nil {
		loc = time.UTC
	}
	data := clientView{Client: cl, CaseManager: c.staffNames(ctx, v.Agency.ID)[cl.CaseManagerID], Form: f, Zone: loc}
	cat, err := conversations.AgencyCatalogue(ctx, c.Store, q.Builtin(), v.Agency.ID)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	for _, qn := range cat.List() {
		if qn.Instrument != q.InstrumentAppointment {
			data.Form.Options = append(data.Form.Options, qn.ID)
		}
	}
	scheds, err := c.Store.Schedules(ctx, cl.ID)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	for _, sc := range scheds {
		sv := scheduleView{ID: sc.ID, Questionnaire: sc.Questionnaire, RRule: sc.RRule, Paused: sc.Paused}
		if s, ok := schedule.SimpleOf(sc.RRule); ok {
			sv.Plain = T[s.Every] + " · " + s.At
			if s.Every == schedule.EveryWeek {
				sv.Plain = T[s.Every] + " · " + T[weekdays[s.Day]] + " · " + s.At
			}
		}
		if times, zl, err := conversations.Upcoming(v.Agency, sc, now, 5); err == nil && !sc.Paused {
			sv.Next = sendTimes(times, zl)
		}
		data.Schedules = append(data.Schedules, sv)
	}
	if data.Appointments, err = c.Store.Appointments(ctx, cl.ID); err != nil {
		c.fail(w, r, err)
		return
	}
	// The charts: a year of scores, the last 30 days of mood.
	entries, err := c.Store.Timelines(ctx, []string{cl.ID}, now.AddDate(-1, 0, 0), now.Add(time.Minute))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	data.Charts = charts(entries[cl.ID], now, loc, T)
	page, err := c.Store.Timeline(ctx, cl.ID, now.AddDate(0, 0, -recentDays), time.Time{}, "", 500)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	for _, e := range page.Items {
		data.Timeline = append(data.Timeline, timelineRow{Datetime: e.At.Format(time.RFC3339), Shown: e.At.In(loc).Format("2006-01-02 15:04"),
			Kind: labelOr(T, "ev_"+e.Type, e.Type), Detail: entryDetail(e, T), at: e.At})
	}
	escs, err := c.escalationRows(ctx, v.Agency.ID, cl.ID, now.AddDate(0, 0, -recentDays), c.staffNames(ctx, v.Agency.ID), loc, T)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	data.Timeline = append(data.Timeline, escs...)
	newestFirst(data.Timeline)
	c.render(w, r, "client.html", status, "client_title", view{Data: data, Flash: flash})
}

// charts draws the mood, PHQ-9 and GAD-7 charts from timeline entries.
func charts(entries []store.Entry, now time.Time, loc *time.Location, T map[string]string) []chart.Figure {
	points := func(instrument string) []chart.Point {
		var out []chart.Point
		for _, s := range reports.Scores(entries, instrument) {
			out = append(out, chart.Point{At: s.At, Value: s.Total, Band: s.Band})
		}
		return out
	}
	label := func(id, title, desc, value string) chart.Labels {
		return chart.Labels{ID: id, Title: T[title], Desc: T[desc], Date: T["date"], Value: T[value], Band: T["band"], Empty: T["no_answers"],
			Day: func(t time.Time) string { return t.Format("2006-01-02") }, BandName: func(b string) string { return labelOr(T, b, b) }}
	}
	figs := []chart.Figure{chart.Mood(points(q.InstrumentMood), now, loc, label("chart-mood", "mood_chart", "mood_desc", "mood"))}
	for _, in := range []struct{ instrument, title string }{{q.InstrumentPHQ9, "phq9_chart"}, {q.InstrumentGAD7, "gad7_chart"}} {
		if fig, err := chart.Scores(in.instrument, points(in.instrument), loc, label("chart-"+in.instrument, in.title, "scores_desc", "total")); err == nil {
			figs = append(figs, fig)
		}
	}
	return figs
}

// entryDetail says what one timeline entry holds, briefly.
func entryDetail(e store.Entry, T map[string]string) string {
	f := e.Fields
	switch e.Type {
	case "in", "out":
		return f["x"]
	case "answer":
		val := f["value"]
		if f["text"] != "" {
			val = f["text"]
		}
		if f["skipped"] != "" {
			val = "—"
		}
		return fmt.Sprintf("%s %s: %s", f["q"], f["question"], val)
	case "score":
		if f["total"] == "" {
			return f["instrument"]
		}
		return strings.TrimSpace(fmt.Sprintf("%s %s %s", f["instrument"], f["total"], labelOr(T, f["band"], f["band"])))
	case "checkin-started", "missed":
		return f["q"]
	case "skipped", "checkin-interrupted":
		return strings.TrimSpace(f["q"] + " " + f["reason"])
	}
	return ""
}

// labelOr is the string for key, else fallback.
func labelOr(T map[string]string, key, fallback string) string {
	if s, ok := T[key]; ok {
		return s
	}
	return fallback
}
