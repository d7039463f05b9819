// Package oncall answers who is on call in a rotation at a moment, and when
// that changes: a pure function of the rotation, its zone and the time,
// tested by tables (DST changes included).
//
// A rotation hands off every day or every week at a local time, starting on
// its start date (a weekly rotation hands off on that date's weekday). The
// pattern runs both ways from the start: shift k begins at the hand-off time
// on start + k periods (k may be negative) and belongs to Staff[k mod n].
// Hand-off times are wall-clock times in the zone, so a rotation that hands
// off at 09:00 does so at 09:00 before and after a DST change; a time that
// does not exist that day (02:30 on a spring-forward day) is as late as the
// gap (03:30), and one that happens twice is the first.
// An override puts someone else on call from its start (inclusive) to its
// end (exclusive); of overlapping overrides, the one added last wins.
package oncall

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Hand-off periods.
const (
	Daily  = "daily"
	Weekly = "weekly"
)

// Rotation is what the computation needs of a rotation.
type Rotation struct {
	Staff     []string   // in order; the first is on call in the shift that begins on Start
	Handoff   string     // Daily or Weekly
	At        string     // local hand-off time, "09:00"
	Start     string     // local date of the first hand-off, "2026-11-02"
	Overrides []Override // in the order added
}

// Override puts StaffID on call over [Start, End).
type Override struct {
	StaffID    string
	Start, End time.Time
}

// Shift is a stretch of time with one person on call.
type Shift struct {
	StaffID string    `json:"staff_id"`
	From    time.Time `json:"from"`
	// Override is true when an override put them there.
	Override bool `json:"override,omitempty"`
}

// Error is a rotation Validate refuses: Field names what is wrong ("staff",
// "handoff", "at", "start", "overrides[2]"), Msg why.
type Error struct{ Field, Msg string }

func (e *Error) Error() string { return e.Field + ": " + e.Msg }

// Validate checks the rotation's shape (not whether its staff exist); a
// refusal is an *Error.
func Validate(r Rotation) error {
	if len(r.Staff) == 0 {
		return &Error{"staff", "at least one staff member"}
	}
	if len(r.Staff) > 100 {
		return &Error{"staff", "at most 100"}
	}
	if r.Handoff != Daily && r.Handoff != Weekly {
		return &Error{"handoff", `"daily" or "weekly"`}
	}
	if _, _, err := clock(r.At); err != nil {
		return &Error{"at", err.Error()}
	}
	if _, err := time.Parse(time.DateOnly, r.Start); err != nil {
		return &Error{"start", "a date, 2026-11-02"}
	}
	for i, o := range r.Overrides {
		if !o.End.After(o.Start) {
			return &Error{fmt.Sprintf("overrides[%d]", i), "end must be after start"}
		}
	}
	return nil
}

func clock(v string) (h, m int, err error) {
	t, err := time.Parse("15:04", v)
	if err != nil || len(v) != 5 {
		return 0, 0, errors.New(`a local time, "09:00"`)
	}
	return t.Hour(), t.Minute(), nil
}

// period is the rotation's hand-off period in days.
func (r Rotation) period() int {
	if r.Handoff == Weekly {
		return 7
	}
	return 1
}

// handoff is when shift k begins.
func (r Rotation) handoff(k int, loc *time.Location) time.Time {
	start, _ := time.ParseInLocation(time.DateOnly, r.Start, loc)
	h, m, _ := clock(r.At)
	y, mo, d := start.Date()
	t := time.Date(y, mo, d+k*r.period(), h, m, 0, 0, loc)
	if t.Hour() != h || t.Minute() != m {
		// The time falls in a spring-forward gap: hand off when the clocks
		// jump (02:30 → 03:30), not before it (Go's time.Date gives 01:30).
		_, before := t.Zone()
		_, after := t.Add(3 * time.Hour).Zone()
		t = t.Add(time.Duration(after-before) * time.Second)
	}
	return t
}

// shiftAt is the number of the rotation shift running at t.
func (r Rotation) shiftAt(t time.Time, loc *time.Location) int {
	start, _ := time.ParseInLocation(time.DateOnly, r.Start, loc)
	local := t.In(loc)
	// Days between the start date and t's local date, counted on the
	// calendar (a DST day has 23 or 25 hours but is one day).
	sy, sm, sd := start.Date()
	ly, lm, ld := local.Date()
	days := int(time.Date(ly, lm, ld, 0, 0, 0, 0, time.UTC).Sub(time.Date(sy, sm, sd, 0, 0, 0, 0, time.UTC)) / (24 * time.Hour))
	k := floorDiv(days, r.period())
	// The shift numbered by the date may begin later today (before the
	// hand-off time) or have been followed by another already.
	for r.handoff(k, loc).After(t) {
		k--
	}
	for !r.handoff(k+1, loc).After(t) {
		k++
	}
	return k
}

func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func (r Rotation) staffOf(k int) string {
	n := len(r.Staff)
	return r.Staff[((k%n)+n)%n]
}

// At answers who is on call at t: the override covering t (the last added
// of several), else the rotation's shift. The rotation must Validate and loc
// is its agency's zone.
func At(r Rotation, loc *time.Location, t time.Time) Shift {
	for i := len(r.Overrides) - 1; i >= 0; i-- {
		o := r.Overrides[i]
		if !t.Before(o.Start) && t.Before(o.End) {
			return Shift{StaffID: o.StaffID, From: o.Start, Override: true}
		}
	}
	k := r.shiftAt(t, loc)
	return Shift{StaffID: r.staffOf(k), From: r.handoff(k, loc)}
}

// Next lists the next n changes of who is on call after t: rotation
// hand-offs and override starts and ends, each with whoever is on call from
// then on (a hand-off to the same person, or one hidden by an override, is
// not a change).
func Next(r Rotation, loc *time.Location, t time.Time, n int) []Shift {
	if n <= 0 {
		return nil
	}
	k := r.shiftAt(t, loc)
	var times []time.Time
	for i := 1; i <= n+2*len(r.Overrides)+len(r.Staff); i++ {
		times = append(times, r.handoff(k+i, loc))
	}
	for _, o := range r.Overrides {
		for _, b := range []time.Time{o.Start, o.End} {
			if b.After(t) {
				times = append(times, b)
			}
		}
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	times = slices.CompactFunc(times, func(a, b time.Time) bool { return a.Equal(b) })
	cur := At(r, loc, t)
	var out []Shift
	for _, b := range times {
		s := At(r, loc, b)
		if s.StaffID == cur.StaffID && s.Override == cur.Override {
			continue
		}
		s.From = b
		out = append(out, s)
		cur = s
		if len(out) == n {
			break
		}
	}
	return out
}
