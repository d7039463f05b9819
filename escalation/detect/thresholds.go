package detect

import "math"

// Targets of the threshold choice, on out-of-fold readings of the whole
// corpus (crossValidate: five models, each trained without one fifth of
// the rows, read that fifth). Crisis recall comes first: the crisis
// threshold is as low as the false-alarm budget allows, and stops lowering
// once recall reaches devCrisisRecall.
//
// The budget is 4.0 % of the none rows, under issue 13's 5 % for unseen
// messages. It was 4.5 %: five rounds of writers, each read by the model
// before it was trained on them, were flagged crisis on 7.1, 4.2, 5.7, 4.8
// and 2.4 % of their none rows, 4.8 % on average, so at 4.5 % a new
// writer's messages stood a near even chance of crossing 5 %; their crisis
// recall moved far less (0.916 to 0.933). At 4.0 % cross-validated recall
// was 1.2 points lower (0.915 against 0.927 over the ninth round's 48,048
// rows); the tenth round, read at 4.0 % before it was trained on, kept both
// of the bounds with a margin (0.926, 3.1 %).
//
// Before that it was 4.5 % of the hard negatives alone (none rows other
// than plain replies), so that writers adding everyday rows would not
// loosen it; but how hard the hard negatives are depends on the writer: five writers
// asked for benign mirrors of the crisis rows' own words (w10 to w14) wrote
// hard negatives that the model, out of fold, called crisis 8 to 14 % of the
// time against 3 to 5 % for most earlier writers, and over them the
// hard-negative budget moved the crisis threshold from 0.35 to 0.51, costing
// 4.5 points of cross-validated recall, although on the earlier writers' dev
// rows the model trained with them was better at every threshold (at 0.35:
// recall 0.913 against 0.900, concern caught 0.951 against 0.927, crisis
// rows left at none 2.8 % against 4.1 %). Recall comes first; the budget now
// counts the whole none population the figure counts.
var (
	devCrisisRecall          = 0.98  // enough: no need to spend more false alarms
	devNoneCrisisMax         = 0.040 // most none rows the combination may call crisis
	devConcernCaught         = 0.90  // share of concern rows called concern or crisis
	minDevRows               = 100   // below this there is too little to choose on
	lowMargin        float32 = 0.10  // the band never starts within this of the bias's P(crisis)
	devBandPlainMax          = 0.03  // most plain replies the band may raise (each gets the safety question)
	doubtLoss                = 0.001 // share of crisis rows a doubted lexicon crisis may cost
	minDenied                = 0.40  // the lowest crisis threshold over an idiom, a denial, a third person or remote history
)

// cvThresholds are the thresholds crossValidate chooses on the embedded
// corpus with defaultTrain. They are written here rather than chosen at
// every start, which would train five more models (seconds of CPU);
// TestThresholdsCrossValidated chooses them again and fails, printing the
// new values, when the corpus, the features or the training change them.
var cvThresholds = thresholds{Crisis: 0.24, Low: 0.12, Risk: 0.51, Guard: 0.8, Denied: 0.55, Veto: 0.3, Doubt: 0.13}

// bandShare is the share of plain replies (gold none, category ordinary)
// that only the band raises.
func bandShare(th thresholds, rs []reading, gold []goldRow) float64 {
	n, band := 0, 0
	for i, r := range rs {
		if !gold[i].plain {
			continue
		}
		n++
		if v := th.decide(r); v.band && r.lex == None {
			band++
		}
	}
	return ratio(band, n)
}

// defaultThresholds serve when the dev split is too small to choose on.
var defaultThresholds = thresholds{Crisis: 0.5, Low: 0.25, Risk: 0.5, Guard: 0.95, Denied: 0.95}

// goldRow is what the threshold choice knows of a row: its level, and
// whether it is a plain reply (gold none, category ordinary) rather than a
// hard negative.
type goldRow struct {
	level Level
	plain bool
}

// devFigures are the combination's figures on the dev split (or the
// out-of-fold readings). harm is the share of crisis rows left at none.
type devFigures struct {
	crisisRecall, noneCrisis, hardCrisis, concernCaught, noneFlagged, harm float64
}

