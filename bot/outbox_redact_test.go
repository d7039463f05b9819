package bot_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/carecheck/carecheck/bot"
	"github.com/carecheck/carecheck/bot/twilio"
	"github.com/carecheck/carecheck/bot/twilio/twiliotest"
	"github.com/carecheck/carecheck/store"
	"github.com/carecheck/carecheck/store/redistest"
)

// lockedBuffer is a log sink safe for the outbox's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestSendFailureLogHoldsNoNumber: Twilio refuses a number with 21211 and
// quotes it in its error text. The outbox logs the failure (id, code) but
// neither the number, in any form, nor the message, even through a logger
// that does no redaction of its own.
func TestSendFailureLogHoldsNoNumber(t *testing.T) {
	st := store.New(redistest.New(t).Client(t), nil)
	fake := twiliotest.NewServer(account, token)
	t.Cleanup(fake.Close)
	sender, err := twilio.NewSender(twilio.Config{AccountSID: account, AuthToken: token, FromNumber: ourSMS, APIURL: fake.URL}, &http.Client{})
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	o := bot.NewOutbox(st, map[bot.Kind]bot.Sender{bot.SMS: sender}, bot.Pacing{}, nil, log)
	m := checkInMsg("out_invalid_number")

	// The fake answers as Twilio does: the refusal quotes the number.
	fake.FailNext(1, http.StatusBadRequest, 21211)
	if _, err := sender.Send(t.Context(), m); err == nil || !strings.Contains(err.Error(), m.To) {
		t.Fatalf("fake Twilio's 21211 = %v; want its text to quote %s", err, m.To)
	}

	fake.FailNext(1, http.StatusBadRequest, 21211)
	if err := o.Handle(t.Context(), &bot.Job{Msg: m}, nil); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	out := logs.String()
	for _, want := range []string{`"msg":"send failed"`, m.ID, `"code":"21211"`, "not a valid phone number"} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %q:\n%s", want, out)
		}
	}
	for _, secret := range []string{m.To, strings.TrimPrefix(m.To, "+1"), ourSMS, strings.TrimPrefix(ourSMS, "+1"), m.Text, "mood today"} {
		if strings.Contains(out, secret) {
			t.Errorf("logs hold %q:\n%s", secret, out)
		}
	}
}
