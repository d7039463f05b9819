package twilio_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carecheck/carecheck/bot"
	"github.com/carecheck/carecheck/bot/twilio"
	"github.com/carecheck/carecheck/bot/twilio/twiliotest"
)

var sidShape = regexp.MustCompile(`^SM[0-9a-f]{32}$`)

// newFake starts a fake Twilio and a Sender pointed at it through the
// Config, as `serve` would with TWILIO_API_URL.
func newFake(t *testing.T, hc *http.Client) (*twiliotest.Server, *twilio.Sender) {
	t.Helper()
	fake := twiliotest.NewServer(testAccount, testToken)
	t.Cleanup(fake.Close)
	cfg := testCfg
	cfg.APIURL = fake.URL
	s, err := twilio.NewSender(cfg, hc)
	if err != nil {
		t.Fatal(err)
	}
	return fake, s
}

func TestSend(t *testing.T) {
	fake, s := newFake(t, nil)
	text := "Hola 👋 ¿cómo te sientes hoy? Responde 1-5 (2+2 & más)"
	sid, err := s.Send(t.Context(), bot.Outbound{ID: "out_1", Channel: bot.SMS, To: "+17735550123", Text: text})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if !sidShape.MatchString(sid) {
		t.Errorf("sid = %q; want SM + 32 hex", sid)
	}
	_, err = s.Send(t.Context(), bot.Outbound{To: "+5215512345678", Text: "second", From: "+13125550111"})
	if err != nil {
		t.Fatalf("Send with From: %v", err)
	}
	got := fake.Messages()
	if len(got) != 2 {
		t.Fatalf("fake recorded %d messages; want 2", len(got))
	}
	cb := testPublic + "/webhooks/twilio/status"
	for i, want := range []twiliotest.Message{
		{SID: sid, To: "+17735550123", From: testFrom, Body: text, StatusCallback: cb},
		{To: "+5215512345678", From: "+13125550111", Body: "second", StatusCallback: cb},
	} {
		g := got[i]
		if want.SID == "" {
			want.SID = g.SID
		}
		g.At = time.Time{}
		if g != want {
			t.Errorf("message %d = %+v; want %+v", i, g, want)
		}
	}
}

func TestSendErrors(t *testing.T) {
	cases := []struct {
		label          string
		status, code   int
		to             string
		wantCode       string
		retry, stopped bool
	}{
		{label: "rate limited", status: 429, code: 20429, wantCode: "20429", retry: true},
		{label: "server error", status: 500, code: 20500, wantCode: "20500", retry: true},
		{label: "unavailable without code", status: 503, wantCode: "503", retry: true},
		{label: "unsubscribed recipient", status: 400, code: 21610, wantCode: "21610", stopped: true},
		{label: "invalid number", status: 400, code: 21211, wantCode: "21211"},
		{label: "not a mobile number", status: 400, code: 21614, wantCode: "21614"},
		{label: "invalid number, found by the fake", to: "12345", wantCode: "21211"},
	}
	for _, c := range cases {
		t.Run(c.label, func(t *testing.T) {
			fake, s := newFake(t, nil)
			if c.status != 0 {
				fake.FailNext(1, c.status, c.code)
			}
			to := c.to
			if to == "" {
				to = "+17735550123"
			}
			sid, err := s.Send(t.Context(), bot.Outbound{To: to, Text: "Time for your check-in"})
			checkSendError(t, sid, err, c.wantCode, c.retry, c.stopped)
			if n := len(fake.Messages()); n != 0 {
				t.Errorf("fake recorded %d messages; want 0", n)
			}
			// The next send goes through.
			if _, err := s.Send(t.Context(), bot.Outbound{To: "+17735550123", Text: "again"}); err != nil {
				t.Errorf("send after failure: %v", err)
			}
		})
	}
}

func checkSendError(t *testing.T, sid string, err error, code string, retry, stopped bool) {
	t.Helper()
	if sid != "" {
		t.Errorf("sid = %q; want none", sid)
	}
	se, ok := errors.AsType[*bot.SendError](err)
	if !ok {
		t.Fatalf("err = %v (%T); want *bot.SendError", err, err)
	}
	if se.Code != code || se.Retryable != retry || se.Stopped != stopped {
		t.Errorf("SendError = code %q retryable %t stopped %t; want %q %t %t (%v)",
			se.Code, se.Retryable, se.Stopped, code, retry, stopped, err)
	}
	if bot.IsRetryable(err) != retry || bot.IsStopped(err) != stopped {
		t.Errorf("IsRetryable, IsStopped = %t, %t; want %t, %t", bot.IsRetryable(err), bot.IsStopped(err), retry, stopped)
	}
}

