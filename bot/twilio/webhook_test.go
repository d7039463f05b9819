package twilio_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carecheck/carecheck/bot"
	"github.com/carecheck/carecheck/bot/twilio"
	"github.com/carecheck/carecheck/bot/twilio/twiliotest"
)

const (
	testAccount = "AC9f2b5e3c1d4a6b8c0e2f4a6b8c0d1e2f"
	testToken   = "5c2f9e1a7b3d4c6e8f0a1b2c3d4e5f60"
	testPublic  = "https://cc.example.org"
	testFrom    = "+13125550100" // our number
)

var (
	testNow  = time.Date(2025, 3, 9, 8, 30, 0, 0, time.UTC)
	fixedNow = func() time.Time { return testNow }
	testCfg  = twilio.Config{AccountSID: testAccount, AuthToken: testToken, FromNumber: testFrom, PublicURL: testPublic}
)

// Raw inbound forms, byte for byte in the shape Twilio posts them.
const (
	rawPlain = "ToCountry=US&ToState=IL&SmsMessageSid=SM2f7c1a9e4b6d8f0a2c4e6b8d0f1a3c5e&NumMedia=0&ToCity=CHICAGO" +
		"&FromZip=60614&SmsSid=SM2f7c1a9e4b6d8f0a2c4e6b8d0f1a3c5e&FromState=IL&SmsStatus=received&FromCity=CHICAGO" +
		"&Body=Yes+I+took+them&FromCountry=US&To=%2B13125550100&ToZip=60601&NumSegments=1" +
		"&MessageSid=SM2f7c1a9e4b6d8f0a2c4e6b8d0f1a3c5e&AccountSid=AC9f2b5e3c1d4a6b8c0e2f4a6b8c0d1e2f" +
		"&From=%2B17735550123&ApiVersion=2010-04-01"
	rawEmoji = "ToCountry=US&ToState=IL&SmsMessageSid=SM0a1b2c3d4e5f60718293a4b5c6d7e8f9&NumMedia=0&ToCity=CHICAGO" +
		"&FromZip=&SmsSid=SM0a1b2c3d4e5f60718293a4b5c6d7e8f9&FromState=CA&SmsStatus=received&FromCity=" +
		"&Body=I%27m+okay+today+%F0%9F%98%8A%F0%9F%91%8D+thanks&FromCountry=US&To=%2B13125550100&ToZip=60601" +
		"&NumSegments=1&MessageSid=SM0a1b2c3d4e5f60718293a4b5c6d7e8f9&AccountSid=AC9f2b5e3c1d4a6b8c0e2f4a6b8c0d1e2f" +
		"&From=%2B14155550199&ApiVersion=2010-04-01"
	rawSpanish = "ToCountry=US&ToState=IL&SmsMessageSid=SMd4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9&NumMedia=0&ToCity=CHICAGO" +
		"&FromZip=&SmsSid=SMd4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9&FromState=&SmsStatus=received&FromCity=" +
		"&Body=Me+siento+muy+mal+hoy%2C+%C2%BFpuedo+hablar+con+alguien%3F+No+s%C3%A9+qu%C3%A9+hacer" +
		"&FromCountry=MX&To=%2B13125550100&ToZip=60601&NumSegments=1&MessageSid=SMd4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9" +
		"&AccountSid=AC9f2b5e3c1d4a6b8c0e2f4a6b8c0d1e2f&From=%2B5215512345678&ApiVersion=2010-04-01"
	rawPlusAmp = "ToCountry=US&ToState=IL&SmsMessageSid=SM77aa88bb99cc00dd11ee22ff33aa44bb&NumMedia=0&ToCity=CHICAGO" +
		"&FromZip=60601&SmsSid=SM77aa88bb99cc00dd11ee22ff33aa44bb&FromState=IL&SmsStatus=received&FromCity=CHICAGO" +
		"&Body=mood+2%2B3+%26+sleep+%3D+bad+%25+100" +
		"&FromCountry=US&To=%2B13125550100&ToZip=60601&NumSegments=1&MessageSid=SM77aa88bb99cc00dd11ee22ff33aa44bb" +
		"&AccountSid=AC9f2b5e3c1d4a6b8c0e2f4a6b8c0d1e2f&From=%2B13125550177&ApiVersion=2010-04-01"
	rawMMS = "ToCountry=US&MediaContentType0=image%2Fjpeg&ToState=IL&SmsMessageSid=MM5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b" +
		"&NumMedia=1&ToCity=CHICAGO&FromZip=60614&SmsSid=MM5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b&FromState=IL" +
		"&SmsStatus=received&FromCity=CHICAGO&Body=&FromCountry=US&To=%2B13125550100&ToZip=60601&NumSegments=1" +
		"&MessageSid=MM5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b&AccountSid=AC9f2b5e3c1d4a6b8c0e2f4a6b8c0d1e2f" +
		"&From=%2B17735550123&MediaUrl0=https%3A%2F%2Fapi.twilio.com%2F2010-04-01%2FAccounts%2FAC9f2b5e3c1d4a6b8c0e2f4a6b8c0d1e2f" +
		"%2FMessages%2FMM5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b%2FMedia%2FME1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d&ApiVersion=2010-04-01"
	rawNoSid   = "ToCountry=US&NumMedia=0&SmsStatus=received&Body=hello&To=%2B13125550100&From=%2B17735550123&ApiVersion=2010-04-01"
	rawNoFrom  = "NumMedia=0&SmsStatus=received&Body=hello&To=%2B13125550100&MessageSid=SM2f7c1a9e4b6d8f0a2c4e6b8d0f1a3c5e&ApiVersion=2010-04-01"
	rawRepeat  = "Body=first&Body=second&MessageSid=SM2f7c1a9e4b6d8f0a2c4e6b8d0f1a3c5e&To=%2B13125550100&From=%2B17735550123"
	rawBadForm = "Body=%zz&MessageSid=SM2f7c1a9e4b6d8f0a2c4e6b8d0f1a3c5e&To=%2B13125550100&From=%2B17735550123"

	// Status callbacks, as Twilio posts them.
	rawDelivered = "SmsSid=SM4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e&SmsStatus=delivered&MessageStatus=delivered" +
		"&To=%2B17735550123&MessageSid=SM4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e&AccountSid=AC9f2b5e3c1d4a6b8c0e2f4a6b8c0d1e2f" +
		"&From=%2B13125550100&ApiVersion=2010-04-01&RawDlrDoneDate=2503090831"
	rawUndelivered = "ErrorCode=30003&SmsSid=SM4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e&SmsStatus=undelivered" +
		"&MessageStatus=undelivered&To=%2B17735550123&MessageSid=SM4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e" +
		"&AccountSid=AC9f2b5e3c1d4a6b8c0e2f4a6b8c0d1e2f&From=%2B13125550100&ApiVersion=2010-04-01"
	rawNoStatus = "SmsSid=SM4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e&To=%2B17735550123&MessageSid=SM4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e" +
		"&AccountSid=AC9f2b5e3c1d4a6b8c0e2f4a6b8c0d1e2f&From=%2B13125550100&ApiVersion=2010-04-01"
)

