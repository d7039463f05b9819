package detect

import (
	"encoding/csv"
	"errors"
	"io/fs"
	"os"
	"strings"
	"sync"
	"testing"
)

// baselineKeywords is the plain keyword list a first attempt would use. It
// is measured beside the detector so that every figure has a reference.
var baselineKeywords = []string{
	"suicide", "suicidal", "kill myself", "die", "dead", "overdose", "hurt myself",
	"cut myself", "end my life", "self harm", "pills", "kms",
	"suicidio", "matarme", "morir", "muerte", "sobredosis",
}

// baseline returns Crisis when any keyword occurs as whole words.
func baseline(text string) Level {
	var b strings.Builder
	b.WriteByte(' ')
	for _, r := range strings.ToLower(text) {
		if ('a' <= r && r <= 'z') || ('0' <= r && r <= '9') || r > 0x7f {
			b.WriteRune(r)
		} else if r != '\'' {
			b.WriteByte(' ')
		}
	}
	b.WriteByte(' ')
	s := strings.Join(strings.Fields(b.String()), " ")
	s = " " + s + " "
	for _, k := range baselineKeywords {
		if strings.Contains(s, " "+k+" ") {
			return Crisis
		}
	}
	return None
}

// prf holds precision and recall for one label.
type prf struct{ tp, fp, fn int }

func (p prf) precision() float64 { return ratio(p.tp, p.tp+p.fp) }
func (p prf) recall() float64    { return ratio(p.tp, p.tp+p.fn) }
func (p prf) f1() float64 {
	pr, rc := p.precision(), p.recall()
	if pr+rc == 0 {
		return 0
	}
	return 2 * pr * rc / (pr + rc)
}

// score counts one prediction for the binary question "is it in pos?".
func (p *prf) score(gold, pred bool) {
	switch {
	case gold && pred:
		p.tp++
	case pred:
		p.fp++
	case gold:
		p.fn++
	}
}

type example struct {
	text, lang string
	level      Level
}

func loadExamples(t *testing.T, path string) []example {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out []example
	for i, r := range recs[1:] {
		var l Level
		if err := l.UnmarshalText([]byte(r[2])); err != nil {
			t.Fatalf("%s line %d: %v", path, i+2, err)
		}
		out = append(out, example{text: r[0], lang: r[1], level: l})
	}
	return out
}

// scores are the figures for one labelled set.
type scores struct {
	crisis, concern, any prf
	crisisAlerted        float64 // share of gold crisis that got any alert
}

// measure runs the detector and the baseline over exs and logs both.
func measure(t *testing.T, d *Detector, exs []example) (det scores) {
	t.Helper()
	var base scores
	alerted, gold := 0, 0
	for _, e := range exs {
		got := d.Detect(e.text, e.lang)
		b := baseline(e.text)
		det.crisis.score(e.level == Crisis, got.Level == Crisis)
		det.concern.score(e.level == Concern, got.Level == Concern)
		det.any.score(e.level != None, got.Level != None)
		base.crisis.score(e.level == Crisis, b == Crisis)
		base.concern.score(e.level == Concern, b == Concern)
		base.any.score(e.level != None, b != None)
		if e.level == Crisis {
			gold++
			if got.Level != None {
				alerted++
			}
		}
		if got.Level != e.level && testing.Verbose() {
			t.Logf("miss [%s] %q: got %v; want %v %v", e.lang, e.text, got.Level, e.level, got.Signals)
		}
	}
	det.crisisAlerted = ratio(alerted, gold)
	t.Logf("%d examples", len(exs))
	t.Logf("%-22s %9s %9s   %9s %9s", "", "detector", "", "baseline", "")
	t.Logf("%-22s %9s %9s   %9s %9s", "", "precision", "recall", "precision", "recall")
	for _, row := range []struct {
		name string
		d, b prf
	}{
		{"crisis", det.crisis, base.crisis},
		{"concern", det.concern, base.concern},
		{"crisis or concern", det.any, base.any},
	} {
		t.Logf("%-22s %9.3f %9.3f   %9.3f %9.3f", row.name, row.d.precision(), row.d.recall(), row.b.precision(), row.b.recall())
	}
	t.Logf("crisis recall: strict %.3f, alerted at any level %.3f", det.crisis.recall(), det.crisisAlerted)
	return det
}

type floor struct {
	name      string
	got, want float64
}

func checkFloors(t *testing.T, floors []floor) {
	t.Helper()
	for _, f := range floors {
		if f.got < f.want {
			t.Errorf("%s = %.3f; want >= %g", f.name, f.got, f.want)
		}
	}
}

