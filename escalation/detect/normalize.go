package detect

import (
	"unicode"
	"unicode/utf8"
)

// Boundary strength between a token and the one before it. Phrases never
// span a strong boundary (a sentence end); negation and person cues never
// reach across any boundary, because "no, I want to die" is not negated.
const (
	bNone   uint8 = iota
	bWeak         // , : … ¿ ¡ ( ) and quotes
	bStrong       // . ! ? ; and line breaks
)

// token is a word, number or emoji of the text.
type token struct {
	id         int32 // vocabulary id; -1 when the word is in no phrase
	start, end int32 // display form, in scratch.disp
	kstart     int32 // matching key, in scratch.key (kend is the next kstart)
	kend       int32
	num        int32 // value when all digits (capped), else -1
	brk        uint8
	sent       int32 // sentence index, for tense windows
}

// tokenize splits text into tokens, filling s.toks, s.disp and s.key.
//
// The display form is lower case, accent-free and has runs of three or more
// identical letters cut to one ("dieeee" -> "die"), so a case manager reads
// what was matched. The key form also squeezes doubled letters ("kill" ->
// "kil"), so that "kil myself" and "kill myself" are the same key and
// "sooo" equals "so" without a spelling list.
func tokenize(s *scratch, text string) {
	s.disp = s.disp[:0]
	s.key = s.key[:0]
	s.toks = s.toks[:0]
	pending := bNone
	var sent int32
	wordStart := -1
	kind := 0 // 1 letters, 2 digits

	end := func() {
		if wordStart < 0 {
			return
		}
		s.endWord(wordStart, kind == 2, pending, sent)
		pending = bNone
		wordStart = -1
		kind = 0
	}
	boundary := func(b uint8) {
		end()
		if b > pending {
			pending = b
		}
		if b == bStrong && len(s.toks) > 0 && s.toks[len(s.toks)-1].sent == sent {
			sent++
		}
	}

	for i := 0; i < len(text); {
		c := text[i]
		if kind == 1 {
			if l, n := leet(text, i, len(s.disp)-wordStart); n > 0 {
				// A digit or symbol standing for a letter inside a word
				// ("k!ll", "m4t4rme", "t00k"); '*' hides a letter and stays
				// in the word: lookup fills it ("k*ll", "m*rir"), the
				// features leave it out.
				s.disp = append(s.disp, l)
				i += n
				continue
			}
		}
		r, size := rune(c), 1
		if c >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(text[i:])
		}
		i += size
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z':
			if kind == 2 {
				end()
			}
			if wordStart < 0 {
				wordStart, kind = len(s.disp), 1
			}
			s.disp = append(s.disp, byte(r)|0x20)
		case '0' <= r && r <= '9':
			if kind == 1 {
				end()
			}
			if wordStart < 0 {
				wordStart, kind = len(s.disp), 2
			}
			s.disp = append(s.disp, byte(r))
		case r == '\'' || r == '`' || r == 0x2019 || r == 0x2018 || r == 0x02BC || r == 0xB4:
			// Apostrophes join a word ("don't" -> "dont") and split nothing.
			if kind != 1 {
				end()
			}
		case r == '.' || r == '!' || r == '?' || r == ';' || r == '\n' || r == '\r' || r == 0x2026:
			boundary(bStrong)
		case r == ',' || r == ':' || r == '(' || r == ')' || r == '"' || r == 0xBF || r == 0xA1 ||
			r == 0x201C || r == 0x201D || r == 0xAB || r == 0xBB:
			boundary(bWeak)
		case r < utf8.RuneSelf:
			end()
		case ignorable(r):
			// Variation selectors, joiners, skin tones, combining accents.
		default:
			if b := foldLatin(r); b != 0 {
				if kind == 2 {
					end()
				}
				if wordStart < 0 {
					wordStart, kind = len(s.disp), 1
				}
				s.disp = append(s.disp, b)
			} else if unicode.IsLetter(r) {
				if kind == 2 {
					end()
				}
				if wordStart < 0 {
					wordStart, kind = len(s.disp), 1
				}
				s.disp = utf8.AppendRune(s.disp, unicode.ToLower(r))
			} else if isEmoji(r) {
				end()
				wordStart, kind = len(s.disp), 3
				s.disp = utf8.AppendRune(s.disp, r)
				end()
			} else {
				end()
			}
		}
	}
	end()
}

// hiddenLetter stands in a word's display and key for a letter hidden by
// '*' ("k*ll", "su*c*de").
const hiddenLetter = '*'

// leetLetter maps the characters that stand for letters in obfuscated
// spellings; '*' stays itself, a hidden letter.
var leetLetter = [128]byte{'0': 'o', '1': 'i', '3': 'e', '4': 'a', '5': 's', '7': 't', '@': 'a', '$': 's', '!': 'i', '*': hiddenLetter}

// leetDigitEnd are the leet characters that stand for a letter at the end
// of a word as well as inside it.
var leetDigitEnd = [128]bool{'0': true, '1': true, '3': true, '4': true, '5': true, '7': true, '@': true}

