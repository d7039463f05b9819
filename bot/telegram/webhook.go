package telegram

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/carecheck/carecheck/bot"
)

// MaxUpdateBytes is the largest update body the webhook reads. Telegram's
// text updates are a few KiB at most.
const MaxUpdateBytes = 64 << 10

// answerTimeout bounds one best-effort answerCallbackQuery.
const answerTimeout = 10 * time.Second

// The parts of a Telegram update CareCheck reads
// (https://core.telegram.org/bots/api#update). Every other field and update
// type is ignored.
type update struct {
	ID            *int64             `json:"update_id"`
	Message       *message           `json:"message"`
	EditedMessage *message           `json:"edited_message"`
	CallbackQuery *callbackQuery     `json:"callback_query"`
	MyChatMember  *chatMemberUpdated `json:"my_chat_member"`
}

type message struct {
	Chat    chat   `json:"chat"`
	Text    string `json:"text"`
	Caption string `json:"caption"`
}

type chat struct {
	ID   int64  `json:"id"`
	Type string `json:"type"`
}

type user struct {
	ID int64 `json:"id"`
}

type callbackQuery struct {
	ID      string   `json:"id"`
	From    user     `json:"from"`
	Message *message `json:"message"`
	Data    string   `json:"data"`
}

type chatMemberUpdated struct {
	Chat          chat `json:"chat"`
	NewChatMember struct {
		Status string `json:"status"`
	} `json:"new_chat_member"`
}

var errNoUpdateID = errors.New("no update_id")

// decodeUpdate parses one update; it fails on anything that is not a JSON
// object with an update_id.
func decodeUpdate(body []byte) (*update, error) {
	var u update
	if err := json.Unmarshal(body, &u); err != nil {
		return nil, err
	}
	if u.ID == nil {
		return nil, errNoUpdateID
	}
	return &u, nil
}

// mapUpdate turns an update into the Inbound it means, or reports false for
// updates CareCheck ignores: channel posts, groups, media without a
// caption, and everything else that is not a person writing to (or editing
// what they wrote), pressing a button of, blocking or unblocking the bot in
// a private chat. An edit is screened like any message: "I'm fine" edited
// into a crisis must not go unseen. Group chats are ignored
// on purpose: a link code used in a group would share a client's check-ins
// with everyone in it.
func mapUpdate(u *update, to string, now time.Time) (bot.Inbound, bool) {
	in := bot.Inbound{
		Channel:    bot.Telegram,
		ProviderID: "tg:" + strconv.FormatInt(*u.ID, 10),
		To:         to,
		Received:   now,
	}
	switch {
	case u.Message != nil || u.EditedMessage != nil:
		m, kind := u.Message, bot.KindText
		if m == nil {
			m, kind = u.EditedMessage, bot.KindEdited
		}
		text := m.Text
		if text == "" {
			text = m.Caption // a photo's caption is words too; crisis detection must see them
		}
		if m.Chat.Type != "private" || m.Chat.ID == 0 || text == "" {
			return bot.Inbound{}, false
		}
		in.Kind, in.From, in.Text = kind, chatID(m.Chat.ID), text
	case u.CallbackQuery != nil:
		q := u.CallbackQuery
		from := q.From.ID
		if q.Message != nil {
			if q.Message.Chat.Type != "private" {
				return bot.Inbound{}, false
			}
			from = orDefaultID(q.Message.Chat.ID, from)
		}
		if from == 0 || q.Data == "" {
			return bot.Inbound{}, false
		}
		in.Kind, in.From, in.Text = bot.KindButton, chatID(from), q.Data
	case u.MyChatMember != nil:
		m := u.MyChatMember
		if m.Chat.Type != "private" || m.Chat.ID == 0 {
			return bot.Inbound{}, false
		}
		switch m.NewChatMember.Status {
		case "kicked", "left":
			in.Kind = bot.KindUnreachable
		case "member":
			in.Kind = bot.KindReachable
		default:
			return bot.Inbound{}, false
		}
		in.From = chatID(m.Chat.ID)
	default:
		return bot.Inbound{}, false
	}
	return in, true
}

