package chart

import (
	"time"

	q "github.com/carecheck/carecheck/conversations/questionnaire"
)

// MoodDays is how many days the mood chart shows, today included.
const MoodDays = 30

// MoodScale is the daily mood's scale, from the built-in daily-mood
// questionnaire: its first scale question's bounds (0 to 10).
func MoodScale() (lo, hi int) {
	if qn, ok := q.Builtin().Get("daily-mood"); ok {
		for _, qu := range qn.Questions {
			if qu.Type == q.Scale {
				return qu.Min, qu.Max
			}
		}
	}
	return 0, 10 // not reached: the package's tests load the built-ins
}

// Mood draws a client's daily mood over the MoodDays days up to now's
// local date in loc, one point a day (a day's last answer), joined between
// consecutive days; points are in time order.
func Mood(points []Point, now time.Time, loc *time.Location, l Labels) Figure {
	lo, hi := MoodScale()
	end := localDay(now, loc)
	start := end.AddDate(0, 0, -(MoodDays - 1))
	byDay := map[int]Point{}
	for _, p := range points {
		d := dayIndex(start, localDay(p.At, loc))
		if d < 0 || d >= MoodDays || p.Value < lo || p.Value > hi {
			continue
		}
		byDay[d] = p
	}
	fig := Figure{Table: Table{Caption: l.Title, Head: []string{l.Date, l.Value}}}
	var c canvas
	c.open(l)
	y := func(v float64) float64 { return top + plotH*(float64(hi)-v)/float64(hi-lo) }
	x := func(d int) float64 { return left + (float64(d)+0.5)*plotW/MoodDays }
	if len(byDay) == 0 {
		fig.Empty = true
		c.empty(l)
		fig.SVG = c.close()
		return fig
	}
	step := max((hi-lo)/5, 1)
	var ticks []int
	for v := lo; v <= hi; v += step {
		ticks = append(ticks, v)
	}
	c.yTicks(ticks, y)
	for d := MoodDays - 1; d >= 0; d -= 7 {
		c.f(`<text x="%s" y="%d" text-anchor="middle" fill="%s">%s</text>`+"\n", num(x(d)), height-bottom+20, ink, esc(l.day(start.AddDate(0, 0, d))))
	}
	var xs, ys []float64
	var days []int
	for d := range MoodDays {
		p, ok := byDay[d]
		if !ok {
			continue
		}
		xs, ys, days = append(xs, x(d)), append(ys, y(float64(p.Value))), append(days, d)
		fig.Table.Rows = append(fig.Table.Rows, []string{l.day(start.AddDate(0, 0, d)), itoa(p.Value)})
	}
	c.series(xs, ys, func(i int) bool { return days[i] == days[i-1]+1 })
	fig.SVG = c.close()
	return fig
}

// localDay is t's local date in loc, as midnight UTC of that date (so that
// days count without daylight-saving hours).
func localDay(t time.Time, loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func dayIndex(start, day time.Time) int { return int(day.Sub(start).Hours() / 24) }
