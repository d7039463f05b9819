package questionnaire

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Answer is one parsed answer to one question.
type Answer struct {
	// Value is the number answered (scale), the option's value (choice), or
	// 1 for yes and 0 for no (yesno); nil for text and skipped answers.
	Value *int `json:"value,omitempty"`
	// Code is the chosen option's code ("C", "yes", "several-days"), if any.
	Code string `json:"code,omitempty"`
	// Text is a free-text answer as typed (trimmed).
	Text string `json:"text,omitempty"`
	// Skipped means the person skipped or refused the question.
	Skipped bool `json:"skipped,omitempty"`
}

// ErrUnparseable means the reply is not an answer to the question: ask again
// with the question's Hint. Errors wrapping it say why, never what was typed.
var ErrUnparseable = errors.New("answer not understood")

// ErrLater means the person asked to answer later (LATER, luego, después):
// the caller pauses the conversation.
var ErrLater = errors.New("asked to answer later")

// ButtonPrefix starts the data of every answer button ("ans:7", "ans:yes").
const ButtonPrefix = "ans:"

// SkipData is the data of the Skip button.
const SkipData = ButtonPrefix + "skip"

// maxAnswerWords bounds the words read from a reply to a non-text question:
// a longer message is not an answer (crisis detection reads it anyway).
const maxAnswerWords = 40

// maxAnswerBytes bounds the reply read as words at all; a longer reply to a
// free-text question is kept whole.
const maxAnswerBytes = 1000

// ParseAnswer reads text as an answer to q. It accepts digits ("7", "7/10",
// "I'd say 7"), number words ("seven", "siete"), the PHQ/GAD frequency words,
// yes/no words, option numbers, letters, codes and words, and Telegram button
// data ("ans:2"), in English and Spanish whatever lang is (people mix), with
// case, accents, punctuation and repeated letters ignored. SKIP (saltar,
// omitir, "prefer not to say") skips any question; LATER (luego, después)
// returns ErrLater. A count of days on a PHQ/GAD item ("2 days") is not read
// as the answer 2. Replies it cannot read unambiguously, and numbers out of
// range, return an error wrapping ErrUnparseable. It never panics.
func ParseAnswer(q Question, lang, text string) (Answer, error) {
	_ = lang // both languages are always accepted
	raw := strings.TrimSpace(text)
	if raw == "" {
		return Answer{}, fmt.Errorf("%w: empty reply", ErrUnparseable)
	}
	if data, ok := cutButton(raw); ok {
		return parseButton(q, raw, data)
	}
	if len(raw) > maxAnswerBytes {
		if q.Type == Text {
			return Answer{Text: raw}, nil
		}
		return Answer{}, fmt.Errorf("%w: too long for an answer", ErrUnparseable)
	}
	toks := tokenize(raw)
	ws := words(toks)
	core := trimPolite(ws)
	if isOneOf(core, skipWords) {
		return Answer{Skipped: true}, nil
	}
	if isOneOf(core, laterWords) {
		return Answer{}, ErrLater
	}
	if q.Type == Text {
		if q.Optional && isOneOf(core, declineWords) {
			return Answer{Skipped: true, Text: raw}, nil
		}
		return Answer{Text: raw}, nil
	}
	if len(ws) == 0 {
		return Answer{}, fmt.Errorf("%w: no words or numbers", ErrUnparseable)
	}
	if len(ws) > maxAnswerWords {
		return Answer{}, fmt.Errorf("%w: too long for an answer", ErrUnparseable)
	}
	switch q.Type {
	case Scale:
		return parseScale(q, toks, ws)
	case YesNo:
		return parseYesNo(ws)
	case Choice:
		return parseChoice(q, ws)
	}
	return Answer{}, fmt.Errorf("%w: unknown question type", ErrUnparseable)
}

// cutButton returns the data of a button press ("ans:2" → "2").
func cutButton(raw string) (string, bool) {
	if len(raw) < len(ButtonPrefix) || !strings.EqualFold(raw[:len(ButtonPrefix)], ButtonPrefix) {
		return "", false
	}
	return strings.TrimSpace(raw[len(ButtonPrefix):]), true
}