func TestSendNetworkErrors(t *testing.T) {
	t.Run("server closed", func(t *testing.T) {
		fake, s := newFake(t, nil)
		fake.Close()
		sid, err := s.Send(t.Context(), bot.Outbound{To: "+17735550123", Text: "hello"})
		checkSendError(t, sid, err, "network", true, false)
	})
	t.Run("timeout", func(t *testing.T) {
		hang := hangingServer(t)
		cfg := testCfg
		cfg.APIURL = hang.URL
		s, err := twilio.NewSender(cfg, &http.Client{Timeout: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		sid, err := s.Send(t.Context(), bot.Outbound{To: "+17735550123", Text: "hello"})
		checkSendError(t, sid, err, "network", true, false)
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Send took %v; want about the 50ms timeout", d)
		}
	})
	t.Run("caller's context", func(t *testing.T) {
		hang := hangingServer(t)
		cfg := testCfg
		cfg.APIURL = hang.URL
		s, err := twilio.NewSender(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		sid, err := s.Send(ctx, bot.Outbound{To: "+17735550123", Text: "hello"})
		checkSendError(t, sid, err, "network", true, false)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v; want it to wrap context.DeadlineExceeded", err)
		}
	})
	t.Run("proxy answers HTML", func(t *testing.T) {
		proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			w.Write([]byte("<html><body>502 Bad Gateway</body></html>"))
		}))
		t.Cleanup(proxy.Close)
		cfg := testCfg
		cfg.APIURL = proxy.URL
		s, err := twilio.NewSender(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		sid, err := s.Send(t.Context(), bot.Outbound{To: "+17735550123", Text: "hello"})
		checkSendError(t, sid, err, "502", true, false)
	})
	t.Run("wrong credentials", func(t *testing.T) {
		fake := twiliotest.NewServer(testAccount, testToken)
		t.Cleanup(fake.Close)
		cfg := testCfg
		cfg.APIURL = fake.URL
		cfg.AuthToken = "0000000000000000000000000000dead"
		s, err := twilio.NewSender(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		sid, err := s.Send(t.Context(), bot.Outbound{To: "+17735550123", Text: "hello"})
		checkSendError(t, sid, err, "20003", false, false)
	})
}

func TestSendRefusesBadMessages(t *testing.T) {
	fake, s := newFake(t, nil)
	for _, m := range []bot.Outbound{
		{Text: "no recipient"},
		{To: "+17735550123"},
		{Channel: bot.Telegram, To: "12345", Text: "wrong channel"},
	} {
		_, err := s.Send(t.Context(), m)
		if se, ok := errors.AsType[*bot.SendError](err); !ok || se.Retryable || se.Stopped {
			t.Errorf("Send(%+v) = %v; want a final *bot.SendError", m, err)
		}
	}
	if n := len(fake.Messages()); n != 0 {
		t.Errorf("fake recorded %d messages; want 0", n)
	}
}

// TestSendReusesConnections: answers, errors included, are read to the end,
// so one keep-alive connection carries every send.
func TestSendReusesConnections(t *testing.T) {
	var dials atomic.Int32
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	fake, s := newFake(t, &http.Client{Transport: tr})
	fake.FailNext(3, 400, 21211)
	fake.FailNext(2, 500, 20500)
	for range 20 {
		s.Send(t.Context(), bot.Outbound{To: "+17735550123", Text: "hello"})
	}
	if n := len(fake.Messages()); n != 15 {
		t.Errorf("fake recorded %d messages; want 15", n)
	}
	if n := dials.Load(); n != 1 {
		t.Errorf("dialled %d connections for 20 sends; want 1", n)
	}
}

func TestSendFailureRate(t *testing.T) {
	fake, s := newFake(t, nil)
	fake.SetFailureRate(0.3)
	failed := 0
	for range 200 {
		if _, err := s.Send(t.Context(), bot.Outbound{To: "+17735550123", Text: "hello"}); err != nil {
			if !bot.IsRetryable(err) {
				t.Fatalf("outage error %v is not retryable", err)
			}
			failed++
		}
	}
	if failed < 30 || failed > 90 {
		t.Errorf("%d of 200 sends failed at rate 0.3", failed)
	}
	if n := len(fake.Messages()); n != 200-failed {
		t.Errorf("fake recorded %d; want %d", n, 200-failed)
	}
}

