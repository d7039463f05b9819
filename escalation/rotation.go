package escalation

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/carecheck/carecheck/escalation/oncall"
	"github.com/carecheck/carecheck/freetext"
	"github.com/carecheck/carecheck/store"
)

// OnCallSpec is the stored rotation as escalation/oncall reads it.
func OnCallSpec(r *store.Rotation) oncall.Rotation {
	spec := oncall.Rotation{Staff: r.Staff, Handoff: r.Handoff, At: r.At, Start: r.Start}
	for _, o := range r.Overrides {
		spec.Overrides = append(spec.Overrides, oncall.Override{StaffID: o.StaffID, Start: o.Start, End: o.End})
	}
	return spec
}

// OnCall answers who is on call in rotation r at t, in the agency's zone
// tz, and the next n changes.
func OnCall(r *store.Rotation, tz string, t time.Time, n int) (oncall.Shift, []oncall.Shift, error) {
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return oncall.Shift{}, nil, fmt.Errorf("rotation %s: zone %q: %w", r.ID, tz, err)
	}
	spec := OnCallSpec(r)
	if err := oncall.Validate(spec); err != nil {
		return oncall.Shift{}, nil, fmt.Errorf("rotation %s: %w", r.ID, err)
	}
	return oncall.At(spec, loc, t), oncall.Next(spec, loc, t, n), nil
}

// Override limits: the longest override, and how many current or future
// overrides a rotation keeps (those that ended are dropped when one is added).
const (
	MaxOverride  = 31 * 24 * time.Hour
	MaxOverrides = 50
)

// OverrideError is an override refused by its rules: Field names what is
// wrong; TooMany is the one refusal of the rotation's state (a conflict).
type OverrideError struct {
	Field, Msg string
	TooMany    bool
}

func (e *OverrideError) Error() string { return e.Field + ": " + e.Msg }

// AddOverride puts staffID on call in the agency's rotation rotID from
// start to end ("Sam covers Friday night"), by the rules the API and the
// console share: an active case manager of the agency; end after start, at
// most MaxOverride later and not already past at now; at most MaxOverrides
// current or future overrides. The rotation is changed under WATCH; it
// returns the override and the rotation before and after (store.ErrNotFound:
// no such rotation in the agency).
func AddOverride(ctx context.Context, st *store.Store, agencyID, rotID, staffID string, start, end, now time.Time) (store.RotationOverride, *store.Rotation, *store.Rotation, error) {
	// Another agency's rotation is no rotation, whatever else is wrong.
	if _, err := st.Rotation(ctx, agencyID, rotID); err != nil {
		return store.RotationOverride{}, nil, nil, err
	}
	staffID = strings.TrimSpace(staffID)
	var bad *OverrideError
	switch {
	case staffID == "":
		bad = &OverrideError{Field: "staff_id", Msg: "required"}
	case start.IsZero() || end.IsZero():
		bad = &OverrideError{Field: "start, end", Msg: "required (RFC 3339)"}
	case !end.After(start):
		bad = &OverrideError{Field: "end", Msg: "must be after start"}
	case end.Sub(start) > MaxOverride:
		bad = &OverrideError{Field: "end", Msg: "an override lasts at most 31 days"}
	case !end.After(now):
		bad = &OverrideError{Field: "end", Msg: "already past"}
	}
	if bad != nil {
		return store.RotationOverride{}, nil, nil, bad
	}
	m, err := st.CaseManager(ctx, agencyID, staffID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !m.Active) {
		return store.RotationOverride{}, nil, nil, &OverrideError{Field: "staff_id", Msg: "no such active case manager in this agency"}
	}
	if err != nil {
		return store.RotationOverride{}, nil, nil, err
	}
	o := store.RotationOverride{ID: store.NewID("ov", now), StaffID: staffID, Start: start.UTC(), End: end.UTC()}
	old, rot, err := st.UpdateRotation(ctx, agencyID, rotID, func(rot *store.Rotation) error {
		rot.Overrides = slices.DeleteFunc(rot.Overrides, func(x store.RotationOverride) bool { return !x.End.After(now) })
		if len(rot.Overrides) >= MaxOverrides {
			return &OverrideError{Field: "overrides", Msg: "at most 50 current or future overrides", TooMany: true}
		}
		rot.Overrides = append(rot.Overrides, o)
		return nil
	})
	if err != nil {
		return store.RotationOverride{}, nil, nil, err
	}
	return o, old, rot, nil
}

