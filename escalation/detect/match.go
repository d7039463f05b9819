package detect

import (
	"bytes"
	"sort"
)

// scratch holds one call's buffers; Detectors pool them so that Detect
// allocates only for the signals it returns.
type scratch struct {
	disp, key, buf []byte
	buf2           []byte
	toks           []token
	hits           []hit
	mask           []uint16 // per token: cue kinds ending (low byte) and starting (high byte) here
	void           []bool   // per token: inside a pseudo-negation
	risks, ignores []hit
	tense          []hit
	notes          uint8     // what the lexicon read besides risk phrases (nIdiom, ...)
	soft           bool      // a word of softWords: laughter, media, a class
	feats          []feat    // the learned stage's features
	words          []word    // the tokens the features refer to
	credit         []float32 // per token, for a model signal's words
}

// Readings of the lexicon that make the learned stage more careful: the
// model must be surer to raise a message the lexicon read as an idiom,
// a denial, someone else's story or remote history.
const (
	nIdiom   uint8 = 1 << iota // an ignore phrase matched ("this traffic is killing me")
	nNegated                   // a risk phrase was negated or denied
	nThird                     // a risk phrase was about someone else
	nPast                      // a risk phrase was remote history
)

// hit is a pattern matched over tokens [start, end).
type hit struct {
	pat        int32
	start, end int32
	level      Level
}

// Cue bits in scratch.mask.
const (
	mNeg uint16 = 1 << iota
	mThird
	mFirst
	mSubject
	mBreak
	mAfter
)

// detect runs the whole pipeline on one message.
func (d *Detector) detect(s *scratch, text, lang string) Result {
	tokenize(s, text)
	if d.m == nil {
		return d.lexicon(s, lang)
	}
	featurize(s)
	lex := d.lexicon(s, lang)
	lexFeatures(s, lex)
	return d.combine(s, lex)
}

// lexicon runs the lexicon matcher on the tokens of s, and leaves in
// s.notes what it read besides risk.
func (d *Detector) lexicon(s *scratch, lang string) Result {
	s.notes = 0
	d.lookup(s)
	s.hits = s.hits[:0]
	for i := range s.toks {
		t := &s.toks[i]
		if t.id >= 0 {
			if n := d.root[t.id]; n != nil {
				d.walk(s, n, int32(i), int32(i)+1)
			}
		}
		for k := range d.rootCl {
			e := &d.rootCl[k]
			if e.c.has(t) {
				d.walk(s, e.child, int32(i), int32(i)+1)
			}
		}
	}
	if len(s.hits) == 0 {
		return Result{Level: None, Signals: []Signal{}}
	}
	return d.resolve(s, lang)
}

// lookup gives each token its vocabulary id, tries a spelling correction
// for unknown words near a few key words ("suicdal"), and merges
// multi-word aliases ("don t" -> "dont").
func (d *Detector) lookup(s *scratch) {
	for i := range s.toks {
		t := &s.toks[i]
		k := s.key[t.kstart:t.kend]
		if id, ok := d.vocab[string(k)]; ok {
			t.id = id
			continue
		}
		if bytes.IndexByte(k, hiddenLetter) >= 0 {
			var ok bool
			if t.id, ok = d.unhide(s, k); ok {
				continue
			}
			k = s.featureKey(i, &s.buf2)
			if id, ok := d.vocab[string(k)]; ok {
				t.id = id
				continue
			}
		}
		if n := len(k); n >= 4 && k[n-2] == 'i' && k[n-1] == 'n' {
			// A dropped g ("killin", "thinkin"): the -ing word, when the
			// lexicon has it. Only a known word can match, so "sin" or
			// "fin" stay themselves.
			s.buf = append(append(s.buf[:0], k...), 'g')
			if id, ok := d.vocab[string(s.buf)]; ok {
				t.id = id
				continue
			}
		}
		if len(k) >= d.fuzMin-1 && len(k) <= d.fuzMax+1 && len(k) >= 5 && d.fuzzy1[k[0]] {
			t.id = d.correct(s, k)
		}
	}
	if len(d.multi) == 0 {
		return
	}
	w := 0
	for i := 0; i < len(s.toks); i++ {
		t := s.toks[i]
		if t.id >= 0 {
			for _, rw := range d.multi[t.id] {
				if i+len(rw.rest) >= len(s.toks) {
					continue
				}
				ok := true
				for k, id := range rw.rest {
					n := &s.toks[i+1+k]
					if n.id != id || n.brk != bNone {
						ok = false
						break
					}
				}
				if ok {
					last := s.toks[i+len(rw.rest)]
					t.id, t.end, t.num = rw.to, last.end, -1
					i += len(rw.rest)
					break
				}
			}
		}
		s.toks[w] = t
		w++
	}
	s.toks = s.toks[:w]
}

