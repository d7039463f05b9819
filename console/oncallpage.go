package console

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/carecheck/carecheck/escalation"
	"github.com/carecheck/carecheck/escalation/oncall"
	"github.com/carecheck/carecheck/store"
)

// onCallHandoffs is how many coming hand-offs the on-call page shows per
// rotation.
const onCallHandoffs = 3

// onCallRow is one rotation on the on-call page: who is on call now, the
// next hand-offs and the overrides not yet over, times in the agency's zone.
type onCallRow struct {
	ID, Name  string
	Now       onCallShift
	Next      []onCallShift
	Overrides []overrideRow
	Problem   bool // the rotation cannot be read (a zone or a rule the service refuses)
	// Form is the add-an-override form as typed, after a refusal.
	Form overrideForm
}

// overrideRow is one override as listed: whom, from, to.
type overrideRow struct{ ID, Who, From, To string }

// overrideForm is the add-an-override form: who covers, from, to
// (datetime-local in the agency's zone).
type overrideForm struct{ StaffID, From, To string }

// onCallPage is the page's data: the rotations, and for supervisors and
// admins (who may add and remove overrides) the staff to choose from.
type onCallPage struct {
	Rows     []onCallRow
	CanEdit  bool
	Staff    []option
	FormRota string // the rotation whose form is shown as typed
}

// localInput is the datetime-local form of a time in loc.
const localInput = "2006-01-02T15:04"

// onCallShift is one turn: from when, whom, and whether an override put
// them there.
type onCallShift struct {
	Datetime, From, Who string
	Override            bool
}

// handleOnCall lists the agency's on-call rotations for every signed-in
// staff member: who is on call now, since when, and the next hand-offs
// (the answer of GET /v1/rotations/{id}/on-call, read the same way);
// supervisors and admins also add and remove overrides there, and find
// the forms to add, change and delete rotations (rotationpage.go).
func handleOnCall(c *console) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		flash := ""
		T := texts[langOf(r)]
		switch q := r.URL.Query(); {
		case q.Get("created") != "":
			flash = T["rotation_created"]
		case q.Get("saved") != "":
			flash = T["rotation_saved"]
		case q.Get("deleted") != "":
			flash = T["rotation_deleted"]
		}
		c.renderOnCall(w, r, http.StatusOK, "", overrideForm{}, flash, false)
	})
}

// renderOnCall shows the on-call page; after a refused override, form is
// what was typed for rotation rotID, and flash says why.
func (c *console) renderOnCall(w http.ResponseWriter, r *http.Request, status int, rotID string, form overrideForm, flash string, isErr bool) {
	v := viewerOf(r)
	ctx := r.Context()
	rots, err := c.allRotations(ctx, v.Agency.ID)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	names := c.staffNames(ctx, v.Agency.ID)
	loc := zoneOf(v.Agency)
	T := texts[v.Lang]
	shift := func(s oncall.Shift) onCallShift {
		who := T["oncall_nobody"]
		if s.StaffID != "" {
			who = orElse(names[s.StaffID], s.StaffID)
		}
		return onCallShift{Datetime: s.From.Format(time.RFC3339), From: s.From.In(loc).Format("Mon 2006-01-02 15:04"), Who: who, Override: s.Override}
	}
	now := c.Now()
	p := onCallPage{CanEdit: v.CanSeeAgency(), FormRota: rotID, Rows: make([]onCallRow, 0, len(rots))}
	for _, rot := range rots {
		row := onCallRow{ID: rot.ID, Name: rot.Name}
		if rot.ID == rotID {
			row.Form = form
		}
		for _, o := range rot.Overrides {
			if o.End.After(now) {
				row.Overrides = append(row.Overrides, overrideRow{ID: o.ID, Who: orElse(names[o.StaffID], o.StaffID),
					From: o.Start.In(loc).Format("Mon 2006-01-02 15:04"), To: o.End.In(loc).Format("Mon 2006-01-02 15:04")})
			}
		}
		cur, next, err := escalation.OnCall(rot, v.Agency.Timezone, now, onCallHandoffs)
		if err != nil {
			row.Problem = true
			p.Rows = append(p.Rows, row)
			continue
		}
		row.Now = shift(cur)
		for _, s := range next {
			row.Next = append(row.Next, shift(s))
		}
		p.Rows = append(p.Rows, row)
	}
	if p.CanEdit {
		all, err := c.allStaff(ctx, v.Agency.ID)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		for _, m := range all {
			if m.Active {
				p.Staff = append(p.Staff, option{m.ID, m.Name})
			}
		}
	}
	c.render(w, r, "oncall.html", status, "oncall_title", view{Data: p, Flash: flash, FlashError: isErr})
}

