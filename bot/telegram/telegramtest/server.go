// Package telegramtest is a fake Telegram Bot API for tests and the demo, in
// the manner of net/http/httptest: a real HTTP server on 127.0.0.1 that
// answers /bot<token>/<method> like api.telegram.org, records what was sent,
// queues updates for long polling, fails on demand, and can deliver updates
// to a webhook the way Telegram does.
package telegramtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf16"

	"github.com/carecheck/carecheck/bot"
)

// MaxPoll caps how long getUpdates waits for an update, whatever timeout the
// client asks for, so that tests and the demo stay quick.
const MaxPoll = time.Second

// Message is one sendMessage call the server accepted.
type Message struct {
	ChatID    int64
	Text      string
	Buttons   []bot.Button // the inline keyboard, row by row, left to right
	MessageID int
	At        time.Time
}

// Request is one Bot API call the server answered, successful or not, with
// its parameters flattened to strings the way Telegram reads them (JSON
// values other than strings keep their JSON text, e.g. reply_markup).
type Request struct {
	Method string
	Params map[string]string
	Status int
	At     time.Time
}

type failure struct {
	status      int
	description string
}

type queued struct {
	id  int64
	raw json.RawMessage
}

// Server is a fake Bot API for one bot token.
type Server struct {
	// URL is the base URL to give the client, e.g. bot.WithServerURL(s.URL).
	URL string

	token  string
	botID  int64
	srv    *httptest.Server
	client *http.Client

	mu          sync.Mutex
	changed     chan struct{} // closed and replaced on every change
	sent        []Message
	requests    []Request
	failNext    []failure
	failureRate float64
	rng         *rand.Rand
	nextMsgID   map[int64]int
	webhookURL  string
	secret      string
	updates     []queued
}

// NewServer starts a fake Bot API that accepts token (as "/bot<token>/...").
// Close it when done.
func NewServer(token string) *Server {
	s := &Server{
		token:     token,
		changed:   make(chan struct{}),
		nextMsgID: make(map[int64]int),
		rng:       rand.New(rand.NewPCG(1, 2)),
	}
	if id, err := strconv.ParseInt(strings.SplitN(token, ":", 2)[0], 10, 64); err == nil {
		s.botID = id
	} else {
		s.botID = 7000000001
	}
	s.srv = httptest.NewServer(http.HandlerFunc(botAPI{s}.serve))
	s.URL = s.srv.URL
	s.client = s.srv.Client()
	return s
}

// Close shuts the server down, ending any long poll in progress.
func (s *Server) Close() {
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// Sent returns a copy of every message accepted so far, in order.
func (s *Server) Sent() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.sent))
	for i, m := range s.sent {
		m.Buttons = slices.Clone(m.Buttons)
		out[i] = m
	}
	return out
}

// Requests returns a copy of every call answered so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// WaitFor returns the first sent message (already sent or yet to come) for
// which pred is true, or ctx's error once ctx ends.
func (s *Server) WaitFor(ctx context.Context, pred func(Message) bool) (Message, error) {
	seen := 0
	for {
		s.mu.Lock()
		for ; seen < len(s.sent); seen++ {
			if m := s.sent[seen]; pred(m) {
				s.mu.Unlock()
				m.Buttons = slices.Clone(m.Buttons)
				return m, nil
			}
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return Message{}, fmt.Errorf("telegramtest: wait for message: %w", ctx.Err())
		case <-ch:
		}
	}
}

// WaitRequest returns the first answered call (already made or yet to come)
// for which pred is true, or ctx's error once ctx ends.
func (s *Server) WaitRequest(ctx context.Context, pred func(Request) bool) (Request, error) {
	seen := 0
	for {
		s.mu.Lock()
		for ; seen < len(s.requests); seen++ {
			if r := s.requests[seen]; pred(r) {
				s.mu.Unlock()
				return r, nil
			}
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return Request{}, fmt.Errorf("telegramtest: wait for request: %w", ctx.Err())
		case <-ch:
		}
	}
}

// FailNext makes the next n sendMessage calls fail with status and
// description, as Telegram would answer them, e.g.
// FailNext(1, 403, "Forbidden: bot was blocked by the user") or
// FailNext(1, 429, "Too Many Requests: retry after 7") (the number after
// "retry after" becomes parameters.retry_after).
func (s *Server) FailNext(n int, status int, description string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failNext = append(s.failNext, failure{status, description})
	}
}

// PendingFailures reports how many failures queued by FailNext are unused.
func (s *Server) PendingFailures() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.failNext)
}

// SetFailureRate makes each sendMessage call fail with 500 with probability
// p (0 turns it off). The random source is seeded: runs repeat.
func (s *Server) SetFailureRate(p float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failureRate = p
}

// Webhook returns the URL and secret token of the last setWebhook call, or
// empty strings if none is set (or deleteWebhook removed it).
func (s *Server) Webhook() (url, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.webhookURL, s.secret
}

