package escalation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/carecheck/carecheck/bot"
	"github.com/carecheck/carecheck/store"
)

// StepKind marks escalation timer payloads on the shared queue.
const StepKind = "esc-step"

// StepWork is the payload of an escalation timer.
type StepWork struct {
	Kind   string `json:"k"`
	Agency string `json:"agency"`
	ID     string `json:"esc"`
	Round  int    `json:"round"`
	Step   int    `json:"step"`
	// Held marks a low-urgency alert held for the staff member's working
	// hours: when it comes due it is sent if the escalation is still open.
	Held bool `json:"held,omitempty"`
}

func stepID(w StepWork) string {
	return fmt.Sprintf("esc:%s:%d:%d", w.ID, w.Round, w.Step)
}

// HandleStep runs an escalation timer: it loads the escalation, decides
// (decideStep), writes the decision and alerts the step it leads to.
func (s *Service) HandleStep(ctx context.Context, w StepWork) error {
	e, err := s.store.Escalation(ctx, w.Agency, w.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("step %s: %w", stepID(w), err)
	}
	d := decideStep(e, w)
	if d.Action == stepStale {
		return nil
	}
	a, err := s.store.Agency(ctx, e.AgencyID)
	if err != nil {
		return fmt.Errorf("step %s: agency %s: %w", stepID(w), e.AgencyID, err)
	}
	c, err := s.store.Client(ctx, e.ClientID)
	if err != nil {
		return fmt.Errorf("step %s: client %s: %w", stepID(w), e.ClientID, err)
	}
	switch d.Action {
	case stepHeldDue:
		_, err := s.alert(ctx, a, c, e, true)
		return err
	case stepFinish:
		_, err := s.alert(ctx, a, c, e, false)
		return err
	}
	now := s.now().UTC()
	e, err = s.store.ChangeEscalation(ctx, e, func(x *store.Escalation) error {
		d = decideStep(x, w) // on the record as it is now
		if d.Action != stepAlert && d.Action != stepExhausted {
			return store.ErrUnchanged
		}
		x.Step, x.Round = d.Step, d.Round
		x.Alerting = ""
		if d.Action == stepExhausted {
			x.Audit = append(x.Audit, store.AuditEntry{At: now, Actor: "system", Action: "policy exhausted", Detail: "still open, unacknowledged"})
			return nil
		}
		// Cleared once the step's alert is recorded as sent; until then a
		// reclaimed copy of this timer knows the advance is its own and
		// finishes the alert.
		x.Alerting = stepID(w)
		return nil
	})
	if errors.Is(err, store.ErrUnchanged) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("step %s: %w", stepID(w), err)
	}
	if d.Action == stepExhausted {
		s.log.Error("escalation unacknowledged after the whole policy", "escalation_id", e.ID)
		return nil
	}
	_, err = s.alert(ctx, a, c, e, false)
	return err
}

// stepAction is what a step timer does to an escalation.
type stepAction int

const (
	// stepStale: the escalation closed or moved on; nothing to do.
	stepStale stepAction = iota
	// stepFinish: this timer advanced the escalation and its alert is not
	// recorded as sent; alert the current step again (every write repeats
	// safely).
	stepFinish
	// stepHeldDue: a concern alert held for working hours came due.
	stepHeldDue
	// stepAlert: move to Step and Round and alert that step.
	stepAlert
	// stepExhausted: the policy is done; the escalation stays open, parked
	// past its last step (Step == len(Steps)), and nothing more is alerted.
	stepExhausted
)

// stepDecision is decideStep's answer.
type stepDecision struct {
	Action      stepAction
	Step, Round int // the escalation's step and round after the timer
	// Notify is the target of the step alerted (stepAlert, stepFinish,
	// stepHeldDue).
	Notify string
	// Next is the timer the alert plans, due Wait after the step began (""
	// none: a concern does not climb).
	Next string
	Wait time.Duration
}

// alertDecision is the decision to alert (round, step) of e.
func alertDecision(action stepAction, e *store.Escalation, round, step int) stepDecision {
	d := stepDecision{Action: action, Step: step, Round: round, Notify: e.Policy.Steps[step].Notify}
	if next, wait, climbs := nextTimer(e, round, step); climbs {
		d.Next, d.Wait = stepID(next), wait
	}
	return d
}

// nextTimer is the timer an alert of (round, step) plans: the next step of
// the same round, due the step's wait after the step began; a concern
// plans none (climbs false).
func nextTimer(e *store.Escalation, round, step int) (next StepWork, wait time.Duration, climbs bool) {
	next = StepWork{Kind: StepKind, Agency: e.AgencyID, ID: e.ID, Round: round, Step: step + 1}
	return next, time.Duration(e.Policy.Steps[step].Wait), e.Level != Concern
}

