package bot_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/carecheck/carecheck/bot"
	"github.com/carecheck/carecheck/bot/twilio"
	"github.com/carecheck/carecheck/bot/twilio/twiliotest"
	"github.com/carecheck/carecheck/store"
	"github.com/carecheck/carecheck/store/redistest"
)

const (
	account = "AC9f2b5e3c1d4a6b8c0e2f4a6b8c0d1e2f"
	token   = "5c2f9e1a7b3d4c6e8f0a1b2c3d4e5f60"
	ourSMS  = "+13125550100"
)

// smsOutbox is an outbox on its own Redis with the real Twilio sender
// pointed at a fake Twilio.
func smsOutbox(t *testing.T) (*bot.Outbox, *store.Store, *twilio.Sender, *twiliotest.Server) {
	t.Helper()
	st := store.New(redistest.New(t).Client(t), nil)
	fake := twiliotest.NewServer(account, token)
	t.Cleanup(fake.Close)
	s, err := twilio.NewSender(twilio.Config{AccountSID: account, AuthToken: token, FromNumber: ourSMS, APIURL: fake.URL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return bot.NewOutbox(st, map[bot.Kind]bot.Sender{bot.SMS: s}, bot.Pacing{}, nil, nil), st, s, fake
}

// diedAfterClaim leaves m as a process killed after claiming it leaves it:
// the claim (a short one here) has run out, no sent marker.
func diedAfterClaim(t *testing.T, st *store.Store, id string) {
	t.Helper()
	if c, _, err := st.ClaimSend(t.Context(), id, 20*time.Millisecond); err != nil || c != store.SendClaimed {
		t.Fatalf("ClaimSend = %d, %v", c, err)
	}
	time.Sleep(60 * time.Millisecond) // past the claim's deadline on Redis's clock
}

func checkInMsg(id string) bot.Outbound {
	return bot.Outbound{ID: id, Channel: bot.SMS, To: "+17735550123", Text: "Time for your check-in. How was your mood today, 1-5?"}
}

// TestHandleUncertainClaimFoundAtTwilio: the process that claimed the
// message died after Twilio took it but before the sent marker. The next
// attempt finds it at Twilio and marks it sent: the person gets one copy.
func TestHandleUncertainClaimFoundAtTwilio(t *testing.T) {
	o, st, sender, fake := smsOutbox(t)
	ctx := t.Context()
	m := checkInMsg("out_found")
	diedAfterClaim(t, st, m.ID)
	sid, err := sender.Send(ctx, m) // the dead attempt's call
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Handle(ctx, &bot.Job{Msg: m}, nil); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if n := len(fake.Messages()); n != 1 {
		t.Errorf("the fake Twilio got %d copies; want 1", n)
	}
	if got, err := st.SentMarker(ctx, m.ID); err != nil || got != sid {
		t.Errorf("sent marker = %q, %v; want the first attempt's %q", got, err, sid)
	}
	// Redelivered again: done.
	if c, _, err := st.ClaimSend(ctx, m.ID, time.Minute); err != nil || c != store.SendDone {
		t.Errorf("ClaimSend after = %d, %v; want SendDone", c, err)
	}
}

// TestHandleUncertainClaimNotAtTwilio: the process died before Twilio took
// the message: the next attempt sends it, once.
func TestHandleUncertainClaimNotAtTwilio(t *testing.T) {
	o, st, _, fake := smsOutbox(t)
	ctx := t.Context()
	m := checkInMsg("out_lost")
	diedAfterClaim(t, st, m.ID)
	if err := o.Handle(ctx, &bot.Job{Msg: m}, nil); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	got := fake.Messages()
	if len(got) != 1 || got[0].Body != m.Text {
		t.Fatalf("the fake Twilio got %+v; want one copy", got)
	}
	if pid, err := st.SentMarker(ctx, m.ID); err != nil || pid != got[0].SID {
		t.Errorf("sent marker = %q, %v; want %q", pid, err, got[0].SID)
	}
}

// TestHandleUncertainClaimOtherMessagesMatch: the same text went to the same
// person as another message just before: that copy is not this one's.
func TestHandleUncertainClaimOtherMessagesMatch(t *testing.T) {
	o, st, _, fake := smsOutbox(t)
	ctx := t.Context()
	first, second := checkInMsg("out_first"), checkInMsg("out_second")
	if err := o.Handle(ctx, &bot.Job{Msg: first}, nil); err != nil {
		t.Fatal(err)
	}
	diedAfterClaim(t, st, second.ID)
	if err := o.Handle(ctx, &bot.Job{Msg: second}, nil); err != nil {
		t.Fatal(err)
	}
	got := fake.Messages()
	if len(got) != 2 {
		t.Fatalf("the fake Twilio got %d messages; want 2 (one per message id)", len(got))
	}
	if pid, _ := st.SentMarker(ctx, second.ID); pid != got[1].SID {
		t.Errorf("second's sent marker = %q; want its own copy %q", pid, got[1].SID)
	}
}

// failingFinder can send but cannot be asked right now.
type failingFinder struct{ sent, asked atomic.Int32 }

func (f *failingFinder) Send(ctx context.Context, m bot.Outbound) (string, error) {
	f.sent.Add(1)
	return "tg:2", nil
}

func (f *failingFinder) FindSent(context.Context, bot.Outbound, time.Time) (string, bool, error) {
	f.asked.Add(1)
	return "", false, errors.New("list unavailable")
}

// TestHandleUncertainClaimLookupFails: the provider cannot say: nothing is
// sent now, a retry is planned, and the retry still knows of the dead attempt.
func TestHandleUncertainClaimLookupFails(t *testing.T) {
	st := store.New(redistest.New(t).Client(t), nil)
	f := &failingFinder{}
	o := bot.NewOutbox(st, map[bot.Kind]bot.Sender{bot.SMS: f}, bot.Pacing{}, nil, nil)
	ctx := t.Context()
	m := checkInMsg("out_unknown")
	diedAfterClaim(t, st, m.ID)
	if err := o.Handle(ctx, &bot.Job{Msg: m}, nil); err != nil {
		t.Fatalf("Handle = %v; want the failure handled (a retry planned)", err)
	}
	if f.asked.Load() != 1 || f.sent.Load() != 0 {
		t.Errorf("asked %d, sent %d; want asked once, nothing sent", f.asked.Load(), f.sent.Load())
	}
	if c, since, err := st.ClaimSend(ctx, m.ID, time.Minute); err != nil || c != store.SendUncertain || since.IsZero() {
		t.Errorf("ClaimSend for the retry = %d, %v, %v; want SendUncertain with the first start", c, since, err)
	}
	// The retry is on the queue, due after the backoff.
	n, err := st.MoveDue(ctx, time.Now().Add(11*time.Minute), 10)
	if err != nil || n != 1 {
		t.Errorf("due retries = %d, %v; want 1", n, err)
	}
}

// TestHandleUncertainClaimBlindChannel: a channel that cannot be asked sends
// again (the documented Telegram window).
func TestHandleUncertainClaimBlindChannel(t *testing.T) {
	st := store.New(redistest.New(t).Client(t), nil)
	b := &countingSender{}
	o := bot.NewOutbox(st, map[bot.Kind]bot.Sender{bot.Telegram: b}, bot.Pacing{}, nil, nil)
	m := bot.Outbound{ID: "out_tg", Channel: bot.Telegram, To: "12345", Text: "hello"}
	diedAfterClaim(t, st, m.ID)
	if err := o.Handle(t.Context(), &bot.Job{Msg: m}, nil); err != nil {
		t.Fatal(err)
	}
	if b.sent.Load() != 1 {
		t.Errorf("sent %d; want 1", b.sent.Load())
	}
}

type countingSender struct{ sent atomic.Int32 }

func (c *countingSender) Send(context.Context, bot.Outbound) (string, error) {
	c.sent.Add(1)
	return "tg:3", nil
}

// loseFirstAnswer passes requests to Twilio but loses the answer to the
// first POST, as a connection dropped after Twilio took the message.
type loseFirstAnswer struct{ lost atomic.Bool }

func (l *loseFirstAnswer) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && r.Method == http.MethodPost && l.lost.CompareAndSwap(false, true) {
		resp.Body.Close()
		return nil, errors.New("connection reset by peer")
	}
	return resp, err
}

// TestHandleLostAnswerIsNotSentTwice: Twilio took the message but its answer
// never arrived. The claim stays on record; the retry finds the message at
// Twilio and marks it sent instead of sending a second copy.
func TestHandleLostAnswerIsNotSentTwice(t *testing.T) {
	st := store.New(redistest.New(t).Client(t), nil)
	fake := twiliotest.NewServer(account, token)
	t.Cleanup(fake.Close)
	sender, err := twilio.NewSender(twilio.Config{AccountSID: account, AuthToken: token, FromNumber: ourSMS, APIURL: fake.URL},
		&http.Client{Transport: &loseFirstAnswer{}})
	if err != nil {
		t.Fatal(err)
	}
	o := bot.NewOutbox(st, map[bot.Kind]bot.Sender{bot.SMS: sender}, bot.Pacing{}, nil, nil)
	ctx := t.Context()
	m := checkInMsg("out_lost_answer")
	if err := o.Handle(ctx, &bot.Job{Msg: m}, nil); err != nil {
		t.Fatalf("Handle: %v", err) // the failure is handled: a retry is planned
	}
	if n := len(fake.Messages()); n != 1 {
		t.Fatalf("after the lost answer the fake holds %d messages; want the 1 Twilio took", n)
	}
	// The planned retry.
	if err := o.Handle(ctx, &bot.Job{Msg: m, Attempt: 1}, nil); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if n := len(fake.Messages()); n != 1 {
		t.Errorf("the person got %d copies; want 1", n)
	}
	if got, err := st.SentMarker(ctx, m.ID); err != nil || got != fake.Messages()[0].SID {
		t.Errorf("sent marker = %q, %v; want the SID Twilio gave the lost answer", got, err)
	}
}

// TestHandleRefusalReleasesTheClaim: a refusal with Twilio's own code (an
// invalid number) could not have been sent: nothing is kept on record, and
// no lookup precedes the next attempt.
func TestHandleRefusalReleasesTheClaim(t *testing.T) {
	o, st, _, fake := smsOutbox(t)
	ctx := t.Context()
	m := checkInMsg("out_refused")
	fake.FailNext(1, http.StatusBadRequest, 21211)
	if err := o.Handle(ctx, &bot.Job{Msg: m}, nil); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if c, _, err := st.ClaimSend(ctx, m.ID, time.Minute); err != nil || c != store.SendClaimed {
		t.Errorf("claim after a refusal = %d, %v; want a fresh claim (SendClaimed)", c, err)
	}
}

// markerFault fails the first writes of one message's sent marker, as
// Redis does while it restarts or fails over.
type markerFault struct {
	id   string // the message id
	fail atomic.Int32
}

func (f *markerFault) DialHook(next redis.DialHook) redis.DialHook { return next }

func (f *markerFault) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if f.hit(cmd) {
			return cmd.Err()
		}
		return next(ctx, cmd)
	}
}

