package detect

import (
	"bytes"
	"math"
)

// Hashed features of one message, for the learned stage.
//
// Features are read from the tokens the lexicon matcher already built (lower
// case, accents dropped, long letter runs cut, doubled letters squeezed), so
// both stages see one normalisation. Each feature is a 32-bit hash reduced to
// a bucket of the weight table; no string is built.
//
//   - word unigrams, and word bigrams inside a sentence;
//   - character 3-, 4- and 5-grams of each word with its edges marked
//     ("<pil", "ils>"), which carry a misspelling, a leet spelling or a
//     Spanish inflection ("matarme", "matar") to the weights of the word;
//   - for numbers, a magnitude class (0–4, 5–19, 20+): "took 30" and
//     "took 40" are the same thing, "took 2" is a dose;
//   - in a message of several sentences, the words of the last one again,
//     marked: risk is often told last, after the logistics ("group was
//     nice, somebody brought cookies. the plan is still on").
//
// Each kind has a scale (a word counts more than one of its grams) and the
// message's vector is scaled to unit length.

// Feature kinds, mixed into the hash so a word and a gram with the same
// letters stay apart.
const (
	fWord uint32 = iota + 1
	fBigram
	fGram
	fNum
	fSkip
	fSoft = 0x50f7
	fNeg  = 0x4e47
	fLast = 0x4c53
)

// word is a token's display span as featurize saw it (lookup later merges
// alias tokens).
type word struct {
	start, end int32
	brk        uint8
}

// feat is one feature occurrence: its hash and the tokens it came from, so
// that a model signal can name the words that weighed most.
type feat struct {
	h    uint32
	v    float32 // value: the kind's scale, until normalise makes the vector unit length
	tok  int32   // first word, or -1
	span int32   // 1, or 2 for a bigram
}

// Relative weights of the feature kinds before normalisation: a word says
// more than one of its character grams.
var (
	scaleWord   float32 = 2
	scaleBigram float32 = 2
	scaleGram   float32 = 0.25
	scaleNum    float32 = 2
	scaleLex    float32 = 6
	scaleSkip   float32 = 1
	skipGrams           = true
	scaleLast   float32 = 2
)

const (
	fnvOffset = 2166136261
	fnvPrime  = 16777619
)

// fmix is the 32-bit finaliser of MurmurHash3: it spreads FNV's weak low
// bits over the whole word before a bucket is taken.
func fmix(h uint32) uint32 {
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return h
}

func hashBytes(kind uint32, b []byte) uint32 {
	h := uint32(fnvOffset) ^ kind
	h *= fnvPrime
	for _, c := range b {
		h ^= uint32(c)
		h *= fnvPrime
	}
	return fmix(h)
}

// maxGram is the longest character gram.
var maxGram = 5

// Word-edge markers inside character grams.
const (
	edgeStart = 0x02
	edgeEnd   = 0x03
)

// featurize fills s.feats from s.toks and s.key. It must run before
// lookup, which merges alias tokens.
func featurize(s *scratch) {
	s.soft = false
	s.feats = s.feats[:0]
	s.words = s.words[:0]
	var prev uint32
	negLeft := 0   // words still inside a negation's reach
	lastSent := -1 // first word of the last sentence, when there are several
	for i := len(s.toks) - 1; i > 0; i-- {
		if s.toks[i].brk == bStrong {
			lastSent = i
			break
		}
	}
	for i := range s.toks {
		t := &s.toks[i]
		s.words = append(s.words, word{start: t.start, end: t.end, brk: t.brk})
		k := s.featureKey(i, &s.buf)
		if softWords[string(k)] || len(k) >= 4 && softPrefix[string(k[:4])] {
			s.soft = true
		}
		hw := hashBytes(fWord, k)
		if t.num >= 0 {
			// Numbers: the magnitude class, and the literal for short ones.
			class := uint32(0)
			switch {
			case t.num >= 20:
				class = 2
			case t.num >= 5:
				class = 1
			}
			s.feats = append(s.feats, feat{h: fmix(fNum<<8 | class), v: scaleNum, tok: int32(i), span: 1})
			if len(k) > 3 {
				hw = hashBytes(fWord, k[:3])
			}
		}
		s.feats = append(s.feats, feat{h: hw, v: scaleWord, tok: int32(i), span: 1})
		if t.brk != bNone {
			negLeft = 0
		}
		if negLeft > 0 {
			// Inside a negation's reach: "havent stopped" is not "stopped".
			s.feats = append(s.feats, feat{h: fmix(hw ^ fNeg), v: scaleWord, tok: int32(i), span: 1})
			negLeft--
		}
		if lastSent > 0 && i >= lastSent {
			s.feats = append(s.feats, feat{h: fmix(hw ^ fLast), v: scaleLast, tok: int32(i), span: 1})
		}
		if negWords[string(k)] {
			negLeft = 3
		}
		if i > 0 && t.brk != bStrong {
			s.feats = append(s.feats, feat{h: fmix(prev*0x9e3779b1 ^ hw ^ fBigram), v: scaleBigram, tok: int32(i - 1), span: 2})
		}
		if skipGrams {
			// Word pairs with one or two words between, inside a sentence:
			// "pills … ready", "tengo … listas".
			for back := int32(2); back <= 3 && int(back) <= i; back++ {
				j := int32(i) - back
				if s.toks[j+1].brk == bStrong || (back == 3 && s.toks[j+2].brk == bStrong) || t.brk == bStrong {
					break
				}
				pk := s.featureKey(int(j), &s.buf2)
				s.feats = append(s.feats, feat{h: fmix(hashBytes(fWord, pk)*0x85ebca77 ^ hw ^ fSkip), v: scaleSkip, tok: j, span: 1})
			}
		}
		prev = hw
		if t.num < 0 && len(k) > 0 && k[0] < 0xF0 { // letters, not emoji
			s.grams(k, int32(i))
		}
	}
}

