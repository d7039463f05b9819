package detect

import (
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
)

// testSplit is the frozen test split: written before the model, never
// trained or tuned on, and not embedded in the binary.
const testSplit = "corpus/test.csv"

func readCSV(t *testing.T, path string) []Example {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	exs, err := ReadExamples(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return exs
}

// TestTestSplit measures the detector on the frozen test split. Issue 13
// sets the targets: crisis recall ≥ 0.97, ordinary replies (gold none)
// flagged crisis ≤ 3 %, concern caught (as concern or crisis) ≥ 0.85. The
// detector does not reach the first yet (the top-level README's detection
// table has today's figures and how each landing moved them), so the test
// logs the gap and holds the floors below, just under what it reaches, so
// that a change that loses ground fails. Raise them as the detector
// improves; never tune on this file to do so.
func TestTestSplit(t *testing.T) {
	exs := readCSV(t, testSplit)
	r := Evaluate(mustNew(t), exs)
	logReport(t, r)
	lex := mustLexicon(t)
	lr := Evaluate(lex, exs).All()
	t.Logf("lexicon alone on the test split: crisis recall %.3f, none→crisis %.3f, concern caught %.3f", lr.CrisisRecall(), lr.NoneCrisis(), lr.ConcernCaught())
	all := r.All()
	for _, g := range []struct {
		name      string
		got, want float64
		atMost    bool
	}{
		{"crisis recall", all.CrisisRecall(), 0.97, false},
		{"none flagged crisis", all.NoneCrisis(), 0.03, true},
		{"concern caught", all.ConcernCaught(), 0.85, false},
	} {
		met := g.got >= g.want
		if g.atMost {
			met = g.got <= g.want
		}
		if !met {
			t.Logf("issue 13 target not met: test %s = %.3f; target %.2f", g.name, g.got, g.want)
		}
	}
	checkFloors(t, []floor{
		// 0.92, not 0.93, since the false-alarm budget went from 4.5 to
		// 4.0 % of none rows (thresholds.go): with the ninth round, 343 of
		// 369 at 4.0 % against 347 at 4.5 % (346 after the tenth).
		{"test crisis recall", all.CrisisRecall(), 0.92},
		// Back to 0.86 with the thirteenth round (0.869). It was 0.85,
		// issue 13's own bound, after the twelfth round (w60 to w64) took
		// it from 0.865 to 0.852 (3 of 237 rows) while both unseen sets
		// gained (unseen.csv 0.866 to 0.878, unseen2.csv 0.894 to 0.901),
		// and so did their crisis recall and this split's crisis rows left
		// at none (8 to 5 of 369).
		{"test concern caught", all.ConcernCaught(), 0.86},
	})
	if got := all.NoneCrisis(); got > 0.05 {
		t.Errorf("test none rows flagged crisis = %.3f; want <= 0.05", got)
	}
}

// The unseen sets are frozen sets of writers the model never saw and was
// never trained on (corpus/UNSEEN.md). unseenSplit (w40 to w44) was written
// after seven rounds of writers; one choice was made after reading it, the
// 4.0 % false-alarm budget of thresholds.go. unseen2Split (w55 to w59, the
// eleventh round) was read once by the model before it, then frozen because
// training on it took unseenSplit's false alarms over issue 13's bound;
// the only choice made with it in view was to keep the twelfth round in
// training (UNSEEN.md). unseen3Split (w70 to w74, the fourteenth round)
// was frozen the same way: trained on, unseenSplit's false alarms went
// over the bound. So was unseen4Split (w75 to w79, the fifteenth round),
// the first set read under issue 13's crisis recall bound (0.898). And
// unseen5Split (w80 to w84, the sixteenth round): trained on, unseenSplit's
// false alarms and the test split's concern caught went past their bounds.
// They are the nearest this corpus comes to how issue 13 will be tried.
const (
	unseenSplit  = "corpus/unseen.csv"
	unseen2Split = "corpus/unseen2.csv"
	unseen3Split = "corpus/unseen3.csv"
	unseen4Split = "corpus/unseen4.csv"
	unseen5Split = "corpus/unseen5.csv"
)

// unseenSets are the frozen sets of unseen writers with the crisis recall
// each must keep. Issue 13's bound is 0.90; unseen4Split read 0.898 when it
// was frozen, so its floor sits under that and TestUnseenWriters logs the
// gap, as TestTestSplit does for the test split's targets.
var unseenSets = []struct {
	path        string
	recallFloor float64
}{
	{unseenSplit, 0.90},
	{unseen2Split, 0.90},
	{unseen3Split, 0.90},
	{unseen4Split, 0.89},
	{unseen5Split, 0.90},
}

// TestUnseenWriters holds the detector to issue 13's bounds for messages
// the project has never seen, on writers it has never seen, set by set:
// crisis recall at least 0.90 (unseenSets' floors), none rows flagged
// crisis at most 5 %, and concern caught (as concern or crisis) at least
// 0.85. Read it only to report; a change that fails it loses ground on the
// voices the detector will meet.
func TestUnseenWriters(t *testing.T) {
	for _, set := range unseenSets {
		t.Run(filepath.Base(set.path), func(t *testing.T) {
			r := Evaluate(mustNew(t), readCSV(t, set.path))
			logReport(t, r)
			all := r.All()
			if got := all.CrisisRecall(); got < 0.90 {
				t.Logf("issue 13 bound not met: unseen writers' crisis recall = %.3f; bound 0.90", got)
			}
			checkFloors(t, []floor{
				{"unseen writers: crisis recall", all.CrisisRecall(), set.recallFloor},
				{"unseen writers: concern caught", all.ConcernCaught(), 0.85},
			})
			if got := all.NoneCrisis(); got > 0.05 {
				t.Errorf("unseen writers: none rows flagged crisis = %.3f; want <= 0.05", got)
			}
		})
	}
}

// The embedded corpus read by the lexicon once for the tests that train on
// it (the cross-validation and the dev report): prepare is the part of
// training the race detector slows down (fit is left out of it).
var preparedCorpus struct {
	once sync.Once
	c    corpus
	all  []Example
	prep []prepared // of all: train rows first, then dev
	err  error
}

func mustPrepared(t *testing.T) (corpus, []Example, []prepared) {
	t.Helper()
	p := &preparedCorpus
	p.once.Do(func() {
		if p.c, p.err = loadCorpus(corpusFS); p.err != nil {
			return
		}
		var lex *Detector
		if lex, p.err = newLexicon(); p.err != nil {
			return
		}
		p.all = p.c.all()
		p.prep = prepare(lex, p.all)
	})
	if p.err != nil {
		t.Fatal(p.err)
	}
	return p.c, p.all, p.prep
}

// cvSeeds is how many more fold deals TestThresholdsCrossValidated
// measures besides the shipped one (go test -run TestThresholdsCrossValidated
// -v ./escalation/detect/ -args -cvseeds=3): a change to the features or
// the training is kept only when it moves the mean more than the folds
// alone move it.
var cvSeeds = flag.Int("cvseeds", 0, "extra fold deals to measure in TestThresholdsCrossValidated")

// TestThresholdsCrossValidated chooses the thresholds again on the
// out-of-fold readings of the whole corpus and checks them against
// cvThresholds, the ones the detector ships with. It logs the
// cross-validated figures: each row read by a model that never saw it, at
// the chosen thresholds (the thresholds were chosen on these readings, so
// the figures are slightly optimistic); with -cvseeds, the same for other
// deals of the folds, and their mean and spread.
func TestThresholdsCrossValidated(t *testing.T) {
	_, all, prep := mustPrepared(t)
	var figs []devFigures
	for seed := uint64(0); seed <= uint64(*cvSeeds); seed++ {
		th, rs := crossValidate(all, prep, defaultTrain, seed*101)
		f := measureDev(th, rs, levels(all, nil))
		figs = append(figs, f)
		t.Logf("%d-fold cross-validation (deal %d) over %d rows: crisis recall %.3f, none→crisis %.3f (hard negatives %.3f), concern caught %.3f, none flagged %.3f, crisis rows left at none %.3f; thresholds %+v",
			defaultTrain.folds, seed*101, len(all), f.crisisRecall, f.noneCrisis, f.hardCrisis, f.concernCaught, f.noneFlagged, f.harm, th)
		if seed == 0 && th != cvThresholds {
			t.Errorf("cvThresholds = %#v; cross-validation now chooses\n%#v\n(write it into thresholds.go)", cvThresholds, th)
		}
	}
	if len(figs) > 1 {
		ms := func(g func(devFigures) float64) string {
			var m, v float64
			for _, f := range figs {
				m += g(f)
			}
			m /= float64(len(figs))
			for _, f := range figs {
				v += (g(f) - m) * (g(f) - m)
			}
			return fmt.Sprintf("%.4f ± %.4f", m, math.Sqrt(v/float64(len(figs))))
		}
		t.Logf("over %d deals: crisis recall %s, none→crisis %s, hard negatives %s, concern caught %s, crisis rows left at none %s", len(figs),
			ms(func(f devFigures) float64 { return f.crisisRecall }), ms(func(f devFigures) float64 { return f.noneCrisis }),
			ms(func(f devFigures) float64 { return f.hardCrisis }), ms(func(f devFigures) float64 { return f.concernCaught }),
			ms(func(f devFigures) float64 { return f.harm }))
	}
}

// TestDevSplit reports the figures on the dev split of a model that never
// saw it: fitted on the train split alone. Its thresholds are the shipped
// ones (cvThresholds), whose cross-validation read the dev rows out of
// fold: the weights never saw dev, the threshold choice did. (Choosing
// thresholds again on the train split alone trained five more models, a
// third of the package's test time under -race.) The shipped model is
// fitted on both splits. It holds the combination above the lexicon alone.
func TestDevSplit(t *testing.T) {
	c, _, prep := mustPrepared(t)
	lex := mustLexicon(t)
	m := fit(c.train, prep[:len(c.train)], nil, defaultTrain)
	m.th = cvThresholds
	d, err := newLexicon()
	if err != nil {
		t.Fatal(err)
	}
	d.m = m
	mustNew(t)
	t.Logf("train %d rows, dev %d rows; the shipped model's first training took %v", len(c.train), len(c.dev), TrainingTime())
	r := Evaluate(d, c.dev)
	logReport(t, r)
	lr := Evaluate(lex, c.dev).All()
	t.Logf("lexicon alone on dev: crisis recall %.3f, none→crisis %.3f, concern caught %.3f", lr.CrisisRecall(), lr.NoneCrisis(), lr.ConcernCaught())
	all := r.All()
	if all.CrisisRecall() <= lr.CrisisRecall() {
		t.Errorf("dev crisis recall = %.3f; want above the lexicon alone (%.3f)", all.CrisisRecall(), lr.CrisisRecall())
	}
}

func logReport(t *testing.T, r Report) {
	t.Helper()
	var b stringsBuilder
	if _, err := r.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + string(b))
}

