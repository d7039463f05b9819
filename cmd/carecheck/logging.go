package main

import (
	"io"
	"log/slog"

	"github.com/carecheck/carecheck/bot/redact"
)

// newLogger writes JSON logs that carry ids, never message text, phone
// numbers or names: every attribute goes through redact.ReplaceAttr.
func newLogger(w io.Writer, level string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lv, ReplaceAttr: redact.ReplaceAttr}))
}