// unhide fills the hidden letters of a censored word ("k*ll", "m*rir",
// "su*c*de": at most two) with vowels, which is what censoring hides, and
// returns the first word of the lexicon's censored list a fill makes
// (vowels tried in the order i, a, e, o, u), or false. Only that list is
// tried: "c*t" is "cut", not the "cat" of some idiom, and "sh*t" nothing.
func (d *Detector) unhide(s *scratch, k []byte) (int32, bool) {
	var at [2]int
	n := 0
	for i, c := range k {
		if c == hiddenLetter {
			if n == len(at) {
				return -1, false
			}
			at[n] = i
			n++
		}
	}
	const vowels = "iaeou"
	combos := len(vowels)
	if n == 2 {
		combos *= len(vowels)
	}
	s.buf = append(s.buf[:0], k...)
	for c := range combos {
		s.buf[at[0]] = vowels[c%len(vowels)]
		if n == 2 {
			s.buf[at[1]] = vowels[c/len(vowels)]
		}
		if id, ok := d.censored[string(s.buf)]; ok {
			return id, true
		}
	}
	return -1, false
}

// correct returns the key word one edit away from k, or -1. It checks k
// and every one-letter deletion of k against the deletion neighbourhood
// built in New (symmetric delete), which covers a dropped, added, changed
// or swapped letter without allocating.
func (d *Detector) correct(s *scratch, k []byte) int32 {
	if id, ok := d.fuzzy[string(k)]; ok && id >= 0 {
		return id
	}
	for i := range k {
		s.buf = append(append(s.buf[:0], k[:i]...), k[i+1:]...)
		if id, ok := d.fuzzy[string(s.buf)]; ok && id >= 0 {
			return id
		}
	}
	return -1
}

// walk follows the trie from node n at token j for a match that began at
// start, recording every pattern that ends on the way.
func (d *Detector) walk(s *scratch, n *node, start, j int32) {
	for _, pid := range n.out {
		s.record(pid, start, j)
	}
	if int(j) >= len(s.toks) {
		return
	}
	t := &s.toks[j]
	if t.brk == bStrong {
		return // phrases stay inside a sentence
	}
	if len(n.lit) > 0 && t.id >= 0 {
		if c := n.next(t.id); c != nil {
			d.walk(s, c, start, j+1)
		}
	}
	for i := range n.cls {
		if n.cls[i].c.has(t) {
			d.walk(s, n.cls[i].child, start, j+1)
		}
	}
	for i := range n.gaps {
		g := &n.gaps[i]
		for k := int32(0); k <= g.max && int(j+k) < len(s.toks); k++ {
			if k > 0 && s.toks[j+k].brk == bStrong {
				break
			}
			d.walk(s, g.child, start, j+k)
		}
	}
}

// record keeps one hit per pattern and span. Different ends of one line
// stay apart: "not" and "not going to" are both negation cues, with
// different reach.
func (s *scratch) record(pid, start, end int32) {
	for i := len(s.hits) - 1; i >= 0 && s.hits[i].start == start; i-- {
		if h := &s.hits[i]; h.pat == pid && h.end == end {
			return
		}
	}
	s.hits = append(s.hits, hit{pat: pid, start: start, end: end})
}

// categories that become "past-self-harm" when they are remote history.
var pastSelfHarm = map[string]bool{
	"suicidal-ideation": true, "self-harm": true, "overdose": true,
	"method": true, "preparatory-act": true,
}

