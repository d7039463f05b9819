package telegram

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/carecheck/carecheck/bot"
	"github.com/carecheck/carecheck/bot/telegram/telegramtest"
)

// Real Telegram updates, as delivered to a webhook.
const (
	updText = `{"update_id":912345601,"message":{"message_id":4021,"from":{"id":5512345678,"is_bot":false,"first_name":"Lucía","last_name":"Pérez","language_code":"es"},"chat":{"id":5512345678,"first_name":"Lucía","last_name":"Pérez","type":"private"},"date":1767261600,"text":"Hoy me siento fatal 😔 no duermo nada, ¿qué hago?"}}`

	updStart = `{"update_id":912345602,"message":{"message_id":4022,"from":{"id":5512345678,"is_bot":false,"first_name":"Lucía","language_code":"es"},"chat":{"id":5512345678,"first_name":"Lucía","type":"private"},"date":1767261601,"text":"/start K7P2QX","entities":[{"offset":0,"length":6,"type":"bot_command"}]}}`

	updCallback = `{"update_id":912345603,"callback_query":{"id":"4382918273645512","from":{"id":5512345678,"is_bot":false,"first_name":"Lucía","language_code":"es"},"message":{"message_id":4023,"from":{"id":7000000001,"is_bot":true,"first_name":"CareCheck","username":"carecheck_test_bot"},"chat":{"id":5512345678,"first_name":"Lucía","type":"private"},"date":1767261602,"text":"¿Cómo te sientes hoy?","reply_markup":{"inline_keyboard":[[{"text":"1","callback_data":"a:occ-9f2:q1:1"},{"text":"2","callback_data":"a:occ-9f2:q1:2"}]]}},"chat_instance":"-4356281192417396582","data":"a:occ-9f2:q1:2"}}`

	updKicked = `{"update_id":912345604,"my_chat_member":{"chat":{"id":5512345678,"first_name":"Lucía","type":"private"},"from":{"id":5512345678,"is_bot":false,"first_name":"Lucía","language_code":"es"},"date":1767261603,"old_chat_member":{"user":{"id":7000000001,"is_bot":true,"first_name":"CareCheck","username":"carecheck_test_bot"},"status":"member"},"new_chat_member":{"user":{"id":7000000001,"is_bot":true,"first_name":"CareCheck","username":"carecheck_test_bot"},"status":"kicked","until_date":0}}}`

	updUnblocked = `{"update_id":912345605,"my_chat_member":{"chat":{"id":5512345678,"first_name":"Lucía","type":"private"},"from":{"id":5512345678,"is_bot":false,"first_name":"Lucía"},"date":1767261604,"old_chat_member":{"user":{"id":7000000001,"is_bot":true,"first_name":"CareCheck","username":"carecheck_test_bot"},"status":"kicked","until_date":0},"new_chat_member":{"user":{"id":7000000001,"is_bot":true,"first_name":"CareCheck","username":"carecheck_test_bot"},"status":"member"}}}`

	updEdited = `{"update_id":912345606,"edited_message":{"message_id":4021,"from":{"id":5512345678,"is_bot":false,"first_name":"Lucía"},"chat":{"id":5512345678,"first_name":"Lucía","type":"private"},"date":1767261600,"edit_date":1767261700,"text":"Hoy me siento mejor"}}`

	updChannelPost = `{"update_id":912345607,"channel_post":{"message_id":12,"sender_chat":{"id":-1001234567890,"title":"Agency news","type":"channel"},"chat":{"id":-1001234567890,"title":"Agency news","type":"channel"},"date":1767261605,"text":"Office closed Monday"}}`

	updGroup = `{"update_id":912345608,"message":{"message_id":77,"from":{"id":5512345678,"is_bot":false,"first_name":"Lucía"},"chat":{"id":-4012345678,"title":"Familia","type":"group","all_members_are_administrators":true},"date":1767261606,"text":"/start K7P2QX","entities":[{"offset":0,"length":6,"type":"bot_command"}]}}`

	updPhotoCaption = `{"update_id":912345609,"message":{"message_id":4024,"from":{"id":5512345678,"is_bot":false,"first_name":"Lucía"},"chat":{"id":5512345678,"first_name":"Lucía","type":"private"},"date":1767261607,"photo":[{"file_id":"AgACAgEAAxkBAAIB","file_unique_id":"AQADr6wxG","file_size":1207,"width":90,"height":90}],"caption":"ya no aguanto"}}`

	updSticker = `{"update_id":912345610,"message":{"message_id":4025,"from":{"id":5512345678,"is_bot":false,"first_name":"Lucía"},"chat":{"id":5512345678,"first_name":"Lucía","type":"private"},"date":1767261608,"sticker":{"file_id":"CAACAgIAAxkBAAIC","file_unique_id":"AgADyQADVp29Cg","type":"regular","width":512,"height":512,"is_animated":false,"is_video":false,"emoji":"😢"}}}`
)

