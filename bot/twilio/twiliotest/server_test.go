package twiliotest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/carecheck/carecheck/bot/twilio/twiliotest"
)

const (
	account = "AC9f2b5e3c1d4a6b8c0e2f4a6b8c0d1e2f"
	token   = "5c2f9e1a7b3d4c6e8f0a1b2c3d4e5f60"
)

func TestSignKnownVector(t *testing.T) {
	// The vector of twilio-go's own validator tests.
	form := url.Values{
		"Digits": {"1234"}, "CallSid": {"CA1234567890ABCDE"}, "To": {"+18005551212"}, "Caller": {"+14158675309"},
		"From": {"+14158675309"}, "ReasonConferenceEnded": {"test"}, "Reason": {"Participant"},
	}
	if got, want := twiliotest.Sign("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", form), "vOEb5UThFn24KEfnOFLQY2AE5FY="; got != want {
		t.Errorf("Sign = %q; want %q", got, want)
	}
}

func TestSignAcceptedByTwilioGo(t *testing.T) {
	rv := client.NewRequestValidator(token)
	for _, body := range []string{"hello", "", "2+2 & más 😊", strings.Repeat("ñ", 1600)} {
		form := twiliotest.SMSForm("SM11111111111111111111111111111111", "+17735550123", "+13125550100", body)
		u := "https://cc.example.org/webhooks/twilio/sms?x=1"
		params := map[string]string{}
		for k, v := range form {
			params[k] = v[0]
		}
		if !rv.Validate(u, params, twiliotest.Sign(token, u, form)) {
			t.Errorf("twilio-go refuses Sign for body %q", body)
		}
	}
}

func post(t *testing.T, srv *twiliotest.Server, path, user, pass string, form url.Values) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("answer is not JSON: %v", err)
	}
	return resp, body
}

const messagesPath = "/2010-04-01/Accounts/" + account + "/Messages.json"

func TestCreateMessage(t *testing.T) {
	at := time.Date(2025, 3, 9, 8, 30, 0, 0, time.UTC)
	srv := twiliotest.NewServer(account, token)
	srv.Now = func() time.Time { return at }
	t.Cleanup(srv.Close)
	form := url.Values{"To": {"+17735550123"}, "From": {"+13125550100"}, "Body": {"hola 😊"},
		"StatusCallback": {"https://cc.example.org/webhooks/twilio/status"}}

	resp, body := post(t, srv, messagesPath, account, token, form)
	if resp.StatusCode != 201 {
		t.Fatalf("status = %d; want 201 (%v)", resp.StatusCode, body)
	}
	sid, _ := body["sid"].(string)
	if !regexp.MustCompile(`^SM[0-9a-f]{32}$`).MatchString(sid) {
		t.Errorf("sid = %q; want SM + 32 hex", sid)
	}
	for k, want := range map[string]any{
		"status": "queued", "to": "+17735550123", "from": "+13125550100", "body": "hola 😊",
		"account_sid": account, "direction": "outbound-api", "num_segments": "1",
		"date_created": "Sun, 09 Mar 2025 08:30:00 +0000", "error_code": nil,
	} {
		if body[k] != want {
			t.Errorf("%s = %v; want %v", k, body[k], want)
		}
	}
	want := twiliotest.Message{SID: sid, To: "+17735550123", From: "+13125550100", Body: "hola 😊",
		StatusCallback: "https://cc.example.org/webhooks/twilio/status", At: at}
	if got := srv.Messages(); len(got) != 1 || got[0] != want {
		t.Errorf("Messages() = %+v; want [%+v]", got, want)
	}
}

