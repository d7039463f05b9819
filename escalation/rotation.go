package escalation

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/carecheck/carecheck/escalation/oncall"
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
