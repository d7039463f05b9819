package detect

// Targets on the dev split, in order of priority: crisis recall first,
// then few ordinary replies raised to crisis, then concern caught.
const (
	devCrisisRecall  = 0.98 // share of dev crisis rows the combination must call crisis
	devNoneCrisisMax = 0.03 // most dev none rows it may call crisis, once recall is met
	devConcernCaught = 0.90 // share of dev concern rows called concern or crisis
	minDevRows       = 100  // below this the dev split is too small to choose on
)

// defaultThresholds serve when the dev split is too small to choose on.
var defaultThresholds = thresholds{Crisis: 0.5, Low: 0.3, Risk: 0.5, Guard: 0.9}

// devReadings reads every dev row with the lexicon alone and the model.
func devReadings(lex *Detector, m *model, dev []Example) []reading {
	s := new(scratch)
	out := make([]reading, len(dev))
	for i, e := range dev {
		res := readRow(s, lex, e)
		out[i] = newReading(s, res, m.probs(s.feats))
	}
	return out
}

// devFigures are the combination's figures on the dev split.
type devFigures struct {
	crisisRecall, noneCrisis, concernCaught, noneFlagged float64
}

func measureDev(th thresholds, rs []reading, dev []Example) devFigures {
	var nc, nn, ncon, cr, ncr, conc, nfl int
	for i, r := range rs {
		lv := th.decide(r).level
		switch dev[i].Level {
		case Crisis:
			nc++
			if lv == Crisis {
				cr++
			}
		case Concern:
			ncon++
			if lv != None {
				conc++
			}
		case None:
			nn++
			if lv == Crisis {
				ncr++
			}
			if lv != None {
				nfl++
			}
		}
	}
	return devFigures{ratio(cr, nc), ratio(ncr, nn), ratio(conc, ncon), ratio(nfl, nn)}
}

// pickThresholds chooses the thresholds on the dev split by a fixed search
// over a grid of hundredths, so the same corpus always gives the same
// thresholds. In order:
//
//  1. Crisis: the highest threshold whose dev crisis recall reaches
//     devCrisisRecall, as long as dev none→crisis stays under
//     devNoneCrisisMax more than the lexicon's own; otherwise the best
//     recall within that bound.
//  2. Veto: the highest value (up to 0.30) that turns no dev crisis row
//     into concern.
//  3. Risk: the highest threshold whose dev concern caught (concern or
//     crisis) reaches devConcernCaught, else the best one.
//  4. Low, the start of the ambiguous band: the highest value under Crisis
//     at which the band adds no dev none row flagged per two risk rows it
//     catches... kept simple: halfway between 0 and Crisis.
//
// Guard stays fixed: it is the certainty the model needs to overrule the
// lexicon's explicit knowledge, not a figure to fit.
func pickThresholds(lex *Detector, m *model, dev []Example) thresholds {
	th := defaultThresholds
	if len(dev) < minDevRows {
		return th
	}
	rs := devReadings(lex, m, dev)
	grid := func(i int) float32 { return float32(i) / 100 }
	// 1. Crisis, with the concern paths closed and no veto.
	th.Low, th.Risk, th.Veto = 2, 2, 0
	th.Crisis = 2
	lexOnly := measureDev(th, rs, dev).noneCrisis
	best, bestRecall := float32(0.5), -1.0
	for i := 95; i >= 2; i-- {
		th.Crisis = grid(i)
		f := measureDev(th, rs, dev)
		if f.noneCrisis > lexOnly+devNoneCrisisMax {
			break
		}
		if f.crisisRecall > bestRecall {
			best, bestRecall = th.Crisis, f.crisisRecall
		}
		if f.crisisRecall >= devCrisisRecall {
			break
		}
	}
	th.Crisis = best
	// 2. Veto: no dev crisis row may be lost.
	base := measureDev(th, rs, dev).crisisRecall
	th.Veto = 0
	for i := 1; i <= 30; i++ {
		t := th
		t.Veto = grid(i)
		if measureDev(t, rs, dev).crisisRecall < base {
			break
		}
		th.Veto = t.Veto
	}
	// 3. Risk.
	best, bestCaught := float32(0.5), -1.0
	for i := 95; i >= 5; i-- {
		th.Risk = grid(i)
		f := measureDev(th, rs, dev)
		if f.concernCaught > bestCaught {
			best, bestCaught = th.Risk, f.concernCaught
		}
		if f.concernCaught >= devConcernCaught {
			break
		}
	}
	th.Risk = best
	// 4. Low.
	th.Low = th.Crisis / 2
	return th
}