func TestCreateMessageRefusals(t *testing.T) {
	srv := twiliotest.NewServer(account, token)
	t.Cleanup(srv.Close)
	ok := url.Values{"To": {"+17735550123"}, "From": {"+13125550100"}, "Body": {"hi"}}
	with := func(k, v string) url.Values {
		f := url.Values{}
		for kk, vv := range ok {
			f[kk] = vv
		}
		f.Set(k, v)
		return f
	}
	cases := []struct {
		label       string
		path        string
		user, pass  string
		form        url.Values
		status      int
		code        float64
		scriptedFor int // FailNext(1, status, code) before
	}{
		{label: "no auth", status: 401, code: 20003, form: ok},
		{label: "wrong token", user: account, pass: "nope", status: 401, code: 20003, form: ok},
		{label: "another account", path: "/2010-04-01/Accounts/AC00000000000000000000000000000000/Messages.json",
			user: account, pass: token, status: 404, code: 20404, form: ok},
		{label: "no To", user: account, pass: token, form: with("To", ""), status: 400, code: 21604},
		{label: "no Body", user: account, pass: token, form: with("Body", ""), status: 400, code: 21602},
		{label: "To not a number", user: account, pass: token, form: with("To", "555-0123"), status: 400, code: 21211},
		{label: "too long", user: account, pass: token, form: with("Body", strings.Repeat("a", 1601)), status: 400, code: 21617},
		{label: "scripted stop", user: account, pass: token, form: ok, status: 400, code: 21610, scriptedFor: 1},
		{label: "scripted 429", user: account, pass: token, form: ok, status: 429, code: 20429, scriptedFor: 1},
	}
	for _, c := range cases {
		t.Run(c.label, func(t *testing.T) {
			if c.scriptedFor > 0 {
				srv.FailNext(c.scriptedFor, c.status, int(c.code))
			}
			path := c.path
			if path == "" {
				path = messagesPath
			}
			resp, body := post(t, srv, path, c.user, c.pass, c.form)
			if resp.StatusCode != c.status || body["code"] != c.code || body["status"] != float64(c.status) {
				t.Errorf("answer = %d %v; want %d with code %v", resp.StatusCode, body, c.status, c.code)
			}
			if m, _ := body["message"].(string); m == "" {
				t.Errorf("answer without message: %v", body)
			}
		})
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("recorded %d messages; want 0", n)
	}
}

func TestWaitFor(t *testing.T) {
	srv := twiliotest.NewServer(account, token)
	t.Cleanup(srv.Close)
	send := func(to string) {
		post(t, srv, messagesPath, account, token, url.Values{"To": {to}, "From": {"+13125550100"}, "Body": {"hi"}})
	}
	send("+17735550001")

	// A message already there.
	m, err := srv.WaitFor(t.Context(), func(m twiliotest.Message) bool { return m.To == "+17735550001" })
	if err != nil || m.To != "+17735550001" {
		t.Errorf("WaitFor past = %+v, %v", m, err)
	}

	// One still to come.
	got := make(chan twiliotest.Message, 1)
	go func() {
		m, _ := srv.WaitFor(t.Context(), func(m twiliotest.Message) bool { return m.To == "+17735550003" })
		got <- m
	}()
	send("+17735550002")
	send("+17735550003")
	if m := <-got; m.To != "+17735550003" {
		t.Errorf("WaitFor future = %+v", m)
	}

	// None will come.
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if _, err := srv.WaitFor(ctx, func(twiliotest.Message) bool { return false }); err == nil {
		t.Error("WaitFor with nothing matching: want an error")
	}
}

func TestSMSForm(t *testing.T) {
	f := twiliotest.SMSForm("SM11111111111111111111111111111111", "+17735550123", "+13125550100", "estoy bien 😊")
	for k, want := range map[string]string{
		"MessageSid": "SM11111111111111111111111111111111", "SmsSid": "SM11111111111111111111111111111111",
		"From": "+17735550123", "To": "+13125550100", "Body": "estoy bien 😊", "NumMedia": "0",
		"SmsStatus": "received", "ApiVersion": "2010-04-01", "FromCity": "CHICAGO", "ToCountry": "US",
	} {
		if got := f.Get(k); got != want {
			t.Errorf("%s = %q; want %q", k, got, want)
		}
	}
}

