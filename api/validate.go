package api

import (
	"strings"
	"time"
	"unicode"

	"github.com/nyaruka/phonenumbers"

	"github.com/carecheck/carecheck/freetext"
)

// textRule is freetext's rule for one field.
type textRule = freetext.Rule

// The rules of the API's free-text fields (freetext's).
var (
	nameRule     = freetext.Name
	optionalLine = freetext.OptionalLine
	noteRule     = freetext.Note
	safetyRule   = freetext.Safety
	formRule     = freetext.Form
)

// text checks a free-text field by freetext.Check, the one rule the API
// and the console share; a refusal is a 400 naming the field.
func text(field, v string, rule textRule) (string, error) {
	v, err := freetext.Check(field, v, rule)
	if err != nil {
		return "", invalid("%s", err.Error())
	}
	return v, nil
}

// textTree checks every string of a JSON-shaped value by freetext.Tree.
func textTree(path string, v any, rule textRule) (any, error) {
	v, err := freetext.Tree(path, v, rule)
	if err != nil {
		return nil, invalid("%s", err.Error())
	}
	return v, nil
}

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
