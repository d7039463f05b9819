package escalation

import (
	"crypto/sha256"
	"encoding/json"
	"sync"

	"github.com/carecheck/carecheck/escalation/detect"
	"github.com/carecheck/carecheck/store"
)

// Screener adapts the detector to the signals escalations carry: category
// words for staff ("crisis language: overdose") and explanations for the
// console, never the client's own words in the reasons. Agencies with their
// own phrases get their own compiled detector, cached by the phrases' hash.
type Screener struct {
	base *detect.Detector
	mu   sync.Mutex
	own  map[string]agencyDetector
}

type agencyDetector struct {
	hash [32]byte
	d    *detect.Detector
}

// NewScreener wraps the built-in detector.
func NewScreener(base *detect.Detector) *Screener {
	return &Screener{base: base, own: map[string]agencyDetector{}}
}

// Phrases converts an agency's stored phrases for the detector, checking them.
func Phrases(list []store.Phrase) ([]detect.Phrase, error) {
	out := make([]detect.Phrase, 0, len(list))
	for i, p := range list {
		var lv detect.Level
		if err := lv.UnmarshalText([]byte(p.Level)); err != nil || lv == detect.None {
			return nil, settingError(CodePhraseLevel, i, "phrases[%d].level: \"concern\" or \"crisis\"", i)
		}
		if p.Lang != "" && p.Lang != "en" && p.Lang != "es" {
			return nil, settingError(CodePhraseLang, i, "phrases[%d].lang: \"en\", \"es\" or empty for both", i)
		}
		out = append(out, detect.Phrase{Text: p.Text, Level: lv, Lang: p.Lang})
	}
	if _, err := detect.New(out...); err != nil {
		return nil, settingError(CodePhraseInvalid, 0, "%s", err.Error())
	}
	return out, nil
}

func (s *Screener) detector(a *store.Agency) *detect.Detector {
	if a == nil || len(a.Phrases) == 0 {
		return s.base
	}
	raw, _ := json.Marshal(a.Phrases)
	h := sha256.Sum256(raw)
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.own[a.ID]; ok && cur.hash == h {
		return cur.d
	}
	phrases, err := Phrases(a.Phrases)
	if err != nil {
		return s.base // validated on save; never screen with less than the built-in lexicon
	}
	d, err := detect.New(phrases...)
	if err != nil {
		return s.base
	}
	s.own[a.ID] = agencyDetector{hash: h, d: d}
	return d
}

// Screen classifies one message for an agency.
func (s *Screener) Screen(a *store.Agency, text, lang string) Signal {
	res := s.detector(a).Detect(text, lang)
	sig := Signal{Level: res.Level.String(), Ask: res.Ask}
	seen := map[string]bool{}
	for _, sg := range res.Signals {
		if sg.Level != res.Level {
			continue
		}
		reason := sg.Level.String() + " language: " + sg.Category
		if !seen[reason] {
			seen[reason] = true
			sig.Reasons = append(sig.Reasons, reason)
		}
		sig.Explain = append(sig.Explain, sg.Explain())
	}
	for _, sg := range res.Signals {
		if sg.Lang != "" {
			sig.Lang = sg.Lang
			break
		}
	}
	return sig
}