func orDefaultID(id, def int64) int64 {
	if id == 0 {
		return def
	}
	return id
}

func chatID(id int64) string { return strconv.FormatInt(id, 10) }

// handle takes one update body through decoding, mapping and the Receiver,
// for the webhook and the poller alike, and returns the HTTP status that
// answers it: 200 (stored, unknown sender or ignored), 400 (not an update)
// or 503 (the Receiver failed: Telegram should deliver it again).
func (c *Channel) handle(ctx context.Context, body []byte) int {
	u, err := decodeUpdate(body)
	if err != nil {
		c.log.Warn("telegram update rejected", "reason", "malformed")
		return http.StatusBadRequest
	}
	log := c.log.With("update_id", *u.ID)
	in, ok := mapUpdate(u, c.to, c.now())
	if !ok {
		log.Debug("telegram update ignored")
		return http.StatusOK
	}
	err = c.recv.Receive(ctx, in)
	switch {
	case err == nil:
		log.Info("telegram update accepted", "kind", string(in.Kind))
	case errors.Is(err, bot.ErrUnknownSender):
		log.Info("telegram update from unknown chat", "kind", string(in.Kind))
	default:
		log.Error("telegram update not stored", "kind", string(in.Kind), "err", err)
		return http.StatusServiceUnavailable
	}
	if in.Kind == bot.KindButton && u.CallbackQuery.ID != "" {
		c.answerLater(ctx, *u.ID, u.CallbackQuery.ID)
	}
	return http.StatusOK
}

// answerLater stops the button's spinner without holding up the reply to
// Telegram; a failure only costs the person a spinner for a few seconds.
func (c *Channel) answerLater(ctx context.Context, updateID int64, queryID string) {
	c.inflight.Add(1)
	go func() {
		defer c.inflight.Done()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), answerTimeout)
		defer cancel()
		if err := c.answer(ctx, queryID); err != nil {
			c.log.Warn("telegram answerCallbackQuery failed", "update_id", updateID, "err", c.redact(err))
		}
	}()
}

func hashSecret(s string) [32]byte { return sha256.Sum256([]byte(s)) }

// WebhookHandler serves POST /webhooks/telegram. It checks the secret token
// in constant time (403 when missing or wrong, and nothing is read), refuses
// bodies over MaxUpdateBytes (413) and malformed JSON (400), and answers 200
// only once the Receiver has stored the update (or the chat is unknown, or
// the update is ignored); a Receiver failure answers 503 so that Telegram
// delivers again.
func (c *Channel) WebhookHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if !c.secretOK(r.Header.Values("X-Telegram-Bot-Api-Secret-Token")) {
			c.log.Warn("telegram webhook refused", "reason", "secret token")
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		if r.ContentLength > MaxUpdateBytes {
			http.Error(w, "update too large", http.StatusRequestEntityTooLarge)
			return
		}
		var buf bytes.Buffer
		_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, MaxUpdateBytes))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				http.Error(w, "update too large", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "cannot read update", http.StatusBadRequest)
			return
		}
		status := c.handle(r.Context(), buf.Bytes())
		if status == http.StatusOK {
			w.WriteHeader(http.StatusOK)
			return
		}
		http.Error(w, http.StatusText(status), status)
	})
}

// secretOK compares the header with the configured secret in constant time
// (over hashes, so the length does not leak either). No configured secret
// means no update is accepted.
func (c *Channel) secretOK(values []string) bool {
	if c.cfg.WebhookSecret == "" || len(values) != 1 {
		return false
	}
	got := hashSecret(values[0])
	return subtle.ConstantTimeCompare(got[:], c.secret[:]) == 1
}
