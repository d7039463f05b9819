package schedule

import (
	"testing"
	"time"
)

func TestSimpleRule(t *testing.T) {
	for _, tc := range []struct {
		in   Simple
		want string // rule, or the error
	}{
		{Simple{Every: EveryDay, At: "09:30"}, "FREQ=DAILY;BYHOUR=9;BYMINUTE=30"},
		{Simple{Every: EveryWeekday, At: "18:05"}, "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;BYHOUR=18;BYMINUTE=5"},
		{Simple{Every: EveryWeek, Day: time.Sunday, At: "00:00"}, "FREQ=WEEKLY;BYDAY=SU;BYHOUR=0;BYMINUTE=0"},
		{Simple{Every: EveryWeek, Day: time.Saturday, At: "23:59"}, "FREQ=WEEKLY;BYDAY=SA;BYHOUR=23;BYMINUTE=59"},
		{Simple{Every: EveryDay, At: "9:30"}, "at: a time of day, HH:MM"},
		{Simple{Every: EveryDay, At: "24:00"}, "at: a time of day, HH:MM"},
		{Simple{Every: EveryWeek, Day: 7, At: "10:00"}, "day: a day of the week"},
		{Simple{Every: "hourly", At: "10:00"}, "every: daily, weekdays or weekly"},
	} {
		got, err := tc.in.RRule()
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%+v.RRule() = %q; want %q", tc.in, got, tc.want)
			continue
		}
		if err != nil {
			continue
		}
		// Every rule the form writes parses, and reads back as the form.
		if _, err := Parse(got, time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC), nil, "America/Chicago"); err != nil {
			t.Errorf("Parse(%q) = %v", got, err)
		}
		if back, ok := SimpleOf(got); !ok || back != tc.in {
			t.Errorf("SimpleOf(%q) = %+v, %v; want %+v", got, back, ok, tc.in)
		}
	}
	for _, rule := range []string{"FREQ=DAILY;BYHOUR=9;BYMINUTE=0;COUNT=3", "FREQ=WEEKLY;BYDAY=MO,WE;BYHOUR=9;BYMINUTE=0",
		"FREQ=MONTHLY;BYHOUR=9;BYMINUTE=0", "FREQ=DAILY;BYHOUR=9", "FREQ=DAILY;INTERVAL=2;BYHOUR=9;BYMINUTE=0", "nonsense"} {
		if s, ok := SimpleOf(rule); ok {
			t.Errorf("SimpleOf(%q) = %+v; want not a form's rule", rule, s)
		}
	}
	if s, ok := SimpleOf("rrule:byminute=0;freq=daily;byhour=7"); !ok || s != (Simple{Every: EveryDay, At: "07:00"}) {
		t.Errorf("a form's rule in another case and order = %+v, %v", s, ok)
	}
}
