package escalation

import (
	"github.com/carecheck/carecheck/escalation/detect"
)

// Screener adapts the detector to the signals escalations carry: category
// words for staff ("crisis language: overdose") and explanations for the
// console, never the client's own words in the reasons.
type Screener struct{ D *detect.Detector }

// Screen classifies one message.
func (s Screener) Screen(text, lang string) Signal {
	res := s.D.Detect(text, lang)
	sig := Signal{Level: res.Level.String()}
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
	return sig
}
