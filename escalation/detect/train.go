package detect

import (
	"embed"
	"encoding/csv"
	"fmt"
	"io"
	"io/fs"
	"math"
	"path"
	"sort"
	"strings"
)

// The corpus the learned stage is trained on: train-*.csv to fit the
// weights, dev-*.csv to choose the thresholds. The frozen test split
// (corpus/test.csv) is not embedded: only the tests read it. The lexicon's
// own examples (testdata/examples.csv) stay out: they were written with the
// lexicon, and some are near-duplicates of test rows.
//
//go:embed corpus/train-*.csv corpus/dev-*.csv
var corpusFS embed.FS

// Example is one labelled message: the corpus files and the files of
// `carecheck triage --eval` are read into it.
type Example struct {
	Text     string
	Lang     string // "en", "es", "mix", or "" when the file has none
	Level    Level
	Category string // "" when the file has none
}

// ReadExamples reads labelled messages from CSV with a header. The columns
// are found by name: text, and level or label (none, concern, crisis; the
// public set's not_crisis reads as none); lang and category when present.
func ReadExamples(r io.Reader) ([]Example, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("read header: %w", err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	ti, ok := col["text"]
	if !ok {
		return nil, fmt.Errorf("header %q: no text column", head)
	}
	li, ok := col["level"]
	if !ok {
		if li, ok = col["label"]; !ok {
			return nil, fmt.Errorf("header %q: no level or label column", head)
		}
	}
	langI, hasLang := col["lang"]
	catI, hasCat := col["category"]
	var out []Example
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if len(rec) <= max(ti, li) {
			return nil, fmt.Errorf("line %d: %d columns", line, len(rec))
		}
		e := Example{Text: rec[ti]}
		lab := strings.TrimSpace(rec[li])
		if strings.EqualFold(lab, "not_crisis") {
			lab = "none"
		}
		if err := e.Level.UnmarshalText([]byte(lab)); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if hasLang && langI < len(rec) {
			e.Lang = strings.TrimSpace(rec[langI])
		}
		if hasCat && catI < len(rec) {
			e.Category = strings.TrimSpace(rec[catI])
		}
		out = append(out, e)
	}
}

// corpus is the embedded training material, split.
type corpus struct {
	train, dev []Example
}

