package twilio

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/carecheck/carecheck/bot"
)

// Voice webhook paths, relative to Config.PublicURL. Each call's URLs carry
// its reference (bot.Outbound.Ref) as their query, which Twilio signs with
// the rest of the URL.
const (
	// VoicePath answers a call that was picked up with its TwiML.
	VoicePath = "/webhooks/twilio/voice"
	// VoiceDigitsPath takes the digit pressed (<Gather action>).
	VoiceDigitsPath = "/webhooks/twilio/voice/digits"
	// VoiceStatusPath takes the call's final status (StatusCallback).
	VoiceStatusPath = "/webhooks/twilio/voice/status"
)

// ringSeconds is how long a call rings before it is "no-answer".
const ringSeconds = 30

// Caller places voice calls through Twilio's Calls API (the real twilio-go
// client): a bot.Sender for bot.Voice. The call fetches its TwiML from
// VoicePath and reports its end to VoiceStatusPath, both with m.Ref.
type Caller struct{ s *Sender }

var _ bot.Sender = (*Caller)(nil)

// NewCaller returns a Caller that shares s's account, client and timeout.
// It needs Config.PublicURL: the call's TwiML is ours.
func NewCaller(s *Sender) (*Caller, error) {
	if s.cfg.PublicURL == "" {
		return nil, errors.New("twilio voice: CARECHECK_PUBLIC_URL is required")
	}
	return &Caller{s: s}, nil
}

// Send places a call to m.To, from m.From (or Config.FromNumber), that asks
// Twilio to detect answering machines, and returns its CallSid. Failures are
// classified as Sender.Send's are.
func (c *Caller) Send(ctx context.Context, m bot.Outbound) (string, error) {
	if m.Channel != bot.Voice {
		return "", &bot.SendError{Code: "channel", Err: fmt.Errorf("twilio voice: cannot send on channel %q", m.Channel)}
	}
	if m.To == "" || m.Ref == "" {
		return "", &bot.SendError{Code: "invalid", Err: errors.New("twilio voice: a call needs To and Ref")}
	}
	from := m.From
	if from == "" || strings.HasPrefix(from, "MG") {
		from = c.s.cfg.FromNumber
	}
	base := c.s.cfg.publicBase()
	params := (&openapi.CreateCallParams{}).SetTo(m.To).SetFrom(from).
		SetUrl(base + VoicePath + "?" + m.Ref).
		SetStatusCallback(base + VoiceStatusPath + "?" + m.Ref).
		SetMachineDetection("Enable").SetTimeout(ringSeconds)
	ctx, cancel := c.s.bound(ctx)
	defer cancel()
	api, tr := c.s.service(ctx)
	call, err := api.CreateCall(params)
	if err != nil {
		return "", classifyAs(err, tr.status, "create call")
	}
	if call.Sid == nil || *call.Sid == "" {
		return "", &bot.SendError{Code: strconv.Itoa(tr.status), Err: errors.New("twilio voice: answer without a call sid")}
	}
	return *call.Sid, nil
}

// VoiceHandler answers a picked-up call (POST VoicePath) with the TwiML of
// recv.CallAnswered; VoiceDigitsHandler a digit (POST VoiceDigitsPath) with
// that of recv.CallDigits; VoiceStatusHandler hands the final status to
// recv.CallStatus. Each is verified exactly as the SMS webhook is (403 to
// an unsigned or forged request, which recv never sees).
func VoiceHandler(cfg Config, recv bot.CallReceiver, now func() time.Time, log *slog.Logger) http.Handler {
	return voiceHook("voice", cfg, now, log, []string{"CallSid"}, func(ctx context.Context, ev bot.CallEvent) (string, error) {
		sp, err := recv.CallAnswered(ctx, ev)
		return twiml(cfg, ev.Ref, sp), err
	})
}

// VoiceDigitsHandler: see VoiceHandler.
func VoiceDigitsHandler(cfg Config, recv bot.CallReceiver, now func() time.Time, log *slog.Logger) http.Handler {
	return voiceHook("voice_digits", cfg, now, log, []string{"CallSid"}, func(ctx context.Context, ev bot.CallEvent) (string, error) {
		sp, err := recv.CallDigits(ctx, ev)
		return twiml(cfg, ev.Ref, sp), err
	})
}

// VoiceStatusHandler: see VoiceHandler.
func VoiceStatusHandler(cfg Config, recv bot.CallReceiver, now func() time.Time, log *slog.Logger) http.Handler {
	return voiceHook("voice_status", cfg, now, log, []string{"CallSid", "CallStatus"}, func(ctx context.Context, ev bot.CallEvent) (string, error) {
		return "", recv.CallStatus(ctx, ev)
	})
}

func voiceHook(name string, cfg Config, now func() time.Time, log *slog.Logger, required []string,
	pass func(context.Context, bot.CallEvent) (string, error)) http.Handler {
	h := newWebhook(name, cfg, now, log, required, func(ctx context.Context, query string, f url.Values, at time.Time) (string, error) {
		if query == "" {
			return "", errNoRef
		}
		return pass(ctx, bot.CallEvent{Ref: query, CallID: f.Get("CallSid"), Status: f.Get("CallStatus"),
			AnsweredBy: f.Get("AnsweredBy"), Digits: f.Get("Digits"), Received: at})
	})
	h.sidKey, h.logKey = "CallSid", "call_sid"
	return h
}

// errNoRef is a signed voice webhook without our reference: not a call we placed.
var errNoRef = fmt.Errorf("voice webhook without a call reference: %w", bot.ErrUnknownSender)

// voices are the <Say> languages by staff language.
var voices = map[string]string{"en": "en-US", "es": "es-US"}

// twiml renders sp: <Say> inside a one-digit <Gather> that posts to
// VoiceDigitsPath with the same reference, or <Say> then <Hangup>.
func twiml(cfg Config, ref string, sp bot.Speech) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><Response>`)
	lang := voices[sp.Lang]
	if lang == "" {
		lang = voices["en"]
	}
	say := func() {
		b.WriteString(`<Say language="` + lang + `">`)
		_ = xml.EscapeText(&b, []byte(sp.Text))
		b.WriteString(`</Say>`)
	}
	switch {
	case sp.Gather:
		b.WriteString(`<Gather numDigits="1" timeout="10" method="POST" action="`)
		_ = xml.EscapeText(&b, []byte(cfg.publicBase()+VoiceDigitsPath+"?"+ref))
		b.WriteString(`">`)
		say()
		b.WriteString(`</Gather>`)
		// No digit: the call ends and its status says so.
	case sp.Text != "":
		say()
	}
	b.WriteString(`<Hangup/></Response>`)
	return b.String()
}
