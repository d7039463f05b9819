package escalation

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/carecheck/carecheck/store"
	"github.com/carecheck/carecheck/store/redistest"
)

// alertQueueFault fails the XADD that queues one alert, the first n times,
// and notes whether the next step's timer was already planned when the
// alert was queued.
type alertQueueFault struct {
	msgID     string // the alert's message id, or its end (":0:1:<staff>:sms")
	nextTimer string // the next step's timer id ("": not checked)
	fail      atomic.Int32
	check     redis.UniversalClient
	planned   atomic.Bool
}

func (f *alertQueueFault) DialHook(next redis.DialHook) redis.DialHook { return next }

func (f *alertQueueFault) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if f.isAlert(cmd) {
			if f.fail.Add(-1) >= 0 {
				err := errors.New("injected: connection reset")
				cmd.SetErr(err)
				return err
			}
			if f.nextTimer != "" {
				_, err := f.check.ZScore(ctx, "{q}:due", f.nextTimer).Result()
				f.planned.Store(err == nil)
			}
		}
		return next(ctx, cmd)
	}
}

func (f *alertQueueFault) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (f *alertQueueFault) isAlert(cmd redis.Cmder) bool {
	if cmd.Name() != "xadd" {
		return false
	}
	for _, a := range cmd.Args() {
		if s, ok := a.(string); ok && strings.HasPrefix(s, "send:alert:") && strings.HasSuffix(s, f.msgID) {
			return true
		}
	}
	return false
}

// A step timer whose alert could not be queued (Redis dropped the write
// after the escalation had moved to the step) is finished by the timer's
// next delivery: the alert is queued once, recorded once, and the policy
// goes on. Before, the retry found the escalation already on that step,
// took itself for stale, and the alert and every later step were lost.
func TestStepTimerFinishesItsAlertAfterAFailure(t *testing.T) {
	rs := redistest.New(t)
	rdb := rs.Client(t)
	st := store.New(rdb, nil)
	a, cm, cs := seedWithPolicy(t, st, store.Policy{Steps: []store.PolicyStep{
		{Notify: NotifyAssigned, Wait: store.Duration(5 * time.Minute)},
		{Notify: NotifyAssigned, Wait: store.Duration(10 * time.Minute)},
	}})
	svc := serviceOn(st)
	e, err := svc.Raise(t.Context(), a, cs[0], crisisSignal, "client:"+cs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	step2 := StepWork{Kind: StepKind, Agency: a.ID, ID: e.ID, Round: 0, Step: 1}
	fault := &alertQueueFault{msgID: "alert:" + e.ID + ":0:1:" + cm.ID + ":sms", nextTimer: "esc:" + e.ID + ":0:2", check: rs.Client(t)}
	fault.fail.Store(1)
	rdb.AddHook(fault)

	if err := svc.HandleStep(t.Context(), step2); err == nil {
		t.Fatal("HandleStep succeeded though its alert could not be queued")
	}
	if got := queuedAlerts(t, st, fault.msgID); got != 0 {
		t.Fatalf("alert queued %d times after the failure; want 0", got)
	}
	// The timer's next delivery (a retry, or another worker reclaiming it).
	if err := svc.HandleStep(t.Context(), step2); err != nil {
		t.Fatalf("retry: %v", err)
	}
	// A late copy of the same timer changes nothing.
	if err := svc.HandleStep(t.Context(), step2); err != nil {
		t.Fatalf("late copy: %v", err)
	}
	if got := queuedAlerts(t, st, fault.msgID); got != 1 {
		t.Errorf("step 2 alert queued %d times; want 1", got)
	}
	if !fault.planned.Load() {
		t.Error("the alert was queued before the next step's timer was planned")
	}
	got, err := st.Escalation(t.Context(), a.ID, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if n := count(audit(got), "alert sent"); n != 2 {
		t.Errorf("audit = %v; want two alerts (steps 1 and 2)", audit(got))
	}
	if got.Step != 1 || got.Alerting != "" {
		t.Errorf("escalation on step %d, alerting %q; want step index 1 with its alert done", got.Step, got.Alerting)
	}
	at, planned, err := st.ScheduledAt(t.Context(), fault.nextTimer)
	if err != nil || !planned {
		t.Fatalf("next step's timer planned = %v, %v; want planned", planned, err)
	}
	if wait := at.Sub(time.Now()); wait < 9*time.Minute || wait > 10*time.Minute {
		t.Errorf("next step due in %v; want step 2's wait (10m)", wait)
	}
}

// A crisis whose first step has nobody to alert (no backup) moves on at
// once to the assigned case manager; when that alert cannot be queued, the
// crisis message, processed again, joins the open escalation and finishes
// the alert rather than leaving the escalation open with nobody paged.
func TestCrisisMessageProcessedAgainFinishesTheAlert(t *testing.T) {
	rs := redistest.New(t)
	rdb := rs.Client(t)
	st := store.New(rdb, nil)
	a, cm, cs := seedWithPolicy(t, st, store.Policy{Steps: []store.PolicyStep{
		{Notify: NotifyBackup, Wait: store.Duration(5 * time.Minute)},
		{Notify: NotifyAssigned, Wait: store.Duration(10 * time.Minute)},
	}})
	svc := serviceOn(st)
	fault := &alertQueueFault{msgID: ":0:1:" + cm.ID + ":sms"}
	fault.fail.Store(1)
	rdb.AddHook(fault)

	if _, err := svc.Raise(t.Context(), a, cs[0], crisisSignal, "client:"+cs[0].ID); err == nil {
		t.Fatal("Raise succeeded though its alert could not be queued")
	}
	e, err := svc.Raise(t.Context(), a, cs[0], crisisSignal, "client:"+cs[0].ID)
	if err != nil {
		t.Fatalf("the message processed again: %v", err)
	}
	if _, err := svc.Raise(t.Context(), a, cs[0], crisisSignal, "client:"+cs[0].ID); err != nil {
		t.Fatalf("a later crisis message: %v", err)
	}
	want := "alert:" + e.ID + ":0:1:" + cm.ID + ":sms"
	if got := queuedAlerts(t, st, want); got != 1 {
		t.Errorf("the case manager's alert queued %d times; want 1 (queued: %v)", got, queued(t, st))
	}
	got, err := st.Escalation(t.Context(), a.ID, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if a := audit(got); count(a, "alert sent") != 1 || got.Alerting != "" {
		t.Errorf("audit = %v, alerting %q; want one alert sent and nothing left unfinished", a, got.Alerting)
	}
	if _, planned, _ := st.ScheduledAt(t.Context(), "esc:"+e.ID+":0:2"); !planned {
		t.Error("the policy does not go on: no timer after the case manager's step")
	}
}

// seedWithPolicy seeds an agency with its own policy, a case manager and one client.
func seedWithPolicy(t *testing.T, st *store.Store, p store.Policy) (*store.Agency, *store.CaseManager, []*store.Client) {
	a, cm, cs := seed(t, st, 1)
	a.Policy = &p
	if err := st.SaveAgency(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	return a, cm, cs
}

// queuedAlerts counts the queued copies of one message.
func queuedAlerts(t *testing.T, st *store.Store, msgID string) int {
	n := 0
	for _, id := range queued(t, st) {
		if strings.TrimPrefix(id, "send:") == msgID {
			n++
		}
	}
	return n
}

// audit lists an escalation's audit actions in order.
func audit(e *store.Escalation) []string {
	var out []string
	for _, en := range e.Audit {
		out = append(out, en.Action)
	}
	return out
}

func count(list []string, v string) int {
	n := 0
	for _, x := range list {
		if x == v {
			n++
		}
	}
	return n
}
