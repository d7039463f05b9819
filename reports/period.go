// Package reports computes the supervisors' figures for a date range in the
// agency's zone: check-ins sent, answered and missed with response rates
// per client and per case manager (Checkins), escalations opened and the
// time to their first acknowledgement per case manager and per step reached
// (Escalations), and clients whose PHQ-9 or GAD-7 scores worsened
// (Worsening). The figures are pure functions of Records, which Gather
// reads from the store; the API serves them as JSON and the console shows
// them.
//
// How each figure is counted (the README says the same for readers):
//
//   - A check-in counts in the period its first question went out in
//     ("checkin-started"); appointment confirmations are not check-ins. Its
//     outcome is what its later entries say, read up to Settle after the
//     period's end: answered (scored, nothing asked after), missed,
//     interrupted (a crisis or the safety question cut it short) or open.
//     Occurrences not sent because the client could not be messaged are
//     counted as skipped, not sent.
//   - A response rate is answered / (answered + missed): open and
//     interrupted check-ins are left out. It is null with neither.
//   - Figures per case manager are over the clients assigned to them now.
//   - An escalation counts in the period it opened in. Its first
//     acknowledgement is the earlier of its acknowledgement and its
//     resolution (resolving without acknowledging is also a response); the
//     step reached is the policy step it stood at then (or stands at now,
//     when nobody has responded), the last step for its repeats.
//   - Median and 90th percentile are by nearest rank over whole seconds
//     (the median of an even count is the mean of the middle two).
//   - A client's score worsened when, between their first and last valid
//     PHQ-9 (or GAD-7) in the period, the total rose by WorseningPoints or
//     more or the severity band rose.
package reports

import (
	"fmt"
	"time"
)

// MaxDays is the longest period a report covers.
const MaxDays = 366

// Settle is how long after a period's end its check-ins' outcomes are
// read: a check-in started on the last evening is missed only after its
// reply window and nudge.
const Settle = 7 * 24 * time.Hour

// Period is a report's date range: from the start of From to the end of To
// (both included), local dates in the agency's zone.
type Period struct {
	From     string `json:"from"`
	To       string `json:"to"`
	Timezone string `json:"timezone"`
	// Start and End are the instants it covers, [Start, End).
	Start time.Time `json:"-"`
	End   time.Time `json:"-"`
}

// FieldError is a period parameter that cannot be read.
type FieldError struct{ Field, Problem string }

func (e *FieldError) Error() string { return e.Field + ": " + e.Problem }

// ParsePeriod reads from and to ("2026-07-01", local dates, to included)
// in the zone named by zone.
func ParsePeriod(from, to, zone string) (Period, error) {
	loc, err := time.LoadLocation(zone)
	if err != nil || zone == "" {
		return Period{}, fmt.Errorf("agency timezone %q: %w", zone, err)
	}
	day := func(field, v string) (time.Time, error) {
		if v == "" {
			return time.Time{}, &FieldError{field, "required (a date, YYYY-MM-DD, in the agency's zone)"}
		}
		d, err := time.ParseInLocation(time.DateOnly, v, loc)
		if err != nil {
			return time.Time{}, &FieldError{field, fmt.Sprintf("%q is not a date (YYYY-MM-DD)", v)}
		}
		return d, nil
	}
	f, err := day("from", from)
	if err != nil {
		return Period{}, err
	}
	t, err := day("to", to)
	if err != nil {
		return Period{}, err
	}
	if t.Before(f) {
		return Period{}, &FieldError{"to", "before from"}
	}
	end := time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, loc)
	if days := end.Sub(f).Hours() / 24; days > MaxDays+0.5 {
		return Period{}, &FieldError{"to", fmt.Sprintf("the period is over %d days", MaxDays)}
	}
	return Period{From: from, To: to, Timezone: zone, Start: f, End: end}, nil
}

// Contains reports whether t is in the period.
func (p Period) Contains(t time.Time) bool { return !t.Before(p.Start) && t.Before(p.End) }
