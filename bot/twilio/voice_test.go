package twilio_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/carecheck/carecheck/bot"
	"github.com/carecheck/carecheck/bot/twilio"
	"github.com/carecheck/carecheck/bot/twilio/twiliotest"
)

// A call's reference, as escalation makes it: the query of every URL the
// call was placed with, signed by Twilio with the rest of the URL.
const callRef = "a=ag_7&e=es_42&r=0&s=cm_3&st=1"

const callSID = "CA5d7f9b1c3e5a7c9e1b3d5f7a9c1e3b5d"

// Raw voice webhooks of an outbound-api call, byte for byte in the shape
// Twilio posts them (answering machine detection on).
const (
	// The TwiML fetch of a call a person picked up.
	rawVoiceHuman = "Called=%2B17735550123&ToState=IL&CallerCountry=US&Direction=outbound-api&CallerState=IL" +
		"&ToZip=60614&CallSid=" + callSID + "&To=%2B17735550123&CallerZip=60601&ToCountry=US" +
		"&CallToken=&CalledZip=60614&ApiVersion=2010-04-01&CalledCity=CHICAGO&CallStatus=in-progress" +
		"&From=%2B13125550100&AccountSid=AC9f2b5e3c1d4a6b8c0e2f4a6b8c0d1e2f&CalledCountry=US&CallerCity=CHICAGO" +
		"&ToCity=CHICAGO&FromCountry=US&Caller=%2B13125550100&FromCity=CHICAGO&CalledState=IL&FromZip=60601" +
		"&AnsweredBy=human&MachineDetectionDuration=1840&FromState=IL"
	// The TwiML fetch of a call an answering machine took.
	rawVoiceMachine = "Called=%2B17735550123&Direction=outbound-api&CallSid=" + callSID + "&To=%2B17735550123" +
		"&ApiVersion=2010-04-01&CallStatus=in-progress&From=%2B13125550100&AccountSid=AC9f2b5e3c1d4a6b8c0e2f4a6b8c0d1e2f" +
		"&Caller=%2B13125550100&AnsweredBy=machine_end_beep&MachineDetectionDuration=4120"
	// A <Gather action> post: the digit pressed.
	rawDigitsFmt = "msg=Gather+End&Called=%2B17735550123&Digits={D}&Direction=outbound-api&CallSid=" + callSID +
		"&To=%2B17735550123&ApiVersion=2010-04-01&CallStatus=in-progress&From=%2B13125550100" +
		"&AccountSid=AC9f2b5e3c1d4a6b8c0e2f4a6b8c0d1e2f&Caller=%2B13125550100&FinishedOnKey=&AnsweredBy=human"
	// The StatusCallback of a call's end.
	rawStatusFmt = "Called=%2B17735550123&Direction=outbound-api&Timestamp=Sun%2C+09+Mar+2025+08%3A31%3A02+%2B0000" +
		"&CallbackSource=call-progress-events&SequenceNumber=0&CallSid=" + callSID + "&To=%2B17735550123" +
		"&CallDuration={T}&SipResponseCode={S}&ApiVersion=2010-04-01&CallStatus={C}&Duration={T}&From=%2B13125550100" +
		"&AccountSid=AC9f2b5e3c1d4a6b8c0e2f4a6b8c0d1e2f&Caller=%2B13125550100"
	rawStatusNoStatus = "Called=%2B17735550123&Direction=outbound-api&CallSid=" + callSID + "&To=%2B17735550123" +
		"&ApiVersion=2010-04-01&From=%2B13125550100&AccountSid=AC9f2b5e3c1d4a6b8c0e2f4a6b8c0d1e2f"
	rawVoiceNoSid = "Called=%2B17735550123&Direction=outbound-api&To=%2B17735550123&ApiVersion=2010-04-01" +
		"&CallStatus=in-progress&From=%2B13125550100&AccountSid=AC9f2b5e3c1d4a6b8c0e2f4a6b8c0d1e2f&AnsweredBy=human"
)

func rawDigits(d string) string {
	return strings.Replace(rawDigitsFmt, "{D}", url.QueryEscape(d), 1)
}

func rawStatus(status, seconds, sip string) string {
	return strings.NewReplacer("{C}", status, "{T}", seconds, "{S}", sip).Replace(rawStatusFmt)
}