func TestWebhook(t *testing.T) {
	chat := "5512345678"
	in := func(kind bot.InboundKind, id, text string) *bot.Inbound {
		return &bot.Inbound{Channel: bot.Telegram, Kind: kind, ProviderID: id, From: chat, To: "carecheck_test_bot", Text: text, Received: epoch}
	}
	big := bytes.Repeat([]byte("a"), 2<<20)
	tests := []struct {
		label      string
		method     string // POST when empty
		body       io.Reader
		secret     []string // header values; nil means the right one
		recvErr    error
		wantStatus int
		wantIn     *bot.Inbound // nil: Receive must not be called
		wantAnswer string       // callback query id answered
	}{
		{label: "text, Spanish with emoji", body: strings.NewReader(updText), wantStatus: 200,
			wantIn: in(bot.KindText, "tg:912345601", "Hoy me siento fatal 😔 no duermo nada, ¿qué hago?")},
		{label: "/start with a link code", body: strings.NewReader(updStart), wantStatus: 200,
			wantIn: in(bot.KindText, "tg:912345602", "/start K7P2QX")},
		{label: "callback query", body: strings.NewReader(updCallback), wantStatus: 200,
			wantIn: in(bot.KindButton, "tg:912345603", "a:occ-9f2:q1:2"), wantAnswer: "4382918273645512"},
		{label: "blocked (kicked)", body: strings.NewReader(updKicked), wantStatus: 200,
			wantIn: in(bot.KindUnreachable, "tg:912345604", "")},
		{label: "photo caption is text", body: strings.NewReader(updPhotoCaption), wantStatus: 200,
			wantIn: in(bot.KindText, "tg:912345609", "ya no aguanto")},
		{label: "unblocked", body: strings.NewReader(updUnblocked), wantStatus: 200,
			wantIn: in(bot.KindReachable, "tg:912345605", "")},
		{label: "edited message: screened, not an answer", body: strings.NewReader(updEdited), wantStatus: 200,
			wantIn: in(bot.KindEdited, "tg:912345606", "Hoy me siento mejor")},
		{label: "channel post: ignored", body: strings.NewReader(updChannelPost), wantStatus: 200},
		{label: "group chat: ignored", body: strings.NewReader(updGroup), wantStatus: 200},
		{label: "sticker: ignored", body: strings.NewReader(updSticker), wantStatus: 200},
		{label: "builder text update", body: bytes.NewReader(telegramtest.TextUpdate(5, 5512345678, "Ana", "bien")), wantStatus: 200,
			wantIn: in(bot.KindText, "tg:5", "bien")},

		{label: "unknown chat", body: strings.NewReader(updText), recvErr: bot.ErrUnknownSender, wantStatus: 200,
			wantIn: in(bot.KindText, "tg:912345601", "Hoy me siento fatal 😔 no duermo nada, ¿qué hago?")},
		{label: "unknown chat presses a button", body: strings.NewReader(updCallback), recvErr: bot.ErrUnknownSender, wantStatus: 200,
			wantIn: in(bot.KindButton, "tg:912345603", "a:occ-9f2:q1:2"), wantAnswer: "4382918273645512"},
		{label: "receiver fails: Telegram retries", body: strings.NewReader(updText), recvErr: errors.New("redis: connection refused"), wantStatus: 503,
			wantIn: in(bot.KindText, "tg:912345601", "Hoy me siento fatal 😔 no duermo nada, ¿qué hago?")},
		{label: "receiver fails on a button: not answered", body: strings.NewReader(updCallback), recvErr: errors.New("redis: connection refused"), wantStatus: 503,
			wantIn: in(bot.KindButton, "tg:912345603", "a:occ-9f2:q1:2")},

		{label: "secret wrong", body: strings.NewReader(updText), secret: []string{"s3cr3t_Token-for-tesTs"}, wantStatus: 403},
		{label: "secret missing", body: strings.NewReader(updText), secret: []string{}, wantStatus: 403},
		{label: "secret empty", body: strings.NewReader(updText), secret: []string{""}, wantStatus: 403},
		{label: "secret prefix", body: strings.NewReader(updText), secret: []string{testSecret[:5]}, wantStatus: 403},
		{label: "secret twice", body: strings.NewReader(updText), secret: []string{testSecret, testSecret}, wantStatus: 403},
		{label: "wrong secret, huge body", body: bytes.NewReader(big), secret: []string{"nope"}, wantStatus: 403},

		{label: "GET", method: http.MethodGet, body: http.NoBody, wantStatus: 405},
		{label: "2 MiB body", body: bytes.NewReader(big), wantStatus: 413},
		{label: "2 MiB body, no length", body: io.MultiReader(bytes.NewReader(big)), wantStatus: 413},
		{label: "malformed JSON", body: strings.NewReader(`{"update_id":1,"message":`), wantStatus: 400},
		{label: "JSON array", body: strings.NewReader(`[]`), wantStatus: 400},
		{label: "no update_id", body: strings.NewReader(`{"message":{"chat":{"id":1,"type":"private"},"text":"hi"}}`), wantStatus: 400},
		{label: "wrong types", body: strings.NewReader(`{"update_id":"1"}`), wantStatus: 400},
		{label: "empty body", body: http.NoBody, wantStatus: 400},
	}
	for _, tt := range tests {
		t.Run(tt.label, func(t *testing.T) {
			h := newHarness(t, newRecorder(tt.recvErr), nil)
			srv := httptest.NewServer(h.ch.WebhookHandler())
			defer srv.Close()

			method := tt.method
			if method == "" {
				method = http.MethodPost
			}
			req, err := http.NewRequestWithContext(ctxTimeout(t), method, srv.URL+WebhookPath, tt.body)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			secrets := tt.secret
			if secrets == nil {
				secrets = []string{testSecret}
			}
			for _, s := range secrets {
				req.Header.Add("X-Telegram-Bot-Api-Secret-Token", s)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status = %d; want %d", resp.StatusCode, tt.wantStatus)
			}

			got := h.recv.received()
			switch {
			case tt.wantIn == nil && len(got) > 0:
				t.Errorf("Receive called with %+v; want no call", got)
			case tt.wantIn != nil && len(got) != 1:
				t.Errorf("Receive called %d times; want once", len(got))
			case tt.wantIn != nil && got[0] != *tt.wantIn:
				t.Errorf("Inbound = %+v; want %+v", got[0], *tt.wantIn)
			}

			h.ch.inflight.Wait()
			var answered []string
			for _, r := range h.calls("answerCallbackQuery") {
				answered = append(answered, r.Params["callback_query_id"])
			}
			switch {
			case tt.wantAnswer == "" && len(answered) > 0:
				t.Errorf("answered callback queries %q; want none", answered)
			case tt.wantAnswer != "" && (len(answered) != 1 || answered[0] != tt.wantAnswer):
				t.Errorf("answered callback queries %q; want [%q]", answered, tt.wantAnswer)
			}
		})
	}
}

