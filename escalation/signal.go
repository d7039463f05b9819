package escalation

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/carecheck/carecheck/bot"
	"github.com/carecheck/carecheck/store"
)

// Reply says where a safety reply goes: the channel the client just wrote
// from, from our address on it; Key names the message it answers.
type Reply struct {
	Channel  bot.Kind
	To, From string
	Key      string
}

// SafetyReply sends the agency's safety message to the client at once, at
// most once per SafetyEvery, on the channel the client just wrote from (even
// when opted out: they just wrote to us). Signal does the same together
// with the escalation, in fewer round trips.
func (s *Service) SafetyReply(ctx context.Context, a *store.Agency, c *store.Client, ch bot.Kind, addr, from, messageID string) error {
	job := s.safetyJob(a, c, Reply{Channel: ch, To: addr, From: from, Key: messageID})
	got, err := s.store.StartCrisis(ctx, store.CrisisStart{Consumer: s.consumer(),
		Safety: &store.Guarded{Key: "safety:" + c.ID, Every: s.SafetyEvery, Work: []store.Work{s.outbox.Work(job)}}})
	if err != nil {
		return fmt.Errorf("safety reply: %w", err)
	}
	s.hand(got.Claimed)
	if got.Queued {
		s.log.Info("safety reply queued", "client_id", c.ID, "message_id", job.Msg.ID)
	}
	return nil
}

// safetyJob is the safety reply, with the client's other channel should
// this one fail for good.
func (s *Service) safetyJob(a *store.Agency, c *store.Client, r Reply) *bot.Job {
	ch := r.Channel
	job := &bot.Job{
		Msg:    bot.Outbound{ID: "safety:" + c.ID + ":" + r.Key, Channel: ch, To: r.To, From: r.From, Text: Safety(a, c.Language), Urgent: true},
		Person: bot.Person{Kind: "client", ID: c.ID},
	}
	switch {
	case ch == bot.SMS && c.TelegramChat != "" && !c.TelegramUnreachable && s.outbox.Has(bot.Telegram):
		fb := job.Msg
		fb.ID, fb.Channel, fb.To, fb.From = job.Msg.ID+":tg", bot.Telegram, c.TelegramChat, ""
		job.Fallback = &fb
	case ch == bot.Telegram && c.Phone != "" && s.outbox.Has(bot.SMS):
		fb := job.Msg
		fb.ID, fb.Channel, fb.To = job.Msg.ID+":sms", bot.SMS, c.Phone
		job.Fallback = &fb
	}
	return job
}

// Raise opens an escalation for the client, or adds the signal to the one
// already open, and alerts the first step of the policy.
func (s *Service) Raise(ctx context.Context, a *store.Agency, c *store.Client, sig Signal, actor string) (*store.Escalation, error) {
	return s.Signal(ctx, a, c, sig, actor, nil)
}

func (s *Service) policyFor(a *store.Agency, sig Signal) store.Policy {
	policy := DefaultPolicy()
	if a.Policy != nil && len(a.Policy.Steps) > 0 {
		policy = *a.Policy
	}
	if sig.Level == Concern {
		// Low urgency: the assigned case manager only, no climbing.
		policy = store.Policy{Steps: []store.PolicyStep{{Notify: NotifyAssigned, Wait: store.Duration(24 * time.Hour)}}}
	}
	return policy
}

