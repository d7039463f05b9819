package main

import (
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/carecheck/carecheck/bot/telegram/telegramtest"
	"github.com/carecheck/carecheck/bot/twilio/twiliotest"
)

// usedValues collects every personal value a story used (phone numbers,
// names, what people wrote and what they were sent), so that every stack
// checks every line of its logs for every one of them.
type usedValues struct {
	mu   sync.Mutex
	vals map[string]bool
}

// personalKeys are the API fields that carry a person's data.
var personalKeys = map[string]bool{"name": true, "phone": true, "with": true, "location": true, "note": true}

// add records values: a phone number in its E.164 and national forms, a
// name whole and by part, a text whole.
func (u *usedValues) add(vals ...string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.vals == nil {
		u.vals = map[string]bool{}
	}
	for _, v := range vals {
		v = strings.TrimSpace(v)
		switch {
		case len(v) == 12 && strings.HasPrefix(v, "+1"):
			u.vals[v], u.vals[v[2:]] = true, true
		case utf8.RuneCountInString(v) >= 8:
			// Shorter texts ("YES", "C", "ack 1") are answers and commands
			// whose words the logs may use for other things.
			u.vals[v] = true
			if !strings.Contains(v, "\n") && strings.Count(v, " ") <= 2 {
				for _, part := range strings.Fields(v) {
					if utf8.RuneCountInString(part) >= 5 && isName(part) {
						u.vals[part] = true
					}
				}
			}
		}
	}
}

// isName reports whether s is a capitalised word, as a name part is.
func isName(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return r >= 'A' && r <= 'Z' && strings.IndexFunc(s, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') }) < 0
}

// fromBody records the personal fields of an API request body.
func (u *usedValues) fromBody(body any) {
	m, ok := body.(map[string]any)
	if !ok {
		return
	}
	for k, v := range m {
		if s, ok := v.(string); ok && personalKeys[k] {
			u.add(s)
		}
	}
}

// fromUpdate records the sender's name, chat id and text of a Telegram update.
func (u *usedValues) fromUpdate(update []byte) {
	var x struct {
		Message, Edited *struct {
			Text string `json:"text"`
			From struct {
				ID        int64  `json:"id"`
				FirstName string `json:"first_name"`
			} `json:"from"`
		}
	}
	var raw map[string]json.RawMessage
	if json.Unmarshal(update, &raw) != nil {
		return
	}
	for _, k := range []string{"message", "edited_message"} {
		if b, ok := raw[k]; ok {
			_ = json.Unmarshal(b, &x.Message)
			if m := x.Message; m != nil {
				u.add(m.Text, m.From.FirstName)
				if id := strconv.FormatInt(m.From.ID, 10); len(id) >= 6 {
					u.add(id)
				}
			}
		}
	}
}

// checkLogs fails t for every used value, and every text the fakes were
// asked to send, that appears in logs.
func (u *usedValues) checkLogs(t *testing.T, logs string, tw *twiliotest.Server, tg *telegramtest.Server) {
	t.Helper()
	if tw != nil {
		for _, m := range tw.Messages() {
			u.add(m.To, m.Body)
		}
	}
	if tg != nil {
		for _, m := range tg.Sent() {
			u.add(m.Text)
		}
	}
	u.add(clientPhone, cmPhone, backupPhone, clientName, cmName, backupName)
	for _, leak := range u.leaks(logs) {
		t.Errorf("the logs hold a value the story used: %s", leak)
	}
}

// leaks finds each used value in logs, with the log around it.
func (u *usedValues) leaks(logs string) []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []string
	for v := range u.vals {
		if i := strings.Index(logs, v); i >= 0 {
			out = append(out, strconv.Quote(v)+" in …"+logs[max(0, i-200):min(len(logs), i+len(v)+100)]+"…")
		}
	}
	return out
}

// TestLogCheckFindsLeaks: the check every stack runs at cleanup finds a
// number in its national form, a name part, a text, a Telegram sender.
func TestLogCheckFindsLeaks(t *testing.T) {
	u := &usedValues{}
	u.add("+13125550133", "Rosalind Okonkwo", "I took all my pills tonight", "7")
	u.fromBody(map[string]any{"name": "Ellis Marchetti", "timezone": "America/Chicago"})
	u.fromUpdate(telegramtest.TextUpdate(1, 55501234, "Tomas", "no puedo más con esto"))
	for _, c := range []struct {
		log  string
		leak bool
	}{
		{`{"msg":"send failed","err":"number 3125550133 invalid"}`, true},
		{`{"msg":"x","who":"Okonkwo"}`, true},
		{`{"msg":"x","note":"I took all my pills tonight"}`, true},
		{`{"msg":"x","who":"Marchetti"}`, true},
		{`{"msg":"x","chat":55501234}`, true},
		{`{"msg":"x","t":"no puedo más con esto"}`, true},
		{`{"msg":"answer stored","client_id":"cl_7","value_len":1,"zone":"America/Chicago"}`, false},
	} {
		if got := len(u.leaks(c.log)) > 0; got != c.leak {
			t.Errorf("leaks(%s) found %t; want %t", c.log, got, c.leak)
		}
	}
}
