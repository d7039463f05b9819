package oncall

import (
	"fmt"
	"testing"
	"time"
)

func chicago(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("America/Chicago")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func local(loc *time.Location, v string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", v, loc)
	if err != nil {
		panic(err)
	}
	return t
}

func TestAt(t *testing.T) {
	loc := chicago(t)
	daily := Rotation{Staff: []string{"a", "b", "c"}, Handoff: Daily, At: "09:00", Start: "2026-10-30"}
	weekly := Rotation{Staff: []string{"a", "b"}, Handoff: Weekly, At: "17:30", Start: "2026-10-26"} // a Monday
	// 2026: DST ends Sunday 1 November (02:00 CDT → 01:00 CST) and begins
	// Sunday 8 March (02:00 CST → 03:00 CDT) in Chicago.
	withOverride := daily
	withOverride.Overrides = []Override{
		{StaffID: "sam", Start: local(loc, "2026-11-06 18:00"), End: local(loc, "2026-11-07 08:00")},
		{StaffID: "kim", Start: local(loc, "2026-11-06 22:00"), End: local(loc, "2026-11-06 23:00")},
	}
	spring := Rotation{Staff: []string{"a", "b"}, Handoff: Daily, At: "02:30", Start: "2026-03-06"}
	cases := []struct {
		name string
		r    Rotation
		at   time.Time
		want string
		from time.Time
	}{
		{"first shift begins on the start date", daily, local(loc, "2026-10-30 09:00"), "a", local(loc, "2026-10-30 09:00")},
		{"a minute before a hand-off", daily, local(loc, "2026-10-31 08:59"), "a", local(loc, "2026-10-30 09:00")},
		{"at the hand-off", daily, local(loc, "2026-10-31 09:00"), "b", local(loc, "2026-10-31 09:00")},
		{"hand-off on the DST day is at 09:00 local", daily, local(loc, "2026-11-01 09:00"), "c", local(loc, "2026-11-01 09:00")},
		{"09:00 CST the day after DST ends (15:00Z, not 14:00Z)", daily, time.Date(2026, 11, 2, 14, 30, 0, 0, time.UTC), "c", local(loc, "2026-11-01 09:00")},
		{"wraps around", daily, local(loc, "2026-11-02 09:00"), "a", local(loc, "2026-11-02 09:00")},
		{"before the start the pattern runs backwards", daily, local(loc, "2026-10-29 12:00"), "c", local(loc, "2026-10-29 09:00")},
		{"long before the start", daily, local(loc, "2026-10-27 08:00"), "c", local(loc, "2026-10-26 09:00")},
		{"weekly, the week it starts", weekly, local(loc, "2026-10-30 12:00"), "a", local(loc, "2026-10-26 17:30")},
		{"weekly, across the DST change", weekly, local(loc, "2026-11-02 17:30"), "b", local(loc, "2026-11-02 17:30")},
		{"weekly, a minute before", weekly, local(loc, "2026-11-02 17:29"), "a", local(loc, "2026-10-26 17:30")},
		{"override covers its time", withOverride, local(loc, "2026-11-06 20:00"), "sam", local(loc, "2026-11-06 18:00")},
		{"the override added last wins", withOverride, local(loc, "2026-11-06 22:30"), "kim", local(loc, "2026-11-06 22:00")},
		{"override's end is not covered", withOverride, local(loc, "2026-11-07 08:00"), "b", local(loc, "2026-11-06 09:00")},
		{"hand-off time missing on the spring-forward day reads 03:30", spring, local(loc, "2026-03-08 03:00"), "b", local(loc, "2026-03-07 02:30")},
		{"…and hands off at 03:30 CDT", spring, time.Date(2026, 3, 8, 8, 30, 0, 0, time.UTC), "a", time.Date(2026, 3, 8, 8, 30, 0, 0, time.UTC)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := Validate(c.r); err != nil {
				t.Fatal(err)
			}
			got := At(c.r, loc, c.at)
			if got.StaffID != c.want || !got.From.Equal(c.from) {
				t.Errorf("At(%v) = %s from %v; want %s from %v", c.at, got.StaffID, got.From, c.want, c.from)
			}
		})
	}
}

func TestNext(t *testing.T) {
	loc := chicago(t)
	r := Rotation{Staff: []string{"a", "b"}, Handoff: Daily, At: "09:00", Start: "2026-10-30",
		Overrides: []Override{{StaffID: "sam", Start: local(loc, "2026-11-01 18:00"), End: local(loc, "2026-11-02 12:00")}}}
	got := Next(r, loc, local(loc, "2026-10-31 10:00"), 5)
	want := []string{
		"a 2026-11-01T09:00:00-06:00 false", // the DST day: 09:00 CST
		"sam 2026-11-01T18:00:00-06:00 true",
		"b 2026-11-02T12:00:00-06:00 false", // the override ends inside b's shift
		"a 2026-11-03T09:00:00-06:00 false",
		"b 2026-11-04T09:00:00-06:00 false",
	}
	if len(got) != len(want) {
		t.Fatalf("Next = %v; want %d changes", got, len(want))
	}
	for i, s := range got {
		if g := fmt.Sprintf("%s %s %t", s.StaffID, s.From.In(loc).Format(time.RFC3339), s.Override); g != want[i] {
			t.Errorf("Next[%d] = %s; want %s", i, g, want[i])
		}
	}
	one := Rotation{Staff: []string{"a"}, Handoff: Weekly, At: "09:00", Start: "2026-10-30"}
	if got := Next(one, loc, local(loc, "2026-10-31 10:00"), 3); len(got) != 0 {
		t.Errorf("Next of a one-person rotation = %v; want no changes", got)
	}
}

func TestValidate(t *testing.T) {
	ok := Rotation{Staff: []string{"a"}, Handoff: Daily, At: "09:00", Start: "2026-10-30"}
	cases := []struct {
		name string
		edit func(*Rotation)
		want string
	}{
		{"no staff", func(r *Rotation) { r.Staff = nil }, "staff: at least one staff member"},
		{"bad handoff", func(r *Rotation) { r.Handoff = "hourly" }, `handoff: "daily" or "weekly"`},
		{"bad time", func(r *Rotation) { r.At = "9am" }, `at: a local time, "09:00"`},
		{"bad hour", func(r *Rotation) { r.At = "25:00" }, `at: a local time, "09:00"`},
		{"bad start", func(r *Rotation) { r.Start = "30/10/2026" }, "start: a date, 2026-11-02"},
		{"override ends first", func(r *Rotation) {
			now := time.Now()
			r.Overrides = []Override{{StaffID: "a", Start: now, End: now}}
		}, "overrides[0]: end must be after start"},
	}
	if err := Validate(ok); err != nil {
		t.Errorf("Validate(valid) = %v", err)
	}
	for _, c := range cases {
		r := ok
		c.edit(&r)
		if err := Validate(r); err == nil || err.Error() != c.want {
			t.Errorf("%s: Validate = %v; want %q", c.name, err, c.want)
		}
	}
}
