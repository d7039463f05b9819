package twilio_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/carecheck/carecheck/bot"
	"github.com/carecheck/carecheck/bot/twilio"
	"github.com/carecheck/carecheck/bot/twilio/twiliotest"
)

type nopReceiver struct{}

func (nopReceiver) Receive(context.Context, bot.Inbound) error { return nil }

// discard is a ResponseWriter that keeps nothing, so that the benchmark
// measures the handler.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

// BenchmarkSMSHandler: one signed inbound SMS through limits, form parsing,
// signature verification and the hand-over to a receiver that does nothing.
func BenchmarkSMSHandler(b *testing.B) {
	form, _ := url.ParseQuery(rawSpanish)
	sig := twiliotest.Sign(testToken, testPublic+twilio.SMSPath, form)
	h := twilio.SMSHandler(testCfg, nopReceiver{}, fixedNow, nil)
	b.ReportAllocs()
	b.SetBytes(int64(len(rawSpanish)))
	b.RunParallel(func(pb *testing.PB) {
		req, _ := http.NewRequest(http.MethodPost, "http://cc.internal"+twilio.SMSPath, nil)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Twilio-Signature", sig)
		req.ContentLength = int64(len(rawSpanish))
		w := &discard{h: http.Header{}}
		body := strings.NewReader(rawSpanish)
		for pb.Next() {
			body.Reset(rawSpanish)
			req.Body = io.NopCloser(body)
			clear(w.h)
			h.ServeHTTP(w, req)
		}
	})
}

// BenchmarkSend: twilio-go's CreateMessage against the fake over loopback.
func BenchmarkSend(b *testing.B) {
	fake := twiliotest.NewServer(testAccount, testToken)
	b.Cleanup(fake.Close)
	cfg := testCfg
	cfg.APIURL = fake.URL
	s, err := twilio.NewSender(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	m := bot.Outbound{To: "+17735550123", Text: "Time for your check-in: how is your mood today, 1-5?"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Send(b.Context(), m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSMSWebhookHTTP: signed webhooks over real loopback HTTP (client
// and server share the CPUs), for the requests-per-second figure.
func BenchmarkSMSWebhookHTTP(b *testing.B) {
	form, _ := url.ParseQuery(rawSpanish)
	sig := twiliotest.Sign(testToken, testPublic+twilio.SMSPath, form)
	ts := httptest.NewServer(twilio.SMSHandler(testCfg, nopReceiver{}, fixedNow, nil))
	b.Cleanup(ts.Close)
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	b.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr}
	b.ReportAllocs()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, ts.URL+twilio.SMSPath, strings.NewReader(rawSpanish))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-Twilio-Signature", sig)
			resp, err := hc.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
