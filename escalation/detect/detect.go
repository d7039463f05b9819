// Package detect finds crisis language in a client's message, in two
// stages that read the same normalised words.
//
// The lexicon (lexicon/*.txt) is for what can be said explicitly: phrases a
// clinician can read and change, each result naming the phrase that caused
// it. It is compiled once by New into a trie over normalised tokens; Detect
// walks the trie from each token and applies small windows for negation ("I
// would never hurt myself"), person ("my friend wants to die"), tense ("I
// used to cut") and idioms ("this traffic is killing me").
//
// The learned stage catches what no phrase names: a preparatory act in
// everyday words, means without a death word, a misspelling, Spanish as it
// is spoken. It is a multinomial logistic regression (none, concern,
// crisis) over hashed features of the same tokens: word unigrams and
// bigrams, word pairs one or two words apart, character 3- to 5-grams of
// each word, a negated form of the three words after "not"/"no", and the
// lexicon's own reading (its categories, and whether it saw an idiom, a
// denial, a third person or remote history). A second head of the same
// kind orders the categories. Both are trained by AdaGrad with L2 in a
// fixed order (splitmix64 shuffles), so the same corpus always gives the
// same weights.
//
// Training happens once per process, at the first New, from the corpus
// embedded in the binary (corpus/train-*.csv and corpus/dev-*.csv): a few
// seconds of CPU (3 to 7 on the machines it was measured on, for 60,000
// rows), no weights file to ship or keep in step with the
// corpus, and a corpus change is a model change reviewed in the same
// commit. The thresholds are chosen by 5-fold cross-validation over the
// same rows (cvThresholds, which TestThresholdsCrossValidated chooses again
// and checks). The frozen test split (corpus/test.csv) is not embedded;
// only the tests read it. No network, no download.
//
// The two stages combine by fixed rules (decide in combine.go): the level
// is the more urgent of the two; the model says crisis from a P(crisis)
// chosen on the dev split for crisis recall within a false-alarm budget,
// and concern with the safety question (Result.Ask) for a P(crisis) in the
// band below it, so ambiguous risk is concern, never none; the lexicon's
// knowledge of idioms, denials, third persons and remote history makes the
// model need near-certainty to overrule it; and a lexicon crisis in a
// message that laughs or quotes a song, which the model is sure is not one,
// is concern rather than crisis ("this homework makes me want to die lol").
// Every signal says where it came from (Signal.Source) and what it read: a
// phrase for the lexicon, the words that weighed most for the model.
//
// Levels follow docs/clinical.md "Risk levels": crisis pages someone now, concern waits
// for the case manager's working hours, none is everything else, including
// idioms.
package detect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// Level is how urgent a message is. Levels are ordered so that the level of
// a message is the maximum of its signals' levels.
type Level int

// The levels, in increasing urgency.
const (
	None    Level = iota // nothing that needs a person
	Concern              // a case manager should look, in working hours
	Crisis               // a person must act now
)

// String returns "none", "concern" or "crisis".
func (l Level) String() string {
	switch l {
	case None:
		return "none"
	case Concern:
		return "concern"
	case Crisis:
		return "crisis"
	}
	return "Level(" + strconv.Itoa(int(l)) + ")"
}

// MarshalText writes the level as its word, so JSON reads "crisis", not 2.
func (l Level) MarshalText() ([]byte, error) {
	if l < None || l > Crisis {
		return nil, fmt.Errorf("detect: invalid level %d", int(l))
	}
	return []byte(l.String()), nil
}

// UnmarshalText reads "none", "concern" or "crisis" (any case).
func (l *Level) UnmarshalText(b []byte) error {
	switch strings.ToLower(string(bytes.TrimSpace(b))) {
	case "none":
		*l = None
	case "concern":
		*l = Concern
	case "crisis":
		*l = Crisis
	default:
		return fmt.Errorf("detect: unknown level %q (want none, concern or crisis)", b)
	}
	return nil
}

// Person and tense values used in signals.
const (
	PersonFirst  = "first"
	PersonThird  = "third"
	TensePresent = "present"
	TensePast    = "past"
)

// Signal is one reason for a level: the phrase found and how it was read.
type Signal struct {
	Level    Level  `json:"level"`
	Category string `json:"category"`         // e.g. "suicidal-ideation", "overdose", "other-at-risk"
	Match    string `json:"match"`            // the words matched, normalised
	Person   string `json:"person,omitempty"` // "first" or "third"
	Tense    string `json:"tense,omitempty"`  // "present" or "past" (remote history)
	Lang     string `json:"lang,omitempty"`   // lexicon the phrase came from; empty for emoji and agency phrases in any language
	Source   string `json:"source"`           // SourceLexicon, SourceModel or SourceRule
}

// Where a signal comes from.
const (
	SourceLexicon = "lexicon" // a phrase of the lexicon (or an agency phrase)
	SourceModel   = "model"   // the learned stage; Match names the words that weighed most
	SourceRule    = "rule"    // a combination rule: the model's crisis score was in the ambiguous band
)

