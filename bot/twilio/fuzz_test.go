package twilio_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/twilio/twilio-go/client"

	"github.com/carecheck/carecheck/bot"
	"github.com/carecheck/carecheck/bot/twilio"
	"github.com/carecheck/carecheck/bot/twilio/twiliotest"
)

// Fuzz signing modes.
const (
	fuzzHeaderAsGiven = iota // X-Twilio-Signature: sig (none if empty)
	fuzzSigned               // signed by Twilio over the right URL
	fuzzNoHeader
)

// FuzzSMSWebhook sends random forms, queries and signatures through the SMS
// handler. It must never panic; it must pass on a well-formed form exactly
// when twilio-go's RequestValidator accepts its signature (so the handler's
// own linear-time check agrees with the reference), unchanged, and every
// form Twilio signs.
func FuzzSMSWebhook(f *testing.F) {
	f.Add(rawPlain, byte(fuzzSigned), "", "")
	f.Add(rawEmoji, byte(fuzzHeaderAsGiven), "RSOYDt4T1cUTdK1PDd93/VVr8B8=", "")
	f.Add(rawRepeat, byte(fuzzSigned), "", "x=1")
	f.Fuzz(func(t *testing.T, body string, mode byte, sig, query string) {
		target := "http://cc.internal" + twilio.SMSPath
		if query != "" {
			target += "?" + query
		}
		req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(body))
		if err != nil || req.URL.Path != twilio.SMSPath {
			t.Skip()
		}
		public := testPublic + req.URL.EscapedPath()
		if req.URL.RawQuery != "" {
			public += "?" + req.URL.RawQuery
		}
		form, formErr := url.ParseQuery(body)
		switch mode % 3 {
		case fuzzHeaderAsGiven:
			if sig != "" {
				req.Header.Set("X-Twilio-Signature", sig)
			}
		case fuzzSigned:
			req.Header.Set("X-Twilio-Signature", twiliotest.Sign(testToken, public, form))
		}

		recv := &recorder{}
		rec := httptest.NewRecorder()
		twilio.SMSHandler(testCfg, recv, fixedNow, nil).ServeHTTP(rec, req)

		switch rec.Code {
		case 200, 400, 403, 413:
		default:
			t.Fatalf("status %d", rec.Code)
		}
		got, _ := recv.got()
		header := req.Header.Get("X-Twilio-Signature")
		if len(got) > 0 {
			if len(got) != 1 || rec.Code != 200 || formErr != nil {
				t.Fatalf("received %d messages, status %d, form error %v", len(got), rec.Code, formErr)
			}
			if !twilioGoValid(public, form, header) {
				t.Fatalf("received a message whose signature %q twilio-go refuses", header)
			}
			want := bot.Inbound{Channel: bot.SMS, Kind: bot.KindText, ProviderID: form.Get("MessageSid"),
				From: form.Get("From"), To: form.Get("To"), Text: form.Get("Body"), Received: testNow}
			if got[0] != want {
				t.Fatalf("received %+v; want %+v", got[0], want)
			}
		}
		wellFormed := formErr == nil && len(body) <= twilio.MaxBody &&
			form.Get("MessageSid") != "" && form.Get("From") != "" && form.Get("To") != ""
		if wellFormed && len(got) == 0 && twilioGoValid(public, form, header) {
			t.Fatalf("well-formed webhook that twilio-go accepts: status %d, nothing received", rec.Code)
		}
		repeated := false // Twilio never repeats a key; twilio-go signs the first value only
		for _, vs := range form {
			repeated = repeated || len(vs) > 1
		}
		if mode%3 == fuzzSigned && wellFormed && !repeated && len(got) != 1 {
			t.Fatalf("well-formed, signed webhook: status %d, %d received; want 200, 1", rec.Code, len(got))
		}
	})
}

// twilioGoValid is the reference: twilio-go's validator, given the first
// value of each key as its API takes them.
func twilioGoValid(public string, form url.Values, sig string) bool {
	params := make(map[string]string, len(form))
	for k, v := range form {
		params[k] = v[0]
	}
	rv := client.NewRequestValidator(testToken)
	return rv.Validate(public, params, sig)
}
