package detect

import (
	"os"
	"strings"
	"testing"
)

func ordinaryRows() []string {
	b, _ := os.ReadFile("/tmp/xexp/ordinary.txt")
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func TestExpL2(t *testing.T) {
	c, _ := loadCorpus(corpusFS)
	lex, _ := newLexicon()
	ord := ordinaryRows()
	for _, l2 := range []float64{1e-6, 1e-5, 3e-5, 1e-4, 3e-4} {
		cfg := defaultTrain
		cfg.l2 = l2
		m := train(lex, c.train, cfg)
		m.th = pickThresholds(lex, m, c.dev)
		d, _ := newLexicon()
		d.m = m
		a := Evaluate(d, c.dev).All()
		oc, of := 0, 0
		for _, o := range ord {
			switch d.Detect(o, "").Level {
			case Crisis:
				oc++
			case Concern:
				of++
			}
		}
		t.Logf("l2 %v | %s || th %+v R %.3f n→c %.3f conc %.3f nflag %.3f | ordinary crisis %d concern %d / %d", l2, modelCurve(m, lex, c.dev), m.th, a.CrisisRecall(), a.NoneCrisis(), a.ConcernCaught(), a.NoneFlagged(), oc, of, len(ord))
	}
}
