// Package freetext is the one rule for text a person types into CareCheck
// (names, notes, appointment details, safety messages, phrases,
// questionnaire texts), shared by the agency API and the console: Unicode
// NFC, surrounding spaces trimmed, control and invisible formatting
// characters refused naming the field, limits counted in characters. The
// typed values people enter (phone numbers, time zones, times of day) are
// checked here too (typed.go), with the same kind of error.
package freetext

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Rule says what one free-text field accepts.
type Rule struct {
	// Max is the longest value in characters (runes, after NFC), not bytes.
	Max int
	// Optional lets the field be empty (or only spaces, which becomes empty).
	Optional bool
	// Multiline lets line feeds through (notes); CR LF becomes LF.
	Multiline bool
}

// The rules of CareCheck's free-text fields.
var (
	// Name is a person's or a record's name: one line, required, 200 characters.
	Name = Rule{Max: 200}
	// OptionalLine is one optional line of up to 200 characters.
	OptionalLine = Rule{Max: 200, Optional: true}
	// Note is a note of up to 2,000 characters, lines allowed.
	Note = Rule{Max: 2000, Multiline: true}
	// Safety is a safety message (escalation.ValidateSafetyMessage has the
	// last word on its length).
	Safety = Rule{Max: 640, Multiline: true}
	// Form is every string of an agency-defined questionnaire.
	Form = Rule{Max: 1000, Optional: true, Multiline: true}
)

// Why a value is refused (Error.Code): the console words each in the
// reader's language.
const (
	CodeUTF8      = "utf8"      // not valid UTF-8
	CodeRequired  = "required"  // empty
	CodeControl   = "control"   // a control character (Char)
	CodeInvisible = "invisible" // an invisible formatting character (Char)
	CodeBlank     = "blank"     // nothing visible
	CodeLong      = "long"      // longer than Max characters (Got)
)

// Error is a refused value; its text names the field
// ("name: control character U+001B is not allowed").
type Error struct {
	Field string
	Code  string
	// Char is the refused character (CodeControl, CodeInvisible).
	Char rune
	// Max and Got are the limit and the value's length (CodeLong).
	Max, Got int
	// Value is the refused value where the message shows it (CodeZone).
	Value string
}

func (e *Error) Error() string {
	switch e.Code {
	case CodeUTF8:
		return e.Field + ": not valid UTF-8"
	case CodeRequired:
		return e.Field + ": required"
	case CodeControl:
		return fmt.Sprintf("%s: control character U+%04X is not allowed", e.Field, e.Char)
	case CodeInvisible:
		return fmt.Sprintf("%s: invisible formatting character U+%04X is not allowed", e.Field, e.Char)
	case CodeLong:
		return fmt.Sprintf("%s: at most %d characters (got %d)", e.Field, e.Max, e.Got)
	case CodeZone:
		return fmt.Sprintf("%s: unknown time zone %q", e.Field, e.Value)
	}
	if m, ok := typedMessages[e.Code]; ok {
		return e.Field + ": " + m
	}
	return e.Field + ": only invisible or space characters"
}

// Check is the one check every free-text field a person types goes
// through. It returns the value Unicode-normalised to NFC with surrounding
// spaces trimmed, or an *Error naming the field when the value holds a
// control character, a format character (bidi overrides such as U+202E,
// zero-width spaces, tags), a private-use or invisible filler character, or
// nothing visible at all, or is longer than rule.Max characters. A zero-width
// joiner or non-joiner is kept only between two letters, where Persian and
// Indic names need it.
func Check(field, v string, rule Rule) (string, error) {
	if !utf8.ValidString(v) {
		return "", &Error{Field: field, Code: CodeUTF8}
	}
	if rule.Multiline {
		v = strings.ReplaceAll(v, "\r\n", "\n")
	}
	v = strings.TrimSpace(norm.NFC.String(v))
	if v == "" {
		if rule.Optional {
			return "", nil
		}
		return "", &Error{Field: field, Code: CodeRequired}
	}
	visible := false
	var prev rune
	for i, r := range v {
		switch {
		case r == '\n' && rule.Multiline:
		case unicode.Is(unicode.Cc, r) || r == '\u2028' || r == '\u2029':
			return "", &Error{Field: field, Code: CodeControl, Char: r}
		case r == '\u200c' || r == '\u200d':
			next, _ := utf8.DecodeRuneInString(v[i+utf8.RuneLen(r):])
			if !isLetter(prev) || !isLetter(next) {
				return "", &Error{Field: field, Code: CodeInvisible, Char: r}
			}
		case unicode.In(r, unicode.Cf, unicode.Co, unicode.Other_Default_Ignorable_Code_Point) || r == utf8.RuneError:
			return "", &Error{Field: field, Code: CodeInvisible, Char: r}
		case r == '\u2800': // braille blank: a symbol that shows nothing
		case unicode.In(r, unicode.L, unicode.N, unicode.P, unicode.S):
			visible = true
		}
		prev = r
	}
	if !visible {
		return "", &Error{Field: field, Code: CodeBlank}
	}
	if n := utf8.RuneCountInString(v); n > rule.Max {
		return "", &Error{Field: field, Code: CodeLong, Max: rule.Max, Got: n}
	}
	return v, nil
}

// Tree runs Check over every string of a JSON-shaped value (what
// encoding/json decodes into any), naming each by its path, e.g.
// "questions[2].text.es", and returns the value with the cleaned strings.
func Tree(path string, v any, rule Rule) (any, error) {
	switch x := v.(type) {
	case string:
		return Check(path, x, rule)
	case []any:
		for i := range x {
			c, err := Tree(fmt.Sprintf("%s[%d]", path, i), x[i], rule)
			if err != nil {
				return nil, err
			}
			x[i] = c
		}
	case map[string]any:
		for k, e := range x {
			p := k
			if path != "" {
				p = path + "." + k
			}
			c, err := Tree(p, e, rule)
			if err != nil {
				return nil, err
			}
			x[k] = c
		}
	}
	return v, nil
}

func isLetter(r rune) bool { return unicode.IsLetter(r) || unicode.IsMark(r) }
