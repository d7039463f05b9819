package questionnaire

import (
	"strings"
	"unicode"
)

// tokKind is the kind of a token of a typed answer.
type tokKind uint8

const (
	tokWord tokKind = iota
	tokNumber
	tokPunct
)

// token is one word, number or meaningful punctuation mark of an answer.
type token struct {
	kind tokKind
	// text: a word folded to lower case without accents and with repeated
	// letters collapsed ("Sííí" → "si"); a number's digits without leading
	// zeros; a punctuation mark itself.
	text string
	// n is a number's value, capped at maxNumber+1 so that huge numbers stay
	// out of range instead of overflowing.
	n int
	// adjacent means no space separates the token from the one before.
	adjacent bool
}

// maxNumber is the largest number an answer may hold.
const maxNumber = 100000

// tokenize splits an answer into tokens. Letters are folded (lower case,
// accents off, apostrophes dropped: "I’d" → "id"), ASCII digits make
// numbers, "/", "-", ".", "," and ":" are kept as marks, thumbs-up and
// check-mark emoji read as "yes", thumbs-down and cross-mark as "no", and
// everything else separates.
func tokenize(s string) []token {
	var toks []token
	var word []rune
	num := -1 // value of the number being read, -1 if none
	numDigits := []byte{}
	adjacent := false // the next token touches the previous one
	flushWord := func() {
		if len(word) > 0 {
			toks = append(toks, token{kind: tokWord, text: collapse(string(word)), adjacent: adjacent})
			word = word[:0]
			adjacent = true
		}
	}
	flushNum := func() {
		if num >= 0 {
			txt := strings.TrimLeft(string(numDigits), "0")
			if txt == "" {
				txt = "0"
			}
			toks = append(toks, token{kind: tokNumber, text: txt, n: num, adjacent: adjacent})
			num = -1
			numDigits = numDigits[:0]
			adjacent = true
		}
	}
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			flushWord()
			if num < 0 {
				num = 0
			}
			if num <= maxNumber {
				num = num*10 + int(r-'0')
			}
			if len(numDigits) < 12 {
				numDigits = append(numDigits, byte(r))
			}
		case unicode.IsLetter(r):
			flushNum()
			word = append(word, foldRune(unicode.ToLower(r)))
		case unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Me, r) || unicode.Is(unicode.Cf, r) ||
			r == '\'' || r == '’' || r == 'ʼ' || r == '`' || r == '´' || r == 0xFE0F:
			// combining accents, keycaps, zero-width joiners, apostrophes:
			// part of the current word or number.
		default:
			flushWord()
			flushNum()
			if w := emojiWord(r); w != "" {
				toks = append(toks, token{kind: tokWord, text: w, adjacent: adjacent})
				adjacent = false
				continue
			}
			switch r {
			case '/', '-', '.', ',', ':', '–', '—':
				if r == '–' || r == '—' {
					r = '-'
				}
				toks = append(toks, token{kind: tokPunct, text: string(r), adjacent: adjacent})
				adjacent = true
			default:
				adjacent = false
			}
		}
	}
	flushWord()
	flushNum()
	for i := range toks {
		if toks[i].kind == tokNumber && toks[i].n > maxNumber {
			toks[i].n = maxNumber + 1
		}
	}
	return toks
}

// emojiWord reads a few answer emoji as words.
func emojiWord(r rune) string {
	switch r {
	case '👍', '👌', '✅', '✔', '☑':
		return "yes"
	case '👎', '❌', '✖', '✗', '🚫':
		return "no"
	}
	return ""
}

// foldRune takes the accent off a lower-case Latin letter.
func foldRune(r rune) rune {
	switch r {
	case 'à', 'á', 'â', 'ã', 'ä', 'å', 'ā', 'ă', 'ą':
		return 'a'
	case 'ç', 'ć', 'č':
		return 'c'
	case 'è', 'é', 'ê', 'ë', 'ē', 'ę', 'ě':
		return 'e'
	case 'ì', 'í', 'î', 'ï', 'ī', 'ı':
		return 'i'
	case 'ñ', 'ń', 'ň':
		return 'n'
	case 'ò', 'ó', 'ô', 'õ', 'ö', 'ø', 'ō':
		return 'o'
	case 'ù', 'ú', 'û', 'ü', 'ū', 'ů':
		return 'u'
	case 'ý', 'ÿ':
		return 'y'
	}
	return r
}

// collapse folds runs of one repeated letter into one ("yesss" → "yes",
// "nooo" → "no"). It is applied to answers and vocabulary alike, so "three"
// is "thre" on both sides.
func collapse(w string) string {
	var b strings.Builder
	var last rune = -1
	for _, r := range w {
		if r == last {
			continue
		}
		b.WriteRune(r)
		last = r
	}
	return b.String()
}

// words returns the word and number tokens' texts.
func words(toks []token) []string {
	out := make([]string, 0, len(toks))
	for _, t := range toks {
		if t.kind != tokPunct {
			out = append(out, t.text)
		}
	}
	return out
}

// phrase normalises a vocabulary entry the way answers are normalised.
func phrase(s string) []string { return words(tokenize(s)) }

// phrases normalises a list of vocabulary entries.
func phrases(list ...string) [][]string {
	out := make([][]string, 0, len(list))
	for _, s := range list {
		if p := phrase(s); len(p) > 0 {
			out = append(out, p)
		}
	}
	return out
}
