package detect

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Phrase syntax: words; (a / b c) alternatives; [a / b] or (a / b)?
// optional alternatives; * or *N a gap of up to 3 (or N) words; @class; $macro.

type item struct {
	word  string
	class string
	gap   int32 // -1: not a gap
	alts  [][]item
	opt   bool
}

func syntaxTokens(s string) []string {
	var out []string
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, cur.String())
			cur.Reset()
		}
	}
	for _, r := range s {
		switch r {
		case '(', ')', '[', ']', '/', '?':
			flush()
			out = append(out, string(r))
		case ' ', '\t':
			flush()
		default:
			cur.WriteRune(r)
		}
	}
	flush()
	return out
}

type parser struct {
	c     *compiler
	toks  []string
	pos   int
	depth int
}

func (c *compiler) parse(body string, depth int) ([][]item, error) {
	if depth > 8 {
		return nil, errors.New("macros nest too deep")
	}
	p := &parser{c: c, toks: syntaxTokens(body), depth: depth}
	alts, err := p.alts()
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.toks) {
		return nil, fmt.Errorf("unexpected %q", p.toks[p.pos])
	}
	return alts, nil
}

func (p *parser) alts() ([][]item, error) {
	var alts [][]item
	var cur []item
	for p.pos < len(p.toks) {
		t := p.toks[p.pos]
		switch t {
		case ")", "]":
			return append(alts, cur), nil
		case "/":
			p.pos++
			alts = append(alts, cur)
			cur = nil
			continue
		case "(", "[":
			p.pos++
			inner, err := p.alts()
			if err != nil {
				return nil, err
			}
			want := map[string]string{"(": ")", "[": "]"}[t]
			if p.pos >= len(p.toks) || p.toks[p.pos] != want {
				return nil, fmt.Errorf("missing %q", want)
			}
			p.pos++
			opt := t == "["
			if p.pos < len(p.toks) && p.toks[p.pos] == "?" {
				opt = true // "(a / b)?" reads as "[a / b]"
				p.pos++
			}
			cur = append(cur, item{gap: -1, alts: inner, opt: opt})
			continue
		}
		p.pos++
		switch {
		case t == "*":
			cur = append(cur, item{gap: 3})
		case t[0] == '*':
			n, err := strconv.Atoi(t[1:])
			if err != nil || n < 1 || n > 8 {
				return nil, fmt.Errorf("bad gap %q (want * or *1..*8)", t)
			}
			cur = append(cur, item{gap: int32(n)})
		case t[0] == '@':
			if p.c.classes[t] == nil {
				return nil, fmt.Errorf("unknown class %s", t)
			}
			cur = append(cur, item{gap: -1, class: t})
		case t[0] == '$':
			body, ok := p.c.macros[t]
			if !ok {
				return nil, fmt.Errorf("unknown macro %s", t)
			}
			inner, ok := p.c.pcache[t]
			if !ok {
				var err error
				if inner, err = p.c.parse(body, p.depth+1); err != nil {
					return nil, fmt.Errorf("in %s: %w", t, err)
				}
				p.c.pcache[t] = inner
			}
			cur = append(cur, item{gap: -1, alts: inner})
		default:
			cur = append(cur, item{gap: -1, word: t})
		}
	}
	return append(alts, cur), nil
}

const maxExpansions = 50000

// expand calls emit with every element sequence the alternatives allow. It
// walks the choices depth-first and reuses one buffer, so a phrase with
// thousands of forms costs no more memory than its longest form; emit must
// not keep the slice.
func (c *compiler) expand(alts [][]item, emit func([]elem) error) error {
	buf := make([]elem, 0, 32)
	for _, seq := range alts {
		if err := c.expandItems(seq, buf, emit); err != nil {
			return err
		}
	}
	return nil
}

func (c *compiler) expandItems(seq []item, acc []elem, rest func([]elem) error) error {
	if len(seq) == 0 {
		return rest(acc)
	}
	it, tail := seq[0], seq[1:]
	switch {
	case it.gap >= 0:
		return c.expandItems(tail, append(acc, elem{kind: eGap, max: it.gap}), rest)
	case it.class != "":
		return c.expandItems(tail, append(acc, elem{kind: eClass, cls: c.classes[it.class]}), rest)
	case it.alts != nil:
		next := func(a []elem) error { return c.expandItems(tail, a, rest) }
		for _, alt := range it.alts {
			if err := c.expandItems(alt, acc, next); err != nil {
				return err
			}
		}
		if it.opt {
			return next(acc)
		}
		return nil
	}
	keys, ok := c.kcache[it.word]
	if !ok {
		keys = c.keys(it.word)
		c.kcache[it.word] = keys
	}
	if len(keys) == 0 {
		return fmt.Errorf("%q has no words", it.word)
	}
	for _, k := range keys {
		acc = append(acc, elem{kind: eLit, id: c.id(k)})
	}
	return c.expandItems(tail, acc, rest)
}