// wordByte reports whether c continues a word: an ASCII letter or digit, or
// a byte of a multi-byte character.
func wordByte(c byte) bool {
	return c >= 0x80 || '0' <= c && c <= '9' || 'a' <= c|0x20 && c|0x20 <= 'z'
}

// leet reports whether text[i] is a stand-in for a letter: a leet character
// right after a letter (the caller is inside a word) whose run of leet
// characters is followed by an ASCII letter, or a single one that ends a
// word of at least two letters (letters: how many it has so far). It returns the letter
// (hiddenLetter for '*') and 1, or 0, 0.
func leet(text string, i, letters int) (byte, int) {
	c := text[i]
	if c >= 0x80 || leetLetter[c] == 0 {
		return 0, 0
	}
	j := i + 1
	for j < len(text) && text[j] < 0x80 && leetLetter[text[j]] != 0 {
		j++
	}
	switch {
	case j < len(text) && 'a' <= text[j]|0x20 && text[j]|0x20 <= 'z':
	case j == i+1 && letters >= 2 && (c < 0x80 && leetDigitEnd[c]) && (j == len(text) || !wordByte(text[j])):
		// One digit or '@' ending a word of letters ("qu1er0", "cu7",
		// "w@nn@"); a longer run is a number ("covid19"), and '!' or
		// '*' at the end are punctuation.
	default:
		return 0, 0
	}
	return leetLetter[c], 1
}

// endWord closes the word that starts at disp[ws:]: it collapses long runs
// for display, writes the squeezed key and appends a token.
func (s *scratch) endWord(ws int, digits bool, brk uint8, sent int32) {
	w := s.disp[ws:]
	num := int32(-1)
	if digits {
		n := int32(0)
		for _, c := range w {
			if n < 1_000_000 {
				n = n*10 + int32(c-'0')
			}
		}
		num = n
	} else {
		// Display: runs of 3+ identical ASCII letters become one.
		out := 0
		for i := 0; i < len(w); {
			c := w[i]
			j := i + 1
			for j < len(w) && w[j] == c {
				j++
			}
			n := j - i
			if n >= 3 && c >= 'a' && c <= 'z' {
				n = 1
			}
			for k := 0; k < n; k++ {
				w[out] = c
				out++
			}
			i = j
		}
		w = w[:out]
		s.disp = s.disp[:ws+out]
	}
	ks := len(s.key)
	for i := 0; i < len(w); i++ {
		c := w[i]
		if !digits && c >= 'a' && c <= 'z' && i > 0 && w[i-1] == c {
			continue
		}
		s.key = append(s.key, c)
	}
	s.toks = append(s.toks, token{
		id: -1, start: int32(ws), end: int32(len(s.disp)),
		kstart: int32(ks), kend: int32(len(s.key)),
		num: num, brk: brk, sent: sent,
	})
	s.disp = append(s.disp, ' ')
}

// foldLatin maps accented Latin letters to their ASCII base letter, so
// "está" and "esta", "sueño" and "sueno" are one word (clients often type
// without accents; we drop them everywhere rather than guess).
func foldLatin(r rune) byte {
	if r < 0xC0 || r > 0x17F {
		return 0
	}
	switch unicode.ToLower(r) {
	case 'à', 'á', 'â', 'ã', 'ä', 'å', 'ā', 'ă', 'ą':
		return 'a'
	case 'ç', 'ć', 'č':
		return 'c'
	case 'è', 'é', 'ê', 'ë', 'ē', 'ė', 'ę', 'ě':
		return 'e'
	case 'ì', 'í', 'î', 'ï', 'ī', 'į':
		return 'i'
	case 'ñ', 'ń', 'ň':
		return 'n'
	case 'ò', 'ó', 'ô', 'õ', 'ö', 'ø', 'ō', 'ő':
		return 'o'
	case 'ù', 'ú', 'û', 'ü', 'ū', 'ů', 'ű':
		return 'u'
	case 'ý', 'ÿ':
		return 'y'
	case 'ś', 'š':
		return 's'
	case 'ź', 'ż', 'ž':
		return 'z'
	case 'ł':
		return 'l'
	}
	return 0
}

// ignorable reports runes that decorate but do not separate: emoji
// presentation selectors, zero-width joiners, skin tones, combining marks
// ("e" + U+0301 is "é", which we fold to "e").
func ignorable(r rune) bool {
	switch {
	case r >= 0x0300 && r <= 0x036F,
		r == 0xFE0E || r == 0xFE0F,
		r >= 0x200B && r <= 0x200F,
		r >= 0x1F3FB && r <= 0x1F3FF,
		r >= 0xE0020 && r <= 0xE007F:
		return true
	}
	return false
}

// isEmoji reports pictographs; each is a token of its own so that "💊💊💊"
// is three pills and "took💊" is two tokens.
func isEmoji(r rune) bool {
	switch {
	case r >= 0x1F000 && r <= 0x1FAFF,
		r >= 0x2600 && r <= 0x27BF,
		r >= 0x2B00 && r <= 0x2BFF,
		r >= 0x2300 && r <= 0x23FF:
		return true
	}
	return false
}
