package detect

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Report holds a detector's figures on a labelled set: recall and
// precision per level, recall per category and per language, and the
// confusion matrix (gold level by row, detected level by column).
type Report struct {
	N         int
	Levels    [3]Counts          // by gold/detected level: precision and recall of that level
	Confusion [3][3]int          // [gold][detected]
	ByCat     map[string]*Counts // by gold category (when the file has one)
	ByLang    map[string]*Slice  // by language (when the file has one)
	Asked     int                // rows given Ask
	AskedGold [3]int             // rows given Ask, by gold level
}

// Counts are the outcomes for one label, read as "is it this label?".
// For a category, TP counts rows caught at their gold level, and Alerted
// rows given any alert (concern or crisis).
type Counts struct {
	TP, FP, FN, Alerted, N int
}

// Precision is TP/(TP+FP), 0 when nothing was predicted.
func (c Counts) Precision() float64 { return ratio(c.TP, c.TP+c.FP) }

// Recall is TP/(TP+FN), 0 when nothing was gold.
func (c Counts) Recall() float64 { return ratio(c.TP, c.TP+c.FN) }

// F1 is the harmonic mean of precision and recall.
func (c Counts) F1() float64 {
	p, r := c.Precision(), c.Recall()
	if p+r == 0 {
		return 0
	}
	return 2 * p * r / (p + r)
}

// Slice holds the headline figures for a part of the set (a language).
type Slice struct {
	Confusion [3][3]int
}

// CrisisRecall is the share of gold crisis rows detected as crisis.
func (s Slice) CrisisRecall() float64 {
	c := s.Confusion[Crisis]
	return ratio(c[Crisis], c[None]+c[Concern]+c[Crisis])
}

// NoneCrisis is the share of gold none rows detected as crisis.
func (s Slice) NoneCrisis() float64 {
	c := s.Confusion[None]
	return ratio(c[Crisis], c[None]+c[Concern]+c[Crisis])
}

// NoneFlagged is the share of gold none rows given any alert.
func (s Slice) NoneFlagged() float64 {
	c := s.Confusion[None]
	return ratio(c[Crisis]+c[Concern], c[None]+c[Concern]+c[Crisis])
}

// ConcernCaught is the share of gold concern rows detected as concern or
// crisis.
func (s Slice) ConcernCaught() float64 {
	c := s.Confusion[Concern]
	return ratio(c[Crisis]+c[Concern], c[None]+c[Concern]+c[Crisis])
}

// Evaluate runs d over the examples and counts the outcomes.
func Evaluate(d *Detector, exs []Example) Report {
	r := Report{ByCat: map[string]*Counts{}, ByLang: map[string]*Slice{}}
	for _, e := range exs {
		res := d.Detect(e.Text, e.Lang)
		got, gold := res.Level, e.Level
		r.N++
		r.Confusion[gold][got]++
		for l := None; l <= Crisis; l++ {
			c := &r.Levels[l]
			switch {
			case gold == l && got == l:
				c.TP++
			case got == l:
				c.FP++
			case gold == l:
				c.FN++
			}
			if gold == l {
				c.N++
			}
		}
		if res.Ask {
			r.Asked++
			r.AskedGold[gold]++
		}
		if e.Category != "" {
			c := r.ByCat[e.Category]
			if c == nil {
				c = &Counts{}
				r.ByCat[e.Category] = c
			}
			c.N++
			if got == gold {
				c.TP++
			} else {
				c.FN++
			}
			if got != None {
				c.Alerted++
			}
		}
		if e.Lang != "" {
			sl := r.ByLang[e.Lang]
			if sl == nil {
				sl = &Slice{}
				r.ByLang[e.Lang] = sl
			}
			sl.Confusion[gold][got]++
		}
	}
	return r
}

// All is the whole set as one slice.
func (r Report) All() Slice { return Slice{Confusion: r.Confusion} }

// WriteTo prints the report as plain text tables.
func (r Report) WriteTo(w io.Writer) (int64, error) {
	var b strings.Builder
	all := r.All()
	fmt.Fprintf(&b, "%d messages\n", r.N)
	fmt.Fprintf(&b, "crisis recall %.3f   none flagged crisis %.3f   concern caught (concern or crisis) %.3f   none flagged at all %.3f\n\n",
		all.CrisisRecall(), all.NoneCrisis(), all.ConcernCaught(), all.NoneFlagged())
	fmt.Fprintf(&b, "%-8s %6s %9s %9s %9s\n", "level", "gold", "precision", "recall", "F1")
	for l := Crisis; l >= None; l-- {
		c := r.Levels[l]
		fmt.Fprintf(&b, "%-8s %6d %9.3f %9.3f %9.3f\n", l, c.N, c.Precision(), c.Recall(), c.F1())
	}
	fmt.Fprintf(&b, "\nconfusion (rows gold, columns detected)\n%-8s %8s %8s %8s\n", "", "none", "concern", "crisis")
	for g := None; g <= Crisis; g++ {
		fmt.Fprintf(&b, "%-8s %8d %8d %8d\n", g, r.Confusion[g][None], r.Confusion[g][Concern], r.Confusion[g][Crisis])
	}
	if r.Asked > 0 {
		fmt.Fprintf(&b, "\nsafety question asked: %d (gold none %d, concern %d, crisis %d)\n",
			r.Asked, r.AskedGold[None], r.AskedGold[Concern], r.AskedGold[Crisis])
	}
	if len(r.ByLang) > 0 {
		fmt.Fprintf(&b, "\n%-6s %6s %13s %13s %15s %13s\n", "lang", "n", "crisis recall", "none→crisis", "concern caught", "none flagged")
		for _, k := range sortedKeys(r.ByLang) {
			sl := r.ByLang[k]
			n := 0
			for g := range sl.Confusion {
				for _, v := range sl.Confusion[g] {
					n += v
				}
			}
			fmt.Fprintf(&b, "%-6s %6d %13.3f %13.3f %15.3f %13.3f\n", k, n, sl.CrisisRecall(), sl.NoneCrisis(), sl.ConcernCaught(), sl.NoneFlagged())
		}
	}
	if len(r.ByCat) > 0 {
		fmt.Fprintf(&b, "\n%-22s %6s %14s %9s\n", "category", "n", "at gold level", "alerted")
		for _, k := range sortedKeys(r.ByCat) {
			c := r.ByCat[k]
			fmt.Fprintf(&b, "%-22s %6d %14.3f %9.3f\n", k, c.N, ratio(c.TP, c.N), ratio(c.Alerted, c.N))
		}
	}
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// EvalFile reads labelled messages from the CSV file at path (see
// ReadExamples), runs the detector over them and writes the report to w.
func (d *Detector) EvalFile(path string, w io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	defer f.Close()
	exs, err := ReadExamples(f)
	if err != nil {
		return fmt.Errorf("eval %s: %w", path, err)
	}
	if _, err := Evaluate(d, exs).WriteTo(w); err != nil {
		return fmt.Errorf("eval: write report: %w", err)
	}
	return nil
}
