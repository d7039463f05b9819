package escalation

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/carecheck/carecheck/bot"
	"github.com/carecheck/carecheck/store"
)

// Reply says where a safety reply goes: the channel the client just wrote
// from, from our address on it; Key names the message it answers.
type Reply struct {
	Channel bot.Kind
	// From and Service are the sending address (bot.Outbound's).
	To, From, Service string
	Key               string
}

// SafetyReply sends the agency's safety message to the client at once, at
// most once per SafetyEvery, on the channel the client just wrote from (even
// when opted out: they just wrote to us). Signal does the same together
// with the escalation, in the same round trip.
func (s *Service) SafetyReply(ctx context.Context, a *store.Agency, c *store.Client, r Reply) error {
	job := safetyJob(s.outbox, a, c, r)
	got, err := s.store.QueueClaimed(ctx, safetyWork(c, job, s.outbox, s.workers.consumer(), s.SafetyEvery))
	if err != nil {
		return fmt.Errorf("safety reply to client %s: %w", c.ID, err)
	}
	s.workers.hand(got.Claimed)
	if got.Queued {
		s.log.Info("safety reply queued", "client_id", c.ID, "message_id", job.Msg.ID)
	}
	return nil
}

// StrangerSafety sends the built-in safety message, in lang, to the sender
// of in, whom nobody owns and who wrote crisis language: no agency, no
// client, no escalation, but never silence. It goes from in.To (through
// in.Service), the address answers to in go out from. At most one goes to
// an address per SafetyEvery, by the same guard as a client's safety
// replies.
func (s *Service) StrangerSafety(ctx context.Context, in bot.Inbound, lang string) error {
	ch, addr := in.Channel, in.From
	job := &bot.Job{Msg: bot.Outbound{ID: "safety:" + string(ch) + ":" + in.ProviderID, Channel: ch, To: addr, Text: Safety(nil, lang), Urgent: true}}
	if ch == bot.SMS {
		job.Msg.From, job.Msg.Service = in.To, in.Service
	}
	got, err := s.store.QueueClaimed(ctx, store.Queued{Work: []store.Work{s.outbox.Work(job)}, Consumer: s.workers.consumer(), Once: store.StrangerSafetyGuard(string(ch), addr, s.SafetyEvery)})
	if err != nil {
		return fmt.Errorf("safety message to an unknown sender: %w", err)
	}
	s.workers.hand(got.Claimed)
	if got.Queued {
		s.log.Info("safety message to an unknown sender queued", "channel", string(ch), "message_id", job.Msg.ID)
	}
	return nil
}

// safetyWork queues the safety reply at most once per every.
func safetyWork(c *store.Client, job *bot.Job, ob *bot.Outbox, consumer string, every time.Duration) store.Queued {
	return store.Queued{Work: []store.Work{ob.Work(job)}, Consumer: consumer, Once: store.SafetyGuard(c.ID, every)}
}

// safetyJob is the safety reply, with the client's other channel should
// this one fail for good.
func safetyJob(ob *bot.Outbox, a *store.Agency, c *store.Client, r Reply) *bot.Job {
	ch := r.Channel
	job := &bot.Job{
		Msg:    bot.Outbound{ID: "safety:" + c.ID + ":" + r.Key, Channel: ch, To: r.To, From: r.From, Service: r.Service, Text: Safety(a, c.Language), Urgent: true},
		Person: bot.Person{Kind: "client", ID: c.ID},
	}
	switch {
	case ch == bot.SMS && c.TelegramChat != "" && !c.TelegramUnreachable && ob.Has(bot.Telegram):
		fb := job.Msg
		fb.ID, fb.Channel, fb.To, fb.From, fb.Service = job.Msg.ID+":tg", bot.Telegram, c.TelegramChat, "", ""
		job.Fallback = &fb
	case ch == bot.Telegram && c.Phone != "" && ob.Has(bot.SMS):
		fb := job.Msg
		fb.ID, fb.Channel, fb.To = job.Msg.ID+":sms", bot.SMS, c.Phone
		fb.From, fb.Service = a.SMSFrom(c.Phone)
		job.Fallback = &fb
	}
	return job
}

