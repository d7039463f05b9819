package twiliotest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"

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