func measureDev(th thresholds, rs []reading, gold []goldRow) devFigures {
	var nc, nn, ncon, cr, ncr, conc, nfl, nh, hcr, harm int
	for i, r := range rs {
		lv := th.decide(r).level
		if gold[i].level == None && !gold[i].plain {
			nh++
			if lv == Crisis {
				hcr++
			}
		}
		switch gold[i].level {
		case Crisis:
			nc++
			if lv == Crisis {
				cr++
			}
			if lv == None {
				harm++
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
	return devFigures{ratio(cr, nc), ratio(ncr, nn), ratio(hcr, nh), ratio(conc, ncon), ratio(nfl, nn), ratio(harm, nc)}
}

// pickThresholds chooses the thresholds on the dev split by a fixed search
// over a grid of hundredths, so the same corpus always gives the same
// thresholds. In order:
//
//  1. Veto, with the model's own crisis off: the highest value up to 0.30
//     at which vetoing costs at most doubtLoss of the dev crisis rows (it
//     was none at all, and then one row, "lmao the voices said kill urself
//     again, maybe they got a point this time", took Veto from 0.15 to
//     0.04 and "imma kms lol" over the wifi became a crisis).
//  2. Crisis: the lowest threshold at which the none rows called crisis
//     (the whole combination) stay within devNoneCrisisMax, or the
//     highest one whose dev crisis recall reaches devCrisisRecall if that
//     comes first; chosen with Denied, the crisis threshold over an idiom,
//     a denial, a third person or remote history, from 0.95 down to
//     minDenied in steps of 0.05: the pair with the best crisis recall
//     within the same budget. (It was Guard, at least 0.80, until the
//     out-of-fold readings showed the model's P(crisis) over such a reading
//     to be good evidence: from 0.60 to 0.80 it raises 14 crisis rows
//     of the shipped folds, most of them a denial followed by a plan
//     ("im not gonna kill myself, im just not going to dialysis anymore"),
//     against 3 concern and 2 none.)
//  3. Risk: the highest threshold whose dev concern caught (concern or
//     crisis) reaches devConcernCaught, else the best one.
//  4. Guard, how sure the model must be to say concern over the lexicon's
//     explicit reading (an idiom, a denial, a third person, remote
//     history): from 0.95 down to 0.80 at most, while no more dev none rows
//     are flagged.
//  5. Low, the start of the ambiguous band, whose messages get the safety
//     question: the lowest value at which the band raises at most
//     devBandPlainMax of the plain replies, and never within lowMargin of
//     what the model says of a message with no evidence (its bias), or
//     every short reply would land in the band.
func pickThresholds(rs []reading, dev []goldRow, floor float32) thresholds {
	th := defaultThresholds
	if len(dev) < minDevRows {
		return th
	}
	grid := func(i int) float32 { return float32(i) / 100 }
	// 1. Veto.
	th.Crisis, th.Low, th.Risk, th.Veto = 2, 2, 2, 0
	base := measureDev(th, rs, dev).crisisRecall
	for i := 1; i <= 30; i++ {
		t := th
		t.Veto = grid(i)
		if measureDev(t, rs, dev).crisisRecall < base-doubtLoss {
			break
		}
		th.Veto = t.Veto
	}
	// 1b. Doubt: the highest value up to 0.30, in steps of 0.005, at which
	// vetoing a lexicon crisis costs at most doubtLoss of the crisis rows.
	ref0 := measureDev(th, rs, dev).crisisRecall
	for i := 1; i <= 60; i++ {
		t := th
		t.Doubt = float32(i) / 200
		if measureDev(t, rs, dev).crisisRecall < ref0-doubtLoss {
			break
		}
		th.Doubt = t.Doubt
	}
	// 2. Crisis and Denied.
	pickCrisis := func(th thresholds) (float32, float64) {
		best, recall := float32(0.95), 0.0
		for i := 95; i >= 2; i-- {
			th.Crisis = grid(i)
			f := measureDev(th, rs, dev)
			if f.noneCrisis > devNoneCrisisMax {
				break
			}
			best, recall = th.Crisis, f.crisisRecall
			if f.crisisRecall >= devCrisisRecall {
				break
			}
		}
		return best, recall
	}
	bestRecall := -1.0
	for i := 95; i >= int(math.Round(minDenied*100)); i -= 5 {
		t := th
		t.Denied = grid(i)
		c, recall := pickCrisis(t)
		if recall > bestRecall {
			th.Denied, th.Crisis, bestRecall = t.Denied, c, recall
		}
	}
	// 3. Risk.
	bestR, bestCaught := float32(0.5), -1.0
	for i := 95; i >= 5; i-- {
		th.Risk = grid(i)
		f := measureDev(th, rs, dev)
		if f.concernCaught > bestCaught {
			bestR, bestCaught = th.Risk, f.concernCaught
		}
		if f.concernCaught >= devConcernCaught {
			break
		}
	}
	th.Risk = bestR
	// 4. Guard.
	ref := measureDev(th, rs, dev)
	for i := 90; i >= 80; i -= 5 {
		t := th
		t.Guard = grid(i)
		if f := measureDev(t, rs, dev); f.noneCrisis > ref.noneCrisis || f.noneFlagged > ref.noneFlagged {
			break
		}
		th.Guard = t.Guard
	}
	// 5. Low.
	floor += lowMargin
	th.Low = th.Crisis
	for i := int(th.Crisis*100) - 1; grid(i) >= floor; i-- {
		t := th
		t.Low = grid(i)
		if bandShare(t, rs, dev) > devBandPlainMax {
			break
		}
		th.Low = t.Low
	}
	return th
}
