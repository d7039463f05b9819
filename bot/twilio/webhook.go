package twilio

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/carecheck/carecheck/bot"
	"github.com/carecheck/carecheck/bot/redact"
)

// MaxBody is the largest webhook body accepted (413 beyond). An inbound SMS
// form is about 1 KiB; a 1,600-character body of emoji is under 20 KiB.
const MaxBody = 64 << 10

// SignatureHeader carries Twilio's HMAC-SHA1 of the URL and POST form.
const SignatureHeader = "X-Twilio-Signature"

// retryAfter is the Retry-After, in seconds, of a 503.
const retryAfter = "5"

// emptyTwiML is the answer to an accepted webhook: no reply from Twilio; the
// core sends its own replies through the Sender.
const emptyTwiML = `<?xml version="1.0" encoding="UTF-8"?><Response></Response>`

// SMSHandler is the inbound SMS webhook (POST /webhooks/twilio/sms). It
// verifies X-Twilio-Signature over cfg.PublicURL + the request's path (and
// query) and the POST form, then hands a bot.Inbound to recv. It answers 200
// with empty TwiML once recv has stored the message (or says the sender is
// unknown), 503 with Retry-After when recv fails, and 403/400/405/413 to bad
// requests, which recv never sees. Logs carry the MessageSid and the outcome,
// never the text or a phone number. now and log may be nil.
func SMSHandler(cfg Config, recv bot.Receiver, now func() time.Time, log *slog.Logger) http.Handler {
	return newWebhook("sms", cfg, now, log, []string{"MessageSid", "From", "To"},
		func(ctx context.Context, _ string, f url.Values, at time.Time) (string, error) {
			return "", recv.Receive(ctx, bot.Inbound{
				Channel:    bot.SMS,
				Kind:       bot.KindText,
				ProviderID: f.Get("MessageSid"),
				From:       f.Get("From"),
				To:         f.Get("To"),
				Service:    f.Get("MessagingServiceSid"),
				Text:       f.Get("Body"),
				Received:   at,
			})
		})
}

// webhook is what the two handlers share: limits, verification, answers, logs.
type webhook struct {
	name       string
	configured bool     // token and public URL set; false = refuse all
	key        []byte   // the auth token
	bases      []string // signedBases(PublicURL)
	required   []string
	now        func() time.Time
	log        *slog.Logger
	// sidKey is the form field naming the event at Twilio, and logKey the
	// log attribute that carries it (message_sid, call_sid).
	sidKey, logKey string
	// pass hands the verified form (and the URL's query, signed with it)
	// on; a TwiML answer it returns is the webhook's answer ("" empty TwiML).
	pass func(ctx context.Context, query string, form url.Values, at time.Time) (string, error)
}

func newWebhook(name string, cfg Config, now func() time.Time, log *slog.Logger, required []string,
	pass func(context.Context, string, url.Values, time.Time) (string, error)) *webhook {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &webhook{name: name, required: required, now: now, log: log, pass: pass, sidKey: "MessageSid", logKey: "message_sid"}
	// Without a token anyone can sign; without a public URL nothing can be
	// checked. Such a handler refuses everything.
	if cfg.AuthToken != "" && cfg.PublicURL != "" {
		h.configured = true
		h.key = []byte(cfg.AuthToken)
		h.bases = signedBases(cfg.publicBase())
	}
	return h
}

func (h *webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.reject(w, r, http.StatusMethodNotAllowed, "method", "")
		return
	}
	if !h.configured {
		h.reject(w, r, http.StatusForbidden, "not_configured", "")
		return
	}
	if r.ContentLength > MaxBody {
		h.reject(w, r, http.StatusRequestEntityTooLarge, "too_large", "")
		return
	}
	sig := r.Header.Get(SignatureHeader)
	if sig == "" {
		h.reject(w, r, http.StatusForbidden, "no_signature", "")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			h.reject(w, r, http.StatusRequestEntityTooLarge, "too_large", "")
			return
		}
		h.reject(w, r, http.StatusBadRequest, "unreadable", "")
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		h.reject(w, r, http.StatusBadRequest, "malformed", "")
		return
	}
	sid := form.Get(h.sidKey)
	if !h.verified(r, form, sig) {
		h.reject(w, r, http.StatusForbidden, "bad_signature", sid)
		return
	}
	for _, k := range h.required {
		if form.Get(k) == "" {
			h.reject(w, r, http.StatusBadRequest, "missing_"+k, sid)
			return
		}
	}

	twiml, err := h.pass(r.Context(), r.URL.RawQuery, form, h.now())
	switch {
	case err == nil:
		h.accept(w, r, "accepted", sid, slog.LevelDebug, twiml)
	case errors.Is(err, bot.ErrUnknownSender):
		h.accept(w, r, "unknown_sender", sid, slog.LevelInfo, "")
	default:
		h.log.LogAttrs(r.Context(), slog.LevelError, "twilio webhook",
			slog.String("hook", h.name), slog.String(h.logKey, sid),
			slog.String("outcome", "receiver_failed"), slog.Int("status", http.StatusServiceUnavailable),
			slog.String("error", redactForm(err.Error(), form)))
		w.Header().Set("Retry-After", retryAfter)
		http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
	}
}