func (c *compiler) add(p pattern, body string) error {
	alts, err := c.parse(body, 0)
	if err != nil {
		return err
	}
	pid := int32(len(c.d.pats))
	c.d.pats = append(c.d.pats, p)
	n := 0
	var g []elem
	err = c.expand(alts, func(f []elem) error {
		// Merge adjacent gaps; gaps may not start or end a phrase.
		g = g[:0]
		for _, e := range c.mergeAliases(f) {
			if e.kind == eGap && len(g) > 0 && g[len(g)-1].kind == eGap {
				g[len(g)-1].max += e.max
				continue
			}
			g = append(g, e)
		}
		if len(g) == 0 {
			return nil // an all-optional form matches nothing
		}
		if g[0].kind == eGap || g[len(g)-1].kind == eGap {
			return errors.New("a phrase may not start or end with a gap")
		}
		if n++; n > maxExpansions {
			return fmt.Errorf("phrase expands to more than %d forms", maxExpansions)
		}
		c.insert(g, pid)
		return nil
	})
	if err != nil {
		return err
	}
	if n == 0 {
		return errors.New("phrase has no words")
	}
	c.nexp += n
	return nil
}

// mergeAliases applies multi-word aliases to runs of literal words, the
// same rewrite that messages get.
func (c *compiler) mergeAliases(seq []elem) []elem {
	out := c.mbuf[:0]
	defer func() { c.mbuf = out[:0] }()
	for i := 0; i < len(seq); i++ {
		e := seq[i]
		if e.kind == eLit {
			for _, rw := range c.d.multi[e.id] {
				if i+len(rw.rest) >= len(seq) {
					continue
				}
				ok := true
				for k, id := range rw.rest {
					n := seq[i+1+k]
					if n.kind != eLit || n.id != id {
						ok = false
						break
					}
				}
				if ok {
					e = elem{kind: eLit, id: rw.to}
					i += len(rw.rest)
					break
				}
			}
		}
		out = append(out, e)
	}
	return out
}

func (c *compiler) insert(seq []elem, pid int32) {
	n := c.root
	for _, e := range seq {
		switch e.kind {
		case eLit:
			var next *node
			for _, le := range n.lit {
				if le.id == e.id {
					next = le.child
					break
				}
			}
			if next == nil {
				next = &node{}
				n.lit = append(n.lit, litEdge{id: e.id, child: next})
			}
			n = next
		case eClass:
			var next *node
			for _, ce := range n.cls {
				if ce.c == e.cls {
					next = ce.child
				}
			}
			if next == nil {
				next = &node{}
				n.cls = append(n.cls, classEdge{c: e.cls, child: next})
			}
			n = next
		case eGap:
			var next *node
			for _, ge := range n.gaps {
				if ge.max == e.max {
					next = ge.child
				}
			}
			if next == nil {
				next = &node{}
				n.gaps = append(n.gaps, gapEdge{max: e.max, child: next})
			}
			n = next
		}
	}
	for _, have := range n.out {
		if have == pid {
			return
		}
	}
	n.out = append(n.out, pid)
}

// build finishes the vocabulary (aliases, class bitsets, fuzzy
// neighbourhoods) and returns the Detector.
func (c *compiler) build() *Detector {
	d := c.d
	for from, to := range c.alias1 {
		d.vocab[from] = c.id(to)
	}
	words := len(d.words)
	for _, cl := range c.classes {
		cl.bits = make([]uint64, (words+63)/64)
		for id := range cl.ids {
			cl.bits[id>>6] |= 1 << (uint(id) & 63)
		}
	}
	d.fuzMin, d.fuzMax = 1<<30, 0
	for _, w := range c.fuzzy {
		id := c.id(w)
		d.fuzzy1[w[0]] = true
		d.fuzMin = min(d.fuzMin, len(w))
		d.fuzMax = max(d.fuzMax, len(w))
		variants := []string{w}
		for i := range len(w) {
			variants = append(variants, w[:i]+w[i+1:])
		}
		for _, v := range variants {
			if have, ok := d.fuzzy[v]; ok && have != id {
				d.fuzzy[v] = -2 // ambiguous: correct to neither
				continue
			}
			d.fuzzy[v] = id
		}
	}
	c.root.sortEdges()
	d.root = make([]*node, len(d.words))
	for _, e := range c.root.lit {
		d.root[e.id] = e.child
	}
	d.rootCl = c.root.cls
	d.pool.New = func() any { return new(scratch) }
	return d
}