// RemoveOverride removes the override oid from the agency's rotation rotID
// (store.ErrNotFound: no such rotation or override).
func RemoveOverride(ctx context.Context, st *store.Store, agencyID, rotID, oid string) (old, rot *store.Rotation, err error) {
	return st.UpdateRotation(ctx, agencyID, rotID, func(rot *store.Rotation) error {
		i := slices.IndexFunc(rot.Overrides, func(x store.RotationOverride) bool { return x.ID == oid })
		if i < 0 {
			return store.ErrNotFound
		}
		rot.Overrides = slices.Delete(rot.Overrides, i, i+1)
		return nil
	})
}

// RotationFields is a rotation as asked for (POST and PATCH /v1/rotations,
// the console's rotation form); a nil field is left as it is.
type RotationFields struct {
	Name    *string
	Staff   *[]string
	Handoff *string
	At      *string
	Start   *string
	// Day asks for the start instead of Start (the console's form): the
	// local date, in the agency's zone, of the latest hand-off at or before
	// now, on Day's weekday for a weekly rotation and on any day for a daily
	// one, so that the first of Staff is on call now, until the next
	// hand-off. Start is ignored then.
	Day *time.Weekday
}

// Rotation refusal codes (RotationError.Code).
const (
	RotationNameRequired = "name_required" // no name
	RotationNameText     = "name_text"     // a name freetext refuses (Err says why)
	RotationShape        = "shape"         // oncall.Validate refused it (Field: staff, handoff, at, start, overrides[i])
	RotationStaffTwice   = "staff_twice"   // Staff[Index] is already in the rotation
	RotationNoStaff      = "no_staff"      // Staff[Index] is no active case manager of the agency
)

// RotationError is a rotation refused by its rules: Code (and Field, Index)
// say what is wrong for a form to word; Error is the API's message.
type RotationError struct {
	Code, Field string
	Index       int
	// Err is the refusal of freetext (RotationNameText) or oncall
	// (RotationShape).
	Err error
	msg string
}

func (e *RotationError) Error() string { return e.msg }
func (e *RotationError) Unwrap() error { return e.Err }

