package chart

import (
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	q "github.com/carecheck/carecheck/conversations/questionnaire"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

var chicago, _ = time.LoadLocation("America/Chicago")

// now is 30 July 2026, 18:00 in Chicago.
var now = time.Date(2026, 7, 30, 23, 0, 0, 0, time.UTC)

// local is a Chicago wall clock in July 2026.
func local(day, hour int) time.Time { return time.Date(2026, 7, day, hour, 0, 0, 0, chicago) }

func labels(id string) Labels {
	return Labels{ID: id, Title: "Daily mood, last 30 days", Desc: "Mood from 0 (very bad) to 10 (very good).",
		Date: "Date", Value: "Mood", Band: "Severity", Empty: "No answers yet"}
}

// golden compares got with testdata/name, or writes it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./console/chart -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (go test ./console/chart -update rewrites it after a deliberate change):\n%s", name, got)
	}
}

func tableText(tb Table) string {
	var b strings.Builder
	fmt.Fprintf(&b, "caption: %s\n%s\n", tb.Caption, strings.Join(tb.Head, " | "))
	for _, r := range tb.Rows {
		fmt.Fprintln(&b, strings.Join(r, " | "))
	}
	return b.String()
}

// accessible checks what a screen reader and the console's CSP need of
// every chart: well-formed SVG, role="img" named by its title and
// described by its desc, no style attribute, no script.
func accessible(t *testing.T, fig Figure, id, title string) {
	t.Helper()
	svg := string(fig.SVG)
	dec := xml.NewDecoder(strings.NewReader(svg))
	var titleText string
	inTitle := false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed: %v\n%s", err, svg)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			for _, a := range el.Attr {
				if a.Name.Local == "style" || strings.HasPrefix(a.Name.Local, "on") {
					t.Errorf("<%s> has %s=: the console's CSP refuses inline styles and handlers", el.Name.Local, a.Name.Local)
				}
			}
			if el.Name.Local == "script" {
				t.Error("SVG holds a script")
			}
			inTitle = el.Name.Local == "title"
		case xml.CharData:
			if inTitle {
				titleText += string(el)
			}
		case xml.EndElement:
			inTitle = false
		}
	}
	for _, want := range []string{`role="img"`, fmt.Sprintf(`aria-labelledby="%s-title %s-desc"`, id, id),
		fmt.Sprintf(`<title id="%s-title">`, id), fmt.Sprintf(`<desc id="%s-desc">`, id)} {
		if !strings.Contains(svg, want) {
			t.Errorf("SVG lacks %s", want)
		}
	}
	if titleText != title {
		t.Errorf("title = %q; want %q", titleText, title)
	}
}

func TestMood(t *testing.T) {
	points := []Point{
		{At: local(0, 9), Value: 9},   // 30 June, 30 days before today: outside the window
		{At: local(2, 9), Value: 7},   // 1 July is the first day shown
		{At: local(3, 9), Value: 6},   //
		{At: local(4, 9), Value: 5},   // then a gap of three days: the line breaks
		{At: local(8, 9), Value: 3},   //
		{At: local(8, 20), Value: 4},  // the day's last answer counts
		{At: local(9, 9), Value: 11},  // off the scale: not drawn
		{At: local(15, 23), Value: 8}, // 23:00 local is the 16th in UTC: still the 15th
		{At: local(16, 9), Value: 8},
		{At: local(30, 9), Value: 2}, // today
	}
	fig := Mood(points, now, chicago, labels("mood"))
	accessible(t, fig, "mood", "Daily mood, last 30 days")
	golden(t, "mood.svg", string(fig.SVG))
	golden(t, "mood.table", tableText(fig.Table))
	if fig.Empty || len(fig.Table.Rows) != 7 {
		t.Errorf("rows = %v; want the 7 days with a mood on the scale", fig.Table.Rows)
	}
	if strings.Count(string(fig.SVG), "<circle") != 7 || strings.Count(string(fig.SVG), "<polyline") != 2 {
		t.Errorf("SVG has %d points and %d lines; want 7 points and 2 lines (2–4 and 15–16 July: broken at the gaps)",
			strings.Count(string(fig.SVG), "<circle"), strings.Count(string(fig.SVG), "<polyline"))
	}

	empty := Mood([]Point{{At: local(0, 9), Value: 5}}, now, chicago, labels("mood-empty"))
	accessible(t, empty, "mood-empty", "Daily mood, last 30 days")
	golden(t, "mood-empty.svg", string(empty.SVG))
	if !empty.Empty || len(empty.Table.Rows) != 0 || !strings.Contains(string(empty.SVG), "No answers yet") {
		t.Errorf("an empty month: Empty %v, rows %v; want it said", empty.Empty, empty.Table.Rows)
	}
	if lo, hi := MoodScale(); lo != 0 || hi != 10 {
		t.Errorf("mood scale = %d–%d; want the daily mood's 0–10", lo, hi)
	}
}

