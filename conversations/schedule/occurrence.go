package schedule

import (
	"time"

	"github.com/teambition/rrule-go"
)

// MaxUpcoming caps Upcoming, so that one request cannot ask for unbounded work.
const MaxUpcoming = 1000

// slack exceeds any zone's UTC offset (-12 h to +14 h today, a little more in
// old LMT): a wall clock and its instant are never further apart than this.
const slack = 26 * time.Hour

// Occurrence is one due check-in.
type Occurrence struct {
	// At is the instant it is due, in UTC (shifted forward when its wall clock
	// falls in a spring-forward gap).
	At time.Time
	// Local is the wall clock it was scheduled for, "2006-01-02T15:04" in the
	// rule's zone; in a gap this is the clock that did not exist.
	Local string
	// ID is the local date and slot, "2026-03-08:1000": unique within its
	// schedule and the same in every process. OccurrenceID adds the schedule.
	ID string
}

// OccurrenceID is the dispatch key of o in schedule scheduleID,
// "<scheduleID>:2026-03-08:1000". It depends on the wall clock only, so a
// restart or a second process computes the same key and the occurrence can be
// claimed once.
func OccurrenceID(scheduleID string, o Occurrence) string {
	return scheduleID + ":" + o.ID
}

// Next returns the first occurrence strictly after `after`, or false when the
// rule has ended (COUNT or until reached) or has none within Horizon.
func (r *Rule) Next(after time.Time) (Occurrence, bool) {
	occ := r.scan(after, 1, true)
	if len(occ) == 0 {
		return Occurrence{}, false
	}
	return occ[0], true
}

// Upcoming returns up to n occurrences strictly after `after`, earliest first
// (n is capped at MaxUpcoming).
func (r *Rule) Upcoming(after time.Time, n int) []Occurrence {
	return r.scan(after, n, true)
}

type candidate struct {
	at      time.Time // instant
	wall    time.Time // floating wall clock it was scheduled for
	shifted bool      // wall fell in a gap
}

// before orders candidates by instant; for one instant, the one whose wall
// clock is real wins over one shifted onto it, so the choice is deterministic.
func (c candidate) before(d candidate) bool {
	if !c.at.Equal(d.at) {
		return c.at.Before(d.at)
	}
	if c.shifted != d.shifted {
		return !c.shifted
	}
	return c.wall.Before(d.wall)
}

// scan expands the rule in floating time from a day before `after`, places each
// wall clock in the zone, and keeps occurrences in instant order, at least
// MinSpacing apart. Placing can reorder instants slightly (a gap shift), so a
// candidate is only final once the expansion is `slack` past it.
// fastForward=false expands from Start every time; tests compare the two.
func (r *Rule) scan(after time.Time, n int, fastForward bool) []Occurrence {
	if r == nil || r.Zone == nil || r.opt.Dtstart.IsZero() || n <= 0 {
		return nil
	}
	n = min(n, MaxUpcoming)
	after = after.UTC()
	lo := after.Add(-slack)

	opt := r.opt
	if fastForward && opt.Count == 0 {
		if a, ok := r.anchor(lo); ok {
			opt.Dtstart = a
		}
	}
	rr, err := rrule.NewRRule(opt) // fresh each call: rrule-go writes into its RRule while iterating
	if err != nil {
		return nil
	}
	next := rr.Iterator()

	var (
		out      []Occurrence
		pending  []candidate
		last     time.Time
		haveLast bool
		done     bool
	)
	emit := func(c candidate) {
		if r.hasUntil && c.at.After(r.until) {
			done = true
			return
		}
		if haveLast && c.at.Before(last.Add(MinSpacing)) {
			return // a duplicate instant, or a DST shift brought it too close
		}
		last, haveLast = c.at, true
		if c.at.After(after) {
			out = append(out, Occurrence{
				At:    c.at.UTC(),
				Local: c.wall.Format("2006-01-02T15:04"),
				ID:    c.wall.Format("2006-01-02:1504"),
			})
			done = len(out) == n
		}
	}
	flush := func(final func(candidate) bool) {
		i := 0
		for ; i < len(pending) && !done && final(pending[i]); i++ {
			emit(pending[i])
		}
		pending = pending[i:]
	}

	for !done {
		w, ok := next()
		if !ok {
			break
		}
		if w.Before(lo) {
			continue
		}
		if r.hasUntil && w.After(r.until.Add(slack)) {
			break
		}
		base := after
		if len(out) > 0 {
			base = out[len(out)-1].At
		}
		if w.After(base.Add(Horizon)) {
			break
		}
		threshold := w.Add(-slack)
		flush(func(c candidate) bool { return c.at.Before(threshold) })
		if done {
			break
		}
		c, ok := r.resolve(w)
		if !ok {
			continue
		}
		pending = append(pending, c)
		for i := len(pending) - 1; i > 0 && pending[i].before(pending[i-1]); i-- {
			pending[i], pending[i-1] = pending[i-1], pending[i]
		}
	}
	flush(func(candidate) bool { return true })
	return out
}

