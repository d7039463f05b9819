package escalation

import (
	"fmt"
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