// categories that are no signal at all when they are remote history.
var goneIfPast = map[string]bool{"hopelessness": true, "severe-distress": true, "relapse": true}

// resolve turns raw hits into signals: cues mark the tokens, idioms cancel
// what they overlap, the longest phrase wins over phrases inside it, then
// negation, person and tense adjust each remaining phrase.
func (d *Detector) resolve(s *scratch, lang string) Result {
	n := len(s.toks)
	s.mask = grow(s.mask, n)
	s.void = growB(s.void, n)
	s.risks, s.ignores, s.tense = s.risks[:0], s.ignores[:0], s.tense[:0]
	for _, h := range s.hits {
		p := &d.pats[h.pat]
		var bit uint16
		switch p.kind {
		case kRisk:
			if p.lang != "" && lang != "" && p.lang != lang && p.level != Crisis {
				continue
			}
			h.level = p.level
			s.risks = append(s.risks, h)
		case kIgnore:
			s.ignores = append(s.ignores, h)
			s.notes |= nIdiom
		case kPast, kPresent:
			s.tense = append(s.tense, h)
		case kPseudo:
			for i := h.start; i < h.end; i++ {
				s.void[i] = true
			}
		case kNeg:
			bit = mNeg
		case kThird:
			bit = mThird
		case kFirst:
			bit = mFirst
		case kSubject:
			bit = mSubject | mFirst
		case kBreak:
			bit = mBreak
		case kAfter:
			bit = mAfter
		}
		if bit != 0 {
			s.mask[h.end-1] |= bit
			s.mask[h.start] |= bit << 8
		}
	}
	if len(s.risks) == 0 {
		return Result{Level: None, Signals: []Signal{}}
	}
	// Idioms cancel overlapping phrases; longer phrases absorb those they
	// contain (the more specific reading wins).
	keep := s.risks[:0]
	for i, h := range s.risks {
		if overlapsAny(h, s.ignores) || containedInOther(i, s.risks) {
			continue
		}
		keep = append(keep, h)
	}
	var sigs []Signal
	level := None
	for _, h := range keep {
		p := &d.pats[h.pat]
		if s.mask[h.start]&(mNeg<<8) == 0 && d.negated(s, h.start) || d.deniedAfter(s, h.end) {
			s.notes |= nNegated
			continue
		}
		sig := Signal{Level: p.level, Category: p.category, Person: p.person, Tense: p.tense, Lang: p.lang, Source: SourceLexicon}
		if sig.Person == "" {
			sig.Person = d.person(s, h.start)
		}
		if sig.Tense == "" {
			sig.Tense = d.tenseOf(s, h)
		}
		if sig.Person == PersonThird {
			s.notes |= nThird
			if sig.Category != "other-at-risk" {
				sig.Category, sig.Level = "other-at-risk", Concern
			}
		}
		if sig.Tense == TensePast {
			s.notes |= nPast
			if p.tense == "" && goneIfPast[sig.Category] {
				continue // "I used to feel hopeless" is recovery, not a concern
			}
			sig.Level = min(sig.Level, Concern)
			if pastSelfHarm[sig.Category] {
				sig.Category = "past-self-harm"
			}
		}
		sig.Match = string(s.disp[s.toks[h.start].start:s.toks[h.end-1].end])
		dup := false
		for _, o := range sigs {
			if o.Category == sig.Category && o.Match == sig.Match && o.Level == sig.Level {
				dup = true
			}
		}
		if !dup {
			sigs = append(sigs, sig)
			level = max(level, sig.Level)
		}
	}
	if sigs == nil {
		sigs = []Signal{}
	}
	sort.SliceStable(sigs, func(i, j int) bool { return sigs[i].Level > sigs[j].Level })
	return Result{Level: level, Signals: sigs}
}

func overlapsAny(h hit, others []hit) bool {
	for _, o := range others {
		if o.start < h.end && h.start < o.end {
			return true
		}
	}
	return false
}

