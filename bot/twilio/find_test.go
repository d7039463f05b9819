package twilio_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/carecheck/carecheck/bot"
	"github.com/carecheck/carecheck/bot/twilio"
)

// A message list page as Twilio answers GET Messages.json, byte for byte in
// its shape: "%s" is the messages, then next_page_uri (a JSON string or null).
const rawListPage = `{"end": 1, "first_page_uri": "/2010-04-01/Accounts/AC9f2b5e3c1d4a6b8c0e2f4a6b8c0d1e2f/Messages.json?To=%%2B17735550123&From=%%2B13125550100&PageSize=50&Page=0", ` +
	`"messages": [%s], "next_page_uri": %s, "page": 0, "page_size": 50, "previous_page_uri": null, "start": 0, ` +
	`"uri": "/2010-04-01/Accounts/AC9f2b5e3c1d4a6b8c0e2f4a6b8c0d1e2f/Messages.json?To=%%2B17735550123&From=%%2B13125550100&PageSize=50&Page=0"}`

// rawListed is one message of a list page.
const rawListed = `{"account_sid": "AC9f2b5e3c1d4a6b8c0e2f4a6b8c0d1e2f", "api_version": "2010-04-01", "body": %[2]q, ` +
	`"date_created": %[3]q, "date_sent": %[4]s, "date_updated": %[3]q, "direction": "outbound-api", "error_code": null, ` +
	`"error_message": null, "from": "+13125550100", "messaging_service_sid": null, "num_media": "0", "num_segments": "1", ` +
	`"price": "-0.00790", "price_unit": "USD", "sid": %[1]q, "status": %[5]q, ` +
	`"subresource_uris": {"media": "/2010-04-01/Accounts/AC9f2b5e3c1d4a6b8c0e2f4a6b8c0d1e2f/Messages/%[1]s/Media.json", ` +
	`"feedback": "/2010-04-01/Accounts/AC9f2b5e3c1d4a6b8c0e2f4a6b8c0d1e2f/Messages/%[1]s/Feedback.json"}, ` +
	`"to": "+17735550123", "uri": "/2010-04-01/Accounts/AC9f2b5e3c1d4a6b8c0e2f4a6b8c0d1e2f/Messages/%[1]s.json"}`

// listed is rawListed for one message; sent is date_sent as JSON (null or a
// quoted date).
func listed(sid, body, created, sent, status string) string {
	return fmt.Sprintf(rawListed, sid, body, created, sent, status)
}