// callCore is the core as the voice webhooks see it: it records each event
// and answers as escalation does: the alert with a gather to a person,
// nothing to a machine; "Thank you" to a 1, the alert again to anything
// else; err when set.
type callCore struct {
	err error

	mu     sync.Mutex
	events []bot.CallEvent
}

func (c *callCore) record(e bot.CallEvent) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, e)
	return c.err
}

func (c *callCore) CallAnswered(_ context.Context, e bot.CallEvent) (bot.Speech, error) {
	if e.Machine() {
		return bot.Speech{}, c.record(e)
	}
	return bot.Speech{Lang: "es", Text: "Alerta urgente <E.M.> & 4 2. Pulse 1.", Gather: true}, c.record(e)
}

func (c *callCore) CallDigits(_ context.Context, e bot.CallEvent) (bot.Speech, error) {
	if e.Digits == "1" {
		return bot.Speech{Lang: "en", Text: "Thank you. The alert is yours."}, c.record(e)
	}
	return bot.Speech{Lang: "en", Text: "Urgent alert. Press 1.", Gather: true}, c.record(e)
}

func (c *callCore) CallStatus(_ context.Context, e bot.CallEvent) error { return c.record(e) }

func (c *callCore) got() []bot.CallEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]bot.CallEvent(nil), c.events...)
}

// voiceCase is one request to a voice webhook and what must come of it.
type voiceCase struct {
	label  string
	method string // "" = POST
	query  string // the URL's query; "-" none
	body   string
	sign   string // a sign* mode, or the URL Twilio signed over
	// tamper, if set, replaces the body after signing.
	tamper  string
	recvErr error

	wantStatus int
	wantEvents []bot.CallEvent
	// wantTwiML lists what the answer's TwiML holds, in order ("" none:
	// the empty document, or no TwiML at all for a refusal).
	wantTwiML []string
}

// voiceEvent is the event a raw form makes, with the reference callRef.
func voiceEvent(status, answeredBy, digits string) bot.CallEvent {
	return bot.CallEvent{Ref: callRef, CallID: callSID, Status: status, AnsweredBy: answeredBy, Digits: digits, Received: testNow}
}