func TestSegments(t *testing.T) {
	for _, c := range []struct {
		body string
		want int
	}{
		{"", 1},
		{strings.Repeat("a", 160), 1},
		{strings.Repeat("a", 161), 2},
		{strings.Repeat("a", 306), 2},
		{strings.Repeat("a", 307), 3},
		{strings.Repeat("ñ", 160), 1}, // GSM-7 has ñ
		{strings.Repeat("€", 80), 1},  // escape: two septets each
		{strings.Repeat("€", 81), 2},
		{strings.Repeat("á", 70), 1}, // not GSM-7: UCS-2
		{strings.Repeat("á", 71), 2},
		{strings.Repeat("😊", 35), 1}, // surrogate pairs
		{strings.Repeat("😊", 36), 2},
	} {
		if got := twiliotest.Segments(c.body); got != c.want {
			t.Errorf("Segments(%d × %q) = %d; want %d", len([]rune(c.body)), []rune(c.body)[:min(1, len(c.body))], got, c.want)
		}
	}
}

// toFake points twilio-go's requests for api.twilio.com at the fake.
type toFake struct{ base string }

func (f toFake) RoundTrip(r *http.Request) (*http.Response, error) {
	u, _ := url.Parse(f.base)
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host, r.Host = u.Scheme, u.Host, ""
	return http.DefaultTransport.RoundTrip(r)
}

// realClient is twilio-go's own API client, pointed at the fake.
func realClient(srv *twiliotest.Server, user, pass string) *openapi.ApiService {
	c := &client.Client{Credentials: client.NewCredentials(user, pass), HTTPClient: &http.Client{Transport: toFake{srv.URL}}}
	c.SetAccountSid(user)
	return openapi.NewApiService(&client.RequestHandler{Client: c})
}

// TestListMessages: twilio-go's ListMessage and PageMessage parse the fake's
// list: filtered by To and From, newest first, paged through next_page_uri.
func TestListMessages(t *testing.T) {
	at := time.Date(2025, 3, 9, 8, 30, 0, 0, time.UTC)
	srv := twiliotest.NewServer(account, token)
	srv.Now = func() time.Time { at = at.Add(time.Second); return at }
	t.Cleanup(srv.Close)
	send := func(to, from, body string) {
		resp, b := post(t, srv, messagesPath, account, token, url.Values{"To": {to}, "From": {from}, "Body": {body}})
		if resp.StatusCode != 201 {
			t.Fatalf("send: %d %v", resp.StatusCode, b)
		}
	}
	for i := range 5 {
		send("+17735550001", "+13125550100", fmt.Sprintf("to one %d", i))
	}
	send("+17735550002", "+13125550100", "to two")
	send("+17735550001", "+13125550199", "to one from another number")

	api := realClient(srv, account, token)
	got, err := api.ListMessage((&openapi.ListMessageParams{}).SetTo("+17735550001").SetFrom("+13125550100").SetPageSize(2))
	if err != nil {
		t.Fatalf("ListMessage: %v", err)
	}
	var bodies []string
	for _, m := range got {
		bodies = append(bodies, *m.Body)
		if *m.Status != "queued" || m.DateSent != nil || *m.Direction != "outbound-api" {
			t.Errorf("message %s: status %v, date_sent %v, direction %v; want queued, null, outbound-api", *m.Sid, *m.Status, m.DateSent, *m.Direction)
		}
	}
	if want := []string{"to one 4", "to one 3", "to one 2", "to one 1", "to one 0"}; !slices.Equal(bodies, want) {
		t.Errorf("ListMessage bodies = %q; want %q (newest first, filtered, across 3 pages)", bodies, want)
	}

	// One page, as FindSent reads it.
	page, err := api.PageMessage((&openapi.ListMessageParams{}).SetTo("+17735550001").SetPageSize(2), "", "")
	if err != nil {
		t.Fatalf("PageMessage: %v", err)
	}
	if page.Page != 0 || page.PageSize != 2 || page.Start != 0 || page.End != 1 || len(page.Messages) != 2 || page.NextPageUri == nil {
		t.Errorf("first page = page %d size %d start %d end %d, %d messages, next %v", page.Page, page.PageSize, page.Start, page.End, len(page.Messages), page.NextPageUri)
	}
	if *page.Messages[0].Body != "to one from another number" || *page.Messages[0].DateCreated != "Sun, 09 Mar 2025 08:30:07 +0000" {
		t.Errorf("newest = %q at %q", *page.Messages[0].Body, *page.Messages[0].DateCreated)
	}
	next, _ := url.Parse(*page.NextPageUri)
	page2, err := api.PageMessage((&openapi.ListMessageParams{}).SetTo("+17735550001").SetPageSize(2), next.Query().Get("PageToken"), next.Query().Get("Page"))
	if err != nil || page2.Page != 1 || page2.Start != 2 || len(page2.Messages) != 2 || *page2.Messages[0].Body != "to one 3" {
		t.Errorf("second page = %+v, %v", page2, err)
	}

	// The status the fake was told shows, with date_sent.
	srv.SetStatus(*page.Messages[0].Sid, "delivered")
	page, err = api.PageMessage((&openapi.ListMessageParams{}).SetTo("+17735550001").SetPageSize(1), "", "")
	if err != nil || *page.Messages[0].Status != "delivered" || page.Messages[0].DateSent == nil {
		t.Errorf("after SetStatus: %+v, %v", page.Messages[0], err)
	}

	// Nothing matching: an empty list, no next page.
	page, err = api.PageMessage((&openapi.ListMessageParams{}).SetTo("+17735559999"), "", "")
	if err != nil || len(page.Messages) != 0 || page.NextPageUri != nil || page.PageSize != 50 {
		t.Errorf("empty list = %+v, %v", page, err)
	}

	// Credentials as for sending.
	if _, err := realClient(srv, account, "nope").PageMessage(nil, "", ""); err == nil || !strings.Contains(err.Error(), "20003") {
		t.Errorf("list with a wrong token = %v; want Twilio error 20003", err)
	}
}