// Explain says why the signal was raised, in words a case manager can check
// against the message, e.g. "matched: 'kill myself' (first person, present)"
// for a lexicon phrase, "model, words that weighed most: 'pills ready'" for
// the learned stage.
func (s Signal) Explain() string {
	var b strings.Builder
	switch s.Source {
	case SourceModel:
		return "model, words that weighed most: '" + s.Match + "'"
	case SourceRule:
		if s.Person == "" { // the ambiguous band
			return "ambiguous risk (model), words that weighed most: '" + s.Match + "'"
		}
		b.WriteString("read by the model as not a crisis; ") // a vetoed phrase
	}
	b.WriteString("matched: '")
	b.WriteString(s.Match)
	b.WriteString("'")
	var parts []string
	if s.Person != "" {
		parts = append(parts, s.Person+" person")
	}
	if s.Tense != "" {
		parts = append(parts, s.Tense)
	}
	if len(parts) > 0 {
		b.WriteString(" (")
		b.WriteString(strings.Join(parts, ", "))
		b.WriteString(")")
	}
	return b.String()
}

// Result is the outcome for one message: the highest level among its
// signals (None when there are none) and the signals, most urgent first.
//
// Ask is set when the level is concern and the risk is ambiguous (a passive
// wish, "i want out", hopelessness with a death reference): the client
// should be asked the ASQ acuity question, and a yes makes it a crisis.
type Result struct {
	Level   Level    `json:"level"`
	Signals []Signal `json:"signals"`
	Ask     bool     `json:"ask,omitempty"`
}

// MarshalJSON writes signals as [] rather than null, so consumers of
// `carecheck triage` never have to special-case an empty list.
func (r Result) MarshalJSON() ([]byte, error) {
	type plain Result
	if r.Signals == nil {
		r.Signals = []Signal{}
	}
	return json.Marshal(plain(r))
}

// Phrase is a phrase an agency adds to the built-in lexicon, for local slang
// or a client's known warning words. Text is matched as written (after the
// same normalisation as messages); it is subject to negation, person and
// tense like any built-in phrase.
type Phrase struct {
	Text  string
	Level Level  // Concern or Crisis
	Lang  string // "en", "es", or "" for any language
}

// Detector is a compiled lexicon. Build it once with New; it is safe for
// concurrent use and holds no per-message state.
type Detector struct {
	vocab  map[string]int32 // key -> token id (aliases map to their canonical id)
	words  []string         // id -> canonical key, for debugging
	fuzzy  map[string]int32 // misspelling neighbourhood of a few key words
	fuzzy1 [256]bool        // first bytes worth a fuzzy look-up
	fuzMin int
	fuzMax int
	// censored are the risk words a censored spelling may stand for
	// ("k*ll", "m*rir"), by key: see unhide.
	censored map[string]int32
	multi    map[int32][]rewrite // multi-token aliases ("do not" -> "dont")
	pats     []pattern
	root     []*node // root edges by token id
	rootCl   []classEdge
	pool     sync.Pool
	m        *model // the learned stage; nil in the lexicon-only detector that picks its thresholds
}

// New compiles the built-in lexicon plus the agency's extra phrases. It
// fails on an invalid phrase, so a bad configuration stops at start-up, not
// on the first crisis message.
func New(extra ...Phrase) (*Detector, error) {
	d, err := newLexicon(extra...)
	if err != nil {
		return nil, err
	}
	base := func() (*Detector, error) {
		if len(extra) == 0 {
			return d, nil // still lexicon-only here
		}
		return newLexicon()
	}
	if d.m, err = sharedModel(base); err != nil {
		return nil, err
	}
	return d, nil
}

// newLexicon compiles the lexicon alone.
func newLexicon(extra ...Phrase) (*Detector, error) {
	c, err := newCompiler()
	if err != nil {
		return nil, err
	}
	for i, p := range extra {
		if err := c.addExtra(p); err != nil {
			return nil, fmt.Errorf("detect: extra phrase %d (%q): %w", i, p.Text, err)
		}
	}
	return c.build(), nil
}

// Detect reads one message. lang is the client's language ("en" or "es");
// "" or anything else checks both. With a language set, crisis phrases of
// the other language still count, because bilingual clients switch
// languages mid-message and a missed crisis is worse than a false alarm;
// the other language's concern phrases do not.
func (d *Detector) Detect(text, lang string) Result {
	s := d.pool.Get().(*scratch)
	r := d.detect(s, text, normLang(lang))
	if cap(s.disp) <= 1<<20 { // let a rare huge message's buffers go
		d.pool.Put(s)
	}
	return r
}

func normLang(lang string) string {
	if len(lang) >= 2 {
		switch strings.ToLower(lang[:2]) {
		case "en":
			if len(lang) == 2 || lang[2] == '-' || lang[2] == '_' {
				return "en"
			}
		case "es":
			if len(lang) == 2 || lang[2] == '-' || lang[2] == '_' {
				return "es"
			}
		}
	}
	return ""
}
