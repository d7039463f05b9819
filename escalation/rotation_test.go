package escalation

import (
	"errors"
	"testing"
	"time"

	"github.com/carecheck/carecheck/store"
	"github.com/carecheck/carecheck/store/redistest"
)

// The console's edit form shows a rotation's members in turn from whoever
// is on call now and asks only for the hand-off's weekday; saving it
// unchanged (startNow from that weekday) must keep the schedule: the same
// person on call now and the same next hand-offs, daily and weekly, just
// before and after a hand-off and across both DST changes in the zone.
func TestSavingARotationUnchangedKeepsTheSchedule(t *testing.T) {
	const tz = "America/Chicago"
	loc, err := time.LoadLocation(tz)
	if err != nil {
		t.Fatal(err)
	}
	rotations := []*store.Rotation{
		{ID: "ro_weekly", Staff: []string{"cm_a", "cm_b", "cm_c"}, Handoff: "weekly", At: "09:00", Start: "2026-01-05"},       // Mondays
		{ID: "ro_daily", Staff: []string{"cm_a", "cm_b", "cm_c", "cm_d"}, Handoff: "daily", At: "18:30", Start: "2026-02-01"}, // every evening
	}
	nows := []time.Time{
		time.Date(2026, 3, 7, 12, 0, 0, 0, loc),    // the day before spring forward
		time.Date(2026, 3, 9, 8, 59, 0, 0, loc),    // a Monday, a minute before the weekly hand-off
		time.Date(2026, 3, 9, 9, 1, 0, 0, loc),     // and a minute after
		time.Date(2026, 10, 31, 18, 29, 0, 0, loc), // before fall back, a minute before the daily hand-off
		time.Date(2026, 11, 2, 3, 0, 0, 0, loc),    // after fall back
		time.Date(2026, 12, 25, 23, 0, 0, 0, loc),
	}
	for _, r := range rotations {
		start, err := time.Parse(time.DateOnly, r.Start)
		if err != nil {
			t.Fatal(err)
		}
		for _, now := range nows {
			was, wasNext, err := OnCall(r, tz, now, 4)
			if err != nil {
				t.Fatal(err)
			}
			newStart, ok := startNow(r.Handoff, r.At, start.Weekday(), tz, now)
			if !ok {
				t.Fatalf("%s at %v: startNow refused", r.ID, now)
			}
			saved := &store.Rotation{ID: r.ID, Staff: StaffFromNow(r, tz, now), Handoff: r.Handoff, At: r.At, Start: newStart}
			is, isNext, err := OnCall(saved, tz, now, 4)
			if err != nil {
				t.Fatal(err)
			}
			if is.StaffID != was.StaffID {
				t.Errorf("%s at %v: on call after saving unchanged = %s; want %s (staff %v from %s)", r.ID, now, is.StaffID, was.StaffID, saved.Staff, newStart)
			}
			for i := range wasNext {
				if i >= len(isNext) || !isNext[i].From.Equal(wasNext[i].From) || isNext[i].StaffID != wasNext[i].StaffID {
					t.Errorf("%s at %v: next hand-offs after saving = %v; want %v", r.ID, now, isNext, wasNext)
					break
				}
			}
		}
	}
}

// Each rule of ApplyRotation refuses with its code and field, and a refused
// rotation is not one the caller may save: the API and the console word
// their messages from these. Staff must be active case managers of this
// agency, once each; the shape is oncall's.
func TestApplyRotationRefusals(t *testing.T) {
	rs := redistest.New(t)
	st := store.New(rs.Client(t), nil)
	ctx := t.Context()
	a, cm, _ := seed(t, st, 0)
	gone := &store.CaseManager{AgencyID: a.ID, Name: "Lee", Phone: "+13125550112"}
	if err := st.CreateCaseManager(ctx, gone); err != nil {
		t.Fatal(err)
	}
	if err := st.UpdateCaseManager(ctx, gone, st.DeactivateCaseManager(gone)); err != nil {
		t.Fatal(err)
	}
	other := &store.Agency{Name: "Southside", Timezone: "America/Chicago"}
	if _, err := st.CreateAgency(ctx, other); err != nil {
		t.Fatal(err)
	}
	otherCM := &store.CaseManager{AgencyID: other.ID, Name: "Sam", Phone: "+13125550113"}
	if err := st.CreateCaseManager(ctx, otherCM); err != nil {
		t.Fatal(err)
	}
	str := func(s string) *string { return &s }
	staff := func(ids ...string) *[]string { return &ids }
	valid := func() RotationFields {
		return RotationFields{Name: str("Nights"), Staff: staff(cm.ID), Handoff: str("weekly"), At: str("09:00"), Start: str("2026-01-05")}
	}
	now := time.Date(2026, 3, 9, 12, 0, 0, 0, time.UTC)
	if err := ApplyRotation(ctx, st, a.ID, valid(), &store.Rotation{}, now); err != nil {
		t.Fatalf("a valid rotation refused: %v", err)
	}
	for _, c := range []struct {
		name        string
		change      func(*RotationFields)
		code, field string
	}{
		{"no name", func(f *RotationFields) { f.Name = nil }, RotationNameRequired, "name"},
		{"a blank name", func(f *RotationFields) { f.Name = str("  ") }, RotationNameText, "name"},
		{"a name with a control character", func(f *RotationFields) { f.Name = str("Nights\x00") }, RotationNameText, "name"},
		{"no staff", func(f *RotationFields) { f.Staff = staff() }, RotationShape, "staff"},
		{"a hand-off neither daily nor weekly", func(f *RotationFields) { f.Handoff = str("hourly") }, RotationShape, "handoff"},
		{"a time that is not one", func(f *RotationFields) { f.At = str("25:00") }, RotationShape, "at"},
		{"a start that is not a date", func(f *RotationFields) { f.Start = str("next monday") }, RotationShape, "start"},
		{"someone twice", func(f *RotationFields) { f.Staff = staff(cm.ID, cm.ID) }, RotationStaffTwice, "staff[1]"},
		{"someone no longer active", func(f *RotationFields) { f.Staff = staff(cm.ID, gone.ID) }, RotationNoStaff, "staff[1]"},
		{"another agency's case manager", func(f *RotationFields) { f.Staff = staff(otherCM.ID) }, RotationNoStaff, "staff[0]"},
		{"no such id", func(f *RotationFields) { f.Staff = staff("cm_nobody") }, RotationNoStaff, "staff[0]"},
	} {
		f := valid()
		c.change(&f)
		err := ApplyRotation(ctx, st, a.ID, f, &store.Rotation{}, now)
		var re *RotationError
		if !errors.As(err, &re) {
			t.Errorf("%s: err = %v; want a *RotationError", c.name, err)
			continue
		}
		if re.Code != c.code || re.Field != c.field {
			t.Errorf("%s: refused as %s on %q (%v); want %s on %q", c.name, re.Code, re.Field, re, c.code, c.field)
		}
		if re.Error() == "" {
			t.Errorf("%s: no message for the API", c.name)
		}
	}
}
