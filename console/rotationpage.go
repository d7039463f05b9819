package console

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/carecheck/carecheck/escalation"
	"github.com/carecheck/carecheck/store"
)

// rotationForm is the add and edit form of an on-call rotation, as typed:
// members in turn (the first on call now, until the next hand-off), daily
// or weekly hand-off on Day (0 Sunday … 6 Saturday) at At, local time.
type rotationForm struct {
	ID, Name, Handoff, Day, At string
	Staff                      []string
}

// memberSlot is one member select of the form: the Nth in turn.
type memberSlot struct {
	N     int
	Value string
}

// rotationPage is the add or edit page's data.
type rotationPage struct {
	New   bool
	Form  rotationForm
	Slots []memberSlot
	Staff []option // the agency's active staff (and members no longer active)
	Days  []option
}

// rotationDayKeys are the string table's names of time.Weekday 0 (Sunday) to 6.
var rotationDayKeys = [...]string{"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"}

// readRotationForm reads the posted form; empty member selects are left out.
func readRotationForm(r *http.Request) rotationForm {
	f := rotationForm{Name: r.PostFormValue("name"), Handoff: r.PostFormValue("handoff"), Day: r.PostFormValue("day"), At: r.PostFormValue("at")}
	for _, id := range r.PostForm["staff"] {
		if id = strings.TrimSpace(id); id != "" {
			f.Staff = append(f.Staff, id)
		}
	}
	return f
}

// fields is the form as escalation.ApplyRotation takes it; false when the
// day is no weekday.
func (f rotationForm) fields() (escalation.RotationFields, bool) {
	staff := slices.Clone(f.Staff)
	if staff == nil {
		staff = []string{}
	}
	fields := escalation.RotationFields{Name: &f.Name, Staff: &staff, Handoff: &f.Handoff, At: &f.At}
	day := time.Sunday
	if f.Handoff == "weekly" {
		n, err := strconv.Atoi(f.Day)
		if err != nil || n < 0 || n > 6 {
			return fields, false
		}
		day = time.Weekday(n)
	}
	fields.Day = &day
	return fields, true
}

// rotationFormOf is a stored rotation as the form shows it: its members in
// turn from whoever's shift runs now, so that saving it unchanged keeps
// the schedule.
func rotationFormOf(rot *store.Rotation, tz string, now time.Time) rotationForm {
	f := rotationForm{ID: rot.ID, Name: rot.Name, Handoff: rot.Handoff, At: rot.At, Staff: escalation.StaffFromNow(rot, tz, now)}
	if start, err := time.Parse(time.DateOnly, rot.Start); err == nil {
		f.Day = strconv.Itoa(int(start.Weekday()))
	}
	return f
}

// renderRotation shows the add or edit page: the member selects (those
// chosen, then two empty ones, as many as there are staff to choose).
func (c *console) renderRotation(w http.ResponseWriter, r *http.Request, status int, p rotationPage, flash string, isErr bool) {
	v := viewerOf(r)
	T := texts[v.Lang]
	all, err := c.allStaff(r.Context(), v.Agency.ID)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	names := map[string]string{}
	for _, m := range all {
		names[m.ID] = m.Name
		if m.Active {
			p.Staff = append(p.Staff, option{m.ID, m.Name})
		}
	}
	for _, id := range p.Form.Staff {
		if !slices.ContainsFunc(p.Staff, func(o option) bool { return o.Value == id }) {
			p.Staff = append(p.Staff, option{id, orElse(names[id], id) + " (" + T["rotation_not_active"] + ")"})
		}
	}
	n := max(min(len(p.Form.Staff)+2, len(p.Staff)), len(p.Form.Staff), 1)
	for i := range n {
		s := memberSlot{N: i + 1}
		if i < len(p.Form.Staff) {
			s.Value = p.Form.Staff[i]
		}
		p.Slots = append(p.Slots, s)
	}
	for d, key := range rotationDayKeys {
		p.Days = append(p.Days, option{strconv.Itoa(d), T[key]})
	}
	title := "rotation_edit_title"
	if p.New {
		title = "rotation_new_title"
	}
	c.render(w, r, "rotation.html", status, title, view{Data: p, Flash: flash, FlashError: isErr})
}

// rotationProblem words a refusal of escalation.ApplyRotation for the form.
func rotationProblem(lang string, bad *escalation.RotationError) string {
	T := texts[lang]
	switch bad.Code {
	case escalation.RotationNameText:
		return textProblem(lang, "name", bad.Err)
	case escalation.RotationNameRequired:
		return fmt.Sprintf(T["text_required"], T["name"])
	case escalation.RotationStaffTwice:
		return fmt.Sprintf(T["rotation_staff_twice"], bad.Index+1)
	case escalation.RotationNoStaff:
		return fmt.Sprintf(T["rotation_no_staff"], bad.Index+1)
	}
	switch bad.Field {
	case "staff":
		return T["rotation_staff_count"]
	case "handoff":
		return T["rotation_handoff_bad"]
	case "at":
		return T["rotation_at_bad"]
	case "day":
		return T["rotation_day_bad"]
	}
	return T["rotation_bad"]
}

// rotationRefused answers a refused add or change: the form again, as
// typed, saying why (400), or 404 for no such rotation in the agency.
func (c *console) rotationRefused(w http.ResponseWriter, r *http.Request, p rotationPage, err error) {
	lang := langOf(r)
	var bad *escalation.RotationError
	switch {
	case errors.As(err, &bad):
		c.renderRotation(w, r, http.StatusBadRequest, p, rotationProblem(lang, bad), true)
	case errors.Is(err, store.ErrNotFound):
		c.notFound(w, r)
	default:
		c.fail(w, r, err)
	}
}

