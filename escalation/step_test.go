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
	r := newStepRig(t, step(NotifyAssigned, 5*time.Minute), step(NotifyAssigned, 10*time.Minute))
	st, svc, a, cm, c := r.st, r.svc, r.a, r.cm, r.c
	e, err := svc.Raise(t.Context(), a, c, crisisSignal, "client:"+c.ID)
	if err != nil {
		t.Fatal(err)
	}
	step2 := StepWork{Kind: StepKind, Agency: a.ID, ID: e.ID, Round: 0, Step: 1}
	fault := r.failAlertOnce("alert:"+e.ID+":0:1:"+cm.ID+":sms", "esc:"+e.ID+":0:2")

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
	if n := strings.Count(strings.Join(actions(got), "|"), "alert sent"); n != 2 {
		t.Errorf("audit = %v; want two alerts (steps 1 and 2)", actions(got))
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
	r := newStepRig(t, step(NotifyBackup, 5*time.Minute), step(NotifyAssigned, 10*time.Minute))
	st, svc, a, cm, c := r.st, r.svc, r.a, r.cm, r.c
	r.failAlertOnce(":0:1:"+cm.ID+":sms", "")

	if _, err := svc.Raise(t.Context(), a, c, crisisSignal, "client:"+c.ID); err == nil {
		t.Fatal("Raise succeeded though its alert could not be queued")
	}
	e, err := svc.Raise(t.Context(), a, c, crisisSignal, "client:"+c.ID)
	if err != nil {
		t.Fatalf("the message processed again: %v", err)
	}
	if _, err := svc.Raise(t.Context(), a, c, crisisSignal, "client:"+c.ID); err != nil {
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
	if a := actions(got); strings.Count(strings.Join(a, "|"), "alert sent") != 1 || got.Alerting != "" {
		t.Errorf("audit = %v, alerting %q; want one alert sent and nothing left unfinished", a, got.Alerting)
	}
	if _, planned, _ := st.ScheduledAt(t.Context(), "esc:"+e.ID+":0:2"); !planned {
		t.Error("the policy does not go on: no timer after the case manager's step")
	}
}

// stepRig is an agency with its own policy, a case manager without a
// backup and one client, on a Redis of its own, with the escalation service.
type stepRig struct {
	t   *testing.T
	rs  *redistest.Server
	rdb redis.UniversalClient
	st  *store.Store
	svc *Service
	a   *store.Agency
	cm  *store.CaseManager
	c   *store.Client
}

func newStepRig(t *testing.T, steps ...store.PolicyStep) *stepRig {
	r := &stepRig{t: t, rs: redistest.New(t)}
	r.rdb = r.rs.Client(t)
	r.st = store.New(r.rdb, nil)
	a, cm, cs := seed(t, r.st, 1)
	a.Policy = &store.Policy{Steps: steps}
	if err := r.st.SaveAgency(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	r.svc, r.a, r.cm, r.c = serviceOn(r.st), a, cm, cs[0]
	return r
}

// failAlertOnce makes the queueing of one alert (its message id, or the end
// of it) fail once; nextTimer, when set, is checked to be planned by then.
func (r *stepRig) failAlertOnce(msgID, nextTimer string) *alertQueueFault {
	f := &alertQueueFault{msgID: msgID, nextTimer: nextTimer, check: r.rs.Client(r.t)}
	f.fail.Store(1)
	r.rdb.AddHook(f)
	return f
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

// actions lists an escalation's audit actions in order.
func actions(e *store.Escalation) []string {
	var out []string
	for _, en := range e.Audit {
		out = append(out, en.Action)
	}
	return out
}