// Signal is Raise with, when reply is not nil, the safety reply queued
// first (at most once per SafetyEvery). It is the crisis path, and each
// Redis round trip on it is latency under load: one round trip queues the
// safety reply and reads the case manager the first step alerts with their
// ACK codes; one opens the escalation with its audit, binds the ACK code and
// queues the alert and the next step's timer (store.OpenAlerted). Work
// queued here goes straight to this process's workers (Handoff). What the
// fast path does not cover (an open escalation to join, a step with nobody
// to alert, a concern held for working hours) takes the general path.
func (s *Service) Signal(ctx context.Context, a *store.Agency, c *store.Client, sig Signal, actor string, reply *Reply) (*store.Escalation, error) {
	policy := s.policyFor(a, sig)
	notify := strings.TrimSpace(policy.Steps[0].Notify)
	staff := notify
	if notify == NotifyAssigned || notify == NotifyBackup {
		staff = c.CaseManagerID
	}
	start := store.CrisisStart{Agency: a.ID, Staff: staff, Consumer: s.consumer()}
	var safety *bot.Job
	if reply != nil {
		safety = s.safetyJob(a, c, *reply)
		start.Safety = &store.Guarded{Key: "safety:" + c.ID, Every: s.SafetyEvery, Work: []store.Work{s.outbox.Work(safety)}}
	}
	got, err := s.store.StartCrisis(ctx, start)
	if err != nil {
		return nil, err
	}
	s.hand(got.Claimed) // the safety reply goes before the alert
	if got.Queued {
		s.log.Info("safety reply queued", "client_id", c.ID, "message_id", safety.Msg.ID)
	}
	cm, codes := got.CM, got.Codes
	if notify == NotifyBackup && cm != nil {
		if cm.BackupID == "" {
			cm = nil
		} else {
			b, err := s.store.StartCrisis(ctx, store.CrisisStart{Agency: a.ID, Staff: cm.BackupID})
			if err != nil {
				return nil, err
			}
			cm, codes = b.CM, b.Codes
		}
	}
	if cm != nil && !cm.Active {
		cm = nil
	}
	return s.open(ctx, a, c, sig, actor, policy, cm, codes)
}

// open opens the escalation with its first alert to cm (nil: nobody), or
// joins the client's open one.
func (s *Service) open(ctx context.Context, a *store.Agency, c *store.Client, sig Signal, actor string, policy store.Policy, cm *store.CaseManager, codes map[string]string) (*store.Escalation, error) {
	now := s.now().UTC()
	e := &store.Escalation{ID: store.NewID("es", now), Opened: now, Status: store.EscOpen,
		AgencyID: a.ID, ClientID: c.ID, Level: sig.Level, Reasons: sig.Reasons, Signals: sig.Explain, Policy: policy,
		Audit: []store.AuditEntry{{At: now, Actor: actor, Action: "opened", Detail: sig.Level + ": " + strings.Join(sig.Reasons, ", ")}}}
	fast := cm != nil
	if fast {
		if msg, _ := s.alertMessages(a, c, e, cm, "1"); msg == nil {
			fast = false // no channel: the step is skipped
		}
	}
	if fast && sig.Level == Concern && NextWorkingTime(cm.WorkingHours, s.now()).After(s.now()) {
		fast = false // held for working hours
	}
	if !fast {
		return s.raise(ctx, a, c, sig, actor, e)
	}
	code := smallestFree(codes)
	// Each lost race tells the code free now, and every round someone wins:
	// n clients of one case manager in crisis at once take at most n
	// rounds (a bound of 10 failed 6 of 20 such alerts).
	for range maxCodeRaces {
		plan := s.firstAlert(a, c, e, cm, code)
		res, err := s.store.OpenAlerted(ctx, plan)
		if err != nil {
			return nil, err
		}
		if res.Joined != "" {
			return s.join(ctx, a, c, res.Joined, sig, actor, policy)
		}
		if res.Opened {
			s.hand(res.Claimed)
			s.log.Info("escalation opened", "escalation_id", e.ID, "client_id", c.ID, "level", e.Level)
			return plan.Esc, nil
		}
		code = res.Code // another alert took the code meanwhile
	}
	return nil, fmt.Errorf("open escalation for client %s: ack codes keep changing", c.ID)
}

// maxCodeRaces bounds the rounds one alert races others for an ACK code.
const maxCodeRaces = 1000

// smallestFree is the smallest ACK code not in codes (as the store binds them).
func smallestFree(codes map[string]string) string {
	n := 1
	for codes[strconv.Itoa(n)] != "" {
		n++
	}
	return strconv.Itoa(n)
}

