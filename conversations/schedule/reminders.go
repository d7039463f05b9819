package schedule

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	// DefaultLateLimit is how late an occurrence may still be sent. Later than
	// that it is skipped: a 10:00 check-in is not worth a message at 3 a.m.
	// after an outage.
	DefaultLateLimit = time.Hour
	// MaxReminderOffset is the earliest a reminder may come before its appointment.
	MaxReminderOffset = 30 * 24 * time.Hour
	// MaxReminders bounds the reminders per appointment: more is noise.
	MaxReminders = 5
)

// DefaultReminderOffsets are used when an appointment names none.
func DefaultReminderOffsets() []string { return []string{"24h", "2h"} }

// Late reports whether an occurrence due at `due` is more than limit late at
// now, and should be skipped rather than sent. limit <= 0 means DefaultLateLimit.
// Exactly limit late is still on time.
func Late(due, now time.Time, limit time.Duration) bool {
	if limit <= 0 {
		limit = DefaultLateLimit
	}
	return now.Sub(due) > limit
}

// ParseOffsets parses reminder offsets ("24h", "90m", "1d", "2w"): Go durations
// plus whole days (d) and weeks (w). Each must be > 0 and <= 30 days; at most
// MaxReminders remain after duplicates are removed. No offsets means
// DefaultReminderOffsets. The result is sorted descending, so the reminder
// times it gives are in order.
func ParseOffsets(s []string) ([]time.Duration, error) {
	if len(s) == 0 {
		s = DefaultReminderOffsets()
	}
	var out []time.Duration
	for _, raw := range s {
		d, err := parseOffset(strings.TrimSpace(raw))
		if err != nil {
			return nil, fmt.Errorf("reminders: %q: %w", raw, err)
		}
		if d <= 0 || d > MaxReminderOffset {
			return nil, fmt.Errorf("reminders: %q: must be more than 0 and at most 30 days", raw)
		}
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	if len(out) > MaxReminders {
		return nil, fmt.Errorf("reminders: at most %d, got %d", MaxReminders, len(out))
	}
	slices.SortFunc(out, func(a, b time.Duration) int { return cmp.Compare(b, a) })
	return out, nil
}

func parseOffset(s string) (time.Duration, error) {
	unit := time.Duration(0)
	switch {
	case strings.HasSuffix(s, "d"):
		unit = 24 * time.Hour
	case strings.HasSuffix(s, "w"):
		unit = 7 * 24 * time.Hour
	}
	if unit != 0 {
		n, err := strconv.Atoi(s[:len(s)-1])
		if err != nil || len(s) > 4 || n < 0 {
			return 0, fmt.Errorf(`want e.g. "24h", "30m", "1d" or "1w"`)
		}
		return time.Duration(n) * unit, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf(`want e.g. "24h", "30m", "1d" or "1w"`)
	}
	return d, nil
}

// ReminderTimes returns at-offset for each offset, earliest first, leaving out
// those before now: a reminder whose time has passed is not sent late (it would
// arrive out of context, or after a nearer one).
func ReminderTimes(at time.Time, offsets []time.Duration, now time.Time) []time.Time {
	var out []time.Time
	for _, off := range offsets {
		if t := at.Add(-off); !t.Before(now) {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, time.Time.Compare)
	return slices.Compact(out)
}

// Reminder is one appointment reminder to send.
type Reminder struct {
	Offset time.Duration // before the appointment, as configured
	At     time.Time     // when to send, after quiet hours
	ID     string        // dispatch key, see ReminderID
}

// ReminderID is the dispatch key of one reminder. It includes the appointment
// time, so a rescheduled appointment gets fresh reminders instead of colliding
// with those already sent.
func ReminderID(appointmentID string, at time.Time, offset time.Duration) string {
	return appointmentID + ":" + at.UTC().Format("20060102T1504Z") + ":" + offset.String()
}

// PlanReminders plans the reminders of the appointment appointmentID at `at`:
// ReminderTimes, each deferred past quiet hours in loc. A reminder deferred to
// the appointment or beyond is dropped, and reminders deferred onto the same
// instant are sent once (the first offset's in the list).
func PlanReminders(appointmentID string, at time.Time, offsets []time.Duration, now time.Time, q QuietHours, loc *time.Location) []Reminder {
	var out []Reminder
	for _, off := range offsets {
		t := at.Add(-off)
		if t.Before(now) {
			continue
		}
		t = q.Defer(t, loc)
		if !t.Before(at) || slices.ContainsFunc(out, func(r Reminder) bool { return r.At.Equal(t) }) {
			continue
		}
		out = append(out, Reminder{Offset: off, At: t, ID: ReminderID(appointmentID, at, off)})
	}
	slices.SortStableFunc(out, func(a, b Reminder) int { return a.At.Compare(b.At) })
	return out
}
