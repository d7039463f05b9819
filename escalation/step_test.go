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

// alertQueueFault fails the command that queues one alert, the first n
// times, and notes whether the next step's timer was planned by the time
// the alert was queued (before, or in the same script).
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
				f.planned.Store(err == nil || hasArg(cmd, f.nextTimer))
			}
		}
		return next(ctx, cmd)
	}
}

func (f *alertQueueFault) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (f *alertQueueFault) isAlert(cmd redis.Cmder) bool {
	for _, a := range cmd.Args() {
		if s, ok := a.(string); ok && strings.HasPrefix(s, "send:alert:") && strings.HasSuffix(s, f.msgID) {
			return true
		}
	}
	return false
}

func hasArg(cmd redis.Cmder, v string) bool {
	for _, a := range cmd.Args() {
		if s, ok := a.(string); ok && s == v {
			return true
		}
	}
	return false
}

// A step timer whose alert could not be queued (Redis dropped the write
// after the escalation had moved to the step) is finished by the timer's
// next delivery: the alert is queued once, recorded once, and the policy
// goes on: a timer that finds the escalation already on its step with its
// own mark is not stale.
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

// decideStep, the step timers' rule: a timer for step n moves an escalation
// waiting on step n-1 there and its alert plans step n+1 after step n's
// wait; past the last step the last one repeats for Policy.Repeat more
// rounds (a concern never repeats, nor plans a timer), then the policy is
// exhausted and the escalation stays open; anything else is stale.
func TestDecideStep(t *testing.T) {
	two := store.Policy{Steps: []store.PolicyStep{step(NotifyAssigned, time.Minute), step(NotifyBackup, 2*time.Minute)}, Repeat: 1}
	esc := func(level, status string, stepN, round int, alerting string) *store.Escalation {
		return &store.Escalation{ID: "es_1", Level: level, Status: status, Step: stepN, Round: round, Policy: two, Alerting: alerting}
	}
	timer := func(stepN, round int) StepWork {
		return StepWork{Kind: StepKind, ID: "es_1", Step: stepN, Round: round}
	}
	held := StepWork{Kind: StepKind, ID: "es_1", Step: 0, Round: 0, Held: true}
	cases := []struct {
		name string
		e    *store.Escalation
		w    StepWork
		want stepDecision
	}{
		{"first step's timer alerts the second step", esc(Crisis, store.EscOpen, 0, 0, ""), timer(1, 0),
			stepDecision{Action: stepAlert, Step: 1, Round: 0, Notify: NotifyBackup, Next: "esc:es_1:0:2", Wait: 2 * time.Minute}},
		{"past the last step the last one repeats", esc(Crisis, store.EscOpen, 1, 0, ""), timer(2, 0),
			stepDecision{Action: stepAlert, Step: 1, Round: 1, Notify: NotifyBackup, Next: "esc:es_1:1:2", Wait: 2 * time.Minute}},
		{"after Repeat rounds the policy is exhausted", esc(Crisis, store.EscOpen, 1, 1, ""), timer(2, 1),
			stepDecision{Action: stepExhausted, Step: 2, Round: 1}},
		{"a concern never repeats", esc(Concern, store.EscOpen, 1, 0, ""), timer(2, 0),
			stepDecision{Action: stepExhausted, Step: 2, Round: 0}},
		{"acknowledged: stale", esc(Crisis, store.EscAcknowledged, 0, 0, ""), timer(1, 0),
			stepDecision{Action: stepStale, Step: 0, Round: 0}},
		{"a copy after the advance: stale", esc(Crisis, store.EscOpen, 1, 0, ""), timer(1, 0),
			stepDecision{Action: stepStale, Step: 1, Round: 0}},
		{"another round's timer: stale", esc(Crisis, store.EscOpen, 0, 1, ""), timer(1, 0),
			stepDecision{Action: stepStale, Step: 0, Round: 1}},
		{"its own advance with the alert unrecorded: finish it", esc(Crisis, store.EscOpen, 1, 0, "esc:es_1:0:1"), timer(1, 0),
			stepDecision{Action: stepFinish, Step: 1, Round: 0, Notify: NotifyBackup, Next: "esc:es_1:0:2", Wait: 2 * time.Minute}},
		{"a held concern alert comes due", esc(Concern, store.EscOpen, 0, 0, ""), held,
			stepDecision{Action: stepHeldDue, Step: 0, Round: 0, Notify: NotifyAssigned}},
		{"a held concern alert after the raise to crisis: stale", esc(Crisis, store.EscOpen, 0, 0, ""), held,
			stepDecision{Action: stepStale, Step: 0, Round: 0}},
		{"a held alert of a parked concern: stale", esc(Concern, store.EscOpen, 2, 0, ""), StepWork{ID: "es_1", Step: 2, Held: true},
			stepDecision{Action: stepStale, Step: 2, Round: 0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := decideStep(tc.e, tc.w); got != tc.want {
				t.Errorf("decideStep = %+v; want %+v", got, tc.want)
			}
		})
	}
}

