package detect

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// The lexicon is plain text so that a clinician can read and review it;
// lexicon/README.md describes the format.
//
//go:embed lexicon/*.txt
var lexiconFS embed.FS

// patKind says what a lexicon line does when it matches.
type patKind uint8

const (
	kRisk    patKind = iota // raises a signal
	kIgnore                 // an idiom: cancels risk phrases it overlaps
	kNeg                    // negation cue ("never", "no plans to")
	kPseudo                 // not a negation after all ("no one", "no sé")
	kPast                   // remote-past cue ("used to", "years ago")
	kPresent                // present cue ("again", "last night")
	kThird                  // someone else is the subject ("my friend", "she")
	kFirst                  // the client is the subject ("i", "me", "my")
	kSubject                // a first-person subject, which also ends a negation's reach
	kBreak                  // "but", "pero": ends negation, person and tense windows
	kAfter                  // a one-word denial right after a phrase ("suicidal thoughts: none")
)

var kindNames = map[string]patKind{
	"ignore": kIgnore, "negation": kNeg, "pseudo": kPseudo, "past": kPast,
	"present": kPresent, "third": kThird, "first": kFirst, "subject": kSubject, "break": kBreak,
	"after": kAfter,
}

// pattern is one lexicon line (all its expansions share it).
type pattern struct {
	kind     patKind
	level    Level
	category string
	lang     string // "en", "es" or "" (any)
	person   string // fixed by the phrase ("kill herself"), else ""
	tense    string // fixed by the phrase ("used to cut"), else ""
	src      string // file:line, for messages
}

// Trie elements.
const (
	eLit uint8 = iota
	eClass
	eGap
)

type elem struct {
	kind uint8
	id   int32
	cls  *class
	max  int32 // gap length, 0..max tokens
}

// class is a set of single tokens (@pill), optionally with "any number
// from minNum up" (#5+), so quantities need no list.
type class struct {
	name   string
	ids    map[int32]bool
	bits   []uint64
	minNum int32
}

func (c *class) has(t *token) bool {
	if c.minNum >= 0 && t.num >= c.minNum {
		return true
	}
	id := t.id
	return id >= 0 && int(id>>6) < len(c.bits) && c.bits[id>>6]&(1<<(uint(id)&63)) != 0
}

type node struct {
	lit  []litEdge // sorted by id after build
	cls  []classEdge
	gaps []gapEdge
	out  []int32 // patterns ending here
}

type litEdge struct {
	id    int32
	child *node
}

// next follows the literal edge for token id, or returns nil. Most nodes
// have a handful of edges, where a scan beats a map; a few have hundreds.
func (n *node) next(id int32) *node {
	e := n.lit
	if len(e) <= 8 {
		for i := range e {
			if e[i].id == id {
				return e[i].child
			}
		}
		return nil
	}
	i, j := 0, len(e)
	for i < j {
		h := int(uint(i+j) >> 1)
		if e[h].id < id {
			i = h + 1
		} else {
			j = h
		}
	}
	if i < len(e) && e[i].id == id {
		return e[i].child
	}
	return nil
}

func (n *node) sortEdges() {
	sort.Slice(n.lit, func(i, j int) bool { return n.lit[i].id < n.lit[j].id })
	for _, e := range n.lit {
		e.child.sortEdges()
	}
	for _, e := range n.cls {
		e.child.sortEdges()
	}
	for _, e := range n.gaps {
		e.child.sortEdges()
	}
}

type classEdge struct {
	c     *class
	child *node
}

type gapEdge struct {
	max   int32
	child *node
}

// rewrite merges a run of tokens into one ("do not" -> "dont").
type rewrite struct {
	rest []int32
	to   int32
}

// compiler turns lexicon text into a Detector.
type compiler struct {
	d       *Detector
	root    *node
	macros  map[string]string
	classes map[string]*class
	alias1  map[string]string // key -> canonical key
	aliasN  [][2]string       // "do not" -> "dont", resolved after pass 1
	fuzzy   []string
	s       scratch
	nexp    int
	kcache  map[string][]string // keys() by word, for expansion
	pcache  map[string][][]item // parsed macros
	mbuf    []elem
}

type lexFile struct {
	name, lang string
	lines      []string
}