// recorder is the core as the webhooks see it: it records what it is given
// and answers err.
type recorder struct {
	err error

	mu       sync.Mutex
	inbound  []bot.Inbound
	statuses []bot.StatusUpdate
}

func (r *recorder) Receive(_ context.Context, in bot.Inbound) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.inbound = append(r.inbound, in)
	return r.err
}

func (r *recorder) Status(_ context.Context, s bot.StatusUpdate) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.statuses = append(r.statuses, s)
	return r.err
}

func (r *recorder) got() ([]bot.Inbound, []bot.StatusUpdate) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]bot.Inbound(nil), r.inbound...), append([]bot.StatusUpdate(nil), r.statuses...)
}

// Signing modes of a webhookCase.
const (
	signValid   = ""        // signed by Twilio over the public URL
	signMissing = "missing" // no X-Twilio-Signature
	signGarbage = "garbage" // a header that is no signature of this request
	signToken   = "token"   // signed with another account's token
)

type webhookCase struct {
	label  string
	method string // "" = POST
	target string // path and query; "" = the handler's path
	body   string
	sign   string // a sign* mode, or the URL Twilio signed over
	// tamper, if set, replaces the body after signing.
	tamper  string
	recvErr error

	wantStatus   int
	wantInbound  []bot.Inbound
	wantStatuses []bot.StatusUpdate
}

