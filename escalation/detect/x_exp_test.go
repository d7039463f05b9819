package detect

import (
	"fmt"
	"sort"
	"testing"
)

// modelCurve prints, for the model alone on rows, crisis recall at fixed none->crisis rates.
func modelCurve(m *model, lex *Detector, rows []Example) string {
	rs := devReadings(lex, m, rows)
	var pos, neg []float64
	var cpos, cneg []float64
	for i, r := range rs {
		switch rows[i].Level {
		case Crisis:
			pos = append(pos, float64(r.p[Crisis]))
		case None:
			neg = append(neg, float64(r.p[Crisis]))
			cneg = append(cneg, float64(r.p[Crisis]+r.p[Concern]))
		case Concern:
			cpos = append(cpos, float64(r.p[Crisis]+r.p[Concern]))
		}
	}
	sort.Float64s(neg)
	sort.Float64s(cneg)
	at := func(pos, neg []float64, fpr float64) float64 {
		t := neg[len(neg)-1-int(fpr*float64(len(neg)))]
		n := 0
		for _, p := range pos {
			if p > t {
				n++
			}
		}
		return float64(n) / float64(len(pos))
	}
	auc := 0.0
	for _, p := range pos {
		for _, q := range neg {
			if p > q {
				auc++
			} else if p == q {
				auc += .5
			}
		}
	}
	auc /= float64(len(pos) * len(neg))
	return fmt.Sprintf("auc %.3f crisisR@3%% %.3f @5%% %.3f @10%% %.3f | concernR@10%% %.3f @20%% %.3f", auc, at(pos, neg, .03), at(pos, neg, .05), at(pos, neg, .10), at(cpos, cneg, .10), at(cpos, cneg, .2))
}

func TestExpConfigs(t *testing.T) {
	c, _ := loadCorpus(corpusFS)
	lex, _ := newLexicon()
	base := defaultTrain
	cfgs := []trainConfig{base}
	for _, e := range []int{5, 20, 30} {
		x := base
		x.epochs = e
		cfgs = append(cfgs, x)
	}
	for _, r := range []float64{0.1, 0.2, 1.0} {
		x := base
		x.rate = r
		cfgs = append(cfgs, x)
	}
	for _, l := range []float64{0, 1e-5, 1e-4} {
		x := base
		x.l2 = l
		cfgs = append(cfgs, x)
	}
	for _, w := range []float64{1, 3} {
		x := base
		x.crisisW = w
		cfgs = append(cfgs, x)
	}
	for _, cfg := range cfgs {
		m := train(lex, c.train, cfg)
		t.Logf("%+v %s", cfg, modelCurve(m, lex, c.dev))
	}
}

func TestExpCurve(t *testing.T) {
	c, _ := loadCorpus(corpusFS)
	lex, _ := newLexicon()
	m := train(lex, c.train, defaultTrain)
	rs := devReadings(lex, m, c.dev)
	th := thresholds{Low: 2, Risk: 2, Guard: 0.9}
	for i := 90; i >= 5; i -= 5 {
		th.Crisis = float32(i) / 100
		f := measureDev(th, rs, c.dev)
		t.Logf("crisis %.2f: %+v", th.Crisis, f)
	}
	th.Crisis = 0.3
	for i := 90; i >= 5; i -= 5 {
		th.Risk = float32(i) / 100
		f := measureDev(th, rs, c.dev)
		t.Logf("risk %.2f: %+v", th.Risk, f)
	}
}

func TestExpLexFP(t *testing.T) {
	c, _ := loadCorpus(corpusFS)
	lex, _ := newLexicon()
	for _, e := range append(c.train, c.dev...) {
		r := lex.Detect(e.Text, e.Lang)
		if e.Level == None && r.Level == Crisis {
			fmt.Printf("FP %s | %s | %s\n", e.Category, r.Signals[0].Match, e.Text)
		}
		if e.Level != None && r.Level == None && e.Category != "" {
			fmt.Printf("MISS %s %s | %s\n", e.Level, e.Category, e.Text)
		}
	}
}

func TestExpCat(t *testing.T) {
	c, _ := loadCorpus(corpusFS)
	lex, _ := newLexicon()
	m := train(lex, c.train, defaultTrain)
	s := new(scratch)
	ok, n := 0, 0
	for _, e := range c.dev {
		if e.Level == None || e.Category == "" {
			continue
		}
		readRow(s, lex, e)
		n++
		if m.category(s.feats, e.Level) == e.Category {
			ok++
		}
	}
	t.Logf("category accuracy %d/%d = %.3f", ok, n, float64(ok)/float64(n))
}

func BenchmarkBuild(b *testing.B) {
	lex, _ := newLexicon()
	for b.Loop() {
		buildModel(lex, defaultTrain)
	}
}