// loadCorpus reads the embedded corpus in a fixed order (file names
// sorted, rows as written).
func loadCorpus(fsys fs.FS) (corpus, error) {
	var c corpus
	read := func(name string) ([]Example, error) {
		f, err := fsys.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		exs, err := ReadExamples(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return exs, nil
	}
	for _, pat := range []string{"corpus/train-*.csv", "corpus/dev-*.csv"} {
		names, err := fs.Glob(fsys, pat)
		if err != nil {
			return c, err
		}
		sort.Strings(names)
		for _, n := range names {
			exs, err := read(n)
			if err != nil {
				return c, err
			}
			if strings.HasPrefix(path.Base(n), "dev-") {
				c.dev = append(c.dev, exs...)
			} else {
				c.train = append(c.train, exs...)
			}
		}
	}
	return c, nil
}

// all is every row, train then dev: the shipped model is fitted on all of
// them, and the thresholds are chosen on their out-of-fold scores.
func (c corpus) all() []Example {
	return append(append([]Example(nil), c.train...), c.dev...)
}

// trainConfig holds the learning settings; defaultTrain is the shipped one.
type trainConfig struct {
	epochs    int
	rate      float64 // AdaGrad base rate
	l2        float64
	crisisW   float64 // loss weight of a crisis row (recall first)
	concernW  float64
	ordinaryW float64 // loss weight of a plain reply: real traffic is mostly these
	seed      uint64
	catEpochs int     // passes of the category head
	folds     int     // k of the cross-validation that chooses the thresholds; < 2: fit on train, choose on dev
	nbSmooth  float64 // add-α smoothing of the counts behind nbScales
	nbWeight  float64 // how much a feature's crisis/none log-count ratio adds to its scale (0: off)
}

// defaultTrain's plain replies weigh 12 (4 before nbScales): the scaled
// model leans harder on words that crisis rows and everyday replies share
// ("tonight", "paid", "bye"), and at 4 the threshold choice, whose budget
// counts hard negatives only, spent part of the gain on plain replies
// (none→crisis 0.039 against 0.037).
var defaultTrain = trainConfig{epochs: 6, rate: 0.4, l2: 1e-4, crisisW: 1, concernW: 1, ordinaryW: 12, seed: 13, catEpochs: 2,
	folds: 5, nbSmooth: 0.1, nbWeight: 0.5}

// splitmix64 is the shuffling generator: fixed, so two trainings visit the
// rows in the same order on any machine and Go version.
type splitmix64 uint64

func (s *splitmix64) next() uint64 {
	*s += 0x9e3779b97f4a7c15
	z := uint64(*s)
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// prepared is one corpus row read once: the model's features and what the
// lexicon said of it. Training, cross-validation and the threshold choice
// all start from it.
type prepared struct {
	feats []feat
	r     reading // p is filled by whoever scores the row
}

// prepare reads every row with the lexicon and keeps its features.
func prepare(lex *Detector, rows []Example) []prepared {
	s := new(scratch)
	out := make([]prepared, len(rows))
	for i, e := range rows {
		res := readRow(s, lex, e)
		out[i] = prepared{feats: append([]feat(nil), s.feats...), r: newReading(s, res, [nLevels]float32{})}
	}
	return out
}

// fit fits both heads by AdaGrad with L2 on the rows whose indices are in
// idx (all rows when idx is nil), in a fixed order. Each head is trained
// by one goroutine over tables of its own, so the race detector's
// instrumentation is left out of it, and so are the pointer checks
// (checkptr) that -race also turns on: they checked every step of every
// loop over a row's features, and with them a model took 33 s to train
// under -race instead of 11 s (every test binary that calls New, every
// serve process a test starts).
//
//go:norace
//go:nocheckptr
func fit(rows []Example, prep []prepared, idx []int, cfg trainConfig) *model {
	if idx == nil {
		idx = make([]int, len(rows))
		for i := range idx {
			idx[i] = i
		}
	}
	feats := make([][]feat, len(rows))
	for _, i := range idx {
		feats[i] = prep[i].feats
	}
	m := &model{lw: make([]float32, (1<<levelBits)*nLevels)}

	// Categories of risk rows, sorted; a category keeps the level it was
	// written with (the corpus vocabulary gives each one level).
	catIdx := map[string]int{}
	for _, i := range idx {
		if r := rows[i]; r.Level != None && r.Category != "" {
			catIdx[r.Category] = 0
		}
	}
	for c := range catIdx {
		m.cats = append(m.cats, c)
	}
	sort.Strings(m.cats)
	m.catLevel = make([]Level, len(m.cats))
	for i, c := range m.cats {
		catIdx[c] = i
	}
	for _, i := range idx {
		if r := rows[i]; r.Level != None && r.Category != "" {
			m.catLevel[catIdx[r.Category]] = max(m.catLevel[catIdx[r.Category]], r.Level)
		}
	}

	// The category head shares only the features with the level head: it
	// is trained beside it, on a goroutine of its own (each head in its own
	// fixed order, so the weights are the same as one after the other).
	catsDone := make(chan struct{})
	go func() {
		defer close(catsDone)
		trainCategories(m, rows, feats, catIdx, cfg)
	}()

	// While training, each bucket's three weights, their three AdaGrad
	// sums of squared gradients and the bucket's scale (nbScales) sit side
	// by side (one cache line, where separate tables cost a miss each per
	// feature); the weights, times the scale, are copied into m.lw at the
	// end.
	const stride = 2*nLevels + 1
	tw := make([]float32, (1<<levelBits)*stride)
	for b, x := range nbScales(rows, feats, idx, cfg) {
		tw[b*stride+2*nLevels] = x
	}
	var lbg [nLevels]float64
	order := append([]int(nil), idx...)
	rng := splitmix64(cfg.seed)
	rate, l2 := float32(cfg.rate), float32(cfg.l2)
	var grad [nLevels]float32
	for epoch := 0; epoch < cfg.epochs; epoch++ {
		for i := len(order) - 1; i > 0; i-- {
			j := int(rng.next() % uint64(i+1))
			order[i], order[j] = order[j], order[i]
		}
		for _, ri := range order {
			r, fs := rows[ri], feats[ri]
			if len(fs) == 0 {
				continue
			}
			w := 1.0
			switch {
			case r.Level == Crisis:
				w = cfg.crisisW
			case r.Level == Concern:
				w = cfg.concernW
			case r.Category == "ordinary":
				w = cfg.ordinaryW
			}
			// Level head.
			z := m.lb
			for _, f := range fs {
				b := int(f.h & (1<<levelBits - 1))
				t := tw[b*stride : b*stride+stride]
				v := f.v * t[2*nLevels]
				z[0] += v * t[0]
				z[1] += v * t[1]
				z[2] += v * t[2]
			}
			p := softmax3(z)
			for k := 0; k < nLevels; k++ {
				y := 0.0
				if Level(k) == r.Level {
					y = 1
				}
				grad[k] = float32(w * (float64(p[k]) - y))
				lbg[k] += float64(grad[k]) * float64(grad[k])
				m.lb[k] -= rate * grad[k] / float32(math.Sqrt(lbg[k])+1e-6)
			}
			for _, f := range fs {
				b := int(f.h & (1<<levelBits - 1))
				t := tw[b*stride : b*stride+stride]
				v := f.v * t[2*nLevels]
				for k := 0; k < nLevels; k++ {
					g := grad[k]*v + l2*t[k]
					t[nLevels+k] += g * g
					t[k] -= rate * g / (float32(math.Sqrt(float64(t[nLevels+k]))) + 1e-6)
				}
			}
		}
	}
	// The scales are folded into the weights: the model reads the
	// features as featurize wrote them, at no cost per message.
	for b := 0; b < 1<<levelBits; b++ {
		for k := 0; k < nLevels; k++ {
			m.lw[b*nLevels+k] = tw[b*stride+k] * tw[b*stride+2*nLevels]
		}
	}
	<-catsDone
	return m
}

// nbScales returns, for each bucket of the level head, the scale its
// features get while the head is trained: 1 + nbWeight·|r|, where r is the
// bucket's log-count ratio between crisis and none rows of the training
// rows (idx), smoothed by nbSmooth (the NBSVM of Wang and Manning, 2012,
// with the scale kept at least 1 so that the features that only tell
// concern from none keep their weight). A feature that leans hard towards
// one side ("railing" and "barandal" 2.7, "tonight" 2.2, "ok" 1.6 on the
// shipped corpus) starts with a larger step and a smaller penalty than one
// seen as often on both sides ("bridge" 1.2, "puente" 1.1), so the head
// fits the evidence that separates the classes before the noise: in
// cross-validation, crisis
// recall at the same none→crisis rose 1.3 to 1.5 points along the curve.
// Counts are per occurrence; a bucket no crisis or none row has keeps
// scale 1. Like fit, it runs on one goroutine over tables of its own.
//
//go:norace
//go:nocheckptr
func nbScales(rows []Example, feats [][]feat, idx []int, cfg trainConfig) []float32 {
	sc := make([]float32, 1<<levelBits)
	for b := range sc {
		sc[b] = 1
	}
	if cfg.nbWeight == 0 {
		return sc
	}
	crisis := make([]float32, 1<<levelBits)
	none := make([]float32, 1<<levelBits)
	var nc, nn float64
	for _, i := range idx {
		switch rows[i].Level {
		case Crisis:
			for _, f := range feats[i] {
				crisis[f.h&(1<<levelBits-1)]++
			}
			nc += float64(len(feats[i]))
		case None:
			for _, f := range feats[i] {
				none[f.h&(1<<levelBits-1)]++
			}
			nn += float64(len(feats[i]))
		}
	}
	a := cfg.nbSmooth
	nc += a * float64(len(sc))
	nn += a * float64(len(sc))
	for b := range sc {
		if crisis[b] == 0 && none[b] == 0 {
			continue
		}
		r := math.Log((float64(crisis[b])+a)/nc) - math.Log((float64(none[b])+a)/nn)
		sc[b] = float32(1 + cfg.nbWeight*math.Abs(r))
	}
	return sc
}

// readRow reads one message with the lexicon and leaves the model's
// features, normalised, in s.feats.
func readRow(s *scratch, lex *Detector, e Example) Result {
	tokenize(s, e.Text)
	featurize(s)
	res := lex.lexicon(s, normLang(e.Lang))
	lexFeatures(s, res)
	return res
}

// trainCategories fits the category head: a multinomial logistic
// regression over the same features, on risk rows with a category, by
// AdaGrad in a fixed order. It only orders the categories of a level the
// level head already chose, so it gets fewer passes (catEpochs). Like
// fit, it runs on one goroutine over tables of its own.
//
//go:norace
//go:nocheckptr
func trainCategories(m *model, rows []Example, feats [][]feat, catIdx map[string]int, cfg trainConfig) {
	nc := len(m.cats)
	const mask = 1<<catBits - 1
	m.cw = make([]float32, (mask+1)*nc)
	m.cb = make([]float32, nc)
	if nc == 0 {
		return
	}
	var order []int
	for i, r := range rows {
		if _, ok := catIdx[r.Category]; ok && r.Level != None && len(feats[i]) > 0 {
			order = append(order, i)
		}
	}
	acc := make([]float32, len(m.cw))
	bacc := make([]float64, nc)
	z := make([]float64, nc)
	grad := make([]float32, nc)
	rate, l2 := float32(cfg.rate), float32(cfg.l2)
	rng := splitmix64(cfg.seed + 1)
	for epoch := 0; epoch < cfg.catEpochs; epoch++ {
		for i := len(order) - 1; i > 0; i-- {
			j := int(rng.next() % uint64(i+1))
			order[i], order[j] = order[j], order[i]
		}
		for _, ri := range order {
			fs, ci := feats[ri], catIdx[rows[ri].Category]
			// Feature by feature, so each bucket's row of weights is read
			// once; every z[c] still sums in feature order.
			for c := range nc {
				z[c] = float64(m.cb[c])
			}
			for _, f := range fs {
				row := m.cw[int(f.h&mask)*nc:][:nc]
				for c, w := range row {
					z[c] += float64(f.v * w)
				}
			}
			top := math.Inf(-1)
			for _, zc := range z {
				top = math.Max(top, zc)
			}
			var sum float64
			for c := range nc {
				z[c] = math.Exp(z[c] - top)
				sum += z[c]
			}
			for c := range nc {
				y := 0.0
				if c == ci {
					y = 1
				}
				grad[c] = float32(z[c]/sum - y)
				bacc[c] += float64(grad[c]) * float64(grad[c])
				m.cb[c] -= rate * grad[c] / float32(math.Sqrt(bacc[c])+1e-6)
			}
			for _, f := range fs {
				base := int(f.h&mask) * nc
				for c := range nc {
					g := grad[c]*f.v + l2*m.cw[base+c]
					acc[base+c] += g * g
					m.cw[base+c] -= rate * g / (float32(math.Sqrt(float64(acc[base+c]))) + 1e-6)
				}
			}
		}
	}
}