// TestExamples measures the lexicon alone on the project's own labelled
// examples and fails below the floors committed here. The lexicon was
// written alongside these examples, so the figures are optimistic; the
// floors sit just under what it reaches, so that a lexicon change that
// loses ground fails. (The learned stage is measured on the corpus splits.)
func TestExamples(t *testing.T) {
	lex := mustLexicon(t)
	s := measure(t, lex, loadExamples(t, "testdata/examples.csv"))
	checkFloors(t, []floor{
		{"crisis recall", s.crisis.recall(), 0.97},
		{"crisis precision", s.crisis.precision(), 0.97},
		{"concern recall", s.concern.recall(), 0.95},
		{"concern precision", s.concern.precision(), 0.93},
		{"crisis alerted at any level", s.crisisAlerted, 0.98},
	})
}

// TestHeldOut measures messages written after the lexicon and not used to
// tune it (testdata/heldout.csv): a fairer estimate than TestExamples. Add
// only new messages to it, and do not fix the lexicon against it line by
// line, or it stops being held out.
func TestHeldOut(t *testing.T) {
	s := measure(t, mustNew(t), loadExamples(t, "testdata/heldout.csv"))
	checkFloors(t, []floor{
		{"crisis recall", s.crisis.recall(), 0.80},
		{"crisis alerted at any level", s.crisisAlerted, 0.80},
		{"crisis or concern precision", s.any.precision(), 0.95},
	})
}

// sharedDir is the shared/ folder beside the clone that holds the external
// evaluation set (eval/crisis_public.csv; README "Tests and CI" says where it
// comes from), or where CARECHECK_SHARED names it.
func sharedDir() string {
	if dir := os.Getenv("CARECHECK_SHARED"); dir != "" {
		return dir
	}
	return "../../../shared"
}

// TestPublicEval measures the detector and the keyword baseline on the
// shared public set (noisy tweets, lower-cased, punctuation stripped; label
// crisis or not_crisis). It is an evaluation set only (no licence: never
// trained or tuned on). A message counts as flagged when the detector gives
// any alert (concern or crisis): the public label "crisis" is suicidal
// intention, which includes the passive wishes CareCheck answers with the
// safety question. In CI the file must be there; elsewhere the test is
// skipped when it is not.
func TestPublicEval(t *testing.T) {
	path := sharedDir() + "/eval/crisis_public.csv"
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s missing: CI must have shared/ beside the clone", path)
		}
		t.Skipf("%s not present (it lives in shared/, beside the repo)", path)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	exs, err := ReadExamples(f)
	if err != nil {
		t.Fatal(err)
	}
	d := mustNew(t)
	var crisisOnly, anyLevel, base prf
	for _, e := range exs {
		gold := e.Level == Crisis
		got := d.Detect(e.Text, "en").Level
		crisisOnly.score(gold, got == Crisis)
		anyLevel.score(gold, got != None)
		base.score(gold, baseline(e.Text) == Crisis)
	}
	t.Logf("%d public examples (label crisis vs not_crisis)", len(exs))
	for _, row := range []struct {
		name string
		p    prf
	}{
		{"detector, crisis or concern", anyLevel},
		{"detector, crisis only", crisisOnly},
		{"keyword baseline", base},
	} {
		t.Logf("%-30s precision %.3f recall %.3f F1 %.3f", row.name, row.p.precision(), row.p.recall(), row.p.f1())
	}
	if f1 := anyLevel.f1(); f1 < 0.70 {
		t.Errorf("detector F1 (crisis or concern) = %.3f; want >= 0.70", f1)
	}
	if anyLevel.precision() <= base.precision() {
		t.Errorf("detector precision = %.3f; want above the keyword baseline's %.3f", anyLevel.precision(), base.precision())
	}
	if anyLevel.recall() <= base.recall() {
		t.Errorf("detector recall = %.3f; want above the keyword baseline's %.3f", anyLevel.recall(), base.recall())
	}
}

// The tests' detector with the built-in lexicon alone, built once: a
// Detector is safe for concurrent use and no test changes it, and
// compiling the lexicon again for every test cost seconds under -race.
var builtIn struct {
	once sync.Once
	d    *Detector
	err  error
}

// mustLexicon compiles the lexicon alone (no learned stage).
func mustLexicon(t testing.TB) *Detector {
	t.Helper()
	lex, err := newLexicon()
	if err != nil {
		t.Fatal(err)
	}
	return lex
}

// mustNew returns a detector with the built-in lexicon and extra; without
// extra, the one shared by the tests. The learned stage is the process's
// shared model either way (trained once).
func mustNew(t testing.TB, extra ...Phrase) *Detector {
	t.Helper()
	if len(extra) == 0 {
		builtIn.once.Do(func() { builtIn.d, builtIn.err = New() })
		if builtIn.err != nil {
			t.Fatal(builtIn.err)
		}
		return builtIn.d
	}
	d, err := New(extra...)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
