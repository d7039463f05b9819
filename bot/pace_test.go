package bot_test

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/carecheck/carecheck/bot"
	"github.com/carecheck/carecheck/bot/twilio"
	"github.com/carecheck/carecheck/bot/twilio/twiliotest"
	"github.com/carecheck/carecheck/store"
	"github.com/carecheck/carecheck/store/redistest"
)

// jitter is how far the fake's record of a send may lag the limiter's
// decision (an HTTP round trip on loopback): the recorded gaps are the
// limiter's gaps give or take this.
const jitter = 150 * time.Millisecond

// pacedOutboxes are n outboxes as n processes hold them: each its own Redis
// client (on one shared real Redis) and its own Twilio sender, all sending
// from ourSMS to one fake Twilio.
func pacedOutboxes(t *testing.T, n int, perSecond float64) ([]*bot.Outbox, *store.Store, *twiliotest.Server) {
	t.Helper()
	rs := redistest.New(t)
	fake := twiliotest.NewServer(account, token)
	t.Cleanup(fake.Close)
	var out []*bot.Outbox
	var first *store.Store
	for range n {
		s, err := twilio.NewSender(twilio.Config{AccountSID: account, AuthToken: token, FromNumber: ourSMS, APIURL: fake.URL}, &http.Client{})
		if err != nil {
			t.Fatal(err)
		}
		st := store.New(rs.Client(t), nil)
		if first == nil {
			first = st
		}
		out = append(out, bot.NewOutbox(st, map[bot.Kind]bot.Sender{bot.SMS: s}, bot.Pacing{SMSPerSecond: perSecond}, nil, nil))
	}
	return out, first, fake
}

// sentTimes are the fake's records of when it accepted each message, in order.
func sentTimes(t *testing.T, fake *twiliotest.Server, want int) []time.Time {
	t.Helper()
	msgs := fake.Messages()
	if len(msgs) != want {
		t.Fatalf("the fake Twilio accepted %d messages; want %d (none rescheduled or lost)", len(msgs), want)
	}
	var at []time.Time
	for _, m := range msgs {
		at = append(at, m.At)
	}
	slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
	return at
}

// TestPacingOnePerSecondAcrossTwoProcesses: two processes send ten
// messages from one number as fast as they can; the number still sends one
// a second: ten messages span at least nine seconds, and no two are closer
// than a second.
func TestPacingOnePerSecondAcrossTwoProcesses(t *testing.T) {
	t.Parallel()
	obs, _, fake := pacedOutboxes(t, 2, 1)
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for p, o := range obs {
		wg.Go(func() {
			for i := range 5 {
				m := checkInMsg(fmt.Sprintf("out_paced_%d_%d", p, i))
				if err := o.Handle(t.Context(), &bot.Job{Msg: m}, nil); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Handle: %v", err)
	}
	at := sentTimes(t, fake, 10)
	if span := at[9].Sub(at[0]); span < 9*time.Second-jitter {
		t.Errorf("10 messages from one number took %v; want ≥ 9s at 1 msg/s", span)
	}
	for i := 1; i < len(at); i++ {
		if gap := at[i].Sub(at[i-1]); gap < time.Second-jitter {
			t.Errorf("messages %d and %d went %v apart; want ≥ 1s", i-1, i, gap)
		}
	}
}

// TestPacingFractionPerSecond: 0.5 messages a second is one every two
// seconds, not "no pacing".
func TestPacingFractionPerSecond(t *testing.T) {
	t.Parallel()
	obs, _, fake := pacedOutboxes(t, 1, 0.5)
	for i := range 3 {
		if err := obs[0].Handle(t.Context(), &bot.Job{Msg: checkInMsg(fmt.Sprintf("out_half_%d", i))}, nil); err != nil {
			t.Fatal(err)
		}
	}
	at := sentTimes(t, fake, 3)
	for i := 1; i < len(at); i++ {
		if gap := at[i].Sub(at[i-1]); gap < 2*time.Second-jitter {
			t.Errorf("messages %d and %d went %v apart; want ≥ 2s at 0.5 msg/s", i-1, i, gap)
		}
	}
}

// TestPacingUrgentGoesFirstButCounts: at 1 msg/s, two urgent alerts right
// after a check-in go out without waiting for the number's quota, and the
// next check-in waits for the share they took: it is put back on the queue
// until three intervals after the first check-in, not one.
func TestPacingUrgentGoesFirstButCounts(t *testing.T) {
	t.Parallel()
	obs, st, fake := pacedOutboxes(t, 1, 1)
	o, ctx := obs[0], t.Context()
	send := func(id string, urgent bool) {
		m := checkInMsg(id)
		m.Urgent = urgent
		if err := o.Handle(ctx, &bot.Job{Msg: m}, nil); err != nil {
			t.Fatal(err)
		}
	}
	send("out_routine_1", false)
	send("out_urgent_1", true)
	send("out_urgent_2", true)
	send("out_routine_2", false)
	msgs := fake.Messages()
	if len(msgs) != 3 {
		t.Fatalf("the fake Twilio accepted %d messages; want the check-in and the 2 urgent ones, the second check-in held back", len(msgs))
	}
	if gap := msgs[2].At.Sub(msgs[0].At); gap >= time.Second {
		t.Errorf("the urgent messages left %v after the check-in; want no pacing wait (< 1s)", gap)
	}
	first := msgs[0].At
	if n, err := st.MoveDue(ctx, first.Add(3*time.Second-jitter), 10); err != nil || n != 0 {
		t.Errorf("held-back check-ins due within 3s of the first = %d, %v; want 0 (the urgent messages took two seconds of quota)", n, err)
	}
	if n, err := st.MoveDue(ctx, first.Add(4*time.Second+jitter), 10); err != nil || n != 1 {
		t.Errorf("held-back check-ins due by 4s after the first = %d, %v; want 1", n, err)
	}
}