// parseButton reads button data: a value or a code, "skip" or "later".
func parseButton(q Question, raw, data string) (Answer, error) {
	switch {
	case strings.EqualFold(data, "skip"):
		return Answer{Skipped: true}, nil
	case strings.EqualFold(data, "later"):
		return Answer{}, ErrLater
	}
	n, numErr := strconv.Atoi(data)
	switch q.Type {
	case Text:
		return Answer{Text: raw}, nil
	case YesNo:
		switch {
		case strings.EqualFold(data, "yes") || (numErr == nil && n == 1):
			return yes(), nil
		case strings.EqualFold(data, "no") || (numErr == nil && n == 0):
			return no(), nil
		}
	case Choice:
		for _, o := range q.Options {
			if o.Code != "" && strings.EqualFold(o.Code, data) {
				return optionAnswer(o), nil
			}
		}
		if numErr == nil {
			for _, o := range q.Options {
				if o.Value == n {
					return optionAnswer(o), nil
				}
			}
		}
	case Scale:
		if numErr == nil {
			return scaleAnswer(q, n)
		}
		for _, o := range q.Options {
			if o.Code != "" && strings.EqualFold(o.Code, data) {
				return scaleAnswer(q, o.Value)
			}
		}
	}
	return Answer{}, fmt.Errorf("%w: unknown button", ErrUnparseable)
}

// parseScale reads a number, a number word, or an option's words.
func parseScale(q Question, toks []token, ws []string) (Answer, error) {
	nums, err := numbersIn(toks, q.Max)
	if err != nil {
		return Answer{}, err
	}
	if isFrequency(q.Options) && countsDays(toks) {
		return Answer{}, fmt.Errorf("%w: a count of days, not an answer", ErrUnparseable)
	}
	vals := slices.Clone(nums)
	if cands := optionCandidates(q.Options); len(cands) > 0 {
		m := matchWords(ws, cands, unsureFor(q.Options))
		switch {
		case m.conflict:
			return Answer{}, fmt.Errorf("%w: more than one answer", ErrUnparseable)
		case m.ok && m.stray && !cands[m.cand].negative:
			return Answer{}, fmt.Errorf("%w: negated answer", ErrUnparseable)
		case m.ok && m.unsure && len(nums) == 0:
			return Answer{}, fmt.Errorf("%w: unsure answer", ErrUnparseable)
		case m.ok:
			vals = append(vals, cands[m.cand].value)
		}
	}
	slices.Sort(vals)
	vals = slices.Compact(vals)
	switch len(vals) {
	case 0:
		return Answer{}, fmt.Errorf("%w: no number", ErrUnparseable)
	case 1:
		return scaleAnswer(q, vals[0])
	}
	return Answer{}, fmt.Errorf("%w: more than one number", ErrUnparseable)
}

// scaleAnswer checks n against q's range.
func scaleAnswer(q Question, n int) (Answer, error) {
	if n < q.Min || n > q.Max {
		return Answer{}, fmt.Errorf("%w: %d is outside %d-%d", ErrUnparseable, n, q.Min, q.Max)
	}
	a := Answer{Value: &n}
	for _, o := range q.Options {
		if o.Value == n {
			a.Code = o.Code
		}
	}
	return a, nil
}

// numbersIn returns the numbers of an answer, digits or words, leaving out a
// denominator equal to max ("7/10", "7 out of 10", "7 de 10"). Decimals and
// negative numbers make the answer unreadable.
func numbersIn(toks []token, max int) ([]int, error) {
	var out []int
	for i, t := range toks {
		v, isNum := 0, false
		switch t.kind {
		case tokNumber:
			v, isNum = t.n, true
			if i+2 < len(toks) && toks[i+1].kind == tokPunct && (toks[i+1].text == "." || toks[i+1].text == ",") &&
				toks[i+1].adjacent && toks[i+2].kind == tokNumber && toks[i+2].adjacent {
				return nil, fmt.Errorf("%w: not a whole number", ErrUnparseable)
			}
			if i > 0 && toks[i-1].kind == tokPunct && toks[i-1].text == "-" && t.adjacent &&
				(i == 1 || !toks[i-1].adjacent || toks[i-2].kind == tokPunct) {
				return nil, fmt.Errorf("%w: negative number", ErrUnparseable)
			}
		case tokWord:
			v, isNum = numberWords[t.text]
		}
		if !isNum {
			continue
		}
		if v == max && len(out) > 0 && i > 0 {
			p := toks[i-1]
			if (p.kind == tokPunct && p.text == "/") || (p.kind == tokWord && denominatorWords[p.text]) {
				continue
			}
		}
		out = append(out, v)
	}
	return out, nil
}