type stringsBuilder []byte

func (b *stringsBuilder) Write(p []byte) (int, error) { *b = append(*b, p...); return len(p), nil }

// wordSet is a message as its sorted distinct word keys (the detector's
// normalisation: lower case, no accents, repeats squeezed).
func wordSet(s *scratch, ids map[string]int32, text string) []int32 {
	tokenize(s, text)
	var set []int32
	for _, t := range s.toks {
		k := string(s.key[t.kstart:t.kend])
		id, ok := ids[k]
		if !ok {
			id = int32(len(ids))
			ids[k] = id
		}
		set = append(set, id)
	}
	slices.Sort(set)
	return slices.Compact(set)
}

// jaccard is the Jaccard similarity of two sorted sets.
//
//go:norace
func jaccard(a, b []int32) float64 {
	if len(a) == 0 && len(b) == 0 {
		return 1
	}
	inter, i, j := 0, 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] == b[j]:
			inter++
			i++
			j++
		case a[i] < b[j]:
			i++
		default:
			j++
		}
	}
	return float64(inter) / float64(len(a)+len(b)-inter)
}

// nearDuplicates returns, for each row of probe, the first row of ref whose
// word set is at least 0.8 Jaccard-similar to it (or equal), or -1.
//
// Rather than compare every pair (under -race that took minutes of CI), it
// looks only at ref rows sharing a word with the probe's prefix: if
// J(p, r) ≥ 0.8 then p and r share at least ⌈0.8·|p|⌉ words, so r holds
// one of any |p| − ⌈0.8·|p|⌉ + 1 words of p. The prefix takes p's rarest
// words, whose lists of ref rows are short. Its loops (and jaccard's) are
// left out of the race detector's instrumentation: they only read.
//
//go:norace
func nearDuplicates(probe, ref []Example) []int {
	s := new(scratch)
	ids := map[string]int32{}
	refSets := make([][]int32, len(ref))
	var postings [][]int32 // word id → ref rows holding it, in order
	for i, e := range ref {
		refSets[i] = wordSet(s, ids, e.Text)
		for _, w := range refSets[i] {
			for int(w) >= len(postings) {
				postings = append(postings, nil)
			}
			postings[w] = append(postings[w], int32(i))
		}
	}
	df := func(w int32) int {
		if int(w) < len(postings) {
			return len(postings[w])
		}
		return 0
	}
	out := make([]int, len(probe))
	var prefix []int32
	for i, e := range probe {
		out[i] = -1
		p := wordSet(s, ids, e.Text)
		if len(p) < 3 {
			continue // "7", "yes", "C": check-in answers repeat by nature
		}
		shared := int(math.Ceil(0.8*float64(len(p)) - 1e-9))
		prefix = append(prefix[:0], p...)
		slices.SortFunc(prefix, func(a, b int32) int { return df(a) - df(b) })
		prefix = prefix[:len(p)-shared+1]
		best := -1
		for _, w := range prefix {
			if int(w) >= len(postings) {
				continue
			}
			for _, j := range postings[w] {
				if best >= 0 && int(j) >= best {
					break // postings are in row order: only an earlier row can win
				}
				r := refSets[j]
				lo, hi := min(len(p), len(r)), max(len(p), len(r))
				if float64(lo) < 0.8*float64(hi) {
					continue
				}
				if jaccard(p, r) >= 0.8 {
					best = int(j)
					break
				}
			}
		}
		out[i] = best
	}
	return out
}

