package detect

// Cross-validation: the thresholds are chosen on out-of-fold scores of the
// whole corpus (train and dev), k models each trained without one fold,
// rather than on one small dev split; the shipped model is then trained on
// every row.

// folds assigns each row to one of k folds, stratified by level: within
// each level, rows in file order are dealt round-robin.
func folds(rows []Example, k int) []int {
	out := make([]int, len(rows))
	var next [nLevels]int
	for i, r := range rows {
		out[i] = next[r.Level] % k
		next[r.Level]++
	}
	return out
}

// crossValidate chooses the thresholds on out-of-fold readings of rows
// (see crossReadings and pickThresholds) and returns them with the
// readings.
func crossValidate(lex *Detector, rows []Example, cfg trainConfig) (thresholds, []reading) {
	prep := prepare(lex, rows)
	rs, floor := crossReadings(rows, prep, nil, cfg, cfg.folds)
	return pickThresholds(rs, levels(rows, nil), floor), rs
}

// crossReadings returns, for each row of idx (all rows when nil), its
// reading with the probabilities of the model trained on the other k-1
// folds of idx, and the mean over the k models of what each says of a
// message with no evidence (P(crisis) of its bias).
func crossReadings(rows []Example, prep []prepared, idx []int, cfg trainConfig, k int) ([]reading, float32) {
	if idx == nil {
		idx = make([]int, len(rows))
		for i := range idx {
			idx[i] = i
		}
	}
	sub := make([]Example, len(idx))
	for j, i := range idx {
		sub[j] = rows[i]
	}
	fold := folds(sub, k)
	out := make([]reading, len(idx))
	var floor float32
	for f := 0; f < k; f++ {
		var in []int
		for j, i := range idx {
			if fold[j] != f {
				in = append(in, i)
			}
		}
		m := fit(rows, prep, in, cfg)
		floor += softmax3(m.lb)[Crisis] / float32(k)
		for j, i := range idx {
			if fold[j] == f {
				out[j] = prep[i].r
				out[j].p = m.probs(prep[i].feats)
			}
		}
	}
	return out, floor
}

// levels returns the gold levels of rows idx (all when nil).
func levels(rows []Example, idx []int) []Level {
	if idx == nil {
		out := make([]Level, len(rows))
		for i, r := range rows {
			out[i] = r.Level
		}
		return out
	}
	out := make([]Level, len(idx))
	for j, i := range idx {
		out[j] = rows[i].Level
	}
	return out
}
