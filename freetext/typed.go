package freetext

import (
	"strings"
	"time"
	"unicode"

	"github.com/nyaruka/phonenumbers"
)

// Why a typed value is refused (Error.Code), besides the text codes above.
const (
	CodePhoneLetters = "phone_letters" // letters in a phone number
	CodePhoneForm    = "phone_form"    // not starting with + (E.164)
	CodePhoneInvalid = "phone_invalid" // no such number
	CodeZoneRequired = "zone_required" // no time zone
	CodeZone         = "zone"          // an unknown time zone (Value)
	CodeClock        = "clock"         // not HH:MM
)

// typedMessages are the refusals' English texts after the field name (the
// API answers with them; the console words each in the reader's language).
var typedMessages = map[string]string{
	CodePhoneLetters: "letters are not allowed",
	CodePhoneForm:    "must be in E.164 form, e.g. +13125550100",
	CodePhoneInvalid: "not a valid phone number",
	CodeZoneRequired: "required (an IANA zone such as America/Chicago)",
	CodeClock:        "expected HH:MM, e.g. 09:00",
}

// Phone validates a typed phone number and returns it in E.164. Letters are
// refused before parsing: phonenumbers reads "555 CALL" as a keypad
// spelling, and a typo must not become a stranger's number.
// phonenumbers.Parse accepts invalid numbers, so IsValidNumber decides.
func Phone(field, raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if strings.IndexFunc(raw, unicode.IsLetter) >= 0 {
		return "", &Error{Field: field, Code: CodePhoneLetters}
	}
	if !strings.HasPrefix(raw, "+") {
		return "", &Error{Field: field, Code: CodePhoneForm}
	}
	n, err := phonenumbers.Parse(raw, "")
	if err != nil || !phonenumbers.IsValidNumber(n) {
		return "", &Error{Field: field, Code: CodePhoneInvalid}
	}
	return phonenumbers.Format(n, phonenumbers.E164), nil
}

// Zone validates an IANA time zone name ("Local" is not one).
func Zone(field, name string) error {
	if name == "" {
		return &Error{Field: field, Code: CodeZoneRequired}
	}
	if _, err := time.LoadLocation(name); err != nil || name == "Local" {
		return &Error{Field: field, Code: CodeZone, Value: name}
	}
	return nil
}

// Clock validates a time of day typed as "HH:MM".
func Clock(field, v string) error {
	if _, err := time.Parse("15:04", v); err != nil || len(v) != 5 {
		return &Error{Field: field, Code: CodeClock}
	}
	return nil
}
