package chart

import (
	"fmt"
	"strconv"
	"time"

	q "github.com/carecheck/carecheck/conversations/questionnaire"
)

// bandFill shades each severity band, lightest for minimal; dark text on
// every one keeps its contrast.
var bandFill = map[string]string{
	q.BandMinimal:          "#e6f4ea",
	q.BandMild:             "#fdf7d9",
	q.BandModerate:         "#fde9cf",
	q.BandModeratelySevere: "#fbd9c4",
	q.BandSevere:           "#f8d3d3",
}

// Scores draws an instrument's totals (q.InstrumentPHQ9, q.InstrumentGAD7)
// over time with its severity bands (q.Bands) shaded and named; points are
// in time order and shown in loc. An instrument without bands is an error.
func Scores(instrument string, points []Point, loc *time.Location, l Labels) (Figure, error) {
	bands := q.Bands(instrument)
	if bands == nil {
		return Figure{}, fmt.Errorf("chart: instrument %q has no severity bands", instrument)
	}
	if loc == nil {
		loc = time.UTC
	}
	maxTotal := bands[len(bands)-1].Max
	fig := Figure{Table: Table{Caption: l.Title, Head: []string{l.Date, l.Value, l.Band}}}
	var c canvas
	c.open(l)
	y := func(v float64) float64 { return top + plotH*(float64(maxTotal)-v)/float64(maxTotal) }
	// The bands, each from its lowest total to the next band's.
	ticks := []int{0}
	for i, b := range bands {
		hi := maxTotal
		if i+1 < len(bands) {
			hi = bands[i+1].Min
		}
		y0, y1 := y(float64(hi)), y(float64(b.Min))
		c.f(`<rect x="%d" y="%s" width="%d" height="%s" fill="%s"/>`+"\n", left, num(y0), plotW, num(y1-y0), bandFill[b.Name])
		if y1-y0 >= fontPx+2 {
			c.f(`<text x="%d" y="%s" text-anchor="end" dominant-baseline="middle" fill="%s">%s</text>`+"\n",
				left+plotW-6, num((y0+y1)/2), ink, esc(l.bandName(b.Name)))
		}
		ticks = append(ticks, hi)
	}
	for _, v := range ticks {
		c.f(`<text x="%d" y="%s" text-anchor="end" dominant-baseline="middle" fill="%s">%d</text>`+"\n", left-8, num(y(float64(v))), ink, v)
	}
	c.f(`<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="%s"/>`+"\n", left, top, plotW, plotH, grid)
	var in []Point
	for _, p := range points {
		if p.Value >= 0 && p.Value <= maxTotal {
			in = append(in, p)
		}
	}
	if len(in) == 0 {
		fig.Empty = true
		c.f(`<text x="%d" y="%d" text-anchor="middle" fill="%s">%s</text>`+"\n", left+plotW/2, height-bottom+24, ink, esc(l.Empty))
		fig.SVG = c.close()
		return fig, nil
	}
	const pad = 20.0
	first, last := in[0].At, in[len(in)-1].At
	x := func(t time.Time) float64 {
		if !last.After(first) {
			return left + plotW/2
		}
		return left + pad + (plotW-2*pad)*float64(t.Sub(first))/float64(last.Sub(first))
	}
	labelled := []int{0}
	if len(in) > 2 {
		labelled = append(labelled, len(in)/2)
	}
	if len(in) > 1 {
		labelled = append(labelled, len(in)-1)
	}
	for _, i := range labelled {
		c.f(`<text x="%s" y="%d" text-anchor="middle" fill="%s">%s</text>`+"\n", num(x(in[i].At)), height-bottom+20, ink, esc(l.day(in[i].At.In(loc))))
	}
	xs, ys := make([]float64, len(in)), make([]float64, len(in))
	for i, p := range in {
		xs[i], ys[i] = x(p.At), y(float64(p.Value))
		band := p.Band
		if band == "" {
			band = q.BandOf(instrument, p.Value)
		}
		fig.Table.Rows = append(fig.Table.Rows, []string{l.day(p.At.In(loc)), itoa(p.Value), l.bandName(band)})
	}
	c.series(xs, ys, func(int) bool { return true })
	fig.SVG = c.close()
	return fig, nil
}

func itoa(n int) string { return strconv.Itoa(n) }