// ApplyRotation sets f's fields on rot (a new one, or the stored one in
// store.UpdateRotation's change) and checks the result by the rules the API
// and the console share: a name (freetext.Name); the shape oncall.Validate
// checks (staff, hand-off daily or weekly at a local time, start); every
// staff id an active case manager of the agency, once. A refusal is a
// *RotationError; other errors are the store's. now and the agency's zone
// place the start when f.Day is set.
func ApplyRotation(ctx context.Context, st *store.Store, agencyID string, f RotationFields, rot *store.Rotation, now time.Time) error {
	if f.Name != nil {
		name, err := freetext.Check("name", *f.Name, freetext.Name)
		if err != nil {
			return &RotationError{Code: RotationNameText, Field: "name", Err: err, msg: err.Error()}
		}
		rot.Name = name
	}
	if f.Staff != nil {
		rot.Staff = nil
		for _, id := range *f.Staff {
			rot.Staff = append(rot.Staff, strings.TrimSpace(id))
		}
	}
	if f.Handoff != nil {
		rot.Handoff = strings.TrimSpace(*f.Handoff)
	}
	if f.At != nil {
		rot.At = strings.TrimSpace(*f.At)
	}
	if f.Day != nil {
		ag, err := st.Agency(ctx, agencyID)
		if err != nil {
			return err
		}
		if start, ok := startNow(rot.Handoff, rot.At, *f.Day, ag.Timezone, now); ok {
			rot.Start = start
		}
	} else if f.Start != nil {
		rot.Start = strings.TrimSpace(*f.Start)
	}
	if rot.Name == "" {
		return &RotationError{Code: RotationNameRequired, Field: "name", msg: "name: required"}
	}
	if err := oncall.Validate(OnCallSpec(rot)); err != nil {
		field := ""
		var oe *oncall.Error
		if errors.As(err, &oe) {
			field = oe.Field
		}
		return &RotationError{Code: RotationShape, Field: field, Err: err, msg: err.Error()}
	}
	for i, id := range rot.Staff {
		if slices.Index(rot.Staff, id) != i {
			return &RotationError{Code: RotationStaffTwice, Field: fmt.Sprintf("staff[%d]", i), Index: i,
				msg: fmt.Sprintf("staff[%d]: %s is already in the rotation", i, id)}
		}
		m, err := st.CaseManager(ctx, agencyID, id)
		if errors.Is(err, store.ErrNotFound) || (err == nil && !m.Active) {
			return &RotationError{Code: RotationNoStaff, Field: fmt.Sprintf("staff[%d]", i), Index: i,
				msg: fmt.Sprintf("staff[%d]: no such active case manager in this agency", i)}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// startNow is the local date, in zone tz, of a rotation's latest hand-off
// at or before now (by escalation/oncall's reckoning, DST included): on
// weekday day when weekly, any day when daily; false when the hand-off or
// its time is not valid (oncall.Validate says why).
func startNow(handoff, at string, day time.Weekday, tz string, now time.Time) (string, bool) {
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return "", false
	}
	y, m, d := now.In(loc).Date()
	guess := time.Date(y, m, d, 12, 0, 0, 0, loc)
	if handoff == oncall.Weekly {
		guess = guess.AddDate(0, 0, -((int(guess.Weekday()) - int(day) + 7) % 7))
	}
	spec := oncall.Rotation{Staff: []string{"-"}, Handoff: handoff, At: at, Start: guess.Format(time.DateOnly)}
	if oncall.Validate(spec) != nil {
		return "", false
	}
	return oncall.At(spec, loc, now).From.In(loc).Format(time.DateOnly), true
}

// StaffFromNow is the rotation's staff in turn from whoever's shift runs at
// now (overrides aside), in the agency's zone tz: with the weekday of the
// shift's hand-off and RotationFields.Day, the same schedule again (what the
// console's form shows to edit). The rotation as stored when it cannot be
// read.
func StaffFromNow(r *store.Rotation, tz string, now time.Time) []string {
	spec := OnCallSpec(r)
	spec.Overrides = nil
	loc, err := time.LoadLocation(tz)
	if err != nil || oncall.Validate(spec) != nil {
		return slices.Clone(r.Staff)
	}
	i := slices.Index(r.Staff, oncall.At(spec, loc, now).StaffID)
	if i < 0 {
		return slices.Clone(r.Staff)
	}
	return append(slices.Clone(r.Staff[i:]), r.Staff[:i]...)
}

// RotationInUseError refuses to delete a rotation the agency's escalation
// policy names: Steps are the steps that do, from 1.
type RotationInUseError struct{ Steps []int }

func (e *RotationInUseError) Error() string {
	return "the escalation policy names this rotation (steps " + e.StepList() + "): change the policy first"
}

// StepList is the steps that name the rotation, "2, 3".
func (e *RotationInUseError) StepList() string {
	steps := make([]string, len(e.Steps))
	for i, s := range e.Steps {
		steps[i] = strconv.Itoa(s)
	}
	return strings.Join(steps, ", ")
}

// DeleteRotation deletes the agency's rotation rotID unless a step of the
// agency's escalation policy names it as on-call:<id> (*RotationInUseError),
// by the rule the API and the console share. It returns the rotation
// deleted (store.ErrNotFound: no such rotation in the agency). An open
// escalation whose policy snapshot names it skips that step.
func DeleteRotation(ctx context.Context, st *store.Store, agencyID, rotID string) (*store.Rotation, error) {
	rot, err := st.Rotation(ctx, agencyID, rotID)
	if err != nil {
		return nil, err
	}
	ag, err := st.Agency(ctx, rot.AgencyID)
	if err != nil {
		return nil, err
	}
	if ag.Policy != nil {
		var steps []int
		for i, s := range ag.Policy.Steps {
			if id, ok := OnCallRotation(s.Notify); ok && id == rot.ID {
				steps = append(steps, i+1)
			}
		}
		if len(steps) > 0 {
			return nil, &RotationInUseError{Steps: steps}
		}
	}
	if err := st.DeleteRotation(ctx, rot.AgencyID, rot.ID); err != nil {
		return nil, err
	}
	return rot, nil
}
