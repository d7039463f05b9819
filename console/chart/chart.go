// Package chart draws the console's charts as server-side SVG: a client's
// daily mood over the last 30 days (Mood) and their PHQ-9 or GAD-7 totals
// over time with the instrument's severity bands shaded (Scores). Each
// Figure carries the same figures as a Table for screen readers and for
// anyone who would rather read numbers.
//
// It is pure: points, the clock and the words come in, text goes out; the
// scales come from the questionnaire package (the daily mood's scale, the
// instruments' bands), never typed here. The SVG is accessible
// (role="img" named by its <title> and described by its <desc>) and uses
// presentation attributes only, no style attributes: the console's
// Content-Security-Policy allows no inline styles.
package chart

import (
	"fmt"
	"html/template"
	"strings"
	"time"
)

// Point is one value at a time: a mood or an instrument total; Band is the
// total's severity band ("" for a mood).
type Point struct {
	At    time.Time
	Value int
	Band  string
}

// Labels are the words of a chart, in the reader's language.
type Labels struct {
	// ID prefixes the ids of the chart's <title> and <desc>: unique on the page.
	ID string
	// Title names the chart; Desc says what it shows (the caller states
	// the figures' gist: "12 answers, from 3 to 8, latest 6").
	Title, Desc string
	// Date and Value head the table's columns; Band the band column
	// (Scores only).
	Date, Value, Band string
	// Empty is said when there is nothing to draw.
	Empty string
	// Day writes a date on the axis and in the table (default "Jan 2").
	Day func(time.Time) string
	// BandName writes a band's name (default: as the questionnaire names it).
	BandName func(string) string
}

func (l Labels) day(t time.Time) string {
	if l.Day != nil {
		return l.Day(t)
	}
	return t.Format("Jan 2")
}

func (l Labels) bandName(b string) string {
	if l.BandName != nil {
		return l.BandName(b)
	}
	return b
}

// Table is a chart's figures as rows, for a <table>.
type Table struct {
	Caption string
	Head    []string
	Rows    [][]string
}

// Figure is a drawn chart and its table.
type Figure struct {
	// SVG is the chart, safe to put in a page as it is.
	SVG template.HTML
	// Table holds the same figures.
	Table Table
	// Empty reports that there was nothing to draw.
	Empty bool
}

// The drawing's frame, in SVG user units: the chart scales to its
// container's width (width="100%" and the viewBox keep its proportions).
const (
	width   = 640
	height  = 260
	left    = 44
	right   = 16
	top     = 16
	bottom  = 44
	plotW   = width - left - right
	plotH   = height - top - bottom
	ink     = "#1b1f24"
	grid    = "#d0d7de"
	line    = "#0a58ca"
	fontPx  = 13
	pointPx = 4.5
)

// canvas writes one SVG.
type canvas struct{ b strings.Builder }

func (c *canvas) f(format string, args ...any) { fmt.Fprintf(&c.b, format, args...) }

// open starts the SVG with its accessible name and description.
func (c *canvas) open(l Labels) {
	id := template.HTMLEscapeString(l.ID)
	c.f(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="100%%" role="img" aria-labelledby="%s-title %s-desc" font-family="system-ui, sans-serif" font-size="%d">`,
		width, height, id, id, fontPx)
	c.f("\n<title id=\"%s-title\">%s</title>\n<desc id=\"%s-desc\">%s</desc>\n", id, esc(l.Title), id, esc(l.Desc))
}

func (c *canvas) close() template.HTML {
	c.f("</svg>\n")
	return template.HTML(c.b.String()) // every text in it went through esc
}

// empty draws the frame with the Empty words in its middle.
func (c *canvas) empty(l Labels) {
	c.f(`<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="%s"/>`+"\n", left, top, plotW, plotH, grid)
	c.f(`<text x="%d" y="%d" text-anchor="middle" fill="%s">%s</text>`+"\n", left+plotW/2, top+plotH/2, ink, esc(l.Empty))
}

// yTicks draws horizontal grid lines with their values on the left.
func (c *canvas) yTicks(values []int, y func(float64) float64) {
	for _, v := range values {
		py := y(float64(v))
		c.f(`<line x1="%d" y1="%s" x2="%d" y2="%s" stroke="%s" stroke-width="1"/>`+"\n", left, num(py), left+plotW, num(py), grid)
		c.f(`<text x="%d" y="%s" text-anchor="end" dominant-baseline="middle" fill="%s">%d</text>`+"\n", left-8, num(py), ink, v)
	}
}

// series draws the points, joined where join says two neighbours are.
func (c *canvas) series(xs, ys []float64, join func(i int) bool) {
	var seg []string
	flush := func() {
		if len(seg) > 1 {
			c.f(`<polyline points="%s" fill="none" stroke="%s" stroke-width="2.5" stroke-linejoin="round"/>`+"\n", strings.Join(seg, " "), line)
		}
		seg = seg[:0]
	}
	for i := range xs {
		if i > 0 && !join(i) {
			flush()
		}
		seg = append(seg, num(xs[i])+","+num(ys[i]))
	}
	flush()
	for i := range xs {
		c.f(`<circle cx="%s" cy="%s" r="%s" fill="%s" stroke="#ffffff" stroke-width="1.5"/>`+"\n", num(xs[i]), num(ys[i]), num(pointPx), line)
	}
}

// num writes a coordinate with at most one decimal.
func num(v float64) string {
	s := fmt.Sprintf("%.1f", v)
	return strings.TrimSuffix(s, ".0")
}

func esc(s string) string { return template.HTMLEscapeString(s) }