// serveVoice runs c through the voice handler at path (made with a callCore
// and a log that captures everything) and checks the answer, the events
// the core got and the logs.
func serveVoice(t *testing.T, path string, mk func(bot.CallReceiver, *slog.Logger) http.Handler, c voiceCase) {
	t.Helper()
	var logs bytes.Buffer
	core := &callCore{err: c.recvErr}
	noTime := func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}
	h := mk(core, slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: noTime})))
	target := path + "?" + callRef
	switch c.query {
	case "":
	case "-":
		target = path
	default:
		target = path + "?" + c.query
	}
	method := c.method
	if method == "" {
		method = http.MethodPost
	}
	form, _ := url.ParseQuery(c.body)
	req := httptest.NewRequest(method, target, strings.NewReader(c.body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	switch c.sign {
	case signMissing:
	case signGarbage:
		req.Header.Set(twilio.SignatureHeader, "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
	case signToken:
		req.Header.Set(twilio.SignatureHeader, twiliotest.Sign("0000000000000000000000000000dead", testPublic+target, form))
	case signValid:
		req.Header.Set(twilio.SignatureHeader, twiliotest.Sign(testToken, testPublic+target, form))
	default:
		req.Header.Set(twilio.SignatureHeader, twiliotest.Sign(testToken, c.sign, form))
	}
	if c.tamper != "" {
		req.Body = io.NopCloser(strings.NewReader(c.tamper))
		req.ContentLength = int64(len(c.tamper))
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)

	if rec.Code != c.wantStatus {
		t.Errorf("status = %d; want %d (body %q)", rec.Code, c.wantStatus, rec.Body.String())
	}
	if rec.Code == http.StatusOK {
		doc := rec.Body.String()
		if ct := rec.Header().Get("Content-Type"); ct != "text/xml" {
			t.Errorf("Content-Type = %q; want text/xml", ct)
		}
		if err := wellFormedXML(doc); err != nil {
			t.Errorf("TwiML %q is not well-formed: %v", doc, err)
		}
		at := 0
		for _, w := range c.wantTwiML {
			i := strings.Index(doc[at:], w)
			if i < 0 {
				t.Errorf("TwiML = %q; want %q (in order)", doc, w)
				break
			}
			at += i + len(w)
		}
		if len(c.wantTwiML) == 0 && doc != `<?xml version="1.0" encoding="UTF-8"?><Response></Response>` {
			t.Errorf("TwiML = %q; want the empty document", doc)
		}
	}
	if rec.Code == http.StatusServiceUnavailable && rec.Header().Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	got := core.got()
	if len(got) != len(c.wantEvents) {
		t.Errorf("core got %+v; want %+v", got, c.wantEvents)
	} else {
		for i := range got {
			if got[i] != c.wantEvents[i] {
				t.Errorf("core got %+v; want %+v", got[i], c.wantEvents[i])
			}
		}
	}
	l := logs.String()
	if strings.Contains(l, "message_sid") {
		t.Errorf("voice logs name the call message_sid:\n%s", l)
	}
	if c.wantStatus == http.StatusOK && !strings.Contains(l, `"call_sid":"`+callSID+`"`) {
		t.Errorf("logs lack the call_sid:\n%s", l)
	}
	for _, secret := range []string{testToken, "5550123", "Alerta", "60614"} {
		if strings.Contains(l, secret) {
			t.Errorf("logs hold %q:\n%s", secret, l)
		}
	}
}

// wellFormedXML reports the first syntax error of doc.
func wellFormedXML(doc string) error {
	dec := xml.NewDecoder(strings.NewReader(doc))
	for {
		_, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// refusals are the cases every voice webhook (at path) refuses; body is a
// form it takes when signed.
func refusals(path, body string) []voiceCase {
	return []voiceCase{
		{label: "no signature", body: body, sign: signMissing, wantStatus: 403},
		{label: "garbage signature", body: body, sign: signGarbage, wantStatus: 403},
		{label: "another account's token", body: body, sign: signToken, wantStatus: 403},
		{label: "signed without the reference", body: body, sign: testPublic + path, wantStatus: 403},
		{label: "signed for another path", body: body, sign: testPublic + twilio.SMSPath + "?" + callRef, wantStatus: 403},
		{label: "reference changed after signing", query: "a=ag_7&e=es_42&r=0&s=cm_9&st=1", body: body, sign: testPublic + path + "?" + callRef, wantStatus: 403},
		{label: "form changed after signing", body: body, tamper: strings.Replace(body, "CA5d7f", "CA0000", 1), wantStatus: 403},
		{label: "oversize body", body: body + "&Pad=" + strings.Repeat("x", twilio.MaxBody), wantStatus: 413},
		{label: "GET", method: http.MethodGet, body: body, wantStatus: 405},
		{label: "malformed form", body: body + "&Digits=%zz", wantStatus: 400},
	}
}

func voiceHandler(path string) func(bot.CallReceiver, *slog.Logger) http.Handler {
	return func(recv bot.CallReceiver, log *slog.Logger) http.Handler {
		switch path {
		case twilio.VoicePath:
			return twilio.VoiceHandler(testCfg, recv, fixedNow, log)
		case twilio.VoiceDigitsPath:
			return twilio.VoiceDigitsHandler(testCfg, recv, fixedNow, log)
		}
		return twilio.VoiceStatusHandler(testCfg, recv, fixedNow, log)
	}
}

// TestVoiceHandler: the TwiML fetch of a picked-up call.
func TestVoiceHandler(t *testing.T) {
	digitsAction := `action="` + testPublic + twilio.VoiceDigitsPath + "?" + strings.ReplaceAll(callRef, "&", "&amp;") + `"`
	cases := append([]voiceCase{
		{label: "a person answers: the alert, one digit gathered", body: rawVoiceHuman, wantStatus: 200,
			wantEvents: []bot.CallEvent{voiceEvent("in-progress", "human", "")},
			wantTwiML:  []string{`<Gather numDigits="1"`, digitsAction, `<Say language="es-US">Alerta urgente &lt;E.M.&gt; &amp; 4 2. Pulse 1.</Say>`, `</Gather>`, `<Hangup/>`}},
		{label: "an answering machine: hang up, say nothing", body: rawVoiceMachine, wantStatus: 200,
			wantEvents: []bot.CallEvent{voiceEvent("in-progress", "machine_end_beep", "")},
			wantTwiML:  []string{`<Response><Hangup/></Response>`}},
		{label: "no CallSid", body: rawVoiceNoSid, wantStatus: 400},
		{label: "signed, but no reference: not our call", query: "-", body: rawVoiceHuman, wantStatus: 200},
		{label: "the core fails: Twilio retries", body: rawVoiceHuman, recvErr: errors.New("redis down"), wantStatus: 503,
			wantEvents: []bot.CallEvent{voiceEvent("in-progress", "human", "")}},
	}, refusals(twilio.VoicePath, rawVoiceHuman)...)
	for _, c := range cases {
		t.Run(c.label, func(t *testing.T) { serveVoice(t, twilio.VoicePath, voiceHandler(twilio.VoicePath), c) })
	}
}

// TestVoiceDigitsHandler: the digit pressed, as <Gather action> posts it.
func TestVoiceDigitsHandler(t *testing.T) {
	again := []string{`<Gather numDigits="1"`, `<Say language="en-US">Urgent alert. Press 1.</Say>`, `</Gather>`, `<Hangup/>`}
	cases := append([]voiceCase{
		{label: "1", body: rawDigits("1"), wantStatus: 200, wantEvents: []bot.CallEvent{voiceEvent("in-progress", "human", "1")},
			wantTwiML: []string{`<Response><Say language="en-US">Thank you. The alert is yours.</Say><Hangup/></Response>`}},
		{label: "2: again", body: rawDigits("2"), wantStatus: 200, wantEvents: []bot.CallEvent{voiceEvent("in-progress", "human", "2")}, wantTwiML: again},
		{label: "empty: again", body: rawDigits(""), wantStatus: 200, wantEvents: []bot.CallEvent{voiceEvent("in-progress", "human", "")}, wantTwiML: again},
		{label: "garbage: passed as pressed, again", body: rawDigits("9#*<x>"), wantStatus: 200,
			wantEvents: []bot.CallEvent{voiceEvent("in-progress", "human", "9#*<x>")}, wantTwiML: again},
	}, refusals(twilio.VoiceDigitsPath, rawDigits("1"))...)
	for _, c := range cases {
		t.Run(c.label, func(t *testing.T) { serveVoice(t, twilio.VoiceDigitsPath, voiceHandler(twilio.VoiceDigitsPath), c) })
	}
}

// TestVoiceStatusHandler: the call's final status, every way a call ends.
func TestVoiceStatusHandler(t *testing.T) {
	cases := []voiceCase{
		{label: "completed", body: rawStatus("completed", "34", "200"), wantStatus: 200, wantEvents: []bot.CallEvent{voiceEvent("completed", "", "")}},
		{label: "no-answer", body: rawStatus("no-answer", "0", "487"), wantStatus: 200, wantEvents: []bot.CallEvent{voiceEvent("no-answer", "", "")}},
		{label: "busy", body: rawStatus("busy", "0", "486"), wantStatus: 200, wantEvents: []bot.CallEvent{voiceEvent("busy", "", "")}},
		{label: "failed", body: rawStatus("failed", "0", "404"), wantStatus: 200, wantEvents: []bot.CallEvent{voiceEvent("failed", "", "")}},
		{label: "canceled", body: rawStatus("canceled", "0", "487"), wantStatus: 200, wantEvents: []bot.CallEvent{voiceEvent("canceled", "", "")}},
		{label: "completed by a machine", body: rawStatus("completed", "21", "200") + "&AnsweredBy=machine_start", wantStatus: 200,
			wantEvents: []bot.CallEvent{voiceEvent("completed", "machine_start", "")}},
		{label: "no CallStatus", body: rawStatusNoStatus, wantStatus: 400},
		{label: "the core fails: Twilio retries", body: rawStatus("completed", "34", "200"), recvErr: errors.New("redis down"), wantStatus: 503,
			wantEvents: []bot.CallEvent{voiceEvent("completed", "", "")}},
	}
	cases = append(cases, refusals(twilio.VoiceStatusPath, rawStatus("no-answer", "0", "487"))...)
	for _, c := range cases {
		t.Run(c.label, func(t *testing.T) { serveVoice(t, twilio.VoiceStatusPath, voiceHandler(twilio.VoiceStatusPath), c) })
	}
	if !(bot.CallEvent{AnsweredBy: "machine_start"}).Machine() || !(bot.CallEvent{AnsweredBy: "fax"}).Machine() || (bot.CallEvent{AnsweredBy: "human"}).Machine() {
		t.Error("Machine() misreads AnsweredBy")
	}
}
