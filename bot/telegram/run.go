package telegram

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	tgbot "github.com/go-telegram/bot"
)

// pollTimeout is the long-poll timeout asked of getUpdates.
const pollTimeout = 30 * time.Second

// maxBackoff caps the wait between failed Bot API calls in Run.
const maxBackoff = 5 * time.Second

// allowedUpdates are the update types CareCheck reads; Telegram does not
// send the others.
var allowedUpdates = []string{"message", "callback_query", "my_chat_member"}

// Run connects the bot to Telegram until ctx ends. With an https PublicURL it
// registers PublicURL+WebhookPath as the webhook (with the secret token and
// allowed updates) and waits: WebhookHandler takes the updates. Otherwise it
// deletes any webhook and long-polls getUpdates, passing each update through
// the same path as the webhook; an update is confirmed to Telegram (the next
// offset) only once the Receiver has stored it. One Channel runs one of the
// two at a time: a second concurrent Run fails. Run returns nil when ctx
// ends, and an error when Telegram refuses the bot (bad token, bad URL).
// Long polling is for one process per bot token; several processes need the
// webhook.
func (c *Channel) Run(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) {
		return errors.New("telegram: Run is already running for this bot")
	}
	defer c.running.Store(false)
	defer c.inflight.Wait()
	if c.cfg.webhookMode() {
		return c.runWebhook(ctx)
	}
	return c.poll(ctx)
}

func (c *Channel) runWebhook(ctx context.Context) error {
	hook := strings.TrimRight(c.cfg.PublicURL, "/") + WebhookPath
	err := c.retry(ctx, "setWebhook", func(ctx context.Context) error {
		_, err := c.tg.SetWebhook(ctx, &tgbot.SetWebhookParams{
			URL:            hook,
			SecretToken:    c.cfg.WebhookSecret,
			AllowedUpdates: allowedUpdates,
		})
		return err
	})
	if err != nil || ctx.Err() != nil {
		return err
	}
	c.log.Info("telegram webhook set")
	<-ctx.Done()
	return nil
}

func (c *Channel) poll(ctx context.Context) error {
	err := c.retry(ctx, "deleteWebhook", func(ctx context.Context) error {
		_, err := c.tg.DeleteWebhook(ctx, &tgbot.DeleteWebhookParams{})
		return err
	})
	if err != nil || ctx.Err() != nil {
		return err
	}
	c.log.Info("telegram long polling")
	var offset int64
	var backoff time.Duration
	for {
		if backoff > 0 && !sleep(ctx, backoff) {
			return nil
		}
		updates, status, err := c.getUpdates(ctx, offset)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			se := classify(status, err)
			if !se.Retryable && status != http.StatusConflict {
				return fmt.Errorf("telegram: getUpdates: %w", se)
			}
			backoff = nextBackoff(backoff)
			c.log.Warn("telegram getUpdates failed", "code", se.Code, "err", err, "backoff", backoff)
			continue
		}
		backoff = 0
		for _, raw := range updates {
			id, ok := peekUpdateID(raw)
			if !ok || id < offset {
				continue
			}
			if c.handle(ctx, raw) == http.StatusServiceUnavailable {
				// Not stored: leave the offset so Telegram gives it again.
				backoff = nextBackoff(backoff)
				break
			}
			offset = id + 1
		}
	}
}

// getUpdates is one long poll. The library's own poller confirms updates
// before they are handled, so CareCheck asks for them itself.
func (c *Channel) getUpdates(ctx context.Context, offset int64) ([]json.RawMessage, int, error) {
	body, err := json.Marshal(map[string]any{
		"offset":          offset,
		"timeout":         int(pollTimeout / time.Second),
		"allowed_updates": allowedUpdates,
	})
	if err != nil {
		return nil, 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.apiURL+"/bot"+c.cfg.Token+"/getUpdates", bytes.NewReader(body))
	if err != nil {
		return nil, 0, c.redact(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, 0, c.redact(err)
	}
	defer resp.Body.Close()
	var env struct {
		OK          bool              `json:"ok"`
		Result      []json.RawMessage `json:"result"`
		ErrorCode   int               `json:"error_code"`
		Description string            `json:"description"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 32<<20)).Decode(&env); err != nil {
		return nil, resp.StatusCode, fmt.Errorf("decode getUpdates answer: %w", err)
	}
	if !env.OK {
		return nil, orDefaultStatus(env.ErrorCode, resp.StatusCode), errors.New(env.Description)
	}
	return env.Result, resp.StatusCode, nil
}

func orDefaultStatus(code, def int) int {
	if code == 0 {
		return def
	}
	return code
}

func peekUpdateID(raw json.RawMessage) (int64, bool) {
	var head struct {
		ID *int64 `json:"update_id"`
	}
	if json.Unmarshal(raw, &head) != nil || head.ID == nil {
		return 0, false
	}
	return *head.ID, true
}

// retry calls one Bot API method until it works, fails for good (an error is
// returned) or ctx ends (nil is returned).
func (c *Channel) retry(ctx context.Context, method string, call func(context.Context) error) error {
	var backoff time.Duration
	for {
		var status int
		err := call(context.WithValue(ctx, statusKey{}, &status))
		if err == nil || ctx.Err() != nil {
			return nil
		}
		se := classify(status, c.redact(err))
		if !se.Retryable {
			return fmt.Errorf("telegram: %s: %w", method, se)
		}
		backoff = nextBackoff(backoff)
		c.log.Warn("telegram call failed", "method", method, "code", se.Code, "backoff", backoff)
		if !sleep(ctx, backoff) {
			return nil
		}
	}
}

func nextBackoff(d time.Duration) time.Duration {
	if d == 0 {
		return 100 * time.Millisecond
	}
	return min(2*d, maxBackoff)
}

// sleep waits d and reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
