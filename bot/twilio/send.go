package twilio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/carecheck/carecheck/bot"
)

// Twilio error codes that change what the caller does.
const (
	codeUnsubscribed    = 21610 // the recipient replied STOP: we are stopped
	codeTooManyRequests = 20429
)

// maxResponse bounds how much of a REST answer is read.
const maxResponse = 1 << 20

// defaultTimeout bounds one REST call when the caller's http.Client has none.
const defaultTimeout = 10 * time.Second

// Sender sends SMS through Twilio's Messages API. It is safe for concurrent use.
type Sender struct {
	cfg            Config
	api            *url.URL // TWILIO_API_URL, nil for Twilio's own
	transport      http.RoundTripper
	timeout        time.Duration
	statusCallback string
}

var _ bot.Sender = (*Sender)(nil)

// NewSender returns a Sender for cfg, which must Validate. httpClient's
// Transport and Timeout are used (nil or zero: http.DefaultTransport, 10 s);
// redirects are never followed.
func NewSender(cfg Config, httpClient *http.Client) (*Sender, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("twilio sender: %w", err)
	}
	s := &Sender{cfg: cfg, transport: http.DefaultTransport, timeout: defaultTimeout}
	if cfg.APIURL != "" {
		s.api, _ = baseURL(cfg.APIURL) // checked by Validate
	}
	if httpClient != nil {
		if httpClient.Transport != nil {
			s.transport = httpClient.Transport
		}
		if httpClient.Timeout > 0 {
			s.timeout = httpClient.Timeout
		}
	}
	if cfg.PublicURL != "" {
		s.statusCallback = cfg.publicBase() + StatusPath
	}
	return s, nil
}

// Send sends m as one SMS (Twilio splits long texts; buttons are ignored) and
// returns its MessageSid. It goes through m.Service (MessagingServiceSid)
// when set, else from m.From, else from Config.FromNumber.
// Failures are *bot.SendError: 429, 5xx and network errors are retryable,
// Twilio 21610 (the person texted STOP) is Stopped, other 4xx are neither.
// ctx bounds the call.
func (s *Sender) Send(ctx context.Context, m bot.Outbound) (string, error) {
	if m.Channel != "" && m.Channel != bot.SMS {
		return "", &bot.SendError{Code: "channel", Err: fmt.Errorf("twilio: cannot send on channel %q", m.Channel)}
	}
	if m.To == "" || m.Text == "" {
		return "", &bot.SendError{Code: "invalid", Err: errors.New("twilio: message needs To and Text")}
	}
	params := (&openapi.CreateMessageParams{}).SetTo(m.To).SetBody(m.Text)
	if m.Service != "" {
		params.SetMessagingServiceSid(m.Service)
	} else {
		params.SetFrom(s.from(m))
	}
	if s.statusCallback != "" {
		params.SetStatusCallback(s.statusCallback)
	}

	ctx, cancel := s.bound(ctx)
	defer cancel()
	api, tr := s.service(ctx)
	msg, err := api.CreateMessage(params)
	if err != nil {
		return "", classify(err, tr.status)
	}
	if msg.Sid == nil || *msg.Sid == "" {
		// Twilio took the message (2xx) but its answer has no sid: sending
		// again would very likely send twice.
		return "", &bot.SendError{Code: strconv.Itoa(tr.status), Err: errors.New("twilio: answer without a message sid")}
	}
	return *msg.Sid, nil
}

// from is the number m is sent from when it names no Messaging Service.
func (s *Sender) from(m bot.Outbound) string {
	if m.From != "" {
		return m.From
	}
	return s.cfg.FromNumber
}

// bound applies the sender's timeout to ctx.
func (s *Sender) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.timeout > 0 {
		return context.WithTimeout(ctx, s.timeout)
	}
	return ctx, func() {}
}

// service returns a twilio-go API client for one call. twilio-go sends every
// request with context.Background(): a client per call carries ctx (and the
// URL rewrite) in its transport. The timeout lives in ctx, not in
// http.Client.Timeout, whose deadline the transport's context would replace.
func (s *Sender) service(ctx context.Context) (*openapi.ApiService, *callTransport) {
	tr := &callTransport{ctx: ctx, base: s.transport, api: s.api}
	c := &client.Client{
		Credentials: client.NewCredentials(s.cfg.AccountSID, s.cfg.AuthToken),
		HTTPClient: &http.Client{
			Transport:     tr,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	c.SetAccountSid(s.cfg.AccountSID)
	// A bare RequestHandler: no TWILIO_EDGE / TWILIO_REGION read behind our back.
	return openapi.NewApiService(&client.RequestHandler{Client: c}), tr
}

// classify turns a twilio-go error into a *bot.SendError. status is the HTTP
// status seen on the wire, 0 if no answer came.
func classify(err error, status int) *bot.SendError {
	return classifyAs(err, status, "create message")
}

// classifyAs is classify for the call named what.
func classifyAs(err error, status int, what string) *bot.SendError {
	var rest *client.TwilioRestError
	code := 0
	if errors.As(err, &rest) {
		code = rest.Code
		if status == 0 {
			status = rest.Status // refused before sending (bad credentials)
		}
	}
	se := &bot.SendError{Err: fmt.Errorf("twilio: %s: %w", what, err)}
	switch {
	case code != 0:
		se.Code = strconv.Itoa(code)
	case status != 0:
		se.Code = strconv.Itoa(status)
	default:
		se.Code = "network"
	}
	switch {
	case code == codeUnsubscribed:
		se.Stopped = true
	case status == 0, status == http.StatusTooManyRequests, status >= 500, code == codeTooManyRequests:
		se.Retryable = true
	}
	return se
}

// callTransport is the transport of one Send: it points the request at
// TWILIO_API_URL, attaches the caller's context, records the status and reads
// the whole answer so that the connection is reused (twilio-go never closes
// the body of an error answer).
type callTransport struct {
	ctx    context.Context
	base   http.RoundTripper
	api    *url.URL
	status int
}

func (t *callTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(t.ctx)
	if t.api != nil {
		req.URL.Scheme = t.api.Scheme
		req.URL.Host = t.api.Host
		if p := strings.TrimRight(t.api.Path, "/"); p != "" {
			req.URL.Path = p + req.URL.Path
			req.URL.RawPath = ""
		}
		req.Host = ""
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	t.status = resp.StatusCode
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	return resp, nil
}
