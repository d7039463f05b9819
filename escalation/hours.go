package escalation

import (
	"time"

	"github.com/carecheck/carecheck/store"
)

// NextWorkingTime is now when now is inside the working hours, else the
// start of the next working period. A period whose end is not after its
// start runs over midnight (a night shift, 22:00–06:00): it belongs to the
// day it starts on.
func NextWorkingTime(wh store.WorkingHours, now time.Time) time.Time {
	loc, err := time.LoadLocation(wh.Timezone)
	if err != nil || wh.Start == "" || wh.End == "" || wh.Timezone == "" {
		return now
	}
	start, err1 := time.Parse("15:04", wh.Start)
	end, err2 := time.Parse("15:04", wh.End)
	if err1 != nil || err2 != nil {
		return now
	}
	days := map[int]bool{}
	for _, d := range wh.Days {
		days[d] = true
	}
	if len(days) == 0 {
		days = map[int]bool{1: true, 2: true, 3: true, 4: true, 5: true}
	}
	local := now.In(loc)
	y, m, d := local.Date()
	for i := -1; i < 8; i++ { // yesterday: a night shift still running
		from := time.Date(y, m, d+i, start.Hour(), start.Minute(), 0, 0, loc)
		wd := int(from.Weekday())
		if wd == 0 {
			wd = 7
		}
		if !days[wd] {
			continue
		}
		to := time.Date(y, m, d+i, end.Hour(), end.Minute(), 0, 0, loc)
		if !to.After(from) {
			to = time.Date(y, m, d+i+1, end.Hour(), end.Minute(), 0, 0, loc)
		}
		if !local.Before(from) && local.Before(to) {
			return now
		}
		if local.Before(from) {
			return from
		}
	}
	return now
}