// decideStep decides what the step timer w does to escalation e. A timer
// for step n is planned when step n-1 alerts; past the last step the last
// one repeats, Policy.Repeat more rounds for a crisis and none for a
// concern, and then the policy is exhausted.
func decideStep(e *store.Escalation, w StepWork) stepDecision {
	stale := stepDecision{Action: stepStale, Step: e.Step, Round: e.Round}
	if e.Status != store.EscOpen {
		return stale
	}
	steps := e.Policy.Steps
	if w.Held {
		// Working hours began: send the held concern alert, unless the
		// escalation moved on (raised to crisis: its own alerts went out).
		if e.Level != Concern || e.Round != w.Round || e.Step != w.Step || e.Step >= len(steps) {
			return stale
		}
		return alertDecision(stepHeldDue, e, e.Round, e.Step)
	}
	if e.Alerting == stepID(w) && e.Step < len(steps) {
		return alertDecision(stepFinish, e, e.Round, e.Step)
	}
	if e.Round != w.Round || e.Step != w.Step-1 {
		return stale
	}
	step, round := w.Step, w.Round
	if step >= len(steps) {
		step, round = len(steps)-1, round+1
		if e.Level == Concern || round > e.Policy.Repeat {
			return stepDecision{Action: stepExhausted, Step: len(steps), Round: w.Round}
		}
	}
	return alertDecision(stepAlert, e, round, step)
}

// targetAction is what an alert does with its step's staff member.
type targetAction int

const (
	// targetSend: alert the staff member now.
	targetSend targetAction = iota
	// targetSkip: nobody can be alerted on this step; the next one runs now.
	targetSkip
	// targetHold: a low-urgency alert waits for the staff member's working hours.
	targetHold
)

// targetDecision is decideTarget's answer.
type targetDecision struct {
	Action targetAction
	// Detail is the audit line of a skipped step.
	Detail string
	// At is when a held alert comes due.
	At time.Time
}

// decideTarget decides what the alert of escalation e's current step does
// with staff, the step's target (nil: the step names nobody who exists).
// A step is skipped, and says why in the audit, when it names nobody, when
// its staff member is deactivated (a deactivated person gets no alerts,
// whatever the step or the urgency) or has no channel; a concern outside
// the staff member's working hours is held (inHours: its held alert came due).
func decideTarget(e *store.Escalation, staff *store.CaseManager, reachable, inHours bool, now time.Time) targetDecision {
	n := e.Step + 1
	switch {
	case staff == nil:
		notify := ""
		if e.Step < len(e.Policy.Steps) {
			notify = strings.TrimSpace(e.Policy.Steps[e.Step].Notify)
		}
		return targetDecision{Action: targetSkip, Detail: fmt.Sprintf("step %d (%s): nobody to alert", n, notify)}
	case !staff.Active:
		return targetDecision{Action: targetSkip, Detail: fmt.Sprintf("%s is deactivated: step skipped (step %d)", staff.ID, n)}
	}
	if e.Level == Concern && !inHours {
		if at := NextWorkingTime(staff.WorkingHours, now); at.After(now) {
			return targetDecision{Action: targetHold, At: at}
		}
	}
	if !reachable {
		return targetDecision{Action: targetSkip, Detail: fmt.Sprintf("step %d: %s has no phone or Telegram", n, staff.ID)}
	}
	return targetDecision{Action: targetSend}
}

// alert alerts the target of the escalation's current step and plans the
// timer of the next one; a step with nobody to alert moves on at once.
// inHours skips the working-hours check of a concern (its held alert came
// due). It returns the escalation as the alert left it.
func (s *Service) alert(ctx context.Context, a *store.Agency, c *store.Client, e *store.Escalation, inHours bool) (*store.Escalation, error) {
	// The next step's wait starts when this step does, not when the alert
	// left: a slow provider does not stretch the policy. The first step
	// began when the escalation opened.
	began := s.now()
	if e.Alerting == alertingOpened {
		began = e.Opened
	}
	staff, err := target(ctx, s.store, a, c, e.Policy.Steps[e.Step].Notify)
	if err != nil {
		return nil, fmt.Errorf("alert escalation %s: %w", e.ID, err)
	}
	return s.alertTo(ctx, a, c, e, staff, "", inHours, began)
}

