package twilio_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"testing"

	"github.com/carecheck/carecheck/bot/twilio"
	"github.com/carecheck/carecheck/bot/twilio/twiliotest"
)

// TestSignatureAgreesWithTwilioGo: for each public URL configuration and each
// URL a signature may have been computed over, the handler accepts exactly
// when twilio-go's RequestValidator does.
func TestSignatureAgreesWithTwilioGo(t *testing.T) {
	form, _ := url.ParseQuery(rawEmoji)
	var accepted, refused int
	for _, public := range []string{
		"https://cc.example.org", "https://cc.example.org/", "https://cc.example.org:8443",
		"http://127.0.0.1:8080", "http://localhost", "https://example.org/carecheck",
	} {
		cfg := testCfg
		cfg.PublicURL = public
		base := strings.TrimSuffix(public, "/")
		for _, target := range []string{twilio.SMSPath, twilio.SMSPath + "?a=1&b=%20x"} {
			exact := base + target
			for _, signed := range []string{
				exact,
				strings.Replace(exact, "cc.example.org", "cc.example.org:443", 1),
				strings.Replace(exact, "cc.example.org:8443", "cc.example.org", 1),
				strings.Replace(exact, "127.0.0.1:8080", "127.0.0.1", 1),
				strings.Replace(exact, "localhost", "localhost:80", 1),
				strings.Replace(exact, "localhost", "localhost:8080", 1),
				strings.Replace(exact, "https:", "http:", 1),
				strings.Replace(exact, "?a=1&b=%20x", "", 1),
				exact + "/",
			} {
				sig := twiliotest.Sign(testToken, signed, form)
				want := twilioGoValid(exact, form, sig)
				req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(rawEmoji))
				req.Header.Set("X-Twilio-Signature", sig)
				rec := httptest.NewRecorder()
				twilio.SMSHandler(cfg, &recorder{}, fixedNow, nil).ServeHTTP(rec, req)
				got := rec.Code == http.StatusOK
				if got != want {
					t.Errorf("public %s, request %s, signed over %s: accepted %t; twilio-go %t", public, target, signed, got, want)
				}
				if got {
					accepted++
				} else {
					refused++
				}
			}
		}
	}
	if accepted < 12 || refused < 12 {
		t.Errorf("%d accepted, %d refused: the cases do not cover both answers", accepted, refused)
	}
}

// TestForgedFormIsCheap: a forged 64 KiB form made to hurt a quadratic
// signature check (one big value, thousands of keys) is refused in linear
// time and memory.
func TestForgedFormIsCheap(t *testing.T) {
	var b strings.Builder
	b.WriteString("A=" + strings.Repeat("x", 32<<10))
	for i := 0; b.Len() < twilio.MaxBody-16; i++ {
		fmt.Fprintf(&b, "&b%d=", i)
	}
	body := b.String()
	h := twilio.SMSHandler(testCfg, &recorder{}, fixedNow, nil)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	req := httptest.NewRequest(http.MethodPost, twilio.SMSPath, strings.NewReader(body))
	req.Header.Set("X-Twilio-Signature", "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	runtime.ReadMemStats(&after)
	if rec.Code != http.StatusForbidden {
		t.Errorf("status = %d; want 403", rec.Code)
	}
	// twilio-go's validator allocates about 450 MB for this request.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
		t.Errorf("a forged request allocated %d MB; want under 8", alloc>>20)
	}
}
