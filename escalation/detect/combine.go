package detect

import (
	"fmt"
	"sync"
	"time"
)

// The trained model is shared by every Detector of the process: it depends
// only on the embedded corpus, so it is trained once, on first use, and
// never written afterwards.
var shared struct {
	once sync.Once
	m    *model
	err  error
	took time.Duration
}

// sharedModel returns the process's model, training it on first use with
// the built-in lexicon that base returns beside it.
func sharedModel(base func() (*Detector, error)) (*model, error) {
	shared.once.Do(func() {
		start := time.Now()
		lex, err := base()
		if err != nil {
			shared.err = err
			return
		}
		shared.m, shared.err = buildModel(lex, defaultTrain)
		shared.took = time.Since(start)
	})
	return shared.m, shared.err
}

// TrainingTime is how long the first New took to train the learned stage
// and choose its thresholds (zero before any New).
func TrainingTime() time.Duration {
	return shared.took
}

// buildModel trains on the whole embedded corpus (train and dev) with lex
// (the built-in lexicon alone) beside it, and sets the thresholds chosen by
// cross-validation (cvThresholds, checked by TestThresholdsCrossValidated).
func buildModel(lex *Detector, cfg trainConfig) (*model, error) {
	c, err := loadCorpus(corpusFS)
	if err != nil {
		return nil, fmt.Errorf("detect: corpus: %w", err)
	}
	all := c.all()
	m := fit(all, prepare(lex, all), nil, cfg)
	m.th = cvThresholds
	return m, nil
}

// reading is what both stages say about one message, before combining.
type reading struct {
	lex   Level
	notes uint8
	ask   bool // the lexicon found ambiguous first-person risk (see askable)
	own   bool // an agency's own phrase said crisis: never vetoed
	soft  bool // laughter, media or a class in the message (softWords)
	long  bool // longer than the corpus's messages: the model never overrules the lexicon
	p     [nLevels]float32
}

// vetoMaxWords is the longest message in which the model may overrule a
// lexicon crisis. The corpus's messages have at most about 55 words; in a
// longer one the unit-length feature vector dilutes a crisis phrase among
// everything else ("ok fine" twenty thousand times, then "i want to die"),
// and the model's low P(crisis) says nothing about it.
const vetoMaxWords = 60

func newReading(s *scratch, lex Result, p [nLevels]float32) reading {
	r := reading{lex: lex.Level, notes: s.notes, soft: s.soft, long: len(s.words) > vetoMaxWords, p: p}
	for _, sg := range lex.Signals {
		if sg.Level == Concern && sg.Person != PersonThird && sg.Tense != TensePast && askable[sg.Category] {
			r.ask = true
		}
		if sg.Level == Crisis && sg.Category == agencyCategory {
			r.own = true
		}
	}
	return r
}

// Categories whose concern-level signals carry ambiguous risk of the
// client's own: they get the safety question.
var askable = map[string]bool{
	"ambiguous-risk": true, "suicidal-ideation": true, "passive-wish": true, "not-safe": true,
}

// verdict is the combination of both readings of a message.
type verdict struct {
	level Level // the message's level
	model Level // the model's own level
	band  bool  // the model's level is concern because P(crisis) is in the ambiguous band
	veto  bool  // the lexicon said crisis, the model was sure it is not: concern
	doubt bool  // a veto outside laughter or media: the client is asked
}