// alertTo alerts staff (nil: nobody) for the escalation's current step with
// the ACK code they hold for it ("": claimed here), planning the next step
// at began plus the step's wait. Every alert goes this way, the first of an
// opening included.
//
// Every write here can be repeated: the ACK code claim returns the code the
// staff member already holds for the escalation, the next step's timer has
// one id and keeps its first plan, and the alert's message id is fixed by
// escalation, round, step and staff, so a second copy queued is never sent.
// The escalation keeps its Alerting mark until the alert is recorded as
// sent, so whoever finds the mark (a reclaimed step timer, the opening
// message processed again) finishes the alert.
func (s *Service) alertTo(ctx context.Context, a *store.Agency, c *store.Client, e *store.Escalation, staff *store.CaseManager, code string, inHours bool, began time.Time) (*store.Escalation, error) {
	next, wait, climbs := nextTimer(e, e.Round, e.Step)
	nextRaw, err := json.Marshal(next)
	if err != nil {
		return nil, fmt.Errorf("alert escalation %s: %w", e.ID, err)
	}
	release := func() error {
		if code == "" || staff == nil {
			return nil
		}
		return s.store.ReleaseAckCodes(ctx, e.AgencyID, e.ID, []string{staff.ID})
	}
	d := decideTarget(e, staff, reachable(s.outbox, staff), inHours, s.now())
	if d.Action != targetSend {
		if err := release(); err != nil {
			return nil, fmt.Errorf("alert escalation %s: %w", e.ID, err)
		}
	}
	switch d.Action {
	case targetSkip:
		return s.skipStep(ctx, e, next, d.Detail)
	case targetHold:
		return s.hold(ctx, e, staff, d.At)
	}
	if code == "" {
		if code, err = s.store.ClaimAckCode(ctx, a.ID, staff.ID, e.ID); err != nil {
			return nil, fmt.Errorf("alert escalation %s: %w", e.ID, err)
		}
	}
	// A person we are calling now (an earlier round's call, another
	// alert's, placed or about to be) is not called a second time. Asked
	// only of staff with a voice rule: the first alert's round trips are
	// counted.
	calling := ""
	if slices.ContainsFunc(staff.ContactRules, func(r store.ContactRule) bool { return r.Method == MethodVoice && r.After == 0 }) {
		alert := fmt.Sprintf("alert:%s:%d:%d", e.ID, e.Round, e.Step)
		if calling, err = s.store.ReserveCall(ctx, a.ID, staff.ID, alert); err != nil {
			return nil, fmt.Errorf("alert escalation %s: %w", e.ID, err)
		}
	}
	// A concern is low urgency.
	p := s.contactPlan(a, c, e, staff, code, nextRaw, climbs, calling)
	var work []store.Work
	for _, job := range p.now {
		work = append(work, s.outbox.Work(job))
	}
	work = append(work, p.later...)
	if climbs {
		// Planned with the alert, in one script: whoever sees the alert
		// sees the policy already running on.
		work = append(work, store.Work{ID: stepID(next), At: began.Add(wait), Once: true, Payload: nextRaw})
	}
	// Queued once per alert: a repeat (the opening message processed again
	// while its opener still runs, a reclaimed timer) finds it queued and
	// only records it.
	once := store.AlertGuard(e.ID, e.Level, e.Round, e.Step, staff.ID)
	q, err := s.store.QueueClaimed(ctx, store.Queued{Work: work, Consumer: s.workers.consumer(), Once: once})
	if err != nil {
		return nil, fmt.Errorf("queue alert of escalation %s: %w", e.ID, err)
	}
	s.workers.hand(q.Claimed)
	marker := e.Alerting
	for _, job := range p.now {
		s.observe().Alert(string(job.Msg.Channel), "queued")
	}
	got, err := s.store.ChangeEscalation(ctx, e, func(x *store.Escalation) error {
		x.AckCode = code
		if !slices.Contains(x.Alerted, staff.ID) {
			x.Alerted = append(x.Alerted, staff.ID)
		}
		for i, job := range p.now {
			msg := job.Msg
			if slices.ContainsFunc(x.Audit, func(en store.AuditEntry) bool { return en.MessageID == msg.ID }) {
				continue
			}
			detail := fmt.Sprintf("step %d round %d to %s by %s (ACK %s)", e.Step+1, e.Round+1, staff.ID, msg.Channel, code)
			if len(staff.ContactRules) > 0 {
				detail = fmt.Sprintf("step %d round %d to %s by %s (ACK %s, rule %d%s)", e.Step+1, e.Round+1, staff.ID, msg.Channel, code, i+1, p.notes[i])
			}
			x.Audit = append(x.Audit, store.AuditEntry{At: s.now().UTC(), Actor: "system", Action: auditAlertSent, Detail: detail, MessageID: msg.ID})
		}
		if marker != "" && x.Alerting == marker {
			x.Alerting = "" // else the next step's timer already moved it on
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("record alert of escalation %s: %w", e.ID, err)
	}
	if got.Status != store.EscOpen {
		// Closed while the alert went out: its release may have missed
		// this staff member's code.
		if err := s.store.ReleaseAckCodes(ctx, e.AgencyID, e.ID, []string{staff.ID}); err != nil {
			return nil, fmt.Errorf("record alert of escalation %s: %w", e.ID, err)
		}
	}
	return got, nil
}

// skipStep records a step with nobody to alert and runs the next one now.
func (s *Service) skipStep(ctx context.Context, e *store.Escalation, next StepWork, detail string) (*store.Escalation, error) {
	got, err := s.store.ChangeEscalation(ctx, e, func(x *store.Escalation) error {
		x.Audit = append(x.Audit, store.AuditEntry{At: s.now().UTC(), Actor: "system", Action: "step skipped", Detail: detail})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("skip step of escalation %s: %w", e.ID, err)
	}
	if err := s.HandleStep(ctx, next); err != nil {
		return nil, err
	}
	return got, nil
}

// hold plans a low-urgency alert for the staff member's working hours.
func (s *Service) hold(ctx context.Context, e *store.Escalation, staff *store.CaseManager, at time.Time) (*store.Escalation, error) {
	held := StepWork{Kind: StepKind, Agency: e.AgencyID, ID: e.ID, Round: e.Round, Step: e.Step, Held: true}
	raw, err := json.Marshal(held)
	if err != nil {
		return nil, fmt.Errorf("hold alert of escalation %s: %w", e.ID, err)
	}
	if err := s.store.Schedule(ctx, stepID(held)+":held", at, raw); err != nil {
		return nil, fmt.Errorf("hold alert of escalation %s: %w", e.ID, err)
	}
	marker := e.Alerting
	got, err := s.store.ChangeEscalation(ctx, e, func(x *store.Escalation) error {
		if marker != "" && x.Alerting == marker {
			x.Alerting = "" // the held work carries the alert now
		}
		x.Audit = append(x.Audit, store.AuditEntry{At: s.now().UTC(), Actor: "system", Action: "alert held",
			Detail: fmt.Sprintf("low urgency: to %s at %s (working hours)", staff.ID, at.UTC().Format(time.RFC3339))})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("hold alert of escalation %s: %w", e.ID, err)
	}
	return got, nil
}

// target resolves a policy step to a case manager (nil: nobody): the
// person on call now for an "on-call:<rotation>" step.
func target(ctx context.Context, st *store.Store, a *store.Agency, c *store.Client, notify string) (*store.CaseManager, error) {
	// ValidatePolicy trims; the stored step may not be: " assigned " must not
	// read as a case manager id that does not exist (a skipped step).
	notify = strings.TrimSpace(notify)
	id := notify
	if rot, ok := OnCallRotation(notify); ok {
		r, err := st.Rotation(ctx, a.ID, rot)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil // deleted since the policy was taken: nobody
		}
		if err != nil {
			return nil, err
		}
		who, _, err := OnCall(r, a.Timezone, st.Now(), 0)
		if err != nil {
			return nil, err
		}
		id = who.StaffID
	}
	switch notify {
	case NotifyAssigned:
		id = c.CaseManagerID
	case NotifyBackup:
		cm, err := st.CaseManager(ctx, a.ID, c.CaseManagerID)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		id = cm.BackupID
	}
	if id == "" {
		return nil, nil
	}
	cm, err := st.CaseManager(ctx, a.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return cm, nil // deactivated too: decideTarget skips them and says so
}

// reachable reports whether an alert can reach staff (alertMessages finds a channel).
func reachable(ob *bot.Outbox, staff *store.CaseManager) bool {
	if staff == nil {
		return false
	}
	return (staff.TelegramChat != "" && ob.Has(bot.Telegram)) || (staff.Phone != "" && (ob.Has(bot.SMS) || (len(staff.ContactRules) > 0 && ob.Has(bot.Voice))))
}

// alertMessages builds the alert on the staff member's own channel (Telegram
// when linked and on, else SMS) and the same alert on the other one.
func alertMessages(ob *bot.Outbox, a *store.Agency, c *store.Client, e *store.Escalation, staff *store.CaseManager, code string) (*bot.Outbound, *bot.Outbound) {
	shown := *e
	shown.Reasons = alertReasons(a, e.Reasons)
	text := AlertText(Who(a, c), &shown, code)
	id := fmt.Sprintf("alert:%s:%d:%d:%s", e.ID, e.Round, e.Step, staff.ID)
	var tg, sms *bot.Outbound
	if staff.TelegramChat != "" && ob.Has(bot.Telegram) {
		tg = &bot.Outbound{ID: id + ":tg", Channel: bot.Telegram, To: staff.TelegramChat, Text: text, Urgent: true,
			Buttons: []bot.Button{{Label: "ACK " + code, Data: "ack:" + e.ID}}}
	}
	if staff.Phone != "" && ob.Has(bot.SMS) {
		sms = &bot.Outbound{ID: id + ":sms", Channel: bot.SMS, To: staff.Phone, Text: text, Urgent: true}
		sms.From, sms.Service = a.SMSFrom(staff.Phone)
	}
	if tg != nil {
		return tg, sms
	}
	return sms, nil
}
