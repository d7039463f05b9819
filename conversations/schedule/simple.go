package schedule

import (
	"fmt"
	"time"
)

// How often a Simple schedule runs.
const (
	EveryDay     = "daily"
	EveryWeekday = "weekdays" // Monday to Friday
	EveryWeek    = "weekly"
)

// Simple is a schedule as the console's form writes it: every day, every
// weekday or once a week on Day, at At ("HH:MM", the client's local time).
type Simple struct {
	Every string
	Day   time.Weekday
	At    string
}

var byDayCode = [...]string{"SU", "MO", "TU", "WE", "TH", "FR", "SA"}

// RRule writes the rule: "FREQ=DAILY;BYHOUR=9;BYMINUTE=30",
// "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;…" or "FREQ=WEEKLY;BYDAY=MO;…". A
// problem is a *FieldError naming the form's field (every, day, at).
func (s Simple) RRule() (string, error) {
	m, err := clockMinutes(s.At)
	if err != nil {
		return "", fieldErr("at", "a time of day, HH:MM")
	}
	at := fmt.Sprintf("BYHOUR=%d;BYMINUTE=%d", m/60, m%60)
	switch s.Every {
	case EveryDay:
		return "FREQ=DAILY;" + at, nil
	case EveryWeekday:
		return "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;" + at, nil
	case EveryWeek:
		if s.Day < time.Sunday || s.Day > time.Saturday {
			return "", fieldErr("day", "a day of the week")
		}
		return "FREQ=WEEKLY;BYDAY=" + byDayCode[s.Day] + ";" + at, nil
	}
	return "", fieldErr("every", "daily, weekdays or weekly")
}

// SimpleOf reads back a rule that Simple.RRule wrote (in any case and
// order of parts); ok is false for any other rule.
func SimpleOf(rule string) (Simple, bool) {
	_, parts, err := splitRule(rule)
	if err != nil {
		return Simple{}, false
	}
	var h, m int
	if _, err := fmt.Sscanf(parts["BYHOUR"]+" "+parts["BYMINUTE"], "%d %d", &h, &m); err != nil || h < 0 || h > 23 || m < 0 || m > 59 {
		return Simple{}, false
	}
	s := Simple{At: fmt.Sprintf("%02d:%02d", h, m)}
	switch {
	case parts["FREQ"] == "DAILY" && parts["BYDAY"] == "":
		s.Every = EveryDay
	case parts["FREQ"] == "WEEKLY" && parts["BYDAY"] == "MO,TU,WE,TH,FR":
		s.Every = EveryWeekday
	case parts["FREQ"] == "WEEKLY":
		s.Every = EveryWeek
		found := false
		for d, code := range byDayCode {
			if parts["BYDAY"] == code {
				s.Day, found = time.Weekday(d), true
			}
		}
		if !found {
			return Simple{}, false
		}
	default:
		return Simple{}, false
	}
	if again, err := s.RRule(); err != nil || !sameRule(again, rule) {
		return Simple{}, false
	}
	return s, true
}

// sameRule compares two rules by their parts.
func sameRule(a, b string) bool {
	_, pa, err1 := splitRule(a)
	_, pb, err2 := splitRule(b)
	if err1 != nil || err2 != nil || len(pa) != len(pb) {
		return false
	}
	for k, v := range pa {
		if pb[k] != v {
			return false
		}
	}
	return true
}
