package schedule

import (
	"errors"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // DST tests must not depend on the machine's zoneinfo
)

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return v
}

func mustParse(t testing.TB, rule, start, zone string) *Rule {
	t.Helper()
	r, err := Parse(rule, mustTime(t, start), nil, zone)
	if err != nil {
		t.Fatalf("Parse(%q, %s, %s): %v", rule, start, zone, err)
	}
	return r
}

func TestParseAccepts(t *testing.T) {
	start := "2026-03-01T10:00:00-06:00"
	tests := []struct {
		rule string
		want string // canonical RRule
	}{
		{"FREQ=DAILY", "FREQ=DAILY"},
		{"RRULE:FREQ=DAILY", "FREQ=DAILY"},
		{"rrule:freq=daily;byhour=10;byminute=0", "FREQ=DAILY;BYHOUR=10;BYMINUTE=0"},
		{"  FREQ=WEEKLY;BYDAY=MO,WE,FR;  ", "FREQ=WEEKLY;BYDAY=MO,WE,FR"},
		{"FREQ=HOURLY;INTERVAL=1", "FREQ=HOURLY;INTERVAL=1"},
		{"FREQ=HOURLY;INTERVAL=6;BYMINUTE=15", "FREQ=HOURLY;INTERVAL=6;BYMINUTE=15"},
		{"FREQ=DAILY;BYHOUR=9,18;BYMINUTE=0", "FREQ=DAILY;BYHOUR=9,18;BYMINUTE=0"},
		{"FREQ=DAILY;BYHOUR=0,23;BYMINUTE=30", "FREQ=DAILY;BYHOUR=0,23;BYMINUTE=30"}, // 23:30 → 00:30 is exactly 1 h
		{"FREQ=DAILY;BYHOUR=10,10,11", "FREQ=DAILY;BYHOUR=10,10,11"},                 // duplicates collapse
		{"FREQ=MONTHLY;BYDAY=-1FR", "FREQ=MONTHLY;BYDAY=-1FR"},
		{"FREQ=YEARLY;BYMONTH=3;BYDAY=2SU", "FREQ=YEARLY;BYMONTH=3;BYDAY=2SU"},
		{"FREQ=YEARLY;BYWEEKNO=10;BYDAY=MO", "FREQ=YEARLY;BYWEEKNO=10;BYDAY=MO"},
		{"FREQ=DAILY;COUNT=10", "FREQ=DAILY;COUNT=10"},
		{"FREQ=DAILY;UNTIL=20260401T000000Z", "FREQ=DAILY;UNTIL=20260401T000000Z"},
		{"FREQ=DAILY;BYSECOND=0", "FREQ=DAILY;BYSECOND=0"},
		{"FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1", "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1"},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			r := mustParse(t, tt.rule, start, "America/Chicago")
			if r.RRule != tt.want {
				t.Errorf("RRule = %q; want %q", r.RRule, tt.want)
			}
			if r.Zone.String() != "America/Chicago" {
				t.Errorf("Zone = %v; want America/Chicago", r.Zone)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	start := mustTime(t, "2026-03-01T10:00:00-06:00")
	until := mustTime(t, "2026-04-01T00:00:00Z")
	before := mustTime(t, "2026-02-01T00:00:00Z")
	tests := []struct {
		name   string
		rule   string
		start  time.Time
		until  *time.Time
		zone   string
		field  string
		substr string
	}{
		{"empty", "", start, nil, "UTC", "rrule", "required"},
		{"prefix only", "RRULE:", start, nil, "UTC", "rrule", "required"},
		{"too long", "FREQ=DAILY;" + strings.Repeat("BYHOUR=1;", 60), start, nil, "UTC", "rrule", "longer than 512"},
		{"no freq", "BYHOUR=10", start, nil, "UTC", "rrule", "FREQ is required"},
		{"secondly", "FREQ=SECONDLY", start, nil, "UTC", "rrule", "too frequent"},
		{"minutely", "FREQ=MINUTELY;INTERVAL=90", start, nil, "UTC", "rrule", "too frequent"},
		{"unknown freq", "FREQ=FORTNIGHTLY", start, nil, "UTC", "rrule", "unknown FREQ"},
		{"two minutes hourly", "FREQ=HOURLY;BYMINUTE=0,30", start, nil, "UTC", "rrule", "BYMINUTE=0,30 fires more than once an hour"},
		{"half-hour daily", "FREQ=DAILY;BYHOUR=10;BYMINUTE=0,30", start, nil, "UTC", "rrule", "more than once an hour"},
		{"minutes far apart", "FREQ=WEEKLY;BYHOUR=9;BYMINUTE=0,59", start, nil, "UTC", "rrule", "more than once an hour"},
		{"bysecond", "FREQ=DAILY;BYSECOND=30", start, nil, "UTC", "rrule", "BYSECOND must be 0"},
		{"dtstart part", "FREQ=DAILY;DTSTART=20260101T000000Z", start, nil, "UTC", "rrule", "DTSTART is not allowed"},
		{"dtstart line", "DTSTART:20260101T000000Z\nRRULE:FREQ=DAILY", start, nil, "UTC", "rrule", "DTSTART comes from the start field"},
		{"two lines", "FREQ=DAILY\nFREQ=WEEKLY", start, nil, "UTC", "rrule", "one RRULE only"},
		{"duplicate part", "FREQ=DAILY;FREQ=WEEKLY", start, nil, "UTC", "rrule", "given twice"},
		{"unknown part", "FREQ=DAILY;BYEASTER=0", start, nil, "UTC", "rrule", "unknown part"},
		{"malformed", "FREQ=DAILY;BYHOUR", start, nil, "UTC", "rrule", "malformed part"},
		{"count and until", "FREQ=DAILY;COUNT=3;UNTIL=20260401T000000Z", start, nil, "UTC", "rrule", "COUNT and UNTIL"},
		{"count and until field", "FREQ=DAILY;COUNT=3", start, &until, "UTC", "until", "COUNT"},
		{"UNTIL and until field", "FREQ=DAILY;UNTIL=20260401T000000Z", start, &until, "UTC", "rrule", "both set"},
		{"until before start", "FREQ=DAILY", start, &before, "UTC", "until", "before start"},
		{"UNTIL before start", "FREQ=DAILY;UNTIL=20260201T000000Z", start, nil, "UTC", "rrule", "UNTIL is before start"},
		{"bad UNTIL", "FREQ=DAILY;UNTIL=tomorrow", start, nil, "UTC", "rrule", "UNTIL=TOMORROW"},
		{"count zero", "FREQ=DAILY;COUNT=0", start, nil, "UTC", "rrule", "COUNT=0"},
		{"interval zero", "FREQ=DAILY;INTERVAL=0", start, nil, "UTC", "rrule", "INTERVAL=0"},
		{"interval negative", "FREQ=DAILY;INTERVAL=-2", start, nil, "UTC", "rrule", "INTERVAL=-2"},
		{"byhour 24", "FREQ=DAILY;BYHOUR=24", start, nil, "UTC", "rrule", "BYHOUR value \"24\""},
		{"bymonthday 0", "FREQ=MONTHLY;BYMONTHDAY=0", start, nil, "UTC", "rrule", "BYMONTHDAY"},
		{"byday 53 monthly", "FREQ=MONTHLY;BYDAY=53MO", start, nil, "UTC", "rrule", "1 to 5"},
		{"byday number daily", "FREQ=DAILY;BYDAY=1MO", start, nil, "UTC", "rrule", "numbered weekday"},
		{"byday bad", "FREQ=WEEKLY;BYDAY=XX", start, nil, "UTC", "rrule", "unknown weekday"},
		{"byweekno monthly", "FREQ=MONTHLY;BYWEEKNO=3", start, nil, "UTC", "rrule", "BYWEEKNO needs FREQ=YEARLY"},
		{"bymonthday weekly", "FREQ=WEEKLY;BYMONTHDAY=3", start, nil, "UTC", "rrule", "BYMONTHDAY cannot"},
		{"bysetpos alone", "FREQ=MONTHLY;BYSETPOS=1", start, nil, "UTC", "rrule", "BYSETPOS needs"},
		{"never", "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", start, nil, "UTC", "rrule", "no occurrence"},
		{"unknown zone", "FREQ=DAILY", start, nil, "Mars/Olympus_Mons", "timezone", "unknown zone"},
		{"empty zone", "FREQ=DAILY", start, nil, "", "timezone", "unknown zone"},
		{"Local zone", "FREQ=DAILY", start, nil, "Local", "timezone", "unknown zone"},
		{"zero start", "FREQ=DAILY", time.Time{}, nil, "UTC", "start", "required"},
		{"start seconds", "FREQ=DAILY", start.Add(30 * time.Second), nil, "UTC", "start", "whole minute"},
		{"start year", "FREQ=DAILY", start.AddDate(500, 0, 0), nil, "UTC", "start", "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Parse(tt.rule, tt.start, tt.until, tt.zone)
			if err == nil {
				t.Fatalf("Parse(%q) = %q; want an error", tt.rule, r.RRule)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Parse(%q) error %T; want *FieldError", tt.rule, err)
			}
			if fe.Field != tt.field {
				t.Errorf("Parse(%q) field = %q; want %q (%v)", tt.rule, fe.Field, tt.field, err)
			}
			if !strings.HasPrefix(err.Error(), tt.field+": ") || !strings.Contains(err.Error(), tt.substr) {
				t.Errorf("Parse(%q) error = %q; want %q…%q", tt.rule, err, tt.field+": ", tt.substr)
			}
		})
	}
}

// Parse must rebuild the same rule from its own fields: that is how a stored
// schedule comes back.
func TestParseRoundTrip(t *testing.T) {
	until := mustTime(t, "2026-06-01T00:00:00Z")
	r, err := Parse("rrule:freq=weekly;byday=mo,fr", mustTime(t, "2026-03-02T09:00:00-06:00"), &until, "America/Chicago")
	if err != nil {
		t.Fatal(err)
	}
	r2, err := Parse(r.RRule, r.Start, r.Until, r.Zone.String())
	if err != nil {
		t.Fatal(err)
	}
	after := mustTime(t, "2026-01-01T00:00:00Z")
	a, b := r.Upcoming(after, 100), r2.Upcoming(after, 100)
	if len(a) != len(b) || len(a) != 26 {
		t.Fatalf("occurrences = %d and %d; want 26 each", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Errorf("occurrence %d = %+v; want %+v", i, b[i], a[i])
		}
	}
}
