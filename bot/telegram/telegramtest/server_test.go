package telegramtest

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/carecheck/carecheck/bot"
)

const token = "7000000001:AAH-fake"

func newServer(t *testing.T) *Server {
	t.Helper()
	s := NewServer(token)
	t.Cleanup(s.Close)
	return s
}

func client(t *testing.T, s *Server, tok string) *tgbot.Bot {
	t.Helper()
	b, err := tgbot.New(tok, tgbot.WithServerURL(s.URL), tgbot.WithSkipGetMe())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ctxTimeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// The real client's multipart requests are read and recorded.
func TestSendMessageRecorded(t *testing.T) {
	s := newServer(t)
	ctx := ctxTimeout(t)
	b := client(t, s, token)
	msg, err := b.SendMessage(ctx, &tgbot.SendMessageParams{
		ChatID: int64(42),
		Text:   "¿Cómo estás? 🙂",
		ReplyMarkup: &models.InlineKeyboardMarkup{InlineKeyboard: [][]models.InlineKeyboardButton{
			{{Text: "Bien", CallbackData: "a:1"}, {Text: "Mal", CallbackData: "a:2"}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if msg.ID != 1 || msg.Chat.ID != 42 || msg.Text != "¿Cómo estás? 🙂" {
		t.Errorf("answer = {%d %d %q}; want {1 42 text}", msg.ID, msg.Chat.ID, msg.Text)
	}
	got, err := s.WaitFor(ctx, func(m Message) bool { return m.ChatID == 42 })
	if err != nil {
		t.Fatal(err)
	}
	want := []bot.Button{{Label: "Bien", Data: "a:1"}, {Label: "Mal", Data: "a:2"}}
	if got.Text != "¿Cómo estás? 🙂" || len(got.Buttons) != 2 || got.Buttons[0] != want[0] || got.Buttons[1] != want[1] || got.MessageID != 1 {
		t.Errorf("recorded %+v; want text and buttons %v", got, want)
	}
	if _, err := b.SendMessage(ctx, &tgbot.SendMessageParams{ChatID: int64(42), Text: "otra"}); err != nil {
		t.Fatal(err)
	}
	if sent := s.Sent(); len(sent) != 2 || sent[1].MessageID != 2 {
		t.Errorf("sent = %+v; want 2 messages, ids 1 and 2", sent)
	}
}

func TestWrongToken(t *testing.T) {
	s := newServer(t)
	_, err := client(t, s, "7000000001:wrong").GetMe(ctxTimeout(t))
	if !errors.Is(err, tgbot.ErrorUnauthorized) {
		t.Errorf("GetMe with a wrong token = %v; want unauthorized", err)
	}
	me, err := client(t, s, token).GetMe(ctxTimeout(t))
	if err != nil || me.Username != BotUsername || !me.IsBot {
		t.Errorf("GetMe = %+v, %v", me, err)
	}
}

func TestFailNext(t *testing.T) {
	s := newServer(t)
	ctx := ctxTimeout(t)
	b := client(t, s, token)
	s.FailNext(1, 429, "Too Many Requests: retry after 7")
	s.FailNext(1, 403, "Forbidden: bot was blocked by the user")
	send := func() error {
		_, err := b.SendMessage(ctx, &tgbot.SendMessageParams{ChatID: int64(42), Text: "x"})
		return err
	}
	var tooMany *tgbot.TooManyRequestsError
	if err := send(); !errors.As(err, &tooMany) || tooMany.RetryAfter != 7 {
		t.Errorf("first send = %v; want 429 with retry_after 7", err)
	}
	if err := send(); !errors.Is(err, tgbot.ErrorForbidden) || !strings.Contains(err.Error(), "blocked") {
		t.Errorf("second send = %v; want 403 blocked", err)
	}
	if err := send(); err != nil {
		t.Errorf("third send = %v; want success", err)
	}
	if n := s.PendingFailures(); n != 0 {
		t.Errorf("PendingFailures = %d; want 0", n)
	}
	if sent := s.Sent(); len(sent) != 1 {
		t.Errorf("sent %d; want 1 (failures are not recorded)", len(sent))
	}
}

// getUpdates: JSON and form requests, offset confirmation, long poll ended
// by a queued update.
func TestGetUpdates(t *testing.T) {
	s := newServer(t)
	ctx := ctxTimeout(t)
	call := func(body string, form bool) []json.RawMessage {
		t.Helper()
		var resp *http.Response
		var err error
		if form {
			resp, err = http.PostForm(s.URL+"/bot"+token+"/getUpdates", mustQuery(body))
		} else {
			resp, err = http.Post(s.URL+"/bot"+token+"/getUpdates", "application/json", strings.NewReader(body))
		}
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var env struct {
			OK     bool              `json:"ok"`
			Result []json.RawMessage `json:"result"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&env); err != nil || !env.OK {
			t.Fatalf("getUpdates answer: ok %t, %v", env.OK, err)
		}
		return env.Result
	}
	s.QueueUpdate(TextUpdate(11, 42, "Ana", "b"))
	s.QueueUpdate(TextUpdate(10, 42, "Ana", "a"))
	if got := call(`{"timeout":0}`, false); len(got) != 2 || !strings.Contains(string(got[0]), `"update_id":10`) {
		t.Errorf("first poll = %s; want updates 10, 11 in order", got)
	}
	if got := call("offset=11", true); len(got) != 1 || !strings.Contains(string(got[0]), `"update_id":11`) {
		t.Errorf("offset 11 = %s; want update 11", got)
	}
	if got := call(`{"offset":12,"timeout":0}`, false); len(got) != 0 || s.Pending() != 0 {
		t.Errorf("offset 12 = %s, pending %d; want none", got, s.Pending())
	}
	done := make(chan []json.RawMessage, 1)
	go func() { done <- call(`{"offset":12,"timeout":50}`, false) }()
	if _, err := s.WaitRequest(ctx, func(r Request) bool { return r.Method == "getUpdates" && r.Params["offset"] == "12" }); err != nil {
		t.Fatal(err)
	}
	s.QueueUpdate(KickedUpdate(12, 42))
	select {
	case got := <-done:
		if len(got) != 1 || !strings.Contains(string(got[0]), `"kicked"`) {
			t.Errorf("long poll = %s; want the kicked update", got)
		}
	case <-ctx.Done():
		t.Fatal("long poll did not return")
	}
}

func mustQuery(s string) url.Values {
	v, err := url.ParseQuery(s)
	if err != nil {
		panic(err)
	}
	return v
}

func TestWebhookRegistration(t *testing.T) {
	s := newServer(t)
	ctx := ctxTimeout(t)
	b := client(t, s, token)
	if _, err := b.SetWebhook(ctx, &tgbot.SetWebhookParams{URL: "http://insecure.example.org/hook"}); !errors.Is(err, tgbot.ErrorBadRequest) {
		t.Errorf("http webhook = %v; want bad request", err)
	}
	if _, err := b.SetWebhook(ctx, &tgbot.SetWebhookParams{URL: "https://care.example.org/webhooks/telegram", SecretToken: "abc"}); err != nil {
		t.Fatal(err)
	}
	if u, sec := s.Webhook(); u != "https://care.example.org/webhooks/telegram" || sec != "abc" {
		t.Errorf("Webhook() = %q, %q", u, sec)
	}
	if _, err := b.DeleteWebhook(ctx, &tgbot.DeleteWebhookParams{}); err != nil {
		t.Fatal(err)
	}
	if u, _ := s.Webhook(); u != "" {
		t.Errorf("Webhook() after delete = %q; want empty", u)
	}
}

func TestDeliver(t *testing.T) {
	s := newServer(t)
	got := make(chan string, 1)
	hook := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("X-Telegram-Bot-Api-Secret-Token")
	})
	srv := newHTTPServer(t, hook)
	resp, err := s.Deliver(ctxTimeout(t), srv, "sekret", TextUpdate(1, 42, "Ana", "x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if h := <-got; h != "sekret" {
		t.Errorf("secret header = %q; want sekret", h)
	}
	if _, err := s.Deliver(ctxTimeout(t), "", "", nil); err == nil {
		t.Error("Deliver with no webhook set = nil error; want one")
	}
}

func TestWaitForDeadline(t *testing.T) {
	s := newServer(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.WaitFor(ctx, func(Message) bool { return true }); !errors.Is(err, context.Canceled) {
		t.Errorf("WaitFor on a done context = %v; want context.Canceled", err)
	}
}

func TestBuildersAreRealShapes(t *testing.T) {
	var u models.Update
	for _, b := range [][]byte{TextUpdate(1, 42, "Ana", "/start K7P2QX"), CallbackUpdate(2, 42, "a:1"), KickedUpdate(3, 42)} {
		if err := json.Unmarshal(b, &u); err != nil {
			t.Errorf("models.Update cannot read %s: %v", b, err)
		}
	}
	json.Unmarshal(TextUpdate(1, 42, "Ana", "/start K7P2QX"), &u)
	if u.Message == nil || u.Message.Chat.Type != models.ChatTypePrivate || len(u.Message.Entities) != 1 || u.Message.Entities[0].Length != 6 {
		t.Errorf("text update = %+v", u.Message)
	}
	json.Unmarshal(CallbackUpdate(2, 42, "a:1"), &u)
	if q := u.CallbackQuery; q == nil || q.Data != "a:1" || q.Message.Message == nil || q.Message.Message.Chat.ID != 42 {
		t.Errorf("callback update = %+v", q)
	}
	json.Unmarshal(KickedUpdate(3, 42), &u)
	if m := u.MyChatMember; m == nil || m.NewChatMember.Type != models.ChatMemberTypeBanned {
		t.Errorf("kicked update = %+v", m)
	}
}