// serveWebhook runs c through h (made with recv and a log that captures
// everything) and checks the answer and the effect on recv. It returns the log.
func serveWebhook(t *testing.T, h func(*recorder, *slog.Logger) http.Handler, path string, c webhookCase) string {
	t.Helper()
	var logs bytes.Buffer
	recv := &recorder{err: c.recvErr}
	// No timestamps: the privacy check looks for the form's digits (a ZIP such
	// as 60601), which a clock reading can contain by chance.
	noTime := func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}
	handler := h(recv, slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: noTime})))

	target := c.target
	if target == "" {
		target = path
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
		req.Header.Set("X-Twilio-Signature", "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
	case signToken:
		req.Header.Set("X-Twilio-Signature", twiliotest.Sign("0000000000000000000000000000dead", testPublic+target, form))
	case signValid:
		req.Header.Set("X-Twilio-Signature", twiliotest.Sign(testToken, testPublic+target, form))
	default:
		req.Header.Set("X-Twilio-Signature", twiliotest.Sign(testToken, c.sign, form))
	}
	if c.tamper != "" {
		req.Body = io.NopCloser(strings.NewReader(c.tamper))
		req.ContentLength = int64(len(c.tamper))
	}

	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)

	if rec.Code != c.wantStatus {
		t.Errorf("status = %d; want %d (body %q)", rec.Code, c.wantStatus, rec.Body.String())
	}
	switch rec.Code {
	case http.StatusOK:
		if ct := rec.Header().Get("Content-Type"); ct != "text/xml" {
			t.Errorf("Content-Type = %q; want text/xml", ct)
		}
		if want := `<?xml version="1.0" encoding="UTF-8"?><Response></Response>`; rec.Body.String() != want {
			t.Errorf("body = %q; want %q", rec.Body.String(), want)
		}
	case http.StatusServiceUnavailable:
		if rec.Header().Get("Retry-After") == "" {
			t.Error("503 without Retry-After")
		}
	case http.StatusMethodNotAllowed:
		if rec.Header().Get("Allow") != http.MethodPost {
			t.Errorf("Allow = %q; want POST", rec.Header().Get("Allow"))
		}
	}
	in, st := recv.got()
	if !equalInbound(in, c.wantInbound) {
		t.Errorf("received %+v; want %+v", in, c.wantInbound)
	}
	if !equalStatus(st, c.wantStatuses) {
		t.Errorf("statuses %+v; want %+v", st, c.wantStatuses)
	}
	checkNoPII(t, logs.String(), form)
	return logs.String()
}

func equalInbound(a, b []bot.Inbound) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func equalStatus(a, b []bot.StatusUpdate) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// checkNoPII fails if logs hold the text, a number, a place or the token.
func checkNoPII(t *testing.T, logs string, form url.Values) {
	t.Helper()
	secrets := []string{testToken}
	for _, k := range []string{"Body", "From", "To", "FromCity", "FromZip", "ToZip"} {
		if v := form.Get(k); len(v) > 3 {
			secrets = append(secrets, v)
		}
	}
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("logs hold %q:\n%s", s, logs)
		}
	}
}

func sms(sid, from, text string) bot.Inbound {
	return bot.Inbound{Channel: bot.SMS, Kind: bot.KindText, ProviderID: sid, From: from, To: testFrom, Text: text, Received: testNow}
}