// parseYesNo reads yes or no.
func parseYesNo(ws []string) (Answer, error) {
	cands := []candidate{
		{value: 1, code: "yes", phrases: codeWords["yes"]},
		{value: 0, code: "no", negative: true, phrases: codeWords["no"]},
	}
	m := matchWords(ws, cands, unsureWords)
	switch {
	case m.conflict:
		return Answer{}, fmt.Errorf("%w: both yes and no", ErrUnparseable)
	case !m.ok:
		return Answer{}, fmt.Errorf("%w: not yes or no", ErrUnparseable)
	case m.unsure:
		return Answer{}, fmt.Errorf("%w: unsure answer", ErrUnparseable)
	case m.stray && !cands[m.cand].negative:
		return Answer{}, fmt.Errorf("%w: negated yes", ErrUnparseable)
	}
	if m.cand == 0 {
		return yes(), nil
	}
	return no(), nil
}

// parseChoice reads an option's code, words, letter or number. Letters
// (a, b, c) name options by position unless some option has a one-letter
// code (C, R), in which case only the codes count.
func parseChoice(q Question, ws []string) (Answer, error) {
	for _, o := range q.Options {
		if o.Code != "" && slices.Equal(ws, phrase(o.Code)) {
			return optionAnswer(o), nil
		}
	}
	cands := optionCandidates(q.Options)
	m := matchWords(ws, cands, unsureWords)
	switch {
	case m.conflict:
		return Answer{}, fmt.Errorf("%w: more than one option", ErrUnparseable)
	case m.ok && m.unsure:
		return Answer{}, fmt.Errorf("%w: unsure answer", ErrUnparseable)
	case m.ok && m.stray && !cands[m.cand].negative:
		return Answer{}, fmt.Errorf("%w: negated option", ErrUnparseable)
	case m.ok:
		return optionAnswer(q.Options[m.cand]), nil
	}
	letterCodes := slices.ContainsFunc(q.Options, func(o Option) bool { return len(o.Code) == 1 })
	if len(ws) == 1 && len(ws[0]) == 1 && ws[0][0] >= 'a' && ws[0][0] <= 'z' && !letterCodes {
		if i := int(ws[0][0] - 'a'); i < len(q.Options) {
			return optionAnswer(q.Options[i]), nil
		}
		return Answer{}, fmt.Errorf("%w: no such option letter", ErrUnparseable)
	}
	var rest []string
	for _, w := range ws {
		if !choiceFillers[w] {
			rest = append(rest, w)
		}
	}
	if len(rest) == 1 {
		if n, err := strconv.Atoi(rest[0]); err == nil {
			if n >= 1 && n <= len(q.Options) {
				return optionAnswer(q.Options[n-1]), nil
			}
			return Answer{}, fmt.Errorf("%w: no option %d", ErrUnparseable, n)
		}
	}
	return Answer{}, fmt.Errorf("%w: no option matches", ErrUnparseable)
}

func yes() Answer { v := 1; return Answer{Value: &v, Code: "yes"} }
func no() Answer  { v := 0; return Answer{Value: &v, Code: "no"} }

func optionAnswer(o Option) Answer {
	v := o.Value
	return Answer{Value: &v, Code: o.Code}
}

// candidate is one possible answer and the phrases that name it.
type candidate struct {
	value    int
	code     string
	negative bool // a "no"/"not at all" answer, which a stray "not" does not spoil
	phrases  [][]string
}

