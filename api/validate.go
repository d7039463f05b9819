package api

import (
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"
)

// e164 validates a phone number and returns it in E.164. phonenumbers.Parse
// accepts invalid numbers, so IsValidNumber decides.
func e164(field, raw string) (string, error) {
	raw = strings.TrimSpace(raw)
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

func required(field, v string, max int) error {
	v = strings.TrimSpace(v)
	if v == "" {
		return invalid("%s: required", field)
	}
	if len(v) > max {
		return invalid("%s: at most %d characters", field, max)
	}
	return nil
}