// TestListMessagesAnswer: the list answer has the keys and shapes of
// Twilio's own (https://www.twilio.com/docs/messaging/api/message-resource#read-multiple-message-resources).
func TestListMessagesAnswer(t *testing.T) {
	srv := twiliotest.NewServer(account, token)
	srv.Now = func() time.Time { return time.Date(2025, 3, 9, 8, 30, 0, 0, time.UTC) }
	t.Cleanup(srv.Close)
	post(t, srv, messagesPath, account, token, url.Values{"To": {"+17735550001"}, "From": {"+13125550100"}, "Body": {"hi"}})
	post(t, srv, messagesPath, account, token, url.Values{"To": {"+17735550001"}, "From": {"+13125550100"}, "Body": {"again"}})
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+messagesPath+"?To=%2B17735550001&PageSize=1", nil)
	req.SetBasicAuth(account, token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 {
		t.Fatalf("answer %d, %v", resp.StatusCode, err)
	}
	base := "/2010-04-01/Accounts/" + account + "/Messages.json"
	for k, want := range map[string]any{
		"page": 0.0, "page_size": 1.0, "start": 0.0, "end": 0.0, "previous_page_uri": nil,
		"first_page_uri": base + "?Page=0&PageSize=1&To=%2B17735550001",
		"uri":            base + "?Page=0&PageSize=1&To=%2B17735550001",
	} {
		if body[k] != want {
			t.Errorf("%s = %v; want %v", k, body[k], want)
		}
	}
	msgs, _ := body["messages"].([]any)
	if len(msgs) != 1 {
		t.Fatalf("messages = %v", body["messages"])
	}
	m, _ := msgs[0].(map[string]any)
	if nextURI, _ := body["next_page_uri"].(string); nextURI != base+"?Page=1&PageSize=1&PageToken=PA"+m["sid"].(string)+"&To=%2B17735550001" {
		t.Errorf("next_page_uri = %q", nextURI)
	}
	for _, k := range []string{"account_sid", "api_version", "body", "date_created", "date_sent", "date_updated", "direction",
		"error_code", "error_message", "from", "messaging_service_sid", "num_media", "num_segments", "price", "price_unit",
		"sid", "status", "subresource_uris", "to", "uri"} {
		if _, ok := m[k]; !ok {
			t.Errorf("message without %q: %v", k, m)
		}
	}
}
