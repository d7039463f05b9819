package telegram

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carecheck/carecheck/bot"
	"github.com/carecheck/carecheck/bot/telegram/telegramtest"
)

const (
	testToken  = "7000000001:AAH-test-token-0123456789abcdefghij"
	testSecret = "s3cr3t_Token-for-tests"
)

// epoch is the fixed clock every harness starts at.
var epoch = time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)

// recorder is the Receiver fake: it keeps what it is given and answers with
// scripted errors, in order, then nil.
type recorder struct {
	mu   sync.Mutex
	got  []bot.Inbound
	errs []error
	ch   chan bot.Inbound
}

func newRecorder(errs ...error) *recorder {
	return &recorder{errs: errs, ch: make(chan bot.Inbound, 64)}
}

func (r *recorder) Receive(_ context.Context, in bot.Inbound) error {
	r.mu.Lock()
	r.got = append(r.got, in)
	var err error
	if len(r.errs) > 0 {
		err, r.errs = r.errs[0], r.errs[1:]
	}
	r.mu.Unlock()
	select {
	case r.ch <- in:
	default:
	}
	return err
}

func (r *recorder) received() []bot.Inbound {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]bot.Inbound(nil), r.got...)
}

// next waits for the next Inbound, up to ctx's deadline.
func (r *recorder) next(ctx context.Context, t *testing.T) bot.Inbound {
	t.Helper()
	select {
	case in := <-r.ch:
		return in
	case <-ctx.Done():
		t.Fatalf("no Inbound received: %v", ctx.Err())
		return bot.Inbound{}
	}
}

// syncBuffer is a log sink several goroutines may write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// clock is a settable fake clock.
type clock struct{ t atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.t.Store(epoch.UnixNano())
	return c
}
func (c *clock) Now() time.Time          { return time.Unix(0, c.t.Load()).UTC() }
func (c *clock) Advance(d time.Duration) { c.t.Add(int64(d)) }

// harness is one Channel wired to a fake Bot API, a recording Receiver, a
// fixed clock and a log buffer that is checked for secrets at cleanup.
type harness struct {
	ch    *Channel
	api   *telegramtest.Server
	recv  *recorder
	clock *clock
	logs  *syncBuffer
}

func newHarness(t testing.TB, recv *recorder, edit func(*Config)) *harness {
	t.Helper()
	api := telegramtest.NewServer(testToken)
	t.Cleanup(api.Close)
	if !strings.HasPrefix(api.URL, "http://127.0.0.1:") {
		t.Fatalf("fake Bot API at %s; want loopback", api.URL)
	}
	cfg := Config{
		Token:         testToken,
		WebhookSecret: testSecret,
		APIURL:        api.URL,
		BotUsername:   "carecheck_test_bot",
	}
	if edit != nil {
		edit(&cfg)
	}
	if recv == nil {
		recv = newRecorder()
	}
	h := &harness{api: api, recv: recv, clock: newClock(), logs: &syncBuffer{}}
	log := slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ch, err := New(cfg, recv, h.clock.Now, log)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.ch = ch
	t.Cleanup(func() {
		ch.inflight.Wait()
		logs := h.logs.String()
		for _, secret := range []string{testToken, "AAH-test-token", testSecret} {
			if strings.Contains(logs, secret) {
				t.Errorf("logs hold a secret (%q):\n%s", secret, logs)
			}
		}
	})
	return h
}

// calls returns the fake's answered calls of method.
func (h *harness) calls(method string) []telegramtest.Request {
	var out []telegramtest.Request
	for _, r := range h.api.Requests() {
		if r.Method == method {
			out = append(out, r)
		}
	}
	return out
}

func ctxTimeout(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