// resolve places the floating wall clock w in the rule's zone: the first
// instance not before Start, or the gap-shifted instant.
func (r *Rule) resolve(w time.Time) (candidate, bool) {
	inst, n, gap := resolveWall(w, r.Zone)
	if n == 0 {
		return candidate{at: gap, wall: w, shifted: true}, !gap.Before(r.Start)
	}
	for _, t := range inst[:n] {
		if !t.Before(r.Start) {
			return candidate{at: t, wall: w}, true
		}
	}
	return candidate{}, false
}

// resolveWall returns the instants whose clock in loc reads the floating wall
// clock w, earliest first: one as a rule, two in a fall-back repeat, none in a
// spring-forward gap. For a gap it returns in `gap` the instant at which the
// wall clock, shifted forward by the gap, is reached: 02:30 → 03:30 for a 1 h
// gap. (time.Date does not promise this; in practice it goes backwards in
// zones west of UTC.)
func resolveWall(w time.Time, loc *time.Location) (inst [2]time.Time, n int, gap time.Time) {
	u := w.Unix()
	offAt := func(t time.Time) int {
		_, off := t.In(loc).Zone()
		return off
	}
	x := time.Unix(u-int64(offAt(time.Unix(u, 0))), 0).In(loc)
	_, xoff := x.Zone()
	start, end := x.ZoneBounds()
	if x.Unix()+int64(xoff) == u &&
		(start.IsZero() || x.Sub(start) > slack) && (end.IsZero() || end.Sub(x) > slack) {
		inst[0] = x // far from any transition: the common case
		return inst, 1, gap
	}

	// Near a transition: try the offsets on either side of it.
	offs := []int{xoff}
	if !start.IsZero() {
		offs = append(offs, offAt(start.Add(-time.Second)))
	}
	if !end.IsZero() {
		offs = append(offs, offAt(end))
	}
	for _, off := range offs {
		t := time.Unix(u-int64(off), 0)
		if offAt(t) != off || (n > 0 && inst[0].Equal(t)) || n == 2 {
			continue
		}
		inst[n] = t
		n++
	}
	if n == 2 && inst[1].Before(inst[0]) {
		inst[0], inst[1] = inst[1], inst[0]
	}
	if n > 0 {
		return inst, n, gap
	}
	for _, b := range []time.Time{start, end} {
		if b.IsZero() {
			continue
		}
		before, after := offAt(b.Add(-time.Second)), offAt(b)
		if before < after && b.Unix()+int64(before) <= u && u < b.Unix()+int64(after) {
			return inst, 0, time.Unix(u-int64(before), 0)
		}
	}
	// Not expected with real zone data; time.Date still gives a valid instant.
	return inst, 0, time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), 0, loc)
}

// anchor returns a later DTSTART for the floating expansion: the start of the
// last period at or before lo that lies on the rule's INTERVAL grid. Expanding
// from there yields exactly the occurrences the full expansion would from that
// period on (the defaults rrule-go takes from DTSTART are explicit in r.opt), so
// Next costs the same in year five as on day one. Not for COUNT rules, which
// must be counted from the start.
func (r *Rule) anchor(lo time.Time) (time.Time, bool) {
	s := r.wallStart
	iv := r.opt.Interval
	y, m, d := s.Date()
	day0 := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	var k int
	var a time.Time
	switch r.opt.Freq {
	case rrule.HOURLY:
		h0 := s.Truncate(time.Hour)
		k = int(lo.Sub(h0)/time.Hour) / iv * iv
		a = h0.Add(time.Duration(k) * time.Hour)
	case rrule.DAILY:
		k = int(lo.Sub(day0)/(24*time.Hour)) / iv * iv
		a = day0.AddDate(0, 0, k)
	case rrule.WEEKLY:
		week0 := day0.AddDate(0, 0, -((pyWeekday(day0.Weekday()) - r.opt.Wkst.Day() + 7) % 7))
		k = int(lo.Sub(week0)/(7*24*time.Hour)) / iv * iv
		a = week0.AddDate(0, 0, 7*k)
	case rrule.MONTHLY:
		k = ((lo.Year()-y)*12 + int(lo.Month()-m)) / iv * iv
		a = time.Date(y, m+time.Month(k), 1, 0, 0, 0, 0, time.UTC)
	case rrule.YEARLY:
		k = (lo.Year() - y) / iv * iv
		a = time.Date(y+k, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if k <= 0 || !a.After(s) {
		return time.Time{}, false
	}
	return a, true
}
