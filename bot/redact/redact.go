// Package redact keeps phone numbers, names and message text out of logs. It
// is the one path for every log line that can carry a person's data: a
// provider's error text (Twilio's 21211 quotes the recipient's number), a
// receiver's error about a webhook form, or any attribute of any line.
//
// Two layers: Text and Error remove the personal values the caller knows
// (the recipient, the sender, the text) from a string before it is logged;
// ReplaceAttr, installed on every logger, drops attributes named for
// personal data and masks anything shaped like a phone number in the rest.
package redact

import (
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// Mask replaces a personal value in logged text.
const Mask = "[redacted]"

// phoneMask replaces what looks like a phone number.
const phoneMask = "[phone]"

// phoneLike matches E.164 numbers and national numbers however they are
// written (+13125550133, +1 312 555 0133, (312) 555-0133, 312.555.0133,
// 3125550133), so that even a careless log line cannot leak one.
var phoneLike = regexp.MustCompile(`\+\d[\d\s().-]{6,18}\d|\(?\b\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}\b`)

// minPersonal is the shortest known value worth replacing: shorter ones
// ("1", "C", "YES") are answers and words that also occur in log text, and
// carry nothing that identifies anyone.
const minPersonal = 3

// Text returns s with every personal value the caller knows (a phone
// number, a chat id, a name, a message's text) and everything shaped like a
// phone number replaced. A phone number is also found in its national form
// (3125550133 for +13125550133).
func Text(s string, personal ...string) string {
	var pairs []string
	for _, v := range personal {
		v = strings.TrimSpace(v)
		if utf8.RuneCountInString(v) < minPersonal || !strings.Contains(s, v) && !hasNational(s, v) {
			continue
		}
		pairs = append(pairs, v, Mask)
		if n := national(v); n != "" {
			pairs = append(pairs, n, Mask)
		}
	}
	if len(pairs) > 0 {
		// Longer values first, so a name is not half-replaced by one of its parts.
		s = strings.NewReplacer(sortedLongestFirst(pairs)...).Replace(s)
	}
	return phoneLike.ReplaceAllString(s, phoneMask)
}

// Error is Text of err's message; "" for nil.
func Error(err error, personal ...string) string {
	if err == nil {
		return ""
	}
	return Text(err.Error(), personal...)
}

// national is an E.164 number's national significant digits for the
// North American plan (+1 and ten digits), "" otherwise: the form a
// provider or a person most often writes it in.
func national(v string) string {
	if len(v) == 12 && strings.HasPrefix(v, "+1") && allDigits(v[1:]) {
		return v[2:]
	}
	return ""
}

func hasNational(s, v string) bool {
	n := national(v)
	return n != "" && strings.Contains(s, n)
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// sortedLongestFirst orders old/new pairs by the old value's length, longest first.
func sortedLongestFirst(pairs []string) []string {
	type pair struct{ old, new string }
	ps := make([]pair, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		ps = append(ps, pair{pairs[i], pairs[i+1]})
	}
	slices.SortStableFunc(ps, func(a, b pair) int { return len(b.old) - len(a.old) })
	out := make([]string, 0, len(pairs))
	for _, p := range ps {
		out = append(out, p.old, p.new)
	}
	return out
}

// privateKeys are attribute names that never reach a log with their value.
var privateKeys = map[string]bool{
	"body": true, "text": true, "phone": true, "name": true, "from": true, "to": true, "message": true,
	"Body": true, "From": true, "To": true, "ProfileName": true,
}

// ReplaceAttr is the slog.HandlerOptions.ReplaceAttr of every CareCheck
// logger: an attribute named for personal data (body, text, phone, name,
// from, to, message) is replaced whole; in every other string, error or
// value, anything shaped like a phone number is masked. The log message
// itself is a constant and is kept.
func ReplaceAttr(groups []string, a slog.Attr) slog.Attr {
	if privateKeys[a.Key] {
		return slog.String(a.Key, Mask)
	}
	if a.Key == slog.MessageKey && len(groups) == 0 {
		return a
	}
	switch a.Value.Kind() {
	case slog.KindString:
		if s := a.Value.String(); phoneLike.MatchString(s) {
			return slog.String(a.Key, Text(s))
		}
	case slog.KindAny:
		var s string
		if err, ok := a.Value.Any().(error); ok && err != nil {
			s = err.Error()
		} else {
			s = a.Value.String()
		}
		if phoneLike.MatchString(s) {
			return slog.String(a.Key, Text(s))
		}
	}
	return a
}
