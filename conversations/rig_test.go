package conversations_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/carecheck/carecheck/bot"
	"github.com/carecheck/carecheck/conversations"
	"github.com/carecheck/carecheck/escalation"
	"github.com/carecheck/carecheck/escalation/detect"
	"github.com/carecheck/carecheck/store"
	"github.com/carecheck/carecheck/store/redistest"
)

// clock is the service clock the tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// rig is one agency, its case manager and one SMS client on a Redis of
// their own, with the conversation rooms wired as the service wires them
// (no HTTP, no workers: the tests call the rooms and read the queue).
type rig struct {
	t     *testing.T
	rs    *redistest.Server
	rdb   redis.UniversalClient
	st    *store.Store
	clock *clock
	esc   *escalation.Service
	rooms *conversations.Rooms
	logs  *syncBuffer
	a     *store.Agency
	cm    *store.CaseManager
	c     *store.Client
	sids  atomic.Int64
}

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// unsent is a channel whose messages stay queued: no worker runs in these
// tests, which read what was queued.
type unsent struct{}

func (unsent) Send(context.Context, bot.Outbound) (string, error) {
	return "", errors.New("these tests send nothing")
}

// start is 10:00 in Chicago, outside any quiet hours.
var start = time.Date(2026, 7, 1, 15, 0, 0, 0, time.UTC)

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{t: t, rs: redistest.New(t), clock: &clock{t: start}, logs: &syncBuffer{}}
	r.rdb = r.rs.Client(t)
	r.st = store.New(r.rdb, r.clock.Now)
	log := slog.New(slog.NewTextHandler(r.logs, nil))
	det, err := detect.New()
	if err != nil {
		t.Fatal(err)
	}
	senders := map[bot.Kind]bot.Sender{bot.SMS: unsent{}, bot.Telegram: unsent{}}
	ob := bot.NewOutbox(r.st, senders, bot.Pacing{}, conversations.NewStops(r.st, log), log)
	r.esc = escalation.NewService(r.st, ob, nil, log)
	r.rooms = conversations.New(conversations.Deps{Store: r.st, Screen: escalation.NewScreener(det), Escalations: r.esc, Outbox: ob, Log: log})

	ctx := t.Context()
	r.a = &store.Agency{Name: "Northside", Timezone: "America/Chicago"}
	if _, err := r.st.CreateAgency(ctx, r.a); err != nil {
		t.Fatal(err)
	}
	r.cm = &store.CaseManager{AgencyID: r.a.ID, Name: "Dana", Phone: "+13125550111"}
	if err := r.st.CreateCaseManager(ctx, r.cm); err != nil {
		t.Fatal(err)
	}
	r.c = &store.Client{AgencyID: r.a.ID, Name: "Robin", Phone: "+13125550200", Channel: "sms", Timezone: "America/Chicago",
		Language: "en", CaseManagerID: r.cm.ID, Consent: &store.Consent{At: start.Add(-time.Hour), Method: "written"}}
	if err := r.st.CreateClient(ctx, r.c); err != nil {
		t.Fatal(err)
	}
	return r
}

// sms is a text from a phone, with a fresh provider id.
func (r *rig) sms(from, text string) bot.Inbound {
	return bot.Inbound{Channel: bot.SMS, Kind: bot.KindText, From: from, ProviderID: fmt.Sprintf("SM%032d", r.sids.Add(1)), Text: text}
}

// queued lists the messages queued to go out now (routine and urgent), in
// queue order.
func (r *rig) queued() []*bot.Job {
	r.t.Helper()
	var jobs []*bot.Job
	for _, stream := range []string{"{q}:urgent", "{q}:stream"} {
		msgs, err := r.rdb.XRange(r.t.Context(), stream, "-", "+").Result()
		if err != nil {
			r.t.Fatal(err)
		}
		for _, m := range msgs {
			p, _ := m.Values["p"].(string)
			if j, ok := bot.DecodeJob([]byte(p)); ok {
				jobs = append(jobs, j)
			}
		}
	}
	return jobs
}

// to lists the texts queued to one address, in queue order.
func (r *rig) to(addr string) []string {
	var out []string
	for _, j := range r.queued() {
		if j.Msg.To == addr {
			out = append(out, j.Msg.Text)
		}
	}
	return out
}

// queuedWork decodes this package's work queued to go out now.
func (r *rig) queuedWork(kind string) []conversations.Work {
	r.t.Helper()
	msgs, err := r.rdb.XRange(r.t.Context(), "{q}:stream", "-", "+").Result()
	if err != nil {
		r.t.Fatal(err)
	}
	var out []conversations.Work
	for _, m := range msgs {
		p, _ := m.Values["p"].(string)
		if w, ok := conversations.DecodeWork([]byte(p)); ok && w.Kind == kind {
			out = append(out, w)
		}
	}
	return out
}

// events lists the client's timeline entry types in order.
func (r *rig) events() []string {
	r.t.Helper()
	page, err := r.st.Timeline(r.t.Context(), r.c.ID, time.Time{}, time.Time{}, "", 500)
	if err != nil {
		r.t.Fatal(err)
	}
	var out []string
	for _, e := range page.Items {
		out = append(out, e.Type)
	}
	return out
}

// client reloads the client's record.
func (r *rig) client() *store.Client {
	r.t.Helper()
	c, err := r.st.Client(r.t.Context(), r.c.ID)
	if err != nil {
		r.t.Fatal(err)
	}
	return c
}

// openEscalations lists the agency's open escalations.
func (r *rig) openEscalations() []*store.Escalation {
	r.t.Helper()
	page, err := r.st.Escalations(r.t.Context(), r.a.ID, store.EscOpen, "", 50)
	if err != nil {
		r.t.Fatal(err)
	}
	return page.Items
}

// receive hands one inbound event to the inbox and fails the test on an error.
func (r *rig) receive(in bot.Inbound) {
	r.t.Helper()
	if err := r.rooms.Inbox.Receive(r.t.Context(), in); err != nil {
		r.t.Fatalf("Receive(%q) = %v", in.Text, err)
	}
}

// commandFault fails, n times, the commands match picks.
type commandFault struct {
	match func(redis.Cmder) bool
	n     atomic.Int32
	hit   atomic.Int32
}

func (f *commandFault) DialHook(next redis.DialHook) redis.DialHook { return next }

func (f *commandFault) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if f.match(cmd) && f.n.Add(-1) >= 0 {
			f.hit.Add(1)
			err := errors.New("injected: connection reset")
			cmd.SetErr(err)
			return err
		}
		return next(ctx, cmd)
	}
}

func (f *commandFault) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			if f.match(cmd) && f.n.Add(-1) >= 0 {
				f.hit.Add(1)
				err := errors.New("injected: connection reset")
				for _, c := range cmds {
					c.SetErr(err)
				}
				return err
			}
		}
		return next(ctx, cmds)
	}
}

// failOnce makes the first command that match picks fail.
func (r *rig) failOnce(match func(redis.Cmder) bool) *commandFault {
	f := &commandFault{match: match}
	f.n.Store(1)
	r.rdb.AddHook(f)
	return f
}

// argHas reports whether a command is name with an argument containing s.
func argHas(cmd redis.Cmder, name, s string) bool {
	if cmd.Name() != name {
		return false
	}
	for _, a := range cmd.Args()[1:] {
		if v, ok := a.(string); ok && strings.Contains(v, s) {
			return true
		}
	}
	return false
}
