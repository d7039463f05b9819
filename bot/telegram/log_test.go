package telegram

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/carecheck/carecheck/bot"
	"github.com/carecheck/carecheck/bot/telegram/telegramtest"
)

// TestLogsHoldNoText drives every logging path (accepted, unknown chat,
// receiver failure, ignored, malformed, refused secret, callback answer
// failure, send success and failures) and checks that the logs hold
// ids only: no message text, no names, no chat ids, no token or secret.
func TestLogsHoldNoText(t *testing.T) {
	const (
		chatID   = 5512345678
		name     = "Lucía"
		said     = "quiero morirme esta noche"
		button   = "ack:secretcode"
		reply    = "Llama o escribe a la línea de crisis ahora"
		updateID = 912345601
	)
	h := newHarness(t, newRecorder(nil, bot.ErrUnknownSender, errors.New("redis down")), nil)
	handler := h.ch.WebhookHandler()
	deliver := func(body []byte, secret string) {
		rr := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, WebhookPath, bytes.NewReader(body))
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
		handler.ServeHTTP(rr, req)
	}
	deliver(telegramtest.TextUpdate(updateID, chatID, name, said), testSecret)
	deliver(telegramtest.TextUpdate(updateID+1, chatID, name, said), testSecret)
	deliver(telegramtest.TextUpdate(updateID+2, chatID, name, said), testSecret)
	deliver(telegramtest.CallbackUpdate(updateID+3, chatID, button), testSecret)
	deliver([]byte(strings.Replace(updEdited, "mejor", said, 1)), testSecret)
	deliver([]byte(`{"update_id":1,"message":{"text":"`+said), testSecret)
	deliver(telegramtest.TextUpdate(updateID+4, chatID, name, said), "wrong")
	h.ch.inflight.Wait()

	ctx := ctxTimeout(t)
	to := "5512345678"
	if _, err := h.ch.Send(ctx, bot.Outbound{ID: "out-ok", To: to, Text: reply, Buttons: []bot.Button{{Label: name, Data: button}}}); err != nil {
		t.Fatal(err)
	}
	h.api.FailNext(1, 403, "Forbidden: bot was blocked by the user")
	h.ch.Send(ctx, bot.Outbound{ID: "out-blocked", To: to, Text: reply})
	h.api.FailNext(1, 429, "Too Many Requests: retry after 3")
	h.ch.Send(ctx, bot.Outbound{ID: "out-flood", To: to, Text: reply})
	h.ch.Send(ctx, bot.Outbound{ID: "out-held", To: to, Text: reply})

	// The callback answer fails once the API is gone.
	h.api.Close()
	deliver(telegramtest.CallbackUpdate(updateID+5, chatID, button), testSecret)
	h.ch.inflight.Wait()
	h.ch.Send(ctx, bot.Outbound{ID: "out-down", To: "5512345679", Text: reply})

	logs := h.logs.String()
	for _, bad := range []string{said, name, "Lucía", button, reply, to, "5512345679", "secretcode", testToken, testSecret} {
		if strings.Contains(logs, bad) {
			t.Errorf("logs hold %q:\n%s", bad, logs)
		}
	}
	for _, want := range []string{`"update_id":912345601`, `"outbound_id":"out-blocked"`, `"stopped":true`, `"retry_after"`, "answerCallbackQuery failed", `"code":"network"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
}
