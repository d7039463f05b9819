package main

import (
	"io"
	"log/slog"
	"regexp"
)

// phoneLike matches anything that looks like a phone number, so that even a
// careless log line cannot leak one.
var phoneLike = regexp.MustCompile(`\+\d{8,15}|\b\d{3}[\s.-]?\d{3}[\s.-]?\d{4}\b`)

// privateKeys are attribute names that never reach a log.
var privateKeys = map[string]bool{"body": true, "text": true, "phone": true, "name": true, "from": true, "to": true, "message": true}

// newLogger writes JSON logs that carry ids, never message text, phone numbers or names.
func newLogger(w io.Writer, level string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lv, ReplaceAttr: redact}))
}

func redact(groups []string, a slog.Attr) slog.Attr {
	if privateKeys[a.Key] {
		return slog.String(a.Key, "[redacted]")
	}
	if a.Key == slog.MessageKey {
		return a
	}
	if a.Value.Kind() == slog.KindString || a.Value.Kind() == slog.KindAny {
		s := a.Value.String()
		if phoneLike.MatchString(s) {
			return slog.String(a.Key, phoneLike.ReplaceAllString(s, "[phone]"))
		}
	}
	return a
}