// allRotations reads every on-call rotation of the agency, in id order.
func (c *console) allRotations(ctx context.Context, agency string) ([]*store.Rotation, error) {
	var all []*store.Rotation
	cursor := ""
	for {
		page, err := c.Store.Rotations(ctx, agency, cursor, 200)
		if err != nil {
			return nil, err
		}
		all = append(all, page.Items...)
		if cursor = page.Next; cursor == "" {
			return all, nil
		}
	}
}

// handleAddOverride puts someone else on call for a while, by the API's
// rules (escalation.AddOverride), audited as the signed-in person; a
// refusal shows the page again with the form as typed.
func handleAddOverride(c *console) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := viewerOf(r)
		T := texts[v.Lang]
		rotID := urlParam(r, "id")
		f := overrideForm{StaffID: r.PostFormValue("staff_id"), From: r.PostFormValue("from"), To: r.PostFormValue("to")}
		loc := zoneOf(v.Agency)
		from, err1 := time.ParseInLocation(localInput, f.From, loc)
		to, err2 := time.ParseInLocation(localInput, f.To, loc)
		if err1 != nil || err2 != nil {
			c.renderOnCall(w, r, http.StatusBadRequest, rotID, f, T["override_times"], true)
			return
		}
		o, old, rot, err := escalation.AddOverride(r.Context(), c.Store, v.Agency.ID, rotID, f.StaffID, from, to, c.Now())
		var bad *escalation.OverrideError
		switch {
		case errors.Is(err, store.ErrNotFound):
			c.notFound(w, r)
			return
		case errors.As(err, &bad) && bad.TooMany:
			c.renderOnCall(w, r, http.StatusConflict, rotID, f, T["override_too_many"], true)
			return
		case errors.As(err, &bad):
			c.renderOnCall(w, r, http.StatusBadRequest, rotID, f, T["override_refused"]+" "+bad.Error(), true)
			return
		case err != nil:
			c.fail(w, r, err)
			return
		}
		c.Log.Info("rotation override added", "agency_id", v.Agency.ID, "rotation_id", rot.ID, "override_id", o.ID, "staff_id", v.Staff.ID)
		c.audit(r, "rotation", rot.ID, "changed", old, rot)
		http.Redirect(w, r, "/console/on-call?added="+rot.ID, http.StatusSeeOther)
	})
}

// handleRemoveOverride removes an override (escalation.RemoveOverride),
// audited as the signed-in person.
func handleRemoveOverride(c *console) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := viewerOf(r)
		old, rot, err := escalation.RemoveOverride(r.Context(), c.Store, v.Agency.ID, urlParam(r, "id"), urlParam(r, "oid"))
		if errors.Is(err, store.ErrNotFound) {
			c.notFound(w, r)
			return
		}
		if err != nil {
			c.fail(w, r, err)
			return
		}
		c.Log.Info("rotation override removed", "agency_id", v.Agency.ID, "rotation_id", rot.ID, "staff_id", v.Staff.ID)
		c.audit(r, "rotation", rot.ID, "changed", old, rot)
		http.Redirect(w, r, "/console/on-call?removed="+rot.ID, http.StatusSeeOther)
	})
}