// Raise opens an escalation for the client, or adds the signal to the one
// already open, and alerts the first step of the policy.
func (s *Service) Raise(ctx context.Context, a *store.Agency, c *store.Client, sig Signal, actor string) (*store.Escalation, error) {
	return s.Signal(ctx, a, c, sig, actor, nil)
}

// policyFor is the policy an escalation on sig follows (snapshotted when it opens).
func policyFor(a *store.Agency, sig Signal) store.Policy {
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
// first (at most once per SafetyEvery). It is the crisis path: one round
// trip queues the safety reply and opens the escalation (or finds the open
// one to join) with the first alert's ACK code bound and its case manager
// read; the next queues the alert with the next step's timer, and the last
// records the alert on the escalation. Work queued here goes straight to
// this process's workers (Handoff).
func (s *Service) Signal(ctx context.Context, a *store.Agency, c *store.Client, sig Signal, actor string, reply *Reply) (*store.Escalation, error) {
	policy := policyFor(a, sig)
	now := s.now().UTC()
	o := store.Opening{Esc: &store.Escalation{AgencyID: a.ID, ClientID: c.ID, Level: sig.Level, Reasons: sig.Reasons, Signals: sig.Explain, Policy: policy,
		Audit:    append(slices.Clip(sig.Audit), store.AuditEntry{At: now, Actor: actor, Action: "opened", Detail: sig.Level + ": " + strings.Join(sig.Reasons, ", ")}),
		Alerting: alertingOpened,
	}}
	// The first step's case manager, when known without a read (the
	// backup is found through the assigned one's record, the person on
	// call through the rotation, at alert time).
	notify := strings.TrimSpace(policy.Steps[0].Notify)
	_, onCall := OnCallRotation(notify)
	switch {
	case notify == NotifyAssigned:
		o.Staff = c.CaseManagerID
	case notify == NotifyBackup || onCall:
	default:
		o.Staff = notify
	}
	var safety *bot.Job
	if reply != nil {
		safety = safetyJob(s.outbox, a, c, *reply)
		q := safetyWork(c, safety, s.outbox, s.workers.consumer(), s.SafetyEvery)
		o.Safety = &q
	}
	res, err := s.store.OpenOrJoinEscalation(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("signal for client %s: %w", c.ID, err)
	}
	s.workers.hand(res.Safety.Claimed) // the safety reply goes before the alert
	if res.Safety.Queued {
		s.log.Info("safety reply queued", "client_id", c.ID, "message_id", safety.Msg.ID)
	}
	if res.Joined != "" {
		return s.join(ctx, a, c, res.Joined, sig, actor, policy)
	}
	e := res.Esc
	s.log.Info("escalation opened", "escalation_id", e.ID, "client_id", c.ID, "level", e.Level)
	if o.Staff == "" {
		return s.alert(ctx, a, c, e, sig.AtOnce)
	}
	staff := res.CM
	if staff == nil && res.Code != "" {
		// Nobody to alert there: the step is skipped, its code freed (a
		// deactivated staff member's code is freed by alertTo's decision).
		if err := s.store.ReleaseAckCodes(ctx, a.ID, e.ID, []string{o.Staff}); err != nil {
			return nil, fmt.Errorf("signal for client %s: %w", c.ID, err)
		}
		res.Code = ""
	}
	return s.alertTo(ctx, a, c, e, staff, res.Code, sig.AtOnce, e.Opened)
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
		x.Audit = append(append(x.Audit, sig.Audit...), store.AuditEntry{At: now, Actor: actor, Action: "signal joined", Detail: sig.Level + ": " + strings.Join(sig.Reasons, ", ")})
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
		return nil, fmt.Errorf("join escalation %s: %w", id, err)
	}
	if !upgrade {
		if e.Alerting != "" {
			// An alert of this escalation is not recorded as sent: its
			// opener, or a step run inline after a skipped one, stopped on
			// the way (the message that opened it, processed again, joins
			// here). Finishing it is safe even while the other is still
			// running: every write of an alert repeats safely.
			return s.alert(ctx, a, c, e, sig.AtOnce)
		}
		return e, nil
	}
	s.log.Info("escalation raised to crisis", "escalation_id", e.ID, "client_id", c.ID)
	return s.alert(ctx, a, c, e, false)
}

// Values of Escalation.Alerting while the first alert of an opening, or of
// a concern raised to crisis, is not yet recorded as sent. A step timer
// leaves its own id instead.
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