// QueueUpdate adds one update (JSON carrying its update_id) for getUpdates.
// Updates are returned in update_id order until a getUpdates call confirms
// them with a higher offset.
func (s *Server) QueueUpdate(u json.RawMessage) {
	var head struct {
		ID int64 `json:"update_id"`
	}
	_ = json.Unmarshal(u, &head)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.updates = append(s.updates, queued{head.ID, slices.Clone(u)})
	slices.SortStableFunc(s.updates, func(a, b queued) int {
		switch {
		case a.id < b.id:
			return -1
		case a.id > b.id:
			return 1
		}
		return 0
	})
	s.notifyLocked()
}

// Pending returns how many queued updates no getUpdates offset has confirmed.
func (s *Server) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.updates)
}

// Deliver POSTs update to webhookURL with the secret token header, as
// Telegram does. An empty webhookURL and secret mean the ones registered by
// setWebhook. The caller closes the response body.
func (s *Server) Deliver(ctx context.Context, webhookURL, secret string, update []byte) (*http.Response, error) {
	if webhookURL == "" {
		webhookURL, secret = s.Webhook()
		if webhookURL == "" {
			return nil, fmt.Errorf("telegramtest: deliver: no webhook set")
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, webhookURL, bytes.NewReader(update))
	if err != nil {
		return nil, fmt.Errorf("telegramtest: deliver: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("telegramtest: deliver: %w", err)
	}
	return resp, nil
}

func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// answer is one Bot API reply.
type answer struct {
	OK          bool            `json:"ok"`
	Result      any             `json:"result,omitempty"`
	ErrorCode   int             `json:"error_code,omitempty"`
	Description string          `json:"description,omitempty"`
	Parameters  *answerParams   `json:"parameters,omitempty"`
	raw         json.RawMessage // set instead of Result for getUpdates
}

type answerParams struct {
	RetryAfter int `json:"retry_after,omitempty"`
}

func fail(status int, description string) answer {
	a := answer{ErrorCode: status, Description: description}
	if m := retryAfterRE.FindStringSubmatch(description); status == http.StatusTooManyRequests && m != nil {
		n, _ := strconv.Atoi(m[1])
		a.Parameters = &answerParams{RetryAfter: n}
	}
	return a
}

var retryAfterRE = regexp.MustCompile(`retry after (\d+)`)

// botAPI answers the Bot API methods the fake speaks, on behalf of its
// Server (the recorded state and the scripted failures live there).
type botAPI struct{ *Server }

func (s botAPI) serve(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/bot")
	tok, method, ok2 := strings.Cut(rest, "/")
	var a answer
	var params map[string]string
	switch {
	case !ok || !ok2 || tok != s.token:
		a = fail(http.StatusUnauthorized, "Unauthorized")
	default:
		var err error
		params, err = readParams(r)
		if err != nil {
			a = fail(http.StatusBadRequest, "Bad Request: "+err.Error())
			break
		}
		a = s.call(r.Context(), method, params)
	}
	status := http.StatusOK
	if !a.OK {
		status = a.ErrorCode
	}
	s.mu.Lock()
	s.requests = append(s.requests, Request{Method: method, Params: params, Status: status, At: time.Now()})
	s.notifyLocked()
	s.mu.Unlock()

	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if a.raw != nil {
		fmt.Fprintf(w, `{"ok":true,"result":%s}`, a.raw)
		return
	}
	_ = json.NewEncoder(w).Encode(a)
}

func (s botAPI) call(ctx context.Context, method string, p map[string]string) answer {
	switch method {
	case "getMe":
		return answer{OK: true, Result: s.me()}
	case "sendMessage":
		return s.sendMessage(p)
	case "answerCallbackQuery":
		if p["callback_query_id"] == "" {
			return fail(http.StatusBadRequest, "Bad Request: query is too old and response timeout expired or query ID is invalid")
		}
		return answer{OK: true, Result: true}
	case "setWebhook":
		u, err := url.Parse(p["url"])
		if err != nil || u.Scheme != "https" && p["url"] != "" {
			return fail(http.StatusBadRequest, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
		}
		s.mu.Lock()
		s.webhookURL, s.secret = p["url"], p["secret_token"]
		s.mu.Unlock()
		return answer{OK: true, Result: true, Description: "Webhook was set"}
	case "deleteWebhook":
		s.mu.Lock()
		s.webhookURL, s.secret = "", ""
		if p["drop_pending_updates"] == "true" {
			s.updates = nil
		}
		s.mu.Unlock()
		return answer{OK: true, Result: true, Description: "Webhook was deleted"}
	case "getUpdates":
		return s.getUpdates(ctx, p)
	}
	return fail(http.StatusNotFound, "Not Found")
}

func (s botAPI) me() map[string]any {
	return map[string]any{"id": s.botID, "is_bot": true, "first_name": "CareCheck", "username": "carecheck_test_bot",
		"can_join_groups": true, "can_read_all_group_messages": false, "supports_inline_queries": false}
}

func (s botAPI) sendMessage(p map[string]string) answer {
	chatID, err := strconv.ParseInt(p["chat_id"], 10, 64)
	if err != nil || chatID == 0 {
		return fail(http.StatusBadRequest, "Bad Request: chat not found")
	}
	if strings.TrimSpace(p["text"]) == "" {
		return fail(http.StatusBadRequest, "Bad Request: message text is empty")
	}
	if len(utf16.Encode([]rune(p["text"]))) > 4096 {
		return fail(http.StatusBadRequest, "Bad Request: message is too long")
	}
	var buttons []bot.Button
	var markup any
	if rm := p["reply_markup"]; rm != "" {
		var kb struct {
			InlineKeyboard [][]struct {
				Text         string `json:"text"`
				CallbackData string `json:"callback_data"`
			} `json:"inline_keyboard"`
		}
		if err := json.Unmarshal([]byte(rm), &kb); err != nil {
			return fail(http.StatusBadRequest, "Bad Request: can't parse reply keyboard markup JSON object")
		}
		for _, row := range kb.InlineKeyboard {
			for _, b := range row {
				if b.Text == "" {
					return fail(http.StatusBadRequest, "Bad Request: text buttons are unallowed in the inline keyboard")
				}
				if b.CallbackData == "" || len(b.CallbackData) > 64 {
					return fail(http.StatusBadRequest, "Bad Request: BUTTON_DATA_INVALID")
				}
				buttons = append(buttons, bot.Button{Label: b.Text, Data: b.CallbackData})
			}
		}
		markup = json.RawMessage(rm)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.failNext) > 0 {
		f := s.failNext[0]
		s.failNext = s.failNext[1:]
		return fail(f.status, f.description)
	}
	if s.failureRate > 0 && s.rng.Float64() < s.failureRate {
		return fail(http.StatusInternalServerError, "Internal Server Error")
	}
	s.nextMsgID[chatID]++
	id := s.nextMsgID[chatID]
	now := time.Now()
	s.sent = append(s.sent, Message{ChatID: chatID, Text: p["text"], Buttons: buttons, MessageID: id, At: now})
	result := map[string]any{
		"message_id": id,
		"from":       s.me(),
		"chat":       map[string]any{"id": chatID, "type": "private"},
		"date":       now.Unix(),
		"text":       p["text"],
	}
	if markup != nil {
		result["reply_markup"] = markup
	}
	return answer{OK: true, Result: result}
}

func (s botAPI) getUpdates(ctx context.Context, p map[string]string) answer {
	offset, _ := strconv.ParseInt(p["offset"], 10, 64)
	limit, _ := strconv.Atoi(p["limit"])
	if limit <= 0 || limit > 100 {
		limit = 100
	}
	timeout, _ := strconv.Atoi(p["timeout"])
	wait := min(time.Duration(timeout)*time.Second, MaxPoll)
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		s.mu.Lock()
		if s.webhookURL != "" {
			s.mu.Unlock()
			return fail(http.StatusConflict, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first")
		}
		if offset > 0 {
			s.updates = slices.DeleteFunc(s.updates, func(q queued) bool { return q.id < offset })
		}
		n := min(limit, len(s.updates))
		out := make([]json.RawMessage, n)
		for i := range n {
			out[i] = s.updates[i].raw
		}
		ch := s.changed
		s.mu.Unlock()
		if n > 0 || wait <= 0 {
			raw, _ := json.Marshal(out)
			return answer{OK: true, raw: raw}
		}
		select {
		case <-ch:
		case <-timer.C:
			wait = 0
		case <-ctx.Done():
			wait = 0
		}
	}
}

// readParams reads a Bot API call's parameters from the query string and a
// JSON, urlencoded or multipart body: every way Telegram accepts them.
func readParams(r *http.Request) (map[string]string, error) {
	p := make(map[string]string)
	for k, v := range r.URL.Query() {
		p[k] = v[0]
	}
	if r.Body == nil {
		return p, nil
	}
	ct, ctParams, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		var obj map[string]json.RawMessage
		body, err := io.ReadAll(io.LimitReader(r.Body, 10<<20))
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(body)) == 0 {
			return p, nil
		}
		if err := json.Unmarshal(body, &obj); err != nil {
			return nil, fmt.Errorf("can't parse JSON: %v", err)
		}
		for k, v := range obj {
			var str string
			if json.Unmarshal(v, &str) == nil {
				p[k] = str
			} else {
				p[k] = string(v)
			}
		}
	case "application/x-www-form-urlencoded":
		if err := r.ParseForm(); err != nil {
			return nil, err
		}
		for k, v := range r.PostForm {
			p[k] = v[0]
		}
	case "multipart/form-data":
		mr := multipart.NewReader(r.Body, ctParams["boundary"])
		for {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				break // includes the client's empty body for calls without parameters
			}
			if err != nil {
				return nil, err
			}
			b, err := io.ReadAll(io.LimitReader(part, 10<<20))
			if err != nil {
				return nil, err
			}
			p[part.FormName()] = string(b)
		}
	}
	return p, nil
}
