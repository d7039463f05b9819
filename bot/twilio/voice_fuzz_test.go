package twilio_test

import (
	"context"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/carecheck/carecheck/bot"
	"github.com/carecheck/carecheck/bot/twilio"
	"github.com/carecheck/carecheck/bot/twilio/twiliotest"
)

// echoCore answers every key press by reading back the digits, gathering
// again unless they are "1": what a caller typed goes into the TwiML.
type echoCore struct {
	mu     sync.Mutex
	events []bot.CallEvent
}

func (c *echoCore) record(e bot.CallEvent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, e)
}

func (c *echoCore) CallAnswered(_ context.Context, e bot.CallEvent) (bot.Speech, error) {
	c.record(e)
	return bot.Speech{Lang: "es", Text: "Alerta. Pulse 1.", Gather: true}, nil
}

func (c *echoCore) CallDigits(_ context.Context, e bot.CallEvent) (bot.Speech, error) {
	c.record(e)
	return bot.Speech{Lang: "en", Text: e.Digits, Gather: e.Digits != "1"}, nil
}

func (c *echoCore) CallStatus(_ context.Context, e bot.CallEvent) error { c.record(e); return nil }

// FuzzVoiceWebhooks sends random forms, queries and signatures through the
// three voice handlers (which picks one). It must never panic; the core
// hears an event only for a request whose signature twilio-go accepts,
// and then exactly the form's values with the URL's query as the call's
// reference; every signed, well-formed request is heard; every TwiML
// answer is well-formed XML that says what the core said and gathers to
// the digits path with the same reference.
func FuzzVoiceWebhooks(f *testing.F) {
	f.Add(byte(0), rawVoiceHuman, byte(fuzzSigned), "", callRef)
	f.Add(byte(0), rawVoiceMachine, byte(fuzzSigned), "", callRef)
	f.Add(byte(1), rawDigits("1"), byte(fuzzSigned), "", callRef)
	f.Add(byte(1), rawDigits(`<&"'>`), byte(fuzzSigned), "", `a=<x>&e="'&r=%zz`)
	f.Add(byte(2), rawStatus("no-answer", "0", "487"), byte(fuzzSigned), "", callRef)
	f.Add(byte(2), rawStatus("completed", "12", "200"), byte(fuzzHeaderAsGiven), "RSOYDt4T1cUTdK1PDd93/VVr8B8=", callRef)
	f.Add(byte(1), rawDigits("2"), byte(fuzzNoHeader), "", "")
	paths := []string{twilio.VoicePath, twilio.VoiceDigitsPath, twilio.VoiceStatusPath}
	required := [][]string{{"CallSid"}, {"CallSid"}, {"CallSid", "CallStatus"}}
	f.Fuzz(func(t *testing.T, which byte, body string, mode byte, sig, query string) {
		path := paths[int(which)%3]
		target := "http://cc.internal" + path
		if query != "" {
			target += "?" + query
		}
		req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(body))
		if err != nil || req.URL.Path != path {
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
				req.Header.Set(twilio.SignatureHeader, sig)
			}
		case fuzzSigned:
			req.Header.Set(twilio.SignatureHeader, twiliotest.Sign(testToken, public, form))
		}
		core := &echoCore{}
		var h http.Handler
		switch path {
		case twilio.VoicePath:
			h = twilio.VoiceHandler(testCfg, core, fixedNow, nil)
		case twilio.VoiceDigitsPath:
			h = twilio.VoiceDigitsHandler(testCfg, core, fixedNow, nil)
		default:
			h = twilio.VoiceStatusHandler(testCfg, core, fixedNow, nil)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		switch rec.Code {
		case 200, 400, 403, 413:
		default:
			t.Fatalf("status %d", rec.Code)
		}
		header := req.Header.Get(twilio.SignatureHeader)
		got := core.events
		if len(got) > 0 {
			if len(got) != 1 || rec.Code != 200 || formErr != nil {
				t.Fatalf("core heard %d events, status %d, form error %v", len(got), rec.Code, formErr)
			}
			if !twilioGoValid(public, form, header) {
				t.Fatalf("core heard a webhook whose signature %q twilio-go refuses", header)
			}
			want := bot.CallEvent{Ref: req.URL.RawQuery, CallID: form.Get("CallSid"), Status: form.Get("CallStatus"),
				AnsweredBy: form.Get("AnsweredBy"), Digits: form.Get("Digits"), Received: testNow}
			if got[0] != want {
				t.Fatalf("core heard %+v; want %+v", got[0], want)
			}
		}
		wellFormed := formErr == nil && len(body) <= twilio.MaxBody && req.URL.RawQuery != ""
		for _, k := range required[int(which)%3] {
			wellFormed = wellFormed && form.Get(k) != ""
		}
		repeated := false // Twilio never repeats a key; twilio-go signs the first value only
		for _, vs := range form {
			repeated = repeated || len(vs) > 1
		}
		if mode%3 == fuzzSigned && wellFormed && !repeated && len(got) != 1 {
			t.Fatalf("well-formed, signed webhook: status %d, %d heard; want 200, 1", rec.Code, len(got))
		}
		if rec.Code != 200 || path == twilio.VoiceStatusPath || len(got) == 0 {
			return
		}
		say, action, err := readTwiML(rec.Body.String())
		if err != nil {
			t.Fatalf("TwiML %q: %v", rec.Body.String(), err)
		}
		spoken := "Alerta. Pulse 1."
		if path == twilio.VoiceDigitsPath {
			spoken = form.Get("Digits")
		}
		if xmlSafe(spoken) && say != spoken {
			t.Fatalf("TwiML says %q; the core said %q", say, spoken)
		}
		if gathers := spoken != "1" || path == twilio.VoicePath; gathers && xmlSafe(req.URL.RawQuery) && action != testPublic+twilio.VoiceDigitsPath+"?"+req.URL.RawQuery {
			t.Fatalf("gather action %q; want the digits path with the reference %q", action, req.URL.RawQuery)
		}
	})
}

// readTwiML reads a TwiML document's <Say> text and <Gather action>.
func readTwiML(doc string) (say, action string, err error) {
	dec := xml.NewDecoder(strings.NewReader(doc))
	inSay := false
	for {
		tok, err := dec.Token()
		if err != nil {
			if err.Error() == "EOF" {
				return say, action, nil
			}
			return "", "", err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			inSay = tok.Name.Local == "Say"
			for _, a := range tok.Attr {
				if tok.Name.Local == "Gather" && a.Name.Local == "action" {
					action = a.Value
				}
			}
		case xml.EndElement:
			inSay = false
		case xml.CharData:
			if inSay {
				say += string(tok)
			}
		}
	}
}

// xmlSafe reports whether s survives XML as it is: valid UTF-8 of XML
// characters (others are written as U+FFFD), without the carriage returns
// XML folds.
func xmlSafe(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r == '\r' || r < 0x20 && r != '\t' && r != '\n' || r == 0xFFFE || r == 0xFFFF || r >= 0xD800 && r < 0xE000 {
			return false
		}
	}
	return true
}
