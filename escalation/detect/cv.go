package detect

// Cross-validation: the thresholds are chosen on out-of-fold scores of the
// whole corpus (train and dev), k models each trained without one fold,
// rather than on one small dev split; the shipped model is then trained on
// every row.

// folds assigns each row to one of k folds, stratified by level: within
// each level, rows are dealt round-robin, in file order for seed 0 (the
// shipped thresholds' folds) and in an order shuffled by seed otherwise
// (repeated cross-validation, to see how much a figure moves with the
// folds alone).
func folds(rows []Example, k int, seed uint64) []int {
	out := make([]int, len(rows))
	var byLevel [nLevels][]int
	for i, r := range rows {
		byLevel[r.Level] = append(byLevel[r.Level], i)
	}
	rng := splitmix64(seed)
	for _, idx := range byLevel {
		if seed != 0 {
			for i := len(idx) - 1; i > 0; i-- {
				j := int(rng.next() % uint64(i+1))
				idx[i], idx[j] = idx[j], idx[i]
			}
		}
		for n, i := range idx {
			out[i] = n % k
		}
	}
	return out
}

// crossValidate chooses the thresholds on out-of-fold readings of rows,
// already read by prepare, with the folds dealt by seed (see folds,
// crossReadings and pickThresholds), and returns them with the readings.
func crossValidate(rows []Example, prep []prepared, cfg trainConfig, seed uint64) (thresholds, []reading) {
	rs, floor := crossReadings(rows, prep, nil, cfg, cfg.folds, seed)
	return pickThresholds(rs, levels(rows, nil), floor), rs
}

// crossReadings returns, for each row of idx (all rows when nil), its
// reading with the probabilities of the model trained on the other k-1
// folds of idx, and the mean over the k models of what each says of a
// message with no evidence (P(crisis) of its bias).
func crossReadings(rows []Example, prep []prepared, idx []int, cfg trainConfig, k int, seed uint64) ([]reading, float32) {
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
	fold := folds(sub, k, seed)
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

// levels returns what the threshold choice knows of rows idx (all when
// nil): gold level, plain reply or not.
func levels(rows []Example, idx []int) []goldRow {
	if idx == nil {
		idx = make([]int, len(rows))
		for i := range idx {
			idx[i] = i
		}
	}
	out := make([]goldRow, len(idx))
	for j, i := range idx {
		out[j] = goldRow{level: rows[i].Level, plain: rows[i].Level == None && rows[i].Category == "ordinary"}
	}
	return out
}