// TestNoNearDuplicatesAcrossSplits: no text of the test split may be a
// near-duplicate (word-set Jaccard ≥ 0.8 after normalisation) of a train or
// dev text, and no dev text of a train text; otherwise the figures measure
// memory, not generalisation. Answers under three words ("7", "yes") are
// left out: check-in answers repeat by nature.
func TestNoNearDuplicatesAcrossSplits(t *testing.T) {
	c, err := loadCorpus(corpusFS)
	if err != nil {
		t.Fatal(err)
	}
	// Only the train or dev side is printed: that is the row to reword or
	// drop, and the test split's rows are not for reading.
	check := func(name string, probe, ref []Example) {
		n := 0
		for _, j := range nearDuplicates(probe, ref) {
			if j >= 0 {
				n++
				if n <= 20 {
					t.Errorf("a %s row is a near-duplicate of the training row %q", name, ref[j].Text)
				}
			}
		}
		if n > 0 {
			t.Errorf("%s: %d near-duplicates", name, n)
		}
	}
	check("dev", c.dev, c.train)
	frozen := []string{testSplit}
	for _, set := range unseenSets {
		frozen = append(frozen, set.path)
	}
	for _, path := range frozen {
		if _, err := os.Stat(path); err == nil {
			check(filepath.Base(path), readCSV(t, path), append(slices.Clip(c.train), c.dev...))
		}
	}
}

func TestNearDuplicateRule(t *testing.T) {
	a := []Example{{Text: "i gave my dog away for good today"}}
	for text, want := range map[string]bool{
		"I gave my dog away for good today!!":   true, // equal after normalisation
		"i gave my dog away for good today lol": true, // one word added: 8/9
		"i gave my cat away for good":           false,
		"took my meds":                          false,
		"7":                                     false,
	} {
		if got := nearDuplicates([]Example{{Text: text}}, a)[0] >= 0; got != want {
			t.Errorf("near duplicate of %q: %v; want %v", text, got, want)
		}
	}
	// The first near row of ref is the one named, whichever word found it.
	ref := []Example{
		{Text: "bought bread and milk at the store"},
		{Text: "i gave my old dog away for good today"},
		{Text: "i gave my dog away for good today"},
	}
	if got := nearDuplicates([]Example{{Text: "i gave my dog away for good today!"}}, ref)[0]; got != 1 {
		t.Errorf("near-duplicate row = %d; want 1, the first near row", got)
	}
}