// decide is the combination rule, a pure function of both readings:
//
//   - the model says crisis from P(crisis) ≥ Crisis; between Low and Crisis
//     it says concern and the risk is ambiguous (the band: never none);
//     from P(concern)+P(crisis) ≥ Risk it says concern;
//   - when the lexicon read an idiom, a denial, someone else or remote
//     history, the crisis threshold is at least Denied and the others at
//     least Guard, so "this traffic is killing me" stays none unless the
//     model is very sure; after a denial the model may only say crisis (a
//     denial followed by a plan: "im not gonna kill myself, im just not
//     going to dialysis anymore");
//   - the level is the more urgent of the lexicon's and the model's, with
//     two exceptions, both concern, never none, so a case manager still
//     reads the message: in a message with laughter, media or a class
//     (softWords), a lexicon crisis the model gives P(crisis) < Veto ("this
//     homework makes me want to die lol", "that song 'quiero morir' slaps");
//     and any lexicon crisis the model gives P(crisis) < Doubt, a value
//     chosen so low that it costs at most doubtLoss of the corpus's crisis
//     rows out of fold (the hard negatives that share a crisis phrase);
//     those get the safety question.
func (th thresholds) decide(r reading) verdict {
	pc, pr := r.p[Crisis], r.p[Crisis]+r.p[Concern]
	tc, tl, tr := th.Crisis, th.Low, th.Risk
	if r.notes != 0 {
		tc, tl, tr = max(tc, th.Denied), max(tl, th.Guard), max(tr, th.Guard)
	}
	if r.notes&nNegated != 0 {
		// A phrase the client denied ("i havent stopped my meds") is not
		// a concern; a denial followed by a plan is a crisis or nothing.
		tl, tr = 2, 2
	}
	var v verdict
	switch {
	case pc >= tc:
		v.model = Crisis
	case pc >= tl:
		v.model, v.band = Concern, true
	case pr >= tr:
		v.model = Concern
	}
	v.level = max(v.model, r.lex)
	if r.lex == Crisis && !r.own && !r.long {
		switch {
		case r.soft && pc < th.Veto:
			v.level, v.veto = Concern, true
		case pc < th.Doubt:
			v.level, v.veto, v.doubt = Concern, true, true
		}
	}
	return v
}

// combine adds the learned stage's reading to the lexicon's result in
// lex. A model signal is added only when it raises the level; it names the
// words that weighed most.
func (d *Detector) combine(s *scratch, lex Result) Result {
	m := d.m
	if len(s.feats) == 0 {
		return lex // no words: nothing for the model to read
	}
	r := newReading(s, lex, m.probs(s.feats))
	v := m.th.decide(r)
	ml, band := v.model, v.band
	out := lex
	if v.veto {
		out = Result{Level: Concern, Signals: make([]Signal, len(lex.Signals))}
		for i, sg := range lex.Signals {
			if sg.Level == Crisis {
				sg.Level, sg.Source = Concern, SourceRule
			}
			out.Signals[i] = sg
		}
		// A doubted crisis phrase in the client's own words is ambiguous
		// risk: the client is asked, and a yes makes it a crisis.
		out.Ask = v.doubt && r.notes&(nThird|nPast) == 0
		return out
	}
	if ml > lex.Level {
		sig := Signal{Level: ml, Source: SourceModel, Match: m.explain(s, ml)}
		sig.Category = m.category(s.feats, ml)
		if band {
			sig.Source = SourceRule
			sig.Category = "ambiguous-risk"
		}
		if sig.Category == "" {
			sig.Category = "model"
		}
		if sig.Match == "" {
			sig.Match = "(no words)"
		}
		sigs := make([]Signal, 0, len(lex.Signals)+1)
		sigs = append(sigs, sig)
		out = Result{Level: ml, Signals: append(sigs, lex.Signals...)}
	}
	if out.Level == Concern && r.notes&(nThird|nPast) == 0 {
		switch {
		case r.ask:
			out.Ask = true
		case band:
			// The band, just under the crisis threshold, raises to concern
			// on P(crisis) alone: the client is asked, and a yes is a
			// crisis (in cross-validation 4 to 5 % of the crisis rows end
			// here; without the question a third of them reached the
			// case manager only as concern, the next working day).
			out.Ask = true
		case out.Signals[0].Source == SourceModel:
			out.Ask = askable[out.Signals[0].Category]
		case r.p[Concern]+r.p[Crisis] >= m.th.Risk:
			// The lexicon's concern, and the model reads the message as
			// ambiguous risk: "whats the point anymore".
			out.Ask = m.category(s.feats, Concern) == "ambiguous-risk"
		}
	}
	return out
}

// agencyCategory is the category of an agency's own phrases.
const agencyCategory = "agency-phrase"