// verified checks sig over the public URL of r and the POST form, as Twilio
// computes it: base64(HMAC-SHA1(token, URL + each key and its first value,
// keys sorted)). It accepts exactly what twilio-go's RequestValidator.Validate
// accepts (the URL as configured, or with its default port added or its port
// removed), but in linear time: twilio-go builds the signed string by repeated
// concatenation, which costs a forged 64 KiB form with thousands of keys about
// 130 ms of CPU and hundreds of MB of garbage, before any authentication.
func (h *webhook) verified(r *http.Request, form url.Values, sig string) bool {
	if len(sig) != base64.StdEncoding.EncodedLen(sha1.Size) {
		return false
	}
	var want [sha1.Size + 1]byte // DecodedLen(28)
	if n, err := base64.StdEncoding.Decode(want[:], []byte(sig)); err != nil || n != sha1.Size {
		return false
	}
	suffix := r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		suffix += "?" + r.URL.RawQuery
	}
	keys := slices.Sorted(maps.Keys(form))
	mac := hmac.New(sha1.New, h.key)
	var sum [sha1.Size]byte
	for _, base := range h.bases {
		mac.Reset()
		io.WriteString(mac, base)
		io.WriteString(mac, suffix)
		for _, k := range keys {
			io.WriteString(mac, k)
			io.WriteString(mac, form[k][0])
		}
		if hmac.Equal(mac.Sum(sum[:0]), want[:sha1.Size]) {
			return true
		}
	}
	return false
}

// signedBases are the forms of the public base URL a signature may be
// computed over, as twilio-go's validator allows: as configured, and with the
// scheme's default port added (or, if it has a port, without it).
func signedBases(public string) []string {
	u, err := url.Parse(public)
	if err != nil || u.Host == "" {
		return []string{public}
	}
	alt := *u
	if u.Port() != "" {
		alt.Host = strings.TrimSuffix(u.Host, ":"+u.Port())
	} else if u.Scheme == "https" {
		alt.Host = u.Host + ":443"
	} else {
		alt.Host = u.Host + ":80"
	}
	return []string{public, alt.String()}
}

func (h *webhook) accept(w http.ResponseWriter, r *http.Request, outcome, sid string, level slog.Level, twiml string) {
	h.log.LogAttrs(r.Context(), level, "twilio webhook",
		slog.String("hook", h.name), slog.String(h.logKey, sid),
		slog.String("outcome", outcome), slog.Int("status", http.StatusOK))
	if twiml == "" {
		twiml = emptyTwiML
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(twiml)))
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, twiml)
}

// reject answers a request that is passed on to no one. sid is logged only if
// it has the shape of a Twilio sid: an unverified form can hold anything.
func (h *webhook) reject(w http.ResponseWriter, r *http.Request, status int, outcome, sid string) {
	if !isSID(sid) {
		sid = ""
	}
	h.log.LogAttrs(r.Context(), slog.LevelWarn, "twilio webhook",
		slog.String("hook", h.name), slog.String(h.logKey, sid),
		slog.String("outcome", outcome), slog.Int("status", status))
	http.Error(w, http.StatusText(status), status)
}

// isSID reports whether s looks like a Twilio sid: two capitals, 32 hex digits.
func isSID(s string) bool {
	if len(s) != 34 || s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' || s[1] > 'Z' {
		return false
	}
	for i := 2; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// redactForm removes from msg, a receiver's error text, every personal value of
// the form (numbers, places, names, the text) before it is logged.
func redactForm(msg string, form url.Values) string {
	var personal []string
	for k, vs := range form {
		if k == "Body" || k == "ProfileName" || k == "WaId" ||
			strings.HasPrefix(k, "From") || strings.HasPrefix(k, "To") {
			personal = append(personal, vs...)
		}
	}
	return redact.Text(msg, personal...)
}