func TestSMSHandler(t *testing.T) {
	withQuery := twilio.SMSPath + "?agency=ag_1&v=2"
	plain := []bot.Inbound{sms("SM2f7c1a9e4b6d8f0a2c4e6b8d0f1a3c5e", "+17735550123", "Yes I took them")}
	cases := []webhookCase{
		{label: "plain text", body: rawPlain, wantStatus: 200, wantInbound: plain},
		{label: "emoji", body: rawEmoji, wantStatus: 200,
			wantInbound: []bot.Inbound{sms("SM0a1b2c3d4e5f60718293a4b5c6d7e8f9", "+14155550199", "I'm okay today 😊👍 thanks")}},
		{label: "spanish", body: rawSpanish, wantStatus: 200,
			wantInbound: []bot.Inbound{sms("SMd4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9", "+5215512345678", "Me siento muy mal hoy, ¿puedo hablar con alguien? No sé qué hacer")}},
		{label: "plus and ampersand", body: rawPlusAmp, wantStatus: 200,
			wantInbound: []bot.Inbound{sms("SM77aa88bb99cc00dd11ee22ff33aa44bb", "+13125550177", "mood 2+3 & sleep = bad % 100")}},
		{label: "picture without text", body: rawMMS, wantStatus: 200,
			wantInbound: []bot.Inbound{sms("MM5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b", "+17735550123", "")}},
		{label: "query in webhook URL", target: withQuery, body: rawPlain, wantStatus: 200, wantInbound: plain},
		{label: "signed with explicit port", sign: "https://cc.example.org:443" + twilio.SMSPath, body: rawPlain, wantStatus: 200, wantInbound: plain},
		{label: "unknown sender", body: rawPlain, recvErr: bot.ErrUnknownSender, wantStatus: 200, wantInbound: plain},
		{label: "unknown sender wrapped", body: rawPlain, recvErr: fmt.Errorf("route: %w", bot.ErrUnknownSender), wantStatus: 200, wantInbound: plain},
		{label: "receiver down", body: rawPlain, recvErr: errors.New("redis: connection refused"), wantStatus: 503, wantInbound: plain},

		{label: "signature missing", sign: signMissing, body: rawPlain, wantStatus: 403},
		{label: "signature invalid", sign: signGarbage, body: rawPlain, wantStatus: 403},
		{label: "signed with another token", sign: signToken, body: rawPlain, wantStatus: 403},
		{label: "signed over another host", sign: "https://evil.example.com" + twilio.SMSPath, body: rawPlain, wantStatus: 403},
		{label: "signed over plain http", sign: "http://cc.example.org" + twilio.SMSPath, body: rawPlain, wantStatus: 403},
		{label: "signed over another path", sign: testPublic + twilio.StatusPath, body: rawPlain, wantStatus: 403},
		{label: "signed without the query", target: withQuery, sign: testPublic + twilio.SMSPath, body: rawPlain, wantStatus: 403},
		{label: "body changed after signing", body: rawPlain,
			tamper: strings.Replace(rawPlain, "Yes+I+took+them", "No", 1), wantStatus: 403},
		{label: "repeated key", body: rawRepeat, wantStatus: 403},

		{label: "malformed form", body: rawBadForm, wantStatus: 400},
		{label: "no MessageSid", body: rawNoSid, wantStatus: 400},
		{label: "no From", body: rawNoFrom, wantStatus: 400},
		{label: "empty body", body: "", wantStatus: 400},
		{label: "GET", method: http.MethodGet, body: "", wantStatus: 405},
		{label: "PUT", method: http.MethodPut, body: rawPlain, wantStatus: 405},
	}
	for _, c := range cases {
		t.Run(c.label, func(t *testing.T) {
			serveWebhook(t, smsHandler(testCfg), twilio.SMSPath, c)
		})
	}
}

func smsHandler(cfg twilio.Config) func(*recorder, *slog.Logger) http.Handler {
	return func(r *recorder, log *slog.Logger) http.Handler { return twilio.SMSHandler(cfg, r, fixedNow, log) }
}

func statusHandler(cfg twilio.Config) func(*recorder, *slog.Logger) http.Handler {
	return func(r *recorder, log *slog.Logger) http.Handler { return twilio.StatusHandler(cfg, r, fixedNow, log) }
}