func TestScores(t *testing.T) {
	l := labels("phq9")
	l.Title, l.Desc, l.Value = "PHQ-9 over time", "PHQ-9 totals from 0 to 27 with their severity bands.", "Total"
	l.Day = func(t time.Time) string { return t.Format("2 Jan 2006") }
	points := []Point{
		{At: local(3, 10), Value: 6, Band: q.BandMild},
		{At: local(10, 10), Value: 11, Band: q.BandModerate},
		{At: local(17, 10), Value: 16}, // no band recorded: the total's
		{At: local(28, 10), Value: 22, Band: q.BandSevere},
	}
	fig, err := Scores(q.InstrumentPHQ9, points, chicago, l)
	if err != nil {
		t.Fatal(err)
	}
	accessible(t, fig, "phq9", "PHQ-9 over time")
	golden(t, "phq9.svg", string(fig.SVG))
	golden(t, "phq9.table", tableText(fig.Table))
	for _, b := range q.Bands(q.InstrumentPHQ9) {
		if !strings.Contains(string(fig.SVG), ">"+b.Name+"</text>") {
			t.Errorf("band %q is not named on the chart", b.Name)
		}
	}
	if got := fig.Table.Rows[2]; strings.Join(got, " | ") != "17 Jul 2026 | 16 | moderately severe" {
		t.Errorf("third row = %v; want its band from the total", got)
	}

	g := labels("gad7")
	g.Title, g.Desc, g.Value = "GAD-7 over time", "GAD-7 totals from 0 to 21 with their severity bands.", "Total"
	g.BandName = func(b string) string {
		return map[string]string{q.BandMinimal: "mínima", q.BandMild: "leve", q.BandModerate: "moderada", q.BandSevere: "grave"}[b]
	}
	one, err := Scores(q.InstrumentGAD7, []Point{{At: local(12, 10), Value: 9, Band: q.BandMild}}, chicago, g)
	if err != nil {
		t.Fatal(err)
	}
	accessible(t, one, "gad7", "GAD-7 over time")
	golden(t, "gad7-one.svg", string(one.SVG))
	golden(t, "gad7-one.table", tableText(one.Table))
	if strings.Count(string(one.SVG), "<rect") != 5 { // four bands and the frame
		t.Errorf("GAD-7 chart has %d rects; want its four bands and the frame", strings.Count(string(one.SVG), "<rect"))
	}

	none, err := Scores(q.InstrumentGAD7, nil, chicago, g)
	if err != nil || !none.Empty || !strings.Contains(string(none.SVG), "No answers yet") {
		t.Errorf("no scores: %v, Empty %v; want the bands and the empty words", err, none.Empty)
	}
	if _, err := Scores(q.InstrumentMood, points, chicago, l); err == nil {
		t.Error("a mood chart with bands was drawn; want an error")
	}
}

// Words from people (a title, a band name) are escaped in the SVG.
func TestChartEscapes(t *testing.T) {
	l := labels(`x"><script>`)
	l.Title = `<b>&"Mood"`
	fig := Mood([]Point{{At: local(30, 9), Value: 5}}, now, chicago, l)
	if strings.Contains(string(fig.SVG), "<script>") || strings.Contains(string(fig.SVG), "<b>") {
		t.Errorf("unescaped text in the SVG:\n%s", fig.SVG)
	}
	accessible(t, fig, `x&#34;&gt;&lt;script&gt;`, `<b>&"Mood"`)
}
