package api

import (
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

// e164 validates a phone number and returns it in E.164 (freetext.Phone).
func e164(field, raw string) (string, error) {
	p, err := freetext.Phone(field, raw)
	if err != nil {
		return "", invalid("%s", err.Error())
	}
	return p, nil
}

// zone validates an IANA time zone name (freetext.Zone).
func zone(field, name string) error {
	if err := freetext.Zone(field, name); err != nil {
		return invalid("%s", err.Error())
	}
	return nil
}

// clock validates "HH:MM" (freetext.Clock).
func clock(field, v string) error {
	if err := freetext.Clock(field, v); err != nil {
		return invalid("%s", err.Error())
	}
	return nil
}
