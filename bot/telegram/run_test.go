package telegram

import (
	"context"
	"errors"
	"net/http"
	"testing"

	tgbot "github.com/go-telegram/bot"

	"github.com/carecheck/carecheck/bot"
	"github.com/carecheck/carecheck/bot/telegram/telegramtest"
)

// startRun runs h.ch.Run until the test ends and returns its result channel.
func startRun(t *testing.T, h *harness) (cancel func(), done <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan error, 1)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		ch <- h.ch.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-finished:
		case <-ctxTimeout(t).Done():
			t.Error("Run did not return after cancel")
		}
	})
	return cancel, ch
}

func TestRunPolling(t *testing.T) {
	h := newHarness(t, newRecorder(), func(c *Config) { c.PublicURL = "http://localhost:8080" })
	cancel, done := startRun(t, h)
	ctx := ctxTimeout(t)

	h.api.QueueUpdate(telegramtest.TextUpdate(101, 42, "Ana", "me siento bien"))
	want := bot.Inbound{Channel: bot.Telegram, Kind: bot.KindText, ProviderID: "tg:101", From: "42", To: "carecheck_test_bot", Text: "me siento bien", Received: epoch}
	if got := h.recv.next(ctx, t); got != want {
		t.Errorf("Inbound = %+v; want %+v", got, want)
	}
	h.api.QueueUpdate(telegramtest.CallbackUpdate(102, 42, "a:1"))
	if got := h.recv.next(ctx, t); got.Kind != bot.KindButton || got.ProviderID != "tg:102" || got.Text != "a:1" {
		t.Errorf("Inbound = %+v; want button tg:102 a:1", got)
	}
	// Update 101 was confirmed to Telegram by the next poll's offset.
	if _, err := h.api.WaitRequest(ctx, func(r telegramtest.Request) bool {
		return r.Method == "getUpdates" && r.Params["offset"] == "102"
	}); err != nil {
		t.Errorf("offset 102 never asked for: %v", err)
	}
	if _, err := h.api.WaitRequest(ctx, func(r telegramtest.Request) bool {
		return r.Method == "answerCallbackQuery" && r.Params["callback_query_id"] == telegramtest.CallbackID(102, 42)
	}); err != nil {
		t.Errorf("callback not answered: %v", err)
	}

	reqs := h.api.Requests()
	if len(reqs) == 0 || reqs[0].Method != "deleteWebhook" {
		t.Errorf("first call = %+v; want deleteWebhook", reqs[:min(1, len(reqs))])
	}
	for _, r := range reqs {
		if r.Method == "getUpdates" && r.Params["allowed_updates"] != `["message","callback_query","my_chat_member"]` {
			t.Errorf("getUpdates allowed_updates = %s", r.Params["allowed_updates"])
			break
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v; want nil after cancel", err)
		}
	case <-ctx.Done():
		t.Fatal("Run did not return after cancel")
	}
}

// TestRunPollingRedelivers: an update the Receiver could not store is not
// confirmed, so it comes back, and the next one waits behind it.
func TestRunPollingRedelivers(t *testing.T) {
	h := newHarness(t, newRecorder(errors.New("redis: connection refused")), nil)
	startRun(t, h)
	ctx := ctxTimeout(t)
	h.api.QueueUpdate(telegramtest.TextUpdate(7, 42, "Ana", "uno"))
	h.api.QueueUpdate(telegramtest.TextUpdate(8, 42, "Ana", "dos"))
	var ids []string
	for range 3 {
		ids = append(ids, h.recv.next(ctx, t).ProviderID)
	}
	if want := []string{"tg:7", "tg:7", "tg:8"}; !equal(ids, want) {
		t.Errorf("received %v; want %v", ids, want)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRunWebhook(t *testing.T) {
	h := newHarness(t, nil, func(c *Config) { c.PublicURL = "https://care.example.org/" })
	startRun(t, h)
	ctx := ctxTimeout(t)
	r, err := h.api.WaitRequest(ctx, func(r telegramtest.Request) bool { return r.Method == "setWebhook" })
	if err != nil {
		t.Fatalf("setWebhook never called: %v", err)
	}
	if url, secret := h.api.Webhook(); url != "https://care.example.org/webhooks/telegram" || secret != testSecret {
		t.Errorf("webhook = %q, %q; want https://care.example.org/webhooks/telegram, the secret", url, secret)
	}
	if got := r.Params["allowed_updates"]; got != `["message","callback_query","my_chat_member"]` {
		t.Errorf("allowed_updates = %s", got)
	}
	if n := len(h.calls("getUpdates")); n != 0 {
		t.Errorf("getUpdates called %d times in webhook mode", n)
	}
	// A second Run on the same channel is refused while the first runs.
	if err := h.ch.Run(ctx); err == nil {
		t.Error("second concurrent Run = nil; want an error")
	}
}

func TestRunBadToken(t *testing.T) {
	for _, public := range []string{"", "https://care.example.org"} {
		h := newHarness(t, nil, func(c *Config) { c.PublicURL = public; c.Token = "7000000001:wrong" })
		err := h.ch.Run(ctxTimeout(t))
		var se *bot.SendError
		if !errors.As(err, &se) || se.Code != "401" {
			t.Errorf("Run with PublicURL %q and a wrong token = %v; want a 401 error", public, err)
		}
	}
}

func TestRunPollingConflictBacksOff(t *testing.T) {
	// Another process set a webhook after our deleteWebhook: getUpdates
	// answers 409 and Run keeps trying rather than failing; once the
	// webhook is gone, polling resumes.
	h := newHarness(t, nil, nil)
	_, done := startRun(t, h)
	ctx := ctxTimeout(t)
	if _, err := h.api.WaitRequest(ctx, func(r telegramtest.Request) bool { return r.Method == "deleteWebhook" }); err != nil {
		t.Fatal(err)
	}
	other, err := tgbot.New(testToken, tgbot.WithServerURL(h.api.URL), tgbot.WithSkipGetMe())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.SetWebhook(ctx, &tgbot.SetWebhookParams{URL: "https://other.example.org/webhooks/telegram", SecretToken: "x"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.api.WaitRequest(ctx, func(r telegramtest.Request) bool {
		return r.Method == "getUpdates" && r.Status == http.StatusConflict
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := other.DeleteWebhook(ctx, &tgbot.DeleteWebhookParams{}); err != nil {
		t.Fatal(err)
	}
	h.api.QueueUpdate(telegramtest.TextUpdate(1, 42, "Ana", "x"))
	if got := h.recv.next(ctx, t); got.ProviderID != "tg:1" {
		t.Errorf("Inbound = %+v; want tg:1", got)
	}
	select {
	case err := <-done:
		t.Errorf("Run returned %v; want it still running", err)
	default:
	}
}