func TestStatusHandler(t *testing.T) {
	const sid = "SM4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e"
	delivered := []bot.StatusUpdate{{Channel: bot.SMS, ProviderID: sid, Status: "delivered", Received: testNow}}
	cases := []webhookCase{
		{label: "delivered", body: rawDelivered, wantStatus: 200, wantStatuses: delivered},
		{label: "undelivered with error", body: rawUndelivered, wantStatus: 200,
			wantStatuses: []bot.StatusUpdate{{Channel: bot.SMS, ProviderID: sid, Status: "undelivered", ErrorCode: "30003", Received: testNow}}},
		{label: "receiver down", body: rawDelivered, recvErr: errors.New("redis: i/o timeout"), wantStatus: 503, wantStatuses: delivered},
		{label: "signature missing", sign: signMissing, body: rawDelivered, wantStatus: 403},
		{label: "signature invalid", sign: signGarbage, body: rawDelivered, wantStatus: 403},
		{label: "signed over the sms path", sign: testPublic + twilio.SMSPath, body: rawDelivered, wantStatus: 403},
		{label: "no MessageStatus", body: rawNoStatus, wantStatus: 400},
		{label: "GET", method: http.MethodGet, wantStatus: 405},
	}
	for _, c := range cases {
		t.Run(c.label, func(t *testing.T) {
			serveWebhook(t, statusHandler(testCfg), twilio.StatusPath, c)
		})
	}
}

func TestWebhookNotConfigured(t *testing.T) {
	// With no token anyone could sign: everything is refused.
	for _, cfg := range []twilio.Config{
		{AccountSID: testAccount, PublicURL: testPublic},
		{AccountSID: testAccount, AuthToken: testToken},
	} {
		serveWebhook(t, smsHandler(cfg), twilio.SMSPath,
			webhookCase{body: rawPlain, sign: testPublic + twilio.SMSPath, wantStatus: 403})
		req := httptest.NewRequest(http.MethodPost, twilio.SMSPath, strings.NewReader(rawPlain))
		form, _ := url.ParseQuery(rawPlain)
		req.Header.Set("X-Twilio-Signature", twiliotest.Sign("", twilio.SMSPath, form))
		rec := httptest.NewRecorder()
		recv := &recorder{}
		twilio.SMSHandler(cfg, recv, nil, nil).ServeHTTP(rec, req)
		if in, _ := recv.got(); rec.Code != 403 || len(in) != 0 {
			t.Errorf("unconfigured, empty-token signature: status %d, %d received; want 403, 0", rec.Code, len(in))
		}
	}
}

func TestSMSHandlerTooLarge(t *testing.T) {
	big := rawPlain + "&Body=" + strings.Repeat("A", 2<<20)
	for _, known := range []bool{true, false} {
		t.Run(fmt.Sprintf("content length known %t", known), func(t *testing.T) {
			recv := &recorder{}
			form, _ := url.ParseQuery(big)
			req := httptest.NewRequest(http.MethodPost, twilio.SMSPath, strings.NewReader(big))
			req.Header.Set("X-Twilio-Signature", twiliotest.Sign(testToken, testPublic+twilio.SMSPath, form))
			if !known {
				req.ContentLength = -1
				req.Body = io.NopCloser(strings.NewReader(big)) // no Len: chunked
			}
			rec := httptest.NewRecorder()
			twilio.SMSHandler(testCfg, recv, fixedNow, nil).ServeHTTP(rec, req)
			if rec.Code != http.StatusRequestEntityTooLarge {
				t.Errorf("status = %d; want 413", rec.Code)
			}
			if in, _ := recv.got(); len(in) != 0 {
				t.Errorf("received %d messages; want 0", len(in))
			}
		})
	}
	// Just under the limit is fine.
	t.Run("64 KiB", func(t *testing.T) {
		body := rawPlain + "&Pad=" + strings.Repeat("x", twilio.MaxBody-len(rawPlain)-len("&Pad="))
		serveWebhook(t, smsHandler(testCfg), twilio.SMSPath, webhookCase{body: body, wantStatus: 200,
			wantInbound: []bot.Inbound{sms("SM2f7c1a9e4b6d8f0a2c4e6b8d0f1a3c5e", "+17735550123", "Yes I took them")}})
	})
}