// The opening and its first alert are separate writes (the escalation's
// hash slot, then the queue's): when the alert cannot be queued, the
// escalation keeps its mark, and the crisis message processed again joins
// it and finishes the alert with the code bound at the opening and the
// next step timed from the opening.
func TestOpeningWhoseAlertFailedIsFinishedByTheMessageAgain(t *testing.T) {
	r := newStepRig(t, step(NotifyAssigned, 5*time.Minute), step(NotifyAssigned, 10*time.Minute))
	st, svc, a, cm, c := r.st, r.svc, r.a, r.cm, r.c
	r.failAlertOnce(":0:0:"+cm.ID+":sms", "")

	if _, err := svc.Raise(t.Context(), a, c, crisisSignal, "client:"+c.ID); err == nil {
		t.Fatal("Raise succeeded though its alert could not be queued")
	}
	page, err := st.Escalations(t.Context(), a.ID, store.EscOpen, "", 10)
	if err != nil || len(page.Items) != 1 || page.Items[0].Alerting == "" {
		t.Fatalf("open escalations %+v, %v; want one, marked as alerting", page.Items, err)
	}
	opened := page.Items[0]
	e, err := svc.Raise(t.Context(), a, c, crisisSignal, "client:"+c.ID)
	if err != nil {
		t.Fatalf("the message processed again: %v", err)
	}
	if e.ID != opened.ID || e.AckCode != "1" || e.Alerting != "" {
		t.Errorf("escalation %s ACK %q alerting %q; want %s with ACK 1 and its alert done", e.ID, e.AckCode, e.Alerting, opened.ID)
	}
	if got := queuedAlerts(t, st, "alert:"+e.ID+":0:0:"+cm.ID+":sms"); got != 1 {
		t.Errorf("alert queued %d times; want 1 (queued: %v)", got, queued(t, st))
	}
	if a := actions(e); strings.Count(strings.Join(a, "|"), "alert sent") != 1 {
		t.Errorf("audit = %v; want one alert sent", a)
	}
	if codes, _ := st.AckCodes(t.Context(), a.ID, cm.ID); len(codes) != 1 || codes["1"] != e.ID {
		t.Errorf("codes = %v; want 1 bound to the escalation", codes)
	}
	at, planned, err := st.ScheduledAt(t.Context(), "esc:"+e.ID+":0:1")
	if err != nil || !planned || !at.Equal(e.Opened.Add(5*time.Minute).Truncate(time.Millisecond)) {
		t.Errorf("next step at %v (planned %v, %v); want 5 minutes after the opening %v", at, planned, err, e.Opened)
	}
}

// decideTarget, the rule of whom a step alerts: a step that names nobody,
// a deactivated staff member (whatever the urgency or the hour) or one
// with no channel is skipped and says why; a concern outside working hours
// is held; anyone else is alerted.
func TestDecideTarget(t *testing.T) {
	two := store.Policy{Steps: []store.PolicyStep{step(NotifyAssigned, time.Minute), step(NotifyBackup, time.Minute)}, Repeat: 1}
	esc := func(level string, stepN int) *store.Escalation {
		return &store.Escalation{ID: "es_1", Level: level, Status: store.EscOpen, Step: stepN, Policy: two}
	}
	always := store.WorkingHours{Start: "00:00", End: "23:59", Days: []int{1, 2, 3, 4, 5, 6, 7}, Timezone: "UTC"}
	never := store.WorkingHours{Start: "09:00", End: "17:00", Days: []int{1}, Timezone: "UTC"}
	cm := func(id string, active bool, wh store.WorkingHours) *store.CaseManager {
		return &store.CaseManager{ID: id, Active: active, Phone: "+13125550101", WorkingHours: wh}
	}
	now := time.Date(2026, 12, 6, 21, 0, 0, 0, time.UTC) // a Sunday
	monday := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	cases := []struct {
		name      string
		e         *store.Escalation
		staff     *store.CaseManager
		reachable bool
		inHours   bool
		want      targetDecision
	}{
		{"an active, reachable case manager is alerted", esc(Crisis, 0), cm("cm_a", true, never), true, false,
			targetDecision{Action: targetSend}},
		{"a deactivated case manager: skipped, and the audit says so", esc(Crisis, 0), cm("cm_gone", false, always), true, false,
			targetDecision{Action: targetSkip, Detail: "cm_gone is deactivated: step skipped (step 1)"}},
		{"a deactivated backup on step 2: skipped", esc(Crisis, 1), cm("cm_gone", false, always), true, false,
			targetDecision{Action: targetSkip, Detail: "cm_gone is deactivated: step skipped (step 2)"}},
		{"a deactivated case manager's concern is skipped, not held", esc(Concern, 0), cm("cm_gone", false, never), true, false,
			targetDecision{Action: targetSkip, Detail: "cm_gone is deactivated: step skipped (step 1)"}},
		{"a deactivated case manager's held concern coming due: skipped", esc(Concern, 0), cm("cm_gone", false, always), true, true,
			targetDecision{Action: targetSkip, Detail: "cm_gone is deactivated: step skipped (step 1)"}},
		{"nobody (no backup set): skipped", esc(Crisis, 1), nil, false, false,
			targetDecision{Action: targetSkip, Detail: "step 2 (backup): nobody to alert"}},
		{"no phone or Telegram: skipped", esc(Crisis, 0), cm("cm_a", true, always), false, false,
			targetDecision{Action: targetSkip, Detail: "step 1: cm_a has no phone or Telegram"}},
		{"a concern outside working hours is held", esc(Concern, 0), cm("cm_a", true, never), true, false,
			targetDecision{Action: targetHold, At: monday}},
		{"a held concern that came due is sent", esc(Concern, 0), cm("cm_a", true, never), true, true,
			targetDecision{Action: targetSend}},
		{"a crisis is sent at any hour", esc(Crisis, 0), cm("cm_a", true, never), true, false,
			targetDecision{Action: targetSend}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := decideTarget(tc.e, tc.staff, tc.reachable, tc.inHours, now)
			if got.Action != tc.want.Action || got.Detail != tc.want.Detail || !got.At.Equal(tc.want.At) {
				t.Errorf("decideTarget = %+v; want %+v", got, tc.want)
			}
		})
	}
}
