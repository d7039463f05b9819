package escalation

import (
	"testing"
	"time"

	"github.com/carecheck/carecheck/store"
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