// optionCandidates gathers each option's texts, aliases and code words.
func optionCandidates(opts []Option) []candidate {
	cands := make([]candidate, 0, len(opts))
	for _, o := range opts {
		c := candidate{value: o.Value, code: o.Code, negative: o.Code == "no" || o.Code == "not-at-all"}
		for _, t := range o.Text {
			if p := phrase(t); len(p) > 0 {
				c.phrases = append(c.phrases, p)
			}
		}
		c.phrases = append(c.phrases, phrases(o.Aliases...)...)
		c.phrases = append(c.phrases, codeWords[o.Code]...)
		cands = append(cands, c)
	}
	return cands
}

// unsureFor returns the unsure phrases for a question with these options.
func unsureFor(opts []Option) [][]string {
	if isFrequency(opts) {
		return slices.Concat(unsureWords, unsureFrequency)
	}
	return unsureWords
}

// isFrequency reports whether opts are the PHQ/GAD frequency answers.
func isFrequency(opts []Option) bool {
	return slices.ContainsFunc(opts, func(o Option) bool { return frequencyCodes[o.Code] })
}

// countsDays reports whether the answer counts days or times ("2 days",
// "three times"): on a frequency question "2" would mean "more than half the
// days", which two days in two weeks are not, so it is asked again.
func countsDays(toks []token) bool {
	for i := 0; i+1 < len(toks); i++ {
		t := toks[i]
		n, isNum := t.n, t.kind == tokNumber
		if t.kind == tokWord {
			n, isNum = numberWords[t.text]
		}
		if isNum && n > 0 && toks[i+1].kind == tokWord && dayWords[toks[i+1].text] {
			return true
		}
	}
	return false
}

// match is what matchWords found.
type match struct {
	cand     int  // index of the one candidate named
	ok       bool // exactly one candidate named
	conflict bool // more than one candidate named
	unsure   bool // an unsure phrase too ("maybe")
	stray    bool // a negation word outside every phrase found
}

// matchWords finds the candidates' phrases in ws. A phrase inside a longer
// one found too does not count ("i did" in "i did not").
func matchWords(ws []string, cands []candidate, unsure [][]string) match {
	type span struct{ start, end, cand int }
	var spans []span
	find := func(p []string, cand int) {
		for s := 0; s+len(p) <= len(ws); s++ {
			if slices.Equal(ws[s:s+len(p)], p) {
				spans = append(spans, span{s, s + len(p), cand})
			}
		}
	}
	for ci, c := range cands {
		for _, p := range c.phrases {
			find(p, ci)
		}
	}
	for _, p := range unsure {
		find(p, -1)
	}
	var m match
	covered := make([]bool, len(ws))
	named := -1
	for i, s := range spans {
		inside := false
		for j, o := range spans {
			if i != j && o.start <= s.start && s.end <= o.end && o.end-o.start > s.end-s.start {
				inside = true
				break
			}
		}
		if inside {
			continue
		}
		for k := s.start; k < s.end; k++ {
			covered[k] = true
		}
		switch {
		case s.cand < 0:
			m.unsure = true
		case named < 0:
			named = s.cand
		case named != s.cand:
			m.conflict = true
		}
	}
	if named >= 0 && !m.conflict {
		m.ok, m.cand = true, named
	}
	for i, w := range ws {
		if !covered[i] && negationWords[w] {
			m.stray = true
		}
	}
	return m
}

// trimPolite drops polite words from both ends ("skip please").
func trimPolite(ws []string) []string {
	for len(ws) > 0 && politeWords[ws[0]] {
		ws = ws[1:]
	}
	for len(ws) > 0 && politeWords[ws[len(ws)-1]] {
		ws = ws[:len(ws)-1]
	}
	return ws
}

// isOneOf reports whether ws is exactly one of the phrases.
func isOneOf(ws []string, list [][]string) bool {
	if len(ws) == 0 {
		return false
	}
	for _, p := range list {
		if slices.Equal(ws, p) {
			return true
		}
	}
	return false
}