// TestFindSentReadsTwilioAnswers: FindSent on Twilio's own list answers. The
// attempt began at 08:30:00.400; the text is "Time for your check-in".
func TestFindSentReadsTwilioAnswers(t *testing.T) {
	const (
		sidA = "SM0a1b2c3d4e5f60718293a4b5c6d7e8f9"
		sidB = "SMd4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9"
		text = "Time for your check-in"
	)
	since := time.Date(2025, 3, 9, 8, 30, 0, 400_000_000, time.UTC)
	next := `"/2010-04-01/Accounts/AC9f2b5e3c1d4a6b8c0e2f4a6b8c0d1e2f/Messages.json?To=%2B17735550123&From=%2B13125550100&PageSize=50&Page=1&PageToken=PA` + sidB + `"`
	cases := []struct {
		label   string
		pages   []string // answers in order: page 0, then what next_page_uri asks for
		status  int      // of every answer; 0 means 200
		want    string   // the sid found, "" for none
		wantErr bool
		retry   bool
	}{
		{label: "queued, no date_sent yet",
			pages: []string{fmt.Sprintf(rawListPage, listed(sidA, text, "Sun, 09 Mar 2025 08:30:00 +0000", "null", "queued"), "null")},
			want:  sidA},
		{label: "delivered, with date_sent and price",
			pages: []string{fmt.Sprintf(rawListPage, listed(sidA, text, "Sun, 09 Mar 2025 08:30:01 +0000", `"Sun, 09 Mar 2025 08:30:03 +0000"`, "delivered"), "null")},
			want:  sidA},
		{label: "another text to the same person",
			pages: []string{fmt.Sprintf(rawListPage, listed(sidA, "Reply 1-5", "Sun, 09 Mar 2025 08:30:01 +0000", "null", "queued"), "null")}},
		{label: "the same text, sent before the attempt",
			pages: []string{fmt.Sprintf(rawListPage, listed(sidA, text, "Sun, 09 Mar 2025 08:20:00 +0000", `"Sun, 09 Mar 2025 08:20:01 +0000"`, "delivered"), "null")}},
		{label: "undelivered copy counts as not sent",
			pages: []string{fmt.Sprintf(rawListPage, listed(sidA, text, "Sun, 09 Mar 2025 08:30:01 +0000", `"Sun, 09 Mar 2025 08:30:02 +0000"`, "undelivered"), "null")}},
		{label: "two copies: the oldest since the attempt",
			pages: []string{fmt.Sprintf(rawListPage, listed(sidB, text, "Sun, 09 Mar 2025 08:31:00 +0000", "null", "queued")+", "+
				listed(sidA, text, "Sun, 09 Mar 2025 08:30:01 +0000", "null", "sent"), "null")},
			want: sidA},
		{label: "on the second page",
			pages: []string{
				fmt.Sprintf(rawListPage, listed(sidB, "Reply 1-5", "Sun, 09 Mar 2025 08:31:00 +0000", "null", "queued"), next),
				fmt.Sprintf(rawListPage, listed(sidA, text, "Sun, 09 Mar 2025 08:30:01 +0000", "null", "queued"), "null"),
			},
			want: sidA},
		{label: "empty list", pages: []string{fmt.Sprintf(rawListPage, "", "null")}},
		{label: "Twilio down", status: 503, pages: []string{`{"code": 20503, "message": "Service Unavailable", "more_info": "https://www.twilio.com/docs/errors/20503", "status": 503}`},
			wantErr: true, retry: true},
		{label: "date_created unreadable",
			pages:   []string{fmt.Sprintf(rawListPage, listed(sidA, text, "2025-03-09T08:30:01Z", "null", "queued"), "null")},
			wantErr: true},
	}
	for _, c := range cases {
		t.Run(c.label, func(t *testing.T) {
			asked := 0
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				q := r.URL.Query()
				if user, pass, _ := r.BasicAuth(); user != testAccount || pass != testToken || r.Method != http.MethodGet ||
					r.URL.Path != "/2010-04-01/Accounts/"+testAccount+"/Messages.json" ||
					q.Get("To") != "+17735550123" || q.Get("From") != testFrom || q.Get("PageSize") != "50" {
					t.Errorf("request %s %s, auth %q", r.Method, r.URL, r.Header.Get("Authorization"))
				}
				if asked > 0 && (q.Get("Page") != "1" || q.Get("PageToken") != "PA"+sidB) {
					t.Errorf("next page asked as %s", r.URL.RawQuery)
				}
				w.Header().Set("Content-Type", "application/json")
				if c.status != 0 {
					w.WriteHeader(c.status)
				}
				w.Write([]byte(c.pages[min(asked, len(c.pages)-1)]))
				asked++
			}))
			t.Cleanup(ts.Close)
			cfg := testCfg
			cfg.APIURL = ts.URL
			s, err := twilio.NewSender(cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			sid, found, err := s.FindSent(t.Context(), bot.Outbound{ID: "out_1", Channel: bot.SMS, To: "+17735550123", Text: text}, since)
			if c.wantErr {
				se, ok := errors.AsType[*bot.SendError](err)
				if !ok || se.Retryable != c.retry {
					t.Fatalf("FindSent = %q, %t, %v; want a *bot.SendError, retryable %t", sid, found, err, c.retry)
				}
				if strings.Contains(err.Error(), "7735550123") {
					t.Errorf("the error names the phone: %v", err)
				}
				return
			}
			if err != nil || sid != c.want || found != (c.want != "") {
				t.Errorf("FindSent = %q, %t, %v; want %q", sid, found, err, c.want)
			}
			if asked != len(c.pages) {
				t.Errorf("asked for %d pages; want %d", asked, len(c.pages))
			}
		})
	}
}