func newCompiler() (*compiler, error) {
	c := &compiler{
		d: &Detector{
			vocab:    map[string]int32{},
			fuzzy:    map[string]int32{},
			censored: map[string]int32{},
			multi:    map[int32][]rewrite{},
		},
		root:    &node{},
		macros:  map[string]string{},
		classes: map[string]*class{},
		alias1:  map[string]string{},
		kcache:  map[string][]string{},
		pcache:  map[string][][]item{},
	}
	entries, err := fs.ReadDir(lexiconFS, "lexicon")
	if err != nil {
		return nil, fmt.Errorf("detect: read lexicon: %w", err)
	}
	var files []lexFile
	for _, e := range entries {
		b, err := fs.ReadFile(lexiconFS, path.Join("lexicon", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("detect: read lexicon: %w", err)
		}
		lang := strings.TrimSuffix(e.Name(), ".txt")
		if lang == "common" {
			lang = ""
		}
		files = append(files, lexFile{name: e.Name(), lang: lang, lines: strings.Split(string(b), "\n")})
	}
	// Pass 1: directives (aliases, classes, macros), so that phrases may
	// use them in any order.
	for _, f := range files {
		for i, line := range f.lines {
			if err := c.directive(strings.TrimSpace(line)); err != nil {
				return nil, fmt.Errorf("detect: lexicon %s:%d: %w", f.name, i+1, err)
			}
		}
	}
	for _, a := range c.aliasN {
		from := c.keys(a[0])
		to := c.keys(a[1])
		if len(from) < 2 || len(to) != 1 {
			return nil, fmt.Errorf("detect: lexicon: alias %q = %q: want several words = one word", a[0], a[1])
		}
		ids := make([]int32, len(from))
		for i, k := range from {
			ids[i] = c.id(k)
		}
		c.d.multi[ids[0]] = append(c.d.multi[ids[0]], rewrite{rest: ids[1:], to: c.id(to[0])})
	}
	for k, rws := range c.d.multi {
		sort.SliceStable(rws, func(i, j int) bool { return len(rws[i].rest) > len(rws[j].rest) })
		c.d.multi[k] = rws
	}
	// Pass 2: phrases.
	for _, f := range files {
		for i, line := range f.lines {
			src := fmt.Sprintf("%s:%d", f.name, i+1)
			if err := c.phraseLine(strings.TrimSpace(line), f.lang, src); err != nil {
				return nil, fmt.Errorf("detect: lexicon %s: %w", src, err)
			}
		}
	}
	return c, nil
}

// directive handles alias, class, macro, fuzzy and censored lines; other lines wait
// for pass 2.
func (c *compiler) directive(line string) error {
	switch {
	case line == "" || line[0] == '#':
	case strings.HasPrefix(line, "alias "):
		lhs, rhs, ok := strings.Cut(line[len("alias "):], "=")
		if !ok {
			return errors.New("alias: want 'alias WORDS = WORD'")
		}
		from, to := c.keys(lhs), c.keys(rhs)
		switch {
		case len(to) != 1 || len(from) == 0:
			return fmt.Errorf("alias %q: want 'alias WORDS = WORD'", line)
		case len(from) == 1:
			if from[0] != to[0] {
				c.alias1[from[0]] = to[0]
			}
		default:
			c.aliasN = append(c.aliasN, [2]string{lhs, rhs})
		}
	case line[0] == '@':
		name, body, ok := strings.Cut(line, "=")
		if !ok {
			return errors.New("class: want '@name = word word ...'")
		}
		name = strings.TrimSpace(name)
		cl := c.classes[name]
		if cl == nil {
			cl = &class{name: name, ids: map[int32]bool{}, minNum: -1}
			c.classes[name] = cl
		}
		for _, w := range strings.Fields(body) {
			if strings.HasPrefix(w, "#") && strings.HasSuffix(w, "+") {
				n, err := strconv.Atoi(w[1 : len(w)-1])
				if err != nil {
					return fmt.Errorf("class %s: bad number %q", name, w)
				}
				cl.minNum = int32(n)
				continue
			}
			ks := c.keys(w)
			if len(ks) != 1 {
				return fmt.Errorf("class %s: %q is not one word", name, w)
			}
			cl.ids[c.id(ks[0])] = true
		}
	case line[0] == '$':
		name, body, ok := strings.Cut(line, "=")
		if !ok {
			return errors.New("macro: want '$name = alternative / alternative'")
		}
		name = strings.TrimSpace(name)
		if _, dup := c.macros[name]; dup {
			return fmt.Errorf("macro %s defined twice", name)
		}
		c.macros[name] = strings.TrimSpace(body)
	case strings.HasPrefix(line, "censored:"):
		for _, w := range strings.Fields(line[len("censored:"):]) {
			ks := c.keys(w)
			if len(ks) != 1 {
				return fmt.Errorf("censored: %q is not one word", w)
			}
			c.d.censored[ks[0]] = c.id(ks[0])
		}
	case strings.HasPrefix(line, "fuzzy:"):
		for _, w := range strings.Fields(line[len("fuzzy:"):]) {
			ks := c.keys(w)
			if len(ks) != 1 {
				return fmt.Errorf("fuzzy: %q is not one word", w)
			}
			c.fuzzy = append(c.fuzzy, ks[0])
		}
	}
	return nil
}

// phraseLine handles "LEVEL CATEGORY: phrase {flags}" and "KIND: phrase".
func (c *compiler) phraseLine(line, lang, src string) error {
	if line == "" || line[0] == '#' || line[0] == '@' || line[0] == '$' ||
		strings.HasPrefix(line, "alias ") || strings.HasPrefix(line, "fuzzy:") || strings.HasPrefix(line, "censored:") {
		return nil
	}
	head, body, ok := strings.Cut(line, ":")
	if !ok {
		return fmt.Errorf("want 'LEVEL CATEGORY: phrase' or 'KIND: phrase', got %q", line)
	}
	p := pattern{lang: lang, src: src}
	f := strings.Fields(head)
	switch {
	case len(f) == 1:
		k, ok := kindNames[f[0]]
		if !ok {
			return fmt.Errorf("unknown kind %q", f[0])
		}
		p.kind = k
	case len(f) == 2:
		if err := p.level.UnmarshalText([]byte(f[0])); err != nil || p.level == None {
			return fmt.Errorf("level %q: want crisis or concern", f[0])
		}
		p.kind, p.category = kRisk, f[1]
	default:
		return fmt.Errorf("bad head %q", head)
	}
	if i := strings.LastIndexByte(body, '{'); i >= 0 && strings.HasSuffix(strings.TrimSpace(body), "}") {
		flags := strings.TrimSpace(body[i:])
		body = body[:i]
		for _, fl := range strings.Split(strings.Trim(flags, "{}"), ",") {
			switch strings.TrimSpace(fl) {
			case "first":
				p.person = PersonFirst
			case "third":
				p.person = PersonThird
			case "past":
				p.tense = TensePast
			case "present":
				p.tense = TensePresent
			default:
				return fmt.Errorf("unknown flag %q", fl)
			}
		}
	}
	return c.add(p, body)
}

// addExtra adds an agency phrase, matched literally.
func (c *compiler) addExtra(p Phrase) error {
	if p.Level != Concern && p.Level != Crisis {
		return fmt.Errorf("level %v: want concern or crisis", p.Level)
	}
	lang := strings.ToLower(strings.TrimSpace(p.Lang))
	if lang != "" && lang != "en" && lang != "es" {
		return fmt.Errorf("language %q: want en, es or empty", p.Lang)
	}
	keys := c.keys(p.Text)
	if len(keys) == 0 {
		return errors.New("no words after normalisation")
	}
	seq := make([]elem, len(keys))
	for i, k := range keys {
		seq[i] = elem{kind: eLit, id: c.id(k)}
	}
	pid := int32(len(c.d.pats))
	c.d.pats = append(c.d.pats, pattern{kind: kRisk, level: p.Level, category: agencyCategory, lang: lang, src: "extra"})
	c.insert(c.mergeAliases(seq), pid)
	return nil
}

// keys normalises text exactly as messages are normalised and returns the
// canonical key of each token.
func (c *compiler) keys(text string) []string {
	tokenize(&c.s, text)
	out := make([]string, 0, len(c.s.toks))
	for _, t := range c.s.toks {
		k := string(c.s.key[t.kstart:t.kend])
		if a, ok := c.alias1[k]; ok {
			k = a
		}
		out = append(out, k)
	}
	return out
}

// id returns the vocabulary id of a canonical key, adding it if new.
func (c *compiler) id(key string) int32 {
	if id, ok := c.d.vocab[key]; ok {
		return id
	}
	id := int32(len(c.d.words))
	c.d.vocab[key] = id
	c.d.words = append(c.d.words, key)
	return id
}
