package redact_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/carecheck/carecheck/bot/redact"
)

// TestText: every known value and every phone-shaped string is gone; the
// rest of the text, which says what went wrong, stays.
func TestText(t *testing.T) {
	for _, c := range []struct {
		label, in string
		personal  []string
		gone      []string
		kept      string
	}{
		{"twilio 21211", "twilio: create message: Status: 400 - ApiError 21211: The 'To' number +13125550133 is not a valid phone number. (details: map[]) More info: https://www.twilio.com/docs/errors/21211",
			[]string{"+13125550133"}, []string{"+13125550133", "3125550133"}, "21211"},
		{"national digits of a known number", "invalid number 3125550133", []string{"+13125550133"}, []string{"3125550133"}, "invalid number"},
		{"formatted national", "call (312) 555-0133 now", nil, []string{"555-0133", "(312)"}, "call"},
		{"dotted", "to 312.555.0133", nil, []string{"312.555.0133"}, "to "},
		{"spaced E.164", "number +1 312 555 0133 refused", nil, []string{"312 555 0133"}, "refused"},
		{"a UK number", "number +447700900123 refused", nil, []string{"7700900123"}, "refused"},
		{"name and text", "receiver: client Rosalind Okonkwo said I took all my pills", []string{"Rosalind Okonkwo", "I took all my pills"},
			[]string{"Rosalind", "pills"}, "receiver: client"},
		{"telegram chat id", "telegram: chat 998877665 blocked", []string{"998877665"}, []string{"998877665"}, "blocked"},
		{"ids stay", "escalation esc_01JD0 step 2 at 2026-11-24T15:00:00Z", []string{"+13125550133"}, nil, "esc_01JD0 step 2 at 2026-11-24T15:00:00Z"},
		{"short answers are not hunted", "parse answer 3", []string{"3", "C"}, nil, "parse answer 3"},
	} {
		got := redact.Text(c.in, c.personal...)
		for _, g := range c.gone {
			if strings.Contains(got, g) {
				t.Errorf("%s: Text = %q; still holds %q", c.label, got, g)
			}
		}
		if !strings.Contains(got, c.kept) {
			t.Errorf("%s: Text = %q; lost %q", c.label, got, c.kept)
		}
	}
	if got := redact.Error(nil, "x"); got != "" {
		t.Errorf("Error(nil) = %q; want empty", got)
	}
}

// TestReplaceAttr: a logger with ReplaceAttr writes no personal attribute
// and no phone number, in plain attributes, errors or groups.
func TestReplaceAttr(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: redact.ReplaceAttr}))
	err := fmt.Errorf("send: %w", errors.New("The 'To' number +13125550133 is not a valid phone number."))
	log.Warn("send failed", "message_id", "out_1", "err", err, "to", "+13125550122",
		slog.Group("person", "name", "Dana Whitfield", "phone", "+13125550111", "note", "call 312-555-0100"),
		"text", "I took all my pills", "Body", "hello there")
	out := buf.String()
	for _, secret := range []string{"+13125550133", "3125550133", "+13125550122", "Dana", "3125550111", "312-555-0100", "pills", "hello there"} {
		if strings.Contains(out, secret) {
			t.Errorf("log holds %q: %s", secret, out)
		}
	}
	for _, kept := range []string{"send failed", "out_1", "not a valid phone number"} {
		if !strings.Contains(out, kept) {
			t.Errorf("log lost %q: %s", kept, out)
		}
	}
}
