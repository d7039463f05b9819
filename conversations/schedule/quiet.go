package schedule

import (
	"fmt"
	"time"
)

// QuietHours is a daily period, in the client's local time, during which
// non-urgent messages (check-ins, reminders) wait. Start and End are "HH:MM",
// 24-hour. Start after End crosses midnight ("21:00"–"08:00"); Start equal to
// End means no quiet hours. Crisis handling never consults it.
type QuietHours struct {
	Start, End string
}

// DefaultQuietHours is the clinical default, 21:00–08:00 client time.
func DefaultQuietHours() QuietHours { return QuietHours{Start: "21:00", End: "08:00"} }

// Validate reports whether Start and End are both "HH:MM" times.
func (q QuietHours) Validate() error {
	_, _, err := q.minutes()
	return err
}

func (q QuietHours) minutes() (start, end int, err error) {
	if start, err = clockMinutes(q.Start); err != nil {
		return 0, 0, fmt.Errorf("quiet hours start: %w", err)
	}
	if end, err = clockMinutes(q.End); err != nil {
		return 0, 0, fmt.Errorf("quiet hours end: %w", err)
	}
	return start, end, nil
}

// clockMinutes parses "HH:MM" strictly: time.Parse would also take "9:5".
func clockMinutes(s string) (int, error) {
	if len(s) != 5 || s[2] != ':' {
		return 0, fmt.Errorf("%q is not HH:MM", s)
	}
	digit := func(i int) int {
		if s[i] < '0' || s[i] > '9' {
			return -100
		}
		return int(s[i] - '0')
	}
	h, m := digit(0)*10+digit(1), digit(3)*10+digit(4)
	if h < 0 || h > 23 || m < 0 || m > 59 {
		return 0, fmt.Errorf("%q is not HH:MM", s)
	}
	return h*60 + m, nil
}

// Defer returns t if it falls outside quiet hours in loc, otherwise the end of
// the quiet period it falls in: End on the same local day, or on the next day
// when t is before midnight in a period that crosses it. Quiet hours are
// [Start, End): 20:59 and 08:00 are not quiet, 21:00 and 07:59 are.
//
// Invalid quiet hours fall back to DefaultQuietHours, so a configuration typo
// cannot make the service message people in the night; validate at input. A
// nil loc means UTC. If End falls in a DST gap it is shifted forward like an
// occurrence; if it happens twice, the first instance after t is returned.
func (q QuietHours) Defer(t time.Time, loc *time.Location) time.Time {
	start, end, err := q.minutes()
	if err != nil {
		start, end, _ = DefaultQuietHours().minutes()
	}
	if start == end {
		return t
	}
	if loc == nil {
		loc = time.UTC
	}
	lt := t.In(loc)
	now := lt.Hour()*60 + lt.Minute()
	days := 0
	switch {
	case start < end && now >= start && now < end:
	case start > end && now < end:
	case start > end && now >= start:
		days = 1
	default:
		return t
	}
	y, m, d := lt.Date()
	w := time.Date(y, m, d+days, end/60, end%60, 0, 0, time.UTC)
	inst, n, gap := resolveWall(w, loc)
	if n == 0 {
		return gap.In(loc)
	}
	for _, e := range inst[:n] {
		if e.After(t) {
			return e.In(loc)
		}
	}
	return t // not reached with real zone data
}
