package telegram

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	tgbot "github.com/go-telegram/bot"

	"github.com/carecheck/carecheck/bot"
	"github.com/carecheck/carecheck/bot/telegram/telegramtest"
)

func TestSend(t *testing.T) {
	type failure struct {
		status      int
		description string
	}
	question := bot.Outbound{ID: "out-1", Channel: bot.Telegram, To: "5512345678", Text: "¿Cómo te sientes hoy? 🙂",
		Buttons: []bot.Button{{Label: "Muy mal", Data: "a:occ-9f2:q1:1"}, {Label: "Regular", Data: "a:occ-9f2:q1:2"}, {Label: "Bien", Data: "a:occ-9f2:q1:3"}}}
	tests := []struct {
		label       string
		fail        *failure // the fake's scripted answer; nil: success
		out         bot.Outbound
		wantID      string
		wantSent    *telegramtest.Message // ChatID, Text, Buttons compared
		wantCode    string
		wantRetry   bool
		wantStopped bool
		wantCalls   int // sendMessage calls the fake answers
	}{
		{label: "text and inline keyboard", out: question, wantID: "5512345678:1", wantCalls: 1,
			wantSent: &telegramtest.Message{ChatID: 5512345678, Text: question.Text, Buttons: question.Buttons}},
		{label: "plain text", out: bot.Outbound{ID: "out-2", To: "5512345678", Text: "Gracias."}, wantID: "5512345678:1", wantCalls: 1,
			wantSent: &telegramtest.Message{ChatID: 5512345678, Text: "Gracias."}},
		{label: "blocked: stopped", out: question, fail: &failure{403, "Forbidden: bot was blocked by the user"},
			wantCode: "403", wantStopped: true, wantCalls: 1},
		{label: "deactivated: stopped", out: question, fail: &failure{403, "Forbidden: user is deactivated"},
			wantCode: "403", wantStopped: true, wantCalls: 1},
		{label: "flood: retryable", out: question, fail: &failure{429, "Too Many Requests: retry after 7"},
			wantCode: "429", wantRetry: true, wantCalls: 1},
		{label: "server error: retryable", out: question, fail: &failure{500, "Internal Server Error"},
			wantCode: "500", wantRetry: true, wantCalls: 1},
		{label: "bad gateway: retryable", out: question, fail: &failure{502, "Bad Gateway"},
			wantCode: "502", wantRetry: true, wantCalls: 1},
		{label: "chat not found: neither", out: question, fail: &failure{400, "Bad Request: chat not found"},
			wantCode: "400", wantCalls: 1},
		{label: "recipient not a chat id", out: bot.Outbound{ID: "out-3", To: "+15551234567x", Text: "hi"}, wantCode: "invalid"},
		{label: "empty text", out: bot.Outbound{ID: "out-4", To: "42", Text: "  "}, wantCode: "invalid"},
		{label: "button data over 64 bytes", out: bot.Outbound{ID: "out-5", To: "42", Text: "hi",
			Buttons: []bot.Button{{Label: "x", Data: strings.Repeat("d", 65)}}}, wantCode: "invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.label, func(t *testing.T) {
			h := newHarness(t, nil, nil)
			if tt.fail != nil {
				h.api.FailNext(1, tt.fail.status, tt.fail.description)
			}
			id, err := h.ch.Send(ctxTimeout(t), tt.out)
			if id != tt.wantID {
				t.Errorf("id = %q; want %q", id, tt.wantID)
			}
			if tt.wantCode == "" && err != nil {
				t.Errorf("err = %v; want nil", err)
			}
			if tt.wantCode != "" {
				var se *bot.SendError
				if !errors.As(err, &se) {
					t.Fatalf("err = %v; want *bot.SendError", err)
				}
				if se.Code != tt.wantCode || se.Retryable != tt.wantRetry || se.Stopped != tt.wantStopped {
					t.Errorf("SendError = {Code %s, Retryable %t, Stopped %t}; want {%s, %t, %t}",
						se.Code, se.Retryable, se.Stopped, tt.wantCode, tt.wantRetry, tt.wantStopped)
				}
			}
			if n := len(h.calls("sendMessage")); n != tt.wantCalls {
				t.Errorf("sendMessage calls = %d; want %d", n, tt.wantCalls)
			}
			if n := h.api.PendingFailures(); n != 0 {
				t.Errorf("%d scripted failures unused", n)
			}
			sent := h.api.Sent()
			switch {
			case tt.wantSent == nil && len(sent) > 0:
				t.Errorf("sent %+v; want nothing", sent)
			case tt.wantSent != nil && len(sent) != 1:
				t.Errorf("sent %d messages; want 1", len(sent))
			case tt.wantSent != nil:
				got := sent[0]
				if got.ChatID != tt.wantSent.ChatID || got.Text != tt.wantSent.Text || !reflect.DeepEqual(got.Buttons, tt.wantSent.Buttons) {
					t.Errorf("sent {%d %q %v}; want {%d %q %v}", got.ChatID, got.Text, got.Buttons,
						tt.wantSent.ChatID, tt.wantSent.Text, tt.wantSent.Buttons)
				}
			}
		})
	}
}