// TestWebhookDeliver goes the whole way Telegram does: the fake delivers a
// builder update to the handler on a real server.
func TestWebhookDeliver(t *testing.T) {
	h := newHarness(t, nil, nil)
	mux := http.NewServeMux()
	mux.Handle("POST "+WebhookPath, h.ch.WebhookHandler())
	srv := httptest.NewServer(mux)
	defer srv.Close()

	ctx := ctxTimeout(t)
	resp, err := h.api.Deliver(ctx, srv.URL+WebhookPath, testSecret, telegramtest.CallbackUpdate(77, 42, "ack:12"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status = %d; want 200", resp.StatusCode)
	}
	want := bot.Inbound{Channel: bot.Telegram, Kind: bot.KindButton, ProviderID: "tg:77", From: "42", To: "carecheck_test_bot", Text: "ack:12", Received: epoch}
	if got := h.recv.next(ctx, t); got != want {
		t.Errorf("Inbound = %+v; want %+v", got, want)
	}
	id := telegramtest.CallbackID(77, 42)
	if _, err := h.api.WaitRequest(ctx, func(r telegramtest.Request) bool {
		return r.Method == "answerCallbackQuery" && r.Params["callback_query_id"] == id
	}); err != nil {
		t.Errorf("callback query %s not answered: %v", id, err)
	}
}

// TestWebhookNoSecretConfigured: a channel without a secret (polling mode)
// accepts no webhook delivery, even one without the header.
func TestWebhookNoSecretConfigured(t *testing.T) {
	h := newHarness(t, nil, func(c *Config) { c.WebhookSecret = "" })
	rr := httptest.NewRecorder()
	h.ch.WebhookHandler().ServeHTTP(rr, httptest.NewRequest(http.MethodPost, WebhookPath, strings.NewReader(updText)))
	if rr.Code != http.StatusForbidden {
		t.Errorf("status = %d; want 403", rr.Code)
	}
	if got := h.recv.received(); len(got) != 0 {
		t.Errorf("Receive called with %+v; want no call", got)
	}
}
