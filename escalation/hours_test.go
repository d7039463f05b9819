package escalation

import (
	"testing"
	"time"

	"github.com/carecheck/carecheck/store"
)

func TestNextWorkingTime(t *testing.T) {
	chi, _ := time.LoadLocation("America/Chicago")
	at := func(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, chi) }
	office := store.WorkingHours{Start: "09:00", End: "17:00", Days: []int{1, 2, 3, 4, 5}, Timezone: "America/Chicago"}
	weekend := store.WorkingHours{Start: "10:00", End: "14:00", Days: []int{6, 7}, Timezone: "America/Chicago"}
	night := store.WorkingHours{Start: "22:00", End: "06:00", Days: []int{1, 2, 3, 4, 5}, Timezone: "America/Chicago"}
	noDays := store.WorkingHours{Start: "09:00", End: "17:00", Timezone: "America/Chicago"}
	for _, c := range []struct {
		name string
		wh   store.WorkingHours
		now  time.Time
		want time.Time
	}{
		{"inside", office, at(2026, 11, 24, 10, 0), at(2026, 11, 24, 10, 0)},
		{"at the start", office, at(2026, 11, 24, 9, 0), at(2026, 11, 24, 9, 0)},
		{"before the start", office, at(2026, 11, 24, 8, 0), at(2026, 11, 24, 9, 0)},
		{"at the end", office, at(2026, 11, 24, 17, 0), at(2026, 11, 25, 9, 0)},
		{"evening", office, at(2026, 11, 24, 22, 0), at(2026, 11, 25, 9, 0)},
		{"friday evening", office, at(2026, 11, 27, 18, 0), at(2026, 11, 30, 9, 0)},
		{"saturday", office, at(2026, 11, 28, 12, 0), at(2026, 11, 30, 9, 0)},
		{"sunday night", office, at(2026, 11, 29, 23, 0), at(2026, 11, 30, 9, 0)},
		{"no days means weekdays", noDays, at(2026, 11, 28, 12, 0), at(2026, 11, 30, 9, 0)},
		{"weekend staff on monday", weekend, at(2026, 11, 30, 9, 0), at(2026, 12, 5, 10, 0)},
		{"weekend staff, sunday", weekend, at(2026, 11, 29, 11, 0), at(2026, 11, 29, 11, 0)},
		{"across DST", office, at(2027, 3, 13, 22, 0), at(2027, 3, 15, 9, 0)},
		{"night shift, on duty before midnight", night, at(2026, 11, 24, 23, 0), at(2026, 11, 24, 23, 0)},
		{"night shift, on duty after midnight", night, at(2026, 11, 25, 2, 0), at(2026, 11, 25, 2, 0)},
		{"night shift, off in the day", night, at(2026, 11, 25, 12, 0), at(2026, 11, 25, 22, 0)},
		{"night shift, friday's shift runs into saturday", night, at(2026, 11, 28, 3, 0), at(2026, 11, 28, 3, 0)},
		{"night shift, saturday night off", night, at(2026, 11, 28, 23, 0), at(2026, 11, 30, 22, 0)},
	} {
		got := NextWorkingTime(c.wh, c.now.UTC())
		if !got.Equal(c.want) {
			t.Errorf("%s: NextWorkingTime(%v) = %v; want %v", c.name, c.now, got.In(chi), c.want)
		}
	}
	// Unusable hours never hold an alert back.
	now := at(2026, 11, 24, 23, 0)
	for _, wh := range []store.WorkingHours{{}, {Start: "09:00", End: "17:00", Timezone: "Nowhere/Land"}, {Start: "9", End: "17:00", Timezone: "UTC"}} {
		if got := NextWorkingTime(wh, now); !got.Equal(now) {
			t.Errorf("NextWorkingTime(%+v) = %v; want now", wh, got)
		}
	}
}