// TestSendHonoursRetryAfter: after a 429 with retry_after 7, sends to that
// chat are refused without calling Telegram until 7 s have passed; other
// chats are not held back.
func TestSendHonoursRetryAfter(t *testing.T) {
	h := newHarness(t, nil, nil)
	ctx := ctxTimeout(t)
	h.api.FailNext(1, 429, "Too Many Requests: retry after 7")
	out := bot.Outbound{ID: "out-1", To: "42", Text: "hola"}
	_, err := h.ch.Send(ctx, out)
	if d, ok := RetryAfter(err); !ok || d != 7*time.Second || !bot.IsRetryable(err) {
		t.Fatalf("first send: RetryAfter = %v, %t, retryable %t; want 7s, true, true (err %v)", d, ok, bot.IsRetryable(err), err)
	}

	h.clock.Advance(3 * time.Second)
	_, err = h.ch.Send(ctx, out)
	if d, ok := RetryAfter(err); !ok || d != 4*time.Second || !bot.IsRetryable(err) {
		t.Errorf("send after 3s: RetryAfter = %v, %t, retryable %t; want 4s, true, true", d, ok, bot.IsRetryable(err))
	}
	if n := len(h.calls("sendMessage")); n != 1 {
		t.Errorf("sendMessage calls = %d; want 1 (held back)", n)
	}
	if _, err := h.ch.Send(ctx, bot.Outbound{ID: "out-2", To: "43", Text: "hola"}); err != nil {
		t.Errorf("send to another chat: %v", err)
	}

	h.clock.Advance(4 * time.Second)
	if id, err := h.ch.Send(ctx, out); err != nil || id != "42:1" {
		t.Errorf("send after 7s = %q, %v; want 42:1, nil", id, err)
	}
}

func TestSendNetworkError(t *testing.T) {
	h := newHarness(t, nil, nil)
	h.api.Close()
	_, err := h.ch.Send(ctxTimeout(t), bot.Outbound{ID: "out-1", To: "42", Text: "hola"})
	var se *bot.SendError
	if !errors.As(err, &se) || !se.Retryable || se.Stopped || se.Code != "network" {
		t.Errorf("err = %v; want retryable network SendError", err)
	}
	if strings.Contains(err.Error(), testToken) {
		t.Errorf("error holds the token: %v", err)
	}
}

func TestSendFailureRate(t *testing.T) {
	h := newHarness(t, nil, nil)
	h.api.SetFailureRate(0.5)
	var ok, retry int
	for i := range 40 {
		_, err := h.ch.Send(ctxTimeout(t), bot.Outbound{ID: fmt.Sprint(i), To: fmt.Sprint(100 + i), Text: "hola"})
		switch {
		case err == nil:
			ok++
		case bot.IsRetryable(err):
			retry++
		default:
			t.Errorf("send %d: %v; want nil or retryable", i, err)
		}
	}
	if ok == 0 || retry == 0 || len(h.api.Sent()) != ok {
		t.Errorf("ok %d, retryable %d, recorded %d; want some of each, recorded = ok", ok, retry, len(h.api.Sent()))
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		status        int
		err           error
		code          string
		retry, stoppd bool
	}{
		{0, errors.New("dial tcp: connection refused"), "network", true, false},
		{200, errors.New("decode answer"), "200", true, false},
		{400, fmt.Errorf("%w, Bad Request: chat not found", tgbot.ErrorBadRequest), "400", false, false},
		{401, fmt.Errorf("%w, Unauthorized", tgbot.ErrorUnauthorized), "401", false, false},
		{403, fmt.Errorf("%w, Forbidden: bot was blocked by the user", tgbot.ErrorForbidden), "403", false, true},
		{404, fmt.Errorf("%w, Not Found", tgbot.ErrorNotFound), "404", false, false},
		{429, &tgbot.TooManyRequestsError{Message: "too many requests", RetryAfter: 3}, "429", true, false},
		{500, errors.New("Internal Server Error"), "500", true, false},
		{503, errors.New("Service Unavailable"), "503", true, false},
	}
	for _, tt := range tests {
		se := classify(tt.status, tt.err)
		if se.Code != tt.code || se.Retryable != tt.retry || se.Stopped != tt.stoppd || !errors.Is(se, tt.err) {
			t.Errorf("classify(%d) = {%s %t %t}; want {%s %t %t} wrapping the cause", tt.status, se.Code, se.Retryable, se.Stopped, tt.code, tt.retry, tt.stoppd)
		}
	}
}

func TestKeyboard(t *testing.T) {
	b := func(labels ...string) []bot.Button {
		var out []bot.Button
		for i, l := range labels {
			out = append(out, bot.Button{Label: l, Data: fmt.Sprint("d", i)})
		}
		return out
	}
	tests := []struct {
		label   string
		buttons []bot.Button
		rows    []int // buttons per row; nil: no keyboard
		wantErr bool
	}{
		{"none", nil, nil, false},
		{"short labels share a row", b("1", "2", "3", "4", "5"), []int{5}, false},
		{"one long label: one per row", b("Nada", "Varios días", "Más de la mitad", "Casi todos"), []int{1, 1, 1, 1}, false},
		{"nine short: one per row", b("1", "2", "3", "4", "5", "6", "7", "8", "9"), []int{1, 1, 1, 1, 1, 1, 1, 1, 1}, false},
		{"empty label", b(""), nil, true},
		{"empty data", []bot.Button{{Label: "x"}}, nil, true},
		{"64-byte data", []bot.Button{{Label: "x", Data: strings.Repeat("é", 32)}}, []int{1}, false},
		{"65-byte data", []bot.Button{{Label: "x", Data: "a" + strings.Repeat("é", 32)}}, nil, true},
	}
	for _, tt := range tests {
		kb, err := keyboard(tt.buttons)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: err = %v; want error %t", tt.label, err, tt.wantErr)
			continue
		}
		var rows []int
		if kb != nil {
			for _, r := range kb.InlineKeyboard {
				rows = append(rows, len(r))
			}
		}
		if !reflect.DeepEqual(rows, tt.rows) {
			t.Errorf("%s: rows = %v; want %v", tt.label, rows, tt.rows)
		}
	}
}