// TestFindSent asks the fake Twilio what the sender sent.
func TestFindSent(t *testing.T) {
	fake, s := newFake(t, nil)
	ctx := t.Context()
	m := bot.Outbound{ID: "out_1", Channel: bot.SMS, To: "+17735550123", Text: "Hola 👋 ¿cómo te sientes hoy? Responde 1-5"}
	since := time.Now()
	sid, err := s.Send(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	// Newer messages to the same person: a page and more of them.
	for i := range 60 {
		if _, err := s.Send(ctx, bot.Outbound{To: m.To, Text: fmt.Sprintf("later %d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if got, found, err := s.FindSent(ctx, m, since); err != nil || !found || got != sid {
		t.Errorf("FindSent(sent message) = %q, %t, %v; want %q", got, found, err, sid)
	}
	other := m
	other.Text = "Hola, ¿cómo estás?"
	if got, found, err := s.FindSent(ctx, other, since); err != nil || found {
		t.Errorf("FindSent(another text) = %q, %t, %v; want not found", got, found, err)
	}
	other = m
	other.To = "+17735550124"
	if got, found, err := s.FindSent(ctx, other, since); err != nil || found {
		t.Errorf("FindSent(another person) = %q, %t, %v; want not found", got, found, err)
	}
	other = m
	other.From = "+13125550111"
	if got, found, err := s.FindSent(ctx, other, since); err != nil || found {
		t.Errorf("FindSent(another sending number) = %q, %t, %v; want not found", got, found, err)
	}
	if got, found, err := s.FindSent(ctx, m, since.Add(time.Minute)); err != nil || found {
		t.Errorf("FindSent(an attempt that began after it) = %q, %t, %v; want not found", got, found, err)
	}
	fake.SetStatus(sid, "failed")
	if got, found, err := s.FindSent(ctx, m, since); err != nil || found {
		t.Errorf("FindSent(failed copy) = %q, %t, %v; want not found", got, found, err)
	}
	if n := len(fake.Messages()); n != 61 {
		t.Errorf("fake recorded %d messages; want 61 (a lookup sends nothing)", n)
	}
	// Twilio unreachable: a retryable error that names no phone (the
	// request's query has them).
	fake.Close()
	_, found, err := s.FindSent(ctx, m, since)
	if se, ok := errors.AsType[*bot.SendError](err); !ok || !se.Retryable || found {
		t.Fatalf("FindSent with Twilio down = %t, %v; want a retryable *bot.SendError", found, err)
	}
	if strings.Contains(err.Error(), "7735550123") || strings.Contains(err.Error(), "3125550100") {
		t.Errorf("the error names a phone: %v", err)
	}
}

// TestFindSentThroughMessagingService: a message sent through a Messaging
// Service is found by its recipient and service, whatever number the
// service sent it from; the same text sent from a number is not it.
func TestFindSentThroughMessagingService(t *testing.T) {
	fake, s := newFake(t, nil)
	ctx := t.Context()
	const service = "MG0123456789abcdef0123456789abcdef"
	fake.AddService(service, "+13125550177", "+13125550178")
	m := bot.Outbound{ID: "out_1", Channel: bot.SMS, To: "+17735550123", Text: "Time for your check-in", Service: service}
	since := time.Now()
	if _, err := s.Send(ctx, bot.Outbound{To: m.To, Text: m.Text}); err != nil {
		t.Fatal(err)
	}
	if got, found, err := s.FindSent(ctx, m, since); err != nil || found {
		t.Errorf("FindSent(sent from the default number, not the service) = %q, %t, %v; want not found", got, found, err)
	}
	sid, err := s.Send(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if got, found, err := s.FindSent(ctx, m, since); err != nil || !found || got != sid {
		t.Errorf("FindSent(sent through the service) = %q, %t, %v; want %q", got, found, err, sid)
	}
	other := m
	other.Service = "MGffffffffffffffffffffffffffffffff"
	if got, found, err := s.FindSent(ctx, other, since); err != nil || found {
		t.Errorf("FindSent(another service) = %q, %t, %v; want not found", got, found, err)
	}
}