func (f *markerFault) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			if f.hit(cmd) {
				return cmd.Err()
			}
		}
		return next(ctx, cmds)
	}
}

// hit fails cmd when it writes the marker (the marker and the job
// together: the send claim reads the marker too) and failures are left.
func (f *markerFault) hit(cmd redis.Cmder) bool {
	if !slices.Contains(cmd.Args(), any("sent:"+f.id)) || !slices.Contains(cmd.Args(), any("job:"+f.id)) {
		return false
	}
	if f.fail.Add(-1) < 0 {
		return false
	}
	cmd.SetErr(errors.New("injected: connection refused"))
	return true
}

// TestHandleMarksSentOnceRedisAnswersAgain: Twilio took the message but
// Redis refused the sent marker twice (a failover). Handle writes it once
// Redis answers, instead of leaving the send unrecorded for the reclaimer
// and a lookup at Twilio: one copy, marked with Twilio's SID.
func TestHandleMarksSentOnceRedisAnswersAgain(t *testing.T) {
	// The pooled client: the hook fails commands in the caller's goroutine
	// (the auto-pipeliner runs hooks on its own).
	st, closeStore, err := store.Open(t.Context(), store.Options{URL: redistest.New(t).URL, NoAutoPipeline: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = closeStore() })
	m := checkInMsg("out_marker_refused")
	fault := &markerFault{id: m.ID}
	fault.fail.Store(2)
	st.Redis().AddHook(fault)
	fake := twiliotest.NewServer(account, token)
	t.Cleanup(fake.Close)
	sender, err := twilio.NewSender(twilio.Config{AccountSID: account, AuthToken: token, FromNumber: ourSMS, APIURL: fake.URL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	o := bot.NewOutbox(st, map[bot.Kind]bot.Sender{bot.SMS: sender}, bot.Pacing{}, nil, nil)
	ctx := t.Context()
	if err := o.Handle(ctx, &bot.Job{Msg: m}, nil); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if left := fault.fail.Load(); left >= 0 {
		t.Fatalf("the sent marker was refused %d times; want 2", 2-left)
	}
	if n := len(fake.Messages()); n != 1 {
		t.Fatalf("the person got %d copies; want 1", n)
	}
	if got, err := st.SentMarker(ctx, m.ID); err != nil || got != fake.Messages()[0].SID {
		t.Errorf("sent marker = %q, %v; want the SID Twilio gave", got, err)
	}
	if c, _, err := st.ClaimSend(ctx, m.ID, time.Minute); err != nil || c != store.SendDone {
		t.Errorf("claim after the send = %d, %v; want SendDone", c, err)
	}
}