// TestWebhookLogs proves the logs name the message and the outcome and hold
// no text, number or name, even when the receiver's error quotes them.
func TestWebhookLogs(t *testing.T) {
	leaky := errors.New("store inbound from +17735550123 to +13125550100 (Yes I took them): redis down")
	logs := serveWebhook(t, smsHandler(testCfg), twilio.SMSPath, webhookCase{
		body: rawPlain, recvErr: leaky, wantStatus: 503,
		wantInbound: []bot.Inbound{sms("SM2f7c1a9e4b6d8f0a2c4e6b8d0f1a3c5e", "+17735550123", "Yes I took them")},
	})
	for _, want := range []string{"SM2f7c1a9e4b6d8f0a2c4e6b8d0f1a3c5e", "receiver_failed", "redis down", "[redacted]"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	logs = serveWebhook(t, smsHandler(testCfg), twilio.SMSPath, webhookCase{body: rawSpanish, wantStatus: 200,
		wantInbound: []bot.Inbound{sms("SMd4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9", "+5215512345678", "Me siento muy mal hoy, ¿puedo hablar con alguien? No sé qué hacer")}})
	if !strings.Contains(logs, `"outcome":"accepted"`) {
		t.Errorf("logs lack the outcome:\n%s", logs)
	}
	// A forged request's MessageSid is not trusted enough to be logged
	// unless it has the shape of a sid.
	forged := strings.Replace(rawPlain, "MessageSid=SM2f7c1a9e4b6d8f0a2c4e6b8d0f1a3c5e", "MessageSid=%2B17735550999", 1)
	logs = serveWebhook(t, smsHandler(testCfg), twilio.SMSPath, webhookCase{body: forged, sign: signGarbage, wantStatus: 403})
	if strings.Contains(logs, "+17735550999") {
		t.Errorf("logs hold a forged MessageSid:\n%s", logs)
	}
}

// TestDeliverSMS runs twiliotest's webhook through the handler over real HTTP.
func TestDeliverSMS(t *testing.T) {
	fake := twiliotest.NewServer(testAccount, testToken)
	t.Cleanup(fake.Close)
	recv := &recorder{}
	mux := http.NewServeMux()
	mux.Handle("POST "+twilio.SMSPath, twilio.SMSHandler(testCfg, recv, fixedNow, nil))
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)

	form := twiliotest.SMSForm("SM11111111111111111111111111111111", "+17735550123", testFrom, "ayuda 🙏 por favor")
	resp, err := fake.DeliverSMS(t.Context(), ts.URL+twilio.SMSPath, testPublic+twilio.SMSPath, form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("status = %d; want 200", resp.StatusCode)
	}
	in, _ := recv.got()
	want := []bot.Inbound{sms("SM11111111111111111111111111111111", "+17735550123", "ayuda 🙏 por favor")}
	if !equalInbound(in, want) {
		t.Errorf("received %+v; want %+v", in, want)
	}

	// Through a Messaging Service: the inbound names it.
	viaService := twiliotest.SMSForm("SM22222222222222222222222222222222", "+17735550123", testFrom, "estoy bien")
	viaService.Set("MessagingServiceSid", "MG0123456789abcdef0123456789abcdef")
	resp, err = fake.DeliverSMS(t.Context(), ts.URL+twilio.SMSPath, testPublic+twilio.SMSPath, viaService)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	in, _ = recv.got()
	wantService := sms("SM22222222222222222222222222222222", "+17735550123", "estoy bien")
	wantService.Service = "MG0123456789abcdef0123456789abcdef"
	if resp.StatusCode != 200 || len(in) != 2 || in[1] != wantService {
		t.Errorf("through a service: status %d, received %+v; want 200 and %+v", resp.StatusCode, in, wantService)
	}

	// Signed over the test server's own URL: not the public one.
	resp, err = fake.DeliverSMS(t.Context(), ts.URL+twilio.SMSPath, ts.URL+twilio.SMSPath, form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("signed over the wrong URL: status = %d; want 403", resp.StatusCode)
	}
}
