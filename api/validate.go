package api

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
	"golang.org/x/text/unicode/norm"
)

// textRule says what one free-text field accepts.
type textRule struct {
	// max is the longest value in characters (runes, after NFC), not bytes.
	max int
	// optional lets the field be empty (or only spaces, which becomes empty).
	optional bool
	// multiline lets line feeds through (notes); CR LF becomes LF.
	multiline bool
}

// The rules of the API's free-text fields.
var (
	nameRule     = textRule{max: 200}
	optionalLine = textRule{max: 200, optional: true}
	noteRule     = textRule{max: 2000, multiline: true}
	// safetyRule: escalation.ValidateSafetyMessage has the last word on length.
	safetyRule = textRule{max: 640, multiline: true}
	// formRule is for every string of an agency-defined questionnaire.
	formRule = textRule{max: 1000, optional: true, multiline: true}
)

// text is the one check every free-text field a person types goes through
// (names, appointment with/location, notes, the agency's name, texts sent to
// clients). It returns the value Unicode-normalised to NFC with surrounding
// spaces trimmed, or an error naming the field when the value holds a
// control character, a format character (bidi overrides such as U+202E,
// zero-width spaces, tags), a private-use or invisible filler character, or
// nothing visible at all, or is longer than rule.max characters. A zero-width
// joiner or non-joiner is kept only between two letters, where Persian and
// Indic names need it.
func text(field, v string, rule textRule) (string, error) {
	if !utf8.ValidString(v) {
		return "", invalid("%s: not valid UTF-8", field)
	}
	if rule.multiline {
		v = strings.ReplaceAll(v, "\r\n", "\n")
	}
	v = strings.TrimSpace(norm.NFC.String(v))
	if v == "" {
		if rule.optional {
			return "", nil
		}
		return "", invalid("%s: required", field)
	}
	visible := false
	var prev rune
	for i, r := range v {
		switch {
		case r == '\n' && rule.multiline:
		case unicode.Is(unicode.Cc, r) || r == '\u2028' || r == '\u2029':
			return "", invalid("%s: control character U+%04X is not allowed", field, r)
		case r == '\u200c' || r == '\u200d':
			next, _ := utf8.DecodeRuneInString(v[i+utf8.RuneLen(r):])
			if !isLetter(prev) || !isLetter(next) {
				return "", invalid("%s: invisible formatting character U+%04X is not allowed", field, r)
			}
		case unicode.In(r, unicode.Cf, unicode.Co, unicode.Other_Default_Ignorable_Code_Point) || r == utf8.RuneError:
			return "", invalid("%s: invisible formatting character U+%04X is not allowed", field, r)
		case r == '\u2800': // braille blank: a symbol that shows nothing
		case unicode.In(r, unicode.L, unicode.N, unicode.P, unicode.S):
			visible = true
		}
		prev = r
	}
	if !visible {
		return "", invalid("%s: only invisible or space characters", field)
	}
	if n := utf8.RuneCountInString(v); n > rule.max {
		return "", invalid("%s: at most %d characters (got %d)", field, rule.max, n)
	}
	return v, nil
}

// textTree runs text over every string of a JSON-shaped value (what
// encoding/json decodes into any), naming each by its path, e.g.
// "questions[2].text.es", and returns the value with the cleaned strings.
func textTree(path string, v any, rule textRule) (any, error) {
	switch x := v.(type) {
	case string:
		return text(path, x, rule)
	case []any:
		for i := range x {
			c, err := textTree(fmt.Sprintf("%s[%d]", path, i), x[i], rule)
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
			c, err := textTree(p, e, rule)
			if err != nil {
				return nil, err
			}
			x[k] = c
		}
	}
	return v, nil
}

func isLetter(r rune) bool { return unicode.IsLetter(r) || unicode.IsMark(r) }

// e164 validates a phone number and returns it in E.164. Letters are refused
// before parsing: phonenumbers reads "555 CALL" as a keypad spelling, and a
// typo must not become a stranger's number. phonenumbers.Parse accepts
// invalid numbers, so IsValidNumber decides.
func e164(field, raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if strings.IndexFunc(raw, unicode.IsLetter) >= 0 {
		return "", invalid("%s: letters are not allowed", field)
	}
	if !strings.HasPrefix(raw, "+") {
		return "", invalid("%s: must be in E.164 form, e.g. +13125550100", field)
	}
	n, err := phonenumbers.Parse(raw, "")
	if err != nil || !phonenumbers.IsValidNumber(n) {
		return "", invalid("%s: not a valid phone number", field)
	}
	return phonenumbers.Format(n, phonenumbers.E164), nil
}

// zone validates an IANA time zone name.
func zone(field, name string) error {
	if name == "" {
		return invalid("%s: required (an IANA zone such as America/Chicago)", field)
	}
	if name == "Local" {
		return invalid("%s: unknown time zone %q", field, name)
	}
	if _, err := time.LoadLocation(name); err != nil {
		return invalid("%s: unknown time zone %q", field, name)
	}
	return nil
}

// clock validates "HH:MM".
func clock(field, v string) error {
	if _, err := time.Parse("15:04", v); err != nil || len(v) != 5 {
		return invalid("%s: expected HH:MM, e.g. 09:00", field)
	}
	return nil
}