// errRotationDay is a weekly hand-off day that is no weekday.
var errRotationDay = &escalation.RotationError{Code: escalation.RotationShape, Field: "day"}

// handleRotationNew shows the empty add form: weekly, today's weekday at
// 09:00 in the agency's zone.
func handleRotationNew(c *console) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := viewerOf(r)
		day := strconv.Itoa(int(c.Now().In(zoneOf(v.Agency)).Weekday()))
		c.renderRotation(w, r, http.StatusOK, rotationPage{New: true, Form: rotationForm{Handoff: "weekly", Day: day, At: "09:00"}}, "", false)
	})
}

// handleRotationCreate adds a rotation by the API's rules
// (escalation.ApplyRotation, as POST /v1/rotations), audited as the
// signed-in person.
func handleRotationCreate(c *console) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := viewerOf(r)
		f := readRotationForm(r)
		p := rotationPage{New: true, Form: f}
		fields, ok := f.fields()
		if !ok {
			c.rotationRefused(w, r, p, errRotationDay)
			return
		}
		rot := &store.Rotation{AgencyID: v.Agency.ID}
		if err := escalation.ApplyRotation(r.Context(), c.Store, v.Agency.ID, fields, rot, c.Now()); err != nil {
			c.rotationRefused(w, r, p, err)
			return
		}
		if err := c.Store.CreateRotation(r.Context(), rot); err != nil {
			c.fail(w, r, err)
			return
		}
		c.Log.Info("rotation created", "agency_id", v.Agency.ID, "rotation_id", rot.ID, "staff_id", v.Staff.ID)
		c.audit(r, "rotation", rot.ID, "created", nil, rot)
		http.Redirect(w, r, "/console/on-call?created="+rot.ID, http.StatusSeeOther)
	})
}

// rotation reads the route's rotation of the viewer's agency, answering
// 404 itself when there is none.
func (c *console) rotation(w http.ResponseWriter, r *http.Request) (*store.Rotation, bool) {
	rot, err := c.Store.Rotation(r.Context(), viewerOf(r).Agency.ID, urlParam(r, "id"))
	return rot, c.loaded(w, r, err)
}

// handleRotationEdit shows a rotation's edit form (another agency's: 404).
func handleRotationEdit(c *console) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rot, ok := c.rotation(w, r)
		if !ok {
			return
		}
		c.renderRotation(w, r, http.StatusOK, rotationPage{Form: rotationFormOf(rot, viewerOf(r).Agency.Timezone, c.Now())}, "", false)
	})
}

// handleRotationSave changes a rotation by the API's rules
// (escalation.ApplyRotation, as PATCH /v1/rotations/{id}), audited as the
// signed-in person; its overrides stay.
func handleRotationSave(c *console) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := viewerOf(r)
		f := readRotationForm(r)
		f.ID = urlParam(r, "id")
		p := rotationPage{Form: f}
		if _, ok := c.rotation(w, r); !ok {
			return
		}
		fields, ok := f.fields()
		if !ok {
			c.rotationRefused(w, r, p, errRotationDay)
			return
		}
		old, rot, err := c.Store.UpdateRotation(r.Context(), v.Agency.ID, f.ID, func(rot *store.Rotation) error {
			return escalation.ApplyRotation(r.Context(), c.Store, v.Agency.ID, fields, rot, c.Now())
		})
		if err != nil {
			c.rotationRefused(w, r, p, err)
			return
		}
		c.Log.Info("rotation changed", "agency_id", v.Agency.ID, "rotation_id", rot.ID, "staff_id", v.Staff.ID)
		c.audit(r, "rotation", rot.ID, "changed", old, rot)
		http.Redirect(w, r, "/console/on-call?saved="+rot.ID, http.StatusSeeOther)
	})
}

// handleRotationDelete deletes a rotation once the box is ticked, by the
// API's rule (escalation.DeleteRotation: not while the escalation policy
// names it), audited as the signed-in person.
func handleRotationDelete(c *console) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := viewerOf(r)
		T := texts[v.Lang]
		cur, ok := c.rotation(w, r)
		if !ok {
			return
		}
		p := rotationPage{Form: rotationFormOf(cur, v.Agency.Timezone, c.Now())}
		// A slip of the finger must not leave nobody on call.
		if r.PostFormValue("confirm") != "on" {
			c.renderRotation(w, r, http.StatusBadRequest, p, T["rotation_delete_unconfirmed"], true)
			return
		}
		rot, err := escalation.DeleteRotation(r.Context(), c.Store, v.Agency.ID, cur.ID)
		var inUse *escalation.RotationInUseError
		switch {
		case errors.As(err, &inUse):
			c.renderRotation(w, r, http.StatusConflict, p, fmt.Sprintf(T["rotation_in_policy"], inUse.StepList()), true)
			return
		case errors.Is(err, store.ErrNotFound):
			c.notFound(w, r)
			return
		case err != nil:
			c.fail(w, r, err)
			return
		}
		c.Log.Info("rotation deleted", "agency_id", v.Agency.ID, "rotation_id", rot.ID, "staff_id", v.Staff.ID)
		c.audit(r, "rotation", rot.ID, "deleted", rot, nil)
		http.Redirect(w, r, "/console/on-call?deleted=1", http.StatusSeeOther)
	})
}