// firstAlert builds the new escalation as it stands once its first step
// alerted staff with code, and the work that sends the alert and times the
// next step: what alert does for step 1, decided before anything is written.
func (s *Service) firstAlert(a *store.Agency, c *store.Client, opened *store.Escalation, staff *store.CaseManager, code string) *store.NewAlerted {
	e := *opened
	e.Audit = append([]store.AuditEntry(nil), opened.Audit...)
	step := e.Policy.Steps[e.Step]
	next := StepWork{Kind: StepKind, Agency: e.AgencyID, ID: e.ID, Round: e.Round, Step: e.Step + 1}
	nextRaw, _ := json.Marshal(next)
	msg, fallback := s.alertMessages(a, c, &e, staff, code)
	e.AckCode = code
	e.Alerted = []string{staff.ID}
	e.Audit = append(e.Audit, store.AuditEntry{At: e.Opened, Actor: "system", Action: "alert sent",
		Detail: fmt.Sprintf("step %d round %d to %s by %s (ACK %s)", e.Step+1, e.Round+1, staff.ID, msg.Channel, code), MessageID: msg.ID})
	job := &bot.Job{Msg: *msg, Person: bot.Person{Kind: "staff", ID: staff.ID, AgencyID: a.ID}, Fallback: fallback,
		OnFail: &bot.Work{ID: stepID(next) + ":failed", Payload: nextRaw}}
	work := []store.Work{}
	if e.Level == Concern {
		job.Msg.Urgent = false // and no climbing
		work = append(work, s.outbox.Work(job))
	} else {
		work = append(work, s.outbox.Work(job), store.Work{ID: stepID(next), At: e.Opened.Add(time.Duration(step.Wait)), Payload: nextRaw})
	}
	return &store.NewAlerted{Esc: &e, Staff: staff.ID, Work: work, Consumer: s.consumer()}
}

// raise is the general path: open or join, then alert the first step.
func (s *Service) raise(ctx context.Context, a *store.Agency, c *store.Client, sig Signal, actor string, proto *store.Escalation) (*store.Escalation, error) {
	e, isNew, err := s.store.OpenEscalation(ctx, &store.Escalation{
		AgencyID: a.ID, ClientID: c.ID, Level: sig.Level, Reasons: sig.Reasons, Signals: sig.Explain, Policy: proto.Policy, Audit: proto.Audit,
		Alerting: alertingOpened,
	})
	if err != nil {
		return nil, err
	}
	if !isNew {
		return s.join(ctx, a, c, e.ID, sig, actor, proto.Policy)
	}
	s.log.Info("escalation opened", "escalation_id", e.ID, "client_id", c.ID, "level", e.Level)
	return e, s.alertStep(ctx, a, c, e)
}

// join adds a signal to the client's open escalation; a crisis joining a
// concern raises it to crisis with the crisis policy and alerts again.
func (s *Service) join(ctx context.Context, a *store.Agency, c *store.Client, id string, sig Signal, actor string, policy store.Policy) (*store.Escalation, error) {
	now := s.now().UTC()
	upgrade := false
	e, err := s.store.UpdateEscalation(ctx, a.ID, id, func(x *store.Escalation) error {
		upgrade = sig.Level == Crisis && x.Level == Concern
		x.Reasons = mergeReasons(x.Reasons, sig.Reasons)
		x.Signals = mergeReasons(x.Signals, sig.Explain)
		x.Audit = append(x.Audit, store.AuditEntry{At: now, Actor: actor, Action: "signal joined", Detail: sig.Level + ": " + strings.Join(sig.Reasons, ", ")})
		if upgrade {
			x.Level = Crisis
			x.Policy = policy
			x.Step, x.Round = 0, 0
			x.Alerting = alertingRaised
			x.Audit = append(x.Audit, store.AuditEntry{At: now, Actor: "system", Action: "raised to crisis"})
		}
		return nil
	})
	if err != nil {
		return e, err
	}
	if !upgrade {
		if e.Alerting != "" {
			// An alert of this escalation is not known to be queued: its
			// opener, or a step run inline after a skipped one, stopped on
			// the way (the message that opened it, processed again, joins
			// here). Finishing it is safe even while the other is still
			// running: every write of an alert repeats safely.
			return e, s.alertStep(ctx, a, c, e)
		}
		return e, nil
	}
	s.log.Info("escalation raised to crisis", "escalation_id", e.ID, "client_id", c.ID)
	return e, s.alertStep(ctx, a, c, e)
}

// Values of Escalation.Alerting while the first alert of an opening on the
// general path, or of a concern raised to crisis, is not yet queued. A step
// timer leaves its own id instead.
const (
	alertingOpened = "opened"
	alertingRaised = "raised"
)

func mergeReasons(have, add []string) []string {
	seen := map[string]bool{}
	for _, r := range have {
		seen[r] = true
	}
	for _, r := range add {
		if !seen[r] {
			have = append(have, r)
			seen[r] = true
		}
	}
	return have
}