// featureKey returns token i's key as the features read it: without its
// hidden letters ("k*ll" is "kll"), so that a censored word weighs as the
// model has always read it. A key with none is returned as it is; one with
// some is copied into *buf.
func (s *scratch) featureKey(i int, buf *[]byte) []byte {
	k := s.key[s.toks[i].kstart:s.toks[i].kend]
	if bytes.IndexByte(k, hiddenLetter) < 0 {
		return k
	}
	b := (*buf)[:0]
	for _, c := range k {
		if c != hiddenLetter {
			b = append(b, c)
		}
	}
	*buf = b
	return b
}

// grams appends the character 3- to 5-grams of word k, edges included.
func (s *scratch) grams(k []byte, tok int32) {
	n := len(k) + 2
	at := func(i int) byte {
		switch i {
		case 0:
			return edgeStart
		case n - 1:
			return edgeEnd
		}
		return k[i-1]
	}
	for i := 0; i+3 <= n; i++ {
		h := uint32(fnvOffset) ^ fGram
		h *= fnvPrime
		for j := 0; j < maxGram && i+j < n; j++ {
			h ^= uint32(at(i + j))
			h *= fnvPrime
			if j >= 2 {
				s.feats = append(s.feats, feat{h: fmix(h), v: scaleGram, tok: tok, span: 1})
			}
		}
	}
}

// minNorm is the squared length below which a message's vector is not
// scaled up: a one- or two-word message ("okay", "hola") is too little for
// the model to be sure of anything, so its weights stay near the bias.
var minNorm = 400.0

// normalise scales the feature vector to unit length, so a long message
// does not outweigh a short one (see minNorm for the short ones).
func normalise(fs []feat) {
	var sum float64
	for _, f := range fs {
		sum += float64(f.v) * float64(f.v)
	}
	if sum == 0 {
		return
	}
	k := float32(1 / math.Sqrt(max(sum, minNorm)))
	for i := range fs {
		fs[i].v *= k
	}
}

// Lexicon readings as features, so the model learns how far to trust each
// lexicon category and what an idiom, a denial, a third person or remote
// history does to the words around them.
const fLex uint32 = 0x4c580000

// lexFeatures appends the lexicon's reading of the message to s.feats, then
// normalises the vector.
func lexFeatures(s *scratch, res Result) {
	for _, sg := range res.Signals {
		h := hashString(fLex|uint32(sg.Level), sg.Category)
		s.feats = append(s.feats, feat{h: h, v: scaleLex, tok: -1})
		if s.soft {
			// The same reading beside laughter or media: "kms lol".
			s.feats = append(s.feats, feat{h: fmix(h ^ fSoft), v: scaleLex, tok: -1})
		}
	}
	if s.soft {
		s.feats = append(s.feats, feat{h: fmix(fLex | fSoft), v: scaleLex, tok: -1})
	}
	for bit := uint8(1); bit != 0 && bit <= nPast; bit <<= 1 {
		if s.notes&bit != 0 {
			s.feats = append(s.feats, feat{h: fmix(fLex | 0x100 | uint32(bit)), v: scaleLex, tok: -1})
		}
	}
	normalise(s.feats)
}

func hashString(kind uint32, str string) uint32 {
	h := uint32(fnvOffset) ^ kind
	h *= fnvPrime
	for i := 0; i < len(str); i++ {
		h ^= uint32(str[i])
		h *= fnvPrime
	}
	return fmix(h)
}

// Negation words (squeezed keys); the three words after one, inside its
// clause, also get a negated feature.
var negWords = map[string]bool{
	"not": true, "no": true, "never": true, "dont": true, "didnt": true, "doesnt": true, "havent": true,
	"hasnt": true, "wont": true, "wouldnt": true, "isnt": true, "arent": true, "nah": true, "nope": true,
	"zero": true, "nunca": true, "jamas": true, "ni": true, "cero": true, "tampoco": true,
}

// Words that can make death words a joke or someone else's story: laughter,
// media, classes. Keys are in the squeezed form (doubled letters once). In
// a message with one of them, the model may veto a lexicon crisis down to
// concern (see decide).
var softWords = map[string]bool{
	"lol": true, "lmao": true, "lmfao": true, "rofl": true, "jk": true, "xd": true, "haha": true, "jaja": true,
	"😂": true, "🤣": true, "💀": true, "😆": true, "😹": true,
	"song": true, "lyric": true, "lyrics": true, "movie": true, "film": true, "show": true, "episode": true,
	"series": true, "bok": true, "novel": true, "tiktok": true, "video": true, "meme": true, "trend": true,
	"game": true, "character": true, "radio": true, "playlist": true,
	"cancion": true, "pelicula": true, "serie": true, "libro": true, "novela": true, "telenovela": true,
	"juego": true, "personaje": true,
	"clas": true, "training": true, "course": true, "clase": true, "curso": true, "taler": true,
}

// Laughter written long ("jajaja", "hahaha", "jsjsjs"): the first four
// letters of the key.
var softPrefix = map[string]bool{"jaja": true, "jeje": true, "jiji": true, "haha": true, "hehe": true, "jsjs": true, "ajaj": true, "lmao": true, "xdd": true}