// containedInOther reports whether another phrase covers risks[i]: a
// longer span, or the same span at a higher level (or earlier in the
// lexicon at the same level, so exact duplicates keep one).
func containedInOther(i int, risks []hit) bool {
	h := risks[i]
	for j, o := range risks {
		if j == i || o.start > h.start || o.end < h.end {
			continue
		}
		if o.start != h.start || o.end != h.end {
			return true
		}
		if o.level > h.level || (o.level == h.level && o.pat < h.pat) {
			return true
		}
	}
	return false
}

// negated looks back up to three tokens from a phrase for a negation cue
// ending there ("never hurt myself", "not going to kill myself"), stopping
// at punctuation, at "but", and at a first-person subject in between
// ("not fair i want to die" is not negated).
func (d *Detector) negated(s *scratch, start int32) bool {
	for p := start - 1; p >= 0 && p >= start-3; p-- {
		if s.toks[p+1].brk != bNone {
			return false
		}
		m := s.mask[p]
		if m&mBreak != 0 {
			return false
		}
		if m&mNeg != 0 && !s.void[p] {
			return true
		}
		if m&mSubject != 0 {
			return false
		}
	}
	return false
}

// deniedAfter reports a one-word denial right after the phrase that ends
// the message or its clause: "suicidal thoughts: none", "self harm? no".
// "I want to die no matter what" is not a denial: a word follows.
func (d *Detector) deniedAfter(s *scratch, end int32) bool {
	n := int32(len(s.toks))
	if end >= n || s.mask[end]&(mAfter<<8) == 0 {
		return false
	}
	return end+1 == n || s.toks[end+1].brk != bNone
}

// person looks back up to six tokens for who the phrase is about; a
// message with no cue is about the client, who is the one writing.
func (d *Detector) person(s *scratch, start int32) string {
	for p := start - 1; p >= 0 && p >= start-6; p-- {
		if s.toks[p+1].brk != bNone {
			break
		}
		m := s.mask[p]
		if m&mBreak != 0 {
			break
		}
		if m&mThird != 0 {
			return PersonThird
		}
		if m&mFirst != 0 {
			return PersonFirst
		}
	}
	return PersonFirst
}

// tenseOf finds the nearest time cue in the same sentence, within eight
// tokens and not across "but": "years ago" makes remote history, "last night" or "again" keeps
// it present; a cue past a comma counts one token farther. No cue means
// present, the safe reading.
func (d *Detector) tenseOf(s *scratch, h hit) string {
	best, tense := int32(9), TensePresent
	sent := s.toks[h.start].sent
	for _, c := range s.tense {
		if s.toks[c.start].sent != sent {
			continue
		}
		var dist int32
		lo, hi := int32(0), int32(0) // tokens between cue and phrase
		switch {
		case c.end <= h.start:
			dist, lo, hi = h.start-c.end, c.end, h.start
		case c.start >= h.end:
			dist, lo, hi = c.start-h.end, h.end, c.start
		}
		// A cue in another clause ("hace 3 años me tomé un bote, ahora
		// trabajo") counts one token farther than one in the same clause.
		for k := lo; k <= hi && int(k) < len(s.toks); k++ {
			if s.toks[k].brk != bNone {
				dist++
				break
			}
		}
		p := &d.pats[c.pat]
		// Nearest cue wins; on a tie, present (the safe reading).
		if dist > best || (dist == best && p.kind == kPast) || brokenBetween(s, lo, hi) {
			continue
		}
		best = dist
		if p.kind == kPast {
			tense = TensePast
		} else {
			tense = TensePresent
		}
	}
	return tense
}

func brokenBetween(s *scratch, lo, hi int32) bool {
	for p := lo; p < hi; p++ {
		if s.mask[p]&mBreak != 0 {
			return true
		}
	}
	return false
}

func grow(b []uint16, n int) []uint16 {
	if cap(b) < n {
		return make([]uint16, n)
	}
	b = b[:n]
	clear(b)
	return b
}

func growB(b []bool, n int) []bool {
	if cap(b) < n {
		return make([]bool, n)
	}
	b = b[:n]
	clear(b)
	return b
}
