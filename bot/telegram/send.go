package telegram

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/carecheck/carecheck/bot"
)

// MaxButtonData is the most bytes Telegram keeps as a button's callback_data.
const MaxButtonData = 64

// RateLimitedError is the cause inside a *bot.SendError when Telegram
// answered 429: no message to that chat should go out before RetryAfter has
// passed. Send itself refuses (Retryable, without calling Telegram) until then.
type RateLimitedError struct {
	RetryAfter time.Duration
	Until      time.Time
}

// Error says how long to wait.
func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("telegram: too many requests, retry after %s", e.RetryAfter)
}

// RetryAfter returns how long Telegram asked us to wait, when err carries a
// RateLimitedError.
func RetryAfter(err error) (time.Duration, bool) {
	var rl *RateLimitedError
	if errors.As(err, &rl) {
		return rl.RetryAfter, true
	}
	return 0, false
}

// Send delivers m as a plain-text sendMessage to the chat whose id is m.To,
// with m.Buttons as an inline keyboard. It returns "<chat_id>:<message_id>".
// Failures are *bot.SendError: 429, 5xx and network errors are Retryable
// (after a 429 the chat is held back until retry_after has passed), 403
// (blocked, deactivated) is Stopped, other 4xx are neither.
func (c *Channel) Send(ctx context.Context, m bot.Outbound) (string, error) {
	chat, err := strconv.ParseInt(m.To, 10, 64)
	if err != nil || chat == 0 {
		return "", c.failed(m, &bot.SendError{Code: "invalid", Err: errors.New("telegram: recipient is not a chat id")})
	}
	if strings.TrimSpace(m.Text) == "" {
		return "", c.failed(m, &bot.SendError{Code: "invalid", Err: errors.New("telegram: empty text")})
	}
	markup, err := keyboard(m.Buttons)
	if err != nil {
		return "", c.failed(m, &bot.SendError{Code: "invalid", Err: err})
	}
	if until, ok := c.heldBack(chat); ok {
		rl := &RateLimitedError{RetryAfter: until.Sub(c.now()), Until: until}
		return "", c.failed(m, &bot.SendError{Code: "429", Retryable: true, Err: rl})
	}

	params := &tgbot.SendMessageParams{
		ChatID:             chat,
		Text:               m.Text,
		LinkPreviewOptions: &models.LinkPreviewOptions{IsDisabled: tgbot.True()},
	}
	if markup != nil {
		params.ReplyMarkup = markup
	}
	var status int
	msg, err := c.tg.SendMessage(context.WithValue(ctx, statusKey{}, &status), params)
	if err != nil {
		se := classify(status, c.redact(err))
		var tooMany *tgbot.TooManyRequestsError
		if errors.As(err, &tooMany) {
			wait := max(time.Duration(tooMany.RetryAfter)*time.Second, time.Second)
			until := c.holdBack(chat, wait)
			se.Err = fmt.Errorf("%w: %w", &RateLimitedError{RetryAfter: wait, Until: until}, se.Err)
		}
		return "", c.failed(m, se)
	}
	if msg.Chat.ID != 0 {
		chat = msg.Chat.ID
	}
	c.log.Debug("telegram message sent", "outbound_id", m.ID, "message_id", msg.ID)
	return strconv.FormatInt(chat, 10) + ":" + strconv.Itoa(msg.ID), nil
}

func (c *Channel) failed(m bot.Outbound, se *bot.SendError) error {
	attrs := []any{"outbound_id", m.ID, "code", se.Code, "retryable", se.Retryable, "stopped", se.Stopped}
	if d, ok := RetryAfter(se); ok {
		attrs = append(attrs, "retry_after", d.String())
	}
	c.log.Warn("telegram send failed", attrs...)
	return se
}

// classify answers a failed Bot API call's two questions from its HTTP status
// (Telegram's error_code; 0 when no answer came back).
func classify(status int, err error) *bot.SendError {
	se := &bot.SendError{Code: strconv.Itoa(status), Err: err}
	switch {
	case status == 0:
		se.Code = "network"
		se.Retryable = true
	case status == http.StatusTooManyRequests, status >= 500:
		se.Retryable = true
	case status == http.StatusForbidden:
		// "bot was blocked by the user", "user is deactivated", "bot can't
		// initiate conversation": this chat will not hear from us.
		se.Stopped = true
	case status >= 400:
		// 400 chat not found, 401 bad token, ...: trying again won't help.
	default:
		// 2xx with an unreadable answer: it may have gone out, but a
		// duplicate is better than a lost alert.
		se.Retryable = true
	}
	return se
}

// keyboard lays buttons out as an inline keyboard: all in one row when every
// label is short (a 1-5 scale), else one per row (full answer sentences).
func keyboard(buttons []bot.Button) (*models.InlineKeyboardMarkup, error) {
	if len(buttons) == 0 {
		return nil, nil
	}
	short := len(buttons) <= 8
	for _, b := range buttons {
		if strings.TrimSpace(b.Label) == "" {
			return nil, errors.New("telegram: button without a label")
		}
		if b.Data == "" || len(b.Data) > MaxButtonData || !utf8.ValidString(b.Data) {
			return nil, fmt.Errorf("telegram: button data must be 1-%d bytes of UTF-8", MaxButtonData)
		}
		if utf8.RuneCountInString(b.Label) > 6 {
			short = false
		}
	}
	kb := &models.InlineKeyboardMarkup{}
	row := []models.InlineKeyboardButton{}
	for _, b := range buttons {
		btn := models.InlineKeyboardButton{Text: b.Label, CallbackData: b.Data}
		if short {
			row = append(row, btn)
			continue
		}
		kb.InlineKeyboard = append(kb.InlineKeyboard, []models.InlineKeyboardButton{btn})
	}
	if short {
		kb.InlineKeyboard = [][]models.InlineKeyboardButton{row}
	}
	return kb, nil
}

// heldBack reports whether a 429 still holds back sends to chat.
func (c *Channel) heldBack(chat int64) (time.Time, bool) {
	c.floodMu.Lock()
	defer c.floodMu.Unlock()
	until, ok := c.flood[chat]
	if !ok {
		return time.Time{}, false
	}
	if !c.now().Before(until) {
		delete(c.flood, chat)
		return time.Time{}, false
	}
	return until, true
}

// holdBack records a 429's retry_after for chat and returns its end.
func (c *Channel) holdBack(chat int64, wait time.Duration) time.Time {
	c.floodMu.Lock()
	defer c.floodMu.Unlock()
	now := c.now()
	if len(c.flood) > 1024 {
		for id, until := range c.flood {
			if !now.Before(until) {
				delete(c.flood, id)
			}
		}
	}
	until := now.Add(wait)
	c.flood[chat] = until
	return until
}

func (c *Channel) answerCallback(ctx context.Context, queryID string) error {
	_, err := c.tg.AnswerCallbackQuery(ctx, &tgbot.AnswerCallbackQueryParams{CallbackQueryID: queryID})
	return err
}

// statusKey carries, in one Bot API call's context, where statusRecorder
// writes the HTTP status of the answer.
type statusKey struct{}

// statusRecorder is the HTTP client the Bot API client uses: it notes the
// answer's HTTP status (Telegram's error_code) for classify, since the
// library's error for a 5xx is only text.
type statusRecorder struct{ c *http.Client }

func (r statusRecorder) Do(req *http.Request) (*http.Response, error) {
	resp, err := r.c.Do(req)
	if p, ok := req.Context().Value(statusKey{}).(*int); ok && resp != nil {
		*p = resp.StatusCode
	}
	return resp, err
}
