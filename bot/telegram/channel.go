// Package telegram is CareCheck's Telegram channel: a webhook handler that
// verifies Telegram's secret token and turns updates into bot.Inbound, a long
// poller that feeds the same path when no public HTTPS URL exists, and a
// bot.Sender on top of github.com/go-telegram/bot. Telegram types never leave
// this package.
package telegram

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	tgbot "github.com/go-telegram/bot"

	"github.com/carecheck/carecheck/bot"
)

// DefaultAPIURL is Telegram's Bot API, used when Config.APIURL is empty.
const DefaultAPIURL = "https://api.telegram.org"

// WebhookPath is where Telegram delivers updates, under Config.PublicURL.
const WebhookPath = "/webhooks/telegram"

// Config is the Telegram channel's configuration.
type Config struct {
	// Token is the bot token from @BotFather; empty turns the channel off.
	Token string
	// WebhookSecret is the secret_token Telegram echoes in the
	// X-Telegram-Bot-Api-Secret-Token header: 1-256 of A-Z a-z 0-9 _ -.
	WebhookSecret string
	// APIURL is the Bot API base URL; "" means Telegram's.
	APIURL string
	// PublicURL is the base URL Telegram can reach us at. An https URL makes
	// Run register a webhook; anything else makes Run poll.
	PublicURL string
	// BotUsername is the bot's @username without the @, used as
	// Inbound.To and in link URLs.
	BotUsername string
}

// Enabled reports whether the channel has credentials.
func (c Config) Enabled() bool { return strings.TrimSpace(c.Token) != "" }

var secretRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)

// webhookMode reports whether PublicURL asks for a webhook (Telegram only
// calls https URLs).
func (c Config) webhookMode() bool {
	u, err := url.Parse(c.PublicURL)
	return err == nil && u.Scheme == "https" && u.Host != ""
}

func (c Config) validate() error {
	if !c.Enabled() {
		return errors.New("no bot token")
	}
	if strings.ContainsAny(c.Token, "/?# \t\r\n") {
		return errors.New("bot token has characters a token never has")
	}
	if c.APIURL != "" {
		u, err := url.Parse(c.APIURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return errors.New("API URL is not an http(s) URL")
		}
	}
	if c.WebhookSecret != "" && !secretRE.MatchString(c.WebhookSecret) {
		return errors.New("webhook secret must be 1-256 characters of A-Z a-z 0-9 _ -")
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || u.Host == "" {
			return errors.New("public URL is not an absolute URL")
		}
	}
	if c.webhookMode() && c.WebhookSecret == "" {
		return errors.New("a webhook secret is required with an https public URL")
	}
	return nil
}

// Channel is the Telegram channel for one bot. It is safe for concurrent use.
type Channel struct {
	cfg    Config
	apiURL string
	to     string // Inbound.To
	recv   bot.Receiver
	now    func() time.Time
	log    *slog.Logger

	tg     *tgbot.Bot
	client *http.Client // polling: longer timeout than sends
	secret [32]byte     // sha256 of cfg.WebhookSecret

	// answer acknowledges a callback query; a field so that the fuzz test
	// can skip the network.
	answer func(ctx context.Context, queryID string) error

	running  atomic.Bool
	inflight sync.WaitGroup // callback answers still going out

	floodMu sync.Mutex
	flood   map[int64]time.Time // chat id → no sends before
}

var _ bot.Sender = (*Channel)(nil)

// sendTimeout bounds one Bot API call other than a long poll.
const sendTimeout = 30 * time.Second

// New checks cfg and builds the channel. It makes no network call (bad
// credentials show when Run registers the webhook or starts polling).
// now and log may be nil (time.Now, discard).
func New(cfg Config, recv bot.Receiver, now func() time.Time, log *slog.Logger) (*Channel, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("telegram: config: %w", err)
	}
	if recv == nil {
		return nil, errors.New("telegram: no receiver")
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	c := &Channel{
		cfg:    cfg,
		apiURL: strings.TrimRight(orDefault(cfg.APIURL, DefaultAPIURL), "/"),
		to:     orDefault(strings.TrimPrefix(cfg.BotUsername, "@"), "telegram"),
		recv:   recv,
		now:    now,
		log:    log.With("channel", "telegram"),
		flood:  make(map[int64]time.Time),
	}
	c.secret = hashSecret(cfg.WebhookSecret)
	transport := http.DefaultTransport.(*http.Transport).Clone()
	c.client = &http.Client{Transport: transport, Timeout: pollTimeout + 15*time.Second}
	tg, err := tgbot.New(cfg.Token,
		tgbot.WithServerURL(c.apiURL),
		tgbot.WithSkipGetMe(),
		tgbot.WithHTTPClient(pollTimeout, statusRecorder{&http.Client{Transport: transport, Timeout: sendTimeout}}),
		tgbot.WithErrorsHandler(func(err error) {
			c.log.Debug("telegram client", "err", c.redact(err))
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("telegram: client: %w", err)
	}
	c.tg = tg
	c.answer = c.answerCallback
	return c, nil
}

// orDefault returns s, or def when s is empty.
func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// redact keeps the bot token out of an error's text.
func (c *Channel) redact(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if !strings.Contains(msg, c.cfg.Token) {
		return err
	}
	return errors.New(strings.ReplaceAll(msg, c.cfg.Token, "<token>"))
}
