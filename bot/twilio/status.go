package twilio

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/carecheck/carecheck/bot"
)

// StatusHandler is the delivery status callback (POST /webhooks/twilio/status):
// verified like SMSHandler, it hands MessageSid, MessageStatus and ErrorCode to
// recv as a bot.StatusUpdate. Twilio sends these twice and out of order: recv
// must never move a status backwards.
func StatusHandler(cfg Config, recv bot.StatusReceiver, now func() time.Time, log *slog.Logger) http.Handler {
	return newWebhook("status", cfg, now, log, []string{"MessageSid", "MessageStatus"},
		func(ctx context.Context, _ string, f url.Values, at time.Time) (string, error) {
			return "", recv.Status(ctx, bot.StatusUpdate{
				Channel:    bot.SMS,
				ProviderID: f.Get("MessageSid"),
				Status:     f.Get("MessageStatus"),
				ErrorCode:  f.Get("ErrorCode"),
				Received:   at,
			})
		})
}
