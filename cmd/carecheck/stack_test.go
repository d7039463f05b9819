package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carecheck/carecheck/bot/telegram/telegramtest"
	"github.com/carecheck/carecheck/bot/twilio"
	"github.com/carecheck/carecheck/bot/twilio/twiliotest"
	"github.com/carecheck/carecheck/store/redistest"
)

// The numbers and names of the stories. Logs are checked for every one of them.
const (
	ourNumber   = "+13125550100"
	cmPhone     = "+13125550111"
	backupPhone = "+13125550122"
	clientPhone = "+13125550133"
	clientName  = "Rosalind Okonkwo"
	cmName      = "Dana Whitfield"
	backupName  = "Ellis Marchetti"
	accountSID  = "AC0123456789abcdef0123456789abcdef"
	authToken   = "0123456789abcdef0123456789abcdef"
	botToken    = "123456:TESTTOKEN"
	tgSecret    = "tg-secret-123"
	operatorTok = testOperatorToken
)

// storyWait is how long a story waits for something the service should do.
// A passing story never waits it out; it is generous because CI runs every
// package at once under the race detector on two cores.
const storyWait = 5 * time.Second

// fakeClock is a clock a story moves by hand.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock(t time.Time) *fakeClock { c := &fakeClock{}; c.ns.Store(t.UnixNano()); return c }
func (c *fakeClock) Now() time.Time       { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Jump(d time.Duration) { c.ns.Add(int64(d)) }

// stack is the whole service on real Redis with the fake providers.
type stack struct {
	t      *testing.T
	url    string
	twilio *twiliotest.Server
	tg     *telegramtest.Server
	clock  *fakeClock
	logs   *syncBuffer
	svc    *service
	seq    atomic.Int64
	// used holds every phone number, name and message text the story
	// used: at cleanup the logs must hold none of them.
	used *usedValues
	// moves counts the scheduler's runs: settle waits for runs that began
	// after the clock last moved, so due work is not missed.
	moves *atomic.Int64
}

// startStack starts the service; before is applied to it before it serves
// (a test's Redis hook, a handler wrapper).
func startStack(t *testing.T, before ...func(*service)) *stack {
	t.Helper()
	// Registered first, so it runs last: after the service has stopped and
	// written its last line.
	used := &usedValues{}
	var logs *syncBuffer
	var tw *twiliotest.Server
	var tg *telegramtest.Server
	t.Cleanup(func() {
		if logs != nil {
			used.checkLogs(t, logs.String(), tw, tg)
		}
	})
	rs := redistest.New(t)
	tw = twiliotest.NewServer(accountSID, authToken)
	t.Cleanup(tw.Close)
	tg = telegramtest.NewServer(botToken)
	t.Cleanup(tg.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	cfg, err := loadConfig(envOf(map[string]string{
		"REDIS_URL": rs.URL, "CARECHECK_PUBLIC_URL": base, "CARECHECK_OPERATOR_TOKEN": operatorTok,
		"TWILIO_ACCOUNT_SID": accountSID, "TWILIO_AUTH_TOKEN": authToken, "TWILIO_FROM_NUMBER": ourNumber, "TWILIO_API_URL": tw.URL,
		"TWILIO_MESSAGES_PER_SECOND": "0",
		"TELEGRAM_BOT_TOKEN":         botToken, "TELEGRAM_WEBHOOK_SECRET": tgSecret, "TELEGRAM_API_URL": tg.URL, "TELEGRAM_BOT_USERNAME": "CareCheckTestBot",
	}))
	if err != nil {
		t.Fatal(err)
	}
	clock := newFakeClock(time.Date(2026, 11, 24, 15, 0, 0, 0, time.UTC)) // 09:00 in Chicago, a Tuesday
	logs = &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	svc, err := newService(ctx, cfg, newLogger(logs, "debug"), clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	moves := &atomic.Int64{}
	svc.afterTick = func(time.Time) { moves.Add(1) }
	for _, f := range before {
		f(svc)
	}
	done := make(chan error, 1)
	go func() { done <- svc.serveOn(ctx, ln, nil) }()
	t.Cleanup(func() {
		cancel()
		<-done
		_ = svc.closeAll()
	})
	return &stack{t: t, url: base, twilio: tw, tg: tg, clock: clock, logs: logs, svc: svc, moves: moves, used: used}
}

// api calls the agency API and decodes the JSON answer.
func (s *stack) api(method, path, key string, body any) (int, map[string]any) {
	s.t.Helper()
	var rd io.Reader
	s.used.fromBody(body)
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, s.url+path, rd)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

func (s *stack) must(code int, out map[string]any, want int) map[string]any {
	s.t.Helper()
	if code != want {
		s.t.Fatalf("status = %d %v; want %d", code, out, want)
	}
	return out
}

// agency seeds an agency, a case manager with a backup, and an SMS client with consent.
type seeded struct {
	key, agency, cm, backup, client string
}

func (s *stack) seed() seeded {
	s.t.Helper()
	var z seeded
	out := s.mustFn(s.api("POST", "/v1/agencies", operatorTok, map[string]any{"name": "Northside CMH", "timezone": "America/Chicago"}))(201)
	z.key, z.agency = out["api_key"].(string), out["id"].(string)
	z.backup = s.mustFn(s.api("POST", "/v1/case-managers", z.key, map[string]any{"name": backupName, "phone": backupPhone}))(201)["id"].(string)
	z.cm = s.mustFn(s.api("POST", "/v1/case-managers", z.key, map[string]any{"name": cmName, "phone": cmPhone, "backup_id": z.backup}))(201)["id"].(string)
	z.client = s.mustFn(s.api("POST", "/v1/clients", z.key, map[string]any{
		"name": clientName, "phone": clientPhone, "channel": "sms", "timezone": "America/Chicago", "case_manager_id": z.cm, "language": "en",
		"consent": map[string]any{"at": "2026-11-01T15:00:00Z", "method": "written"},
	}))(201)["id"].(string)
	return z
}

// curry lets must read as must(api(...))(want).
func (s *stack) mustFn(code int, out map[string]any) func(int) map[string]any {
	return func(want int) map[string]any { s.t.Helper(); return s.must(code, out, want) }
}

// sms delivers a signed inbound SMS as Twilio would; it returns the status.
func (s *stack) sms(from, body string) (int, string) {
	s.t.Helper()
	sid := fmt.Sprintf("SM%032d", s.seq.Add(1))
	return s.smsWithSID(sid, from, body), sid
}

func (s *stack) smsWithSID(sid, from, body string) int {
	s.t.Helper()
	s.used.add(from, body)
	resp, err := s.twilio.DeliverSMS(context.Background(), s.url+twilio.SMSPath, s.url+twilio.SMSPath, twiliotest.SMSForm(sid, from, ourNumber, body))
	if err != nil {
		s.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// expectSMS waits up to storyWait for a message to a phone that satisfies pred.
func (s *stack) expectSMS(to string, pred func(string) bool) twiliotest.Message {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), storyWait)
	defer cancel()
	m, err := s.twilio.WaitFor(ctx, func(m twiliotest.Message) bool { return m.To == to && pred(m.Body) })
	if err != nil {
		s.t.Fatalf("no matching SMS to %s within %v; sent so far: %v", to, storyWait, s.bodiesTo(to))
	}
	return m
}

func (s *stack) bodiesTo(to string) []string {
	var out []string
	for _, m := range s.twilio.Messages() {
		if m.To == to {
			out = append(out, m.Body)
		}
	}
	return out
}

// settle waits until the work queue is empty and nothing was sent for a
// moment, so a story can check that something did NOT happen. The quiet
// moment must span two scheduler runs: the first may have begun before it,
// the second began inside it and so saw the clock as it is now, and moved
// everything due (including work that came due at once while it was quiet).
func (s *stack) settle() {
	s.t.Helper()
	rdb := s.svc.store.Redis()
	quietPolls, quietSince := 0, int64(0)
	last := -1
	deadline := time.Now().Add(storyWait)
	for time.Now().Before(deadline) {
		moves := s.moves.Load()
		n := len(s.twilio.Messages()) + len(s.tg.Sent())
		u, _ := rdb.XLen(context.Background(), "{q}:urgent").Result()
		w, _ := rdb.XLen(context.Background(), "{q}:stream").Result()
		if n == last && u == 0 && w == 0 {
			if quietPolls == 0 {
				quietSince = moves
			}
			quietPolls++
			if quietPolls >= 5 && moves >= quietSince+2 {
				return
			}
		} else {
			quietPolls = 0
		}
		last = n
		time.Sleep(20 * time.Millisecond) // watching other goroutines reach a quiet state
	}
	s.t.Fatalf("the service did not settle within %v", storyWait)
}
