package detect

import (
	"math"
	"sort"
	"strings"
)

// Table sizes of the two heads, in bits of the feature hash. The level head
// sees 2^20 buckets (3 weights each); the category head, which only orders
// categories once the level is known, 2^15 (one weight per category).
const (
	levelBits = 20
	catBits   = 15
	nLevels   = 3
)

// model is the learned stage: a multinomial logistic regression over the
// hashed features of features.go for the level (none, concern, crisis),
// and another over the same features for the category of a risk message.
// It is built once by train and only read afterwards.
type model struct {
	lw       []float32 // level head: bucket*nLevels + level
	lb       [nLevels]float32
	cw       []float32 // category head: bucket*len(cats) + category
	cb       []float32
	cats     []string // sorted
	catLevel []Level  // level of each category
	th       thresholds
}

// thresholds turn the level head's probabilities into a level. They are
// chosen on the dev split by pickThresholds.
type thresholds struct {
	Crisis float32 // P(crisis) from which the model says crisis
	Low    float32 // P(crisis) from which the model says at least concern: ambiguous risk, never none
	Risk   float32 // P(concern)+P(crisis) from which the model says concern
	Guard  float32 // P(crisis) and P(risk) the model needs to say concern over the lexicon's reading (idiom, negation, third person, past)
	Denied float32 // P(crisis) the model needs to say crisis over that same reading
	Veto   float32 // P(crisis) below which a lexicon crisis beside laughter or media is only concern
	Doubt  float32 // P(crisis) below which any lexicon crisis is only concern, with the safety question
}

// probs returns P(none), P(concern), P(crisis) for the features in feats.
// It only reads the weights, which no one writes after training, and is
// left out of the race detector's instrumentation, and of the pointer
// checks -race also turns on, because training calls it once per row and
// pass (see fit).
//
//go:norace
//go:nocheckptr
func (m *model) probs(feats []feat) [nLevels]float32 {
	z := m.lb
	const mask = 1<<levelBits - 1
	for _, f := range feats {
		w := m.lw[int(f.h&mask)*nLevels:]
		z[0] += f.v * w[0]
		z[1] += f.v * w[1]
		z[2] += f.v * w[2]
	}
	return softmax3(z)
}

func softmax3(z [nLevels]float32) [nLevels]float32 {
	top := max(z[0], z[1], z[2])
	var p [nLevels]float32
	var sum float64
	for k := range z {
		e := math.Exp(float64(z[k] - top))
		p[k] = float32(e)
		sum += e
	}
	for k := range p {
		p[k] = float32(float64(p[k]) / sum)
	}
	return p
}

// category returns the most likely category of the given level.
func (m *model) category(feats []feat, level Level) string {
	if len(m.cats) == 0 {
		return ""
	}
	n := len(m.cats)
	const mask = 1<<catBits - 1
	best, bestZ := -1, float32(0)
	for c := range n {
		if m.catLevel[c] != level {
			continue
		}
		z := m.cb[c]
		for _, f := range feats {
			z += f.v * m.cw[int(f.h&mask)*n+c]
		}
		if best < 0 || z > bestZ {
			best, bestZ = c, z
		}
	}
	if best < 0 {
		return ""
	}
	return m.cats[best]
}

// explain names the words that pushed the message towards level most: each
// feature's weight for level over its weight for none is credited to its
// words (a bigram to both), and the strongest words are shown in message
// order, neighbours joined ("pills ready, cant do this").
func (m *model) explain(s *scratch, level Level) string {
	n := len(s.words)
	if n == 0 {
		return ""
	}
	if cap(s.credit) < n {
		s.credit = make([]float32, n)
	}
	credit := s.credit[:n]
	clear(credit)
	const mask = 1<<levelBits - 1
	for _, f := range s.feats {
		w := m.lw[int(f.h&mask)*nLevels:]
		c := f.v * (w[level] - w[None])
		if f.tok < 0 {
			continue // a lexicon reading, not a word
		}
		if f.span == 2 {
			credit[f.tok] += c / 2
			credit[f.tok+1] += c / 2
		} else {
			credit[f.tok] += c
		}
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return credit[order[a]] > credit[order[b]] })
	top := credit[order[0]]
	if top <= 0 {
		return string(s.disp[s.words[0].start:s.words[n-1].end])
	}
	pick := make([]bool, n)
	picked := 0
	for _, i := range order {
		if picked == 5 || credit[i] < top/4 {
			break
		}
		if w := s.disp[s.words[i].start:s.words[i].end]; !stopWords[string(w)] {
			pick[i] = true
			picked++
		}
	}
	if picked == 0 {
		pick[order[0]] = true
	}
	// A function word between two picked words joins them into one
	// phrase: "pills, ready" reads better as "pills ready" only when they
	// touch, "have the pills" needs "the".
	for i := 1; i+1 < n; i++ {
		if !pick[i] && pick[i-1] && pick[i+1] && s.words[i].brk == bNone && s.words[i+1].brk == bNone {
			pick[i] = true
		}
	}
	var b strings.Builder
	for i := 0; i < n; i++ {
		if !pick[i] {
			continue
		}
		j := i
		for j+1 < n && pick[j+1] && s.words[j+1].brk == bNone {
			j++
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.Write(s.disp[s.words[i].start:s.words[j].end])
		i = j
	}
	return b.String()
}

// stopWords are never named alone as the words that weighed most: they
// carry weight only through their neighbours.
var stopWords = map[string]bool{
	"a": true, "an": true, "the": true, "and": true, "or": true, "to": true, "of": true, "in": true, "on": true,
	"at": true, "for": true, "is": true, "it": true, "its": true, "i": true, "im": true, "my": true, "me": true,
	"so": true, "just": true, "that": true, "this": true, "be": true, "was": true, "with": true, "u": true,
	"y": true, "o": true, "de": true, "la": true, "el": true, "los": true, "las": true, "que": true, "q": true,
	"en": true, "un": true, "una": true, "mi": true, "mis": true, "se": true, "lo": true, "le": true, "les": true,
	"por": true, "pa": true, "para": true, "con": true, "es": true, "al": true, "del": true, "ya": true,
}