func TestNewSenderValidates(t *testing.T) {
	for _, cfg := range []twilio.Config{
		{},
		{AccountSID: testAccount, AuthToken: "has-dash", FromNumber: testFrom},
		{AccountSID: testAccount, AuthToken: testToken},
		{AccountSID: testAccount, AuthToken: testToken, FromNumber: testFrom, APIURL: "127.0.0.1:9"},
		{AccountSID: testAccount, AuthToken: testToken, FromNumber: testFrom, PublicURL: "cc.example.org"},
	} {
		if _, err := twilio.NewSender(cfg, nil); err == nil {
			t.Errorf("NewSender(%+v) = nil error; want one", cfg)
		}
	}
	if !testCfg.Enabled() || (twilio.Config{AccountSID: testAccount}).Enabled() {
		t.Error("Enabled: want true with credentials, false without")
	}
}

// TestStatusCallbacks: a send through the fake comes back as signed status
// callbacks through StatusHandler, in order.
func TestStatusCallbacks(t *testing.T) {
	cases := []struct {
		label     string
		statuses  []string
		reachable bool // the public URL is the test server's own
		want      []string
	}{
		{label: "default sequence", reachable: true, want: []string{"queued", "sent", "delivered"}},
		{label: "repeated, out of order, behind a proxy", statuses: []string{"sent", "delivered", "sent"},
			want: []string{"sent", "delivered", "sent"}},
		{label: "undelivered", statuses: []string{"sent", "undelivered"}, want: []string{"sent", "undelivered"}},
	}
	for _, c := range cases {
		t.Run(c.label, func(t *testing.T) {
			recv := &recorder{}
			mux := http.NewServeMux()
			ts := httptest.NewServer(mux)
			t.Cleanup(ts.Close)
			cfg := testCfg
			if c.reachable {
				cfg.PublicURL = ts.URL
			}
			mux.Handle("POST "+twilio.StatusPath, twilio.StatusHandler(cfg, recv, fixedNow, nil))

			fake := twiliotest.NewServer(testAccount, testToken)
			t.Cleanup(fake.Close)
			fake.AutoStatus = true
			fake.Statuses = c.statuses
			if !c.reachable {
				fake.CallbackTarget = func(cb string) string { return strings.Replace(cb, cfg.PublicURL, ts.URL, 1) }
			}
			cfg.APIURL = fake.URL
			s, err := twilio.NewSender(cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			sid, err := s.Send(t.Context(), bot.Outbound{To: "+17735550123", Text: "hello"})
			if err != nil {
				t.Fatal(err)
			}
			fake.Close() // waits for the callbacks
			if errs := fake.CallbackErrors(); len(errs) != 0 {
				t.Errorf("callback errors: %v", errs)
			}
			_, got := recv.got()
			var states []string
			for _, st := range got {
				if st.ProviderID != sid {
					t.Errorf("status for %q; want %q", st.ProviderID, sid)
				}
				if (st.Status == "undelivered") != (st.ErrorCode == "30003") {
					t.Errorf("status %q with ErrorCode %q", st.Status, st.ErrorCode)
				}
				states = append(states, st.Status)
			}
			if !slices.Equal(states, c.want) {
				t.Errorf("statuses = %v; want %v", states, c.want)
			}
		})
	}
}

// hangingServer never answers (until the test ends).
func hangingServer(t *testing.T) *httptest.Server {
	t.Helper()
	done := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-done:
		}
	}))
	t.Cleanup(hang.Close)
	t.Cleanup(func() { close(done) })
	return hang
}

// TestSendThroughMessagingService: a message naming a Messaging Service is
// sent with MessagingServiceSid and no From (Twilio picks the number from
// the service's pool); a service the account lacks is refused (21701), a
// malformed one too (21705), neither retried.
func TestSendThroughMessagingService(t *testing.T) {
	fake, s := newFake(t, nil)
	const service = "MG0123456789abcdef0123456789abcdef"
	fake.AddService(service, "+13125550177")
	sid, err := s.Send(t.Context(), bot.Outbound{To: "+17735550123", Text: "through the service", Service: service, From: "+13125550111"})
	if err != nil {
		t.Fatalf("Send through a service: %v", err)
	}
	got := fake.Messages()
	if len(got) != 1 || got[0].SID != sid || got[0].MessagingServiceSID != service || got[0].From != "+13125550177" {
		t.Fatalf("fake recorded %+v; want one message through %s, from its pool's number", got, service)
	}
	sid, err = s.Send(t.Context(), bot.Outbound{To: "+17735550123", Text: "unknown service", Service: "MGffffffffffffffffffffffffffffffff"})
	checkSendError(t, sid, err, "21701", false, false)
	sid, err = s.Send(t.Context(), bot.Outbound{To: "+17735550123", Text: "malformed service", Service: "MG123"})
	checkSendError(t, sid, err, "21705", false, false)
	if n := len(fake.Messages()); n != 1 {
		t.Errorf("fake recorded %d messages; want 1", n)
	}
}
