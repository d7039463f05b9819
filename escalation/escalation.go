// Package escalation turns crisis and concern signals into a safety reply for
// the client and alerts that climb the agency's policy until a human
// acknowledges. Detection itself lives in escalation/detect.
package escalation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/carecheck/carecheck/bot"
	"github.com/carecheck/carecheck/store"
)

// Levels of an escalation.
const (
	Crisis  = "crisis"
	Concern = "concern"
)

// Signal is why an escalation opens: the level, category words for staff
// ("crisis language", "PHQ-9 item 9 = 2") and the detector's explanations.
type Signal struct {
	Level   string
	Reasons []string
	Explain []string
}

// Service runs escalations.
type Service struct {
	store  *store.Store
	outbox *bot.Outbox
	log    *slog.Logger
	now    func() time.Time
	// handoff, when set, takes urgent work this process queued.
	handoff Handoff
	// SafetyEvery spaces safety replies to one client.
	SafetyEvery time.Duration
}

// NewService builds the escalation service.
func NewService(st *store.Store, ob *bot.Outbox, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: st, outbox: ob, log: log, now: st.Now, SafetyEvery: 30 * time.Minute}
}

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

// Handoff gives urgent work this process just queued to its own workers,
// so an alert does not wait for a stream read (conversations.Workers).
type Handoff interface {
	// Consumer names this process's queue consumer, "" while its workers
	// are not running (then nothing is claimed for them).
	Consumer() string
	// Handoff hands over items claimed for Consumer; it must not block.
	Handoff(items []store.Item)
}

// SetHandoff wires this process's workers (before serving).
func (s *Service) SetHandoff(h Handoff) { s.handoff = h }

func (s *Service) consumer() string {
	if s.handoff == nil {
		return ""
	}
	return s.handoff.Consumer()
}

func (s *Service) hand(items []store.Item) {
	if len(items) > 0 && s.handoff != nil {
		s.handoff.Handoff(items)
	}
}

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

// HandleStep runs an escalation timer: if nobody acknowledged, alert the
// next step (the last one repeats up to the policy's count). Stale timers —
// the escalation moved on or closed — do nothing.
func (s *Service) HandleStep(ctx context.Context, w StepWork) error {
	e, err := s.store.Escalation(ctx, w.Agency, w.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if e.Status != store.EscOpen {
		return nil
	}
	a, err := s.store.Agency(ctx, e.AgencyID)
	if err != nil {
		return err
	}
	c, err := s.store.Client(ctx, e.ClientID)
	if err != nil {
		return err
	}
	if w.Held {
		// Working hours began: send the held concern alert, unless the
		// escalation moved on (raised to crisis: its own alerts went out).
		if e.Level != Concern || e.Round != w.Round || e.Step != w.Step {
			return nil
		}
		return s.alert(ctx, a, c, e, true)
	}
	if e.Alerting == stepID(w) {
		// A copy of this timer advanced the escalation and stopped before
		// its alert was queued (a crash, a Redis error): finish that alert.
		return s.alertStep(ctx, a, c, e)
	}
	now := s.now().UTC()
	advanced := false
	e, err = s.store.UpdateEscalation(ctx, e.AgencyID, e.ID, func(x *store.Escalation) error {
		if x.Status != store.EscOpen || x.Round != w.Round || x.Step != w.Step-1 {
			return store.ErrUnchanged
		}
		x.Step = w.Step
		x.Alerting = ""
		if x.Step >= len(x.Policy.Steps) {
			x.Step = len(x.Policy.Steps) - 1
			x.Round++
			if x.Level == Concern || x.Round > x.Policy.Repeat {
				x.Round = w.Round
				x.Step = len(x.Policy.Steps) // parked: nothing more to alert
				x.Audit = append(x.Audit, store.AuditEntry{At: now, Actor: "system", Action: "policy exhausted", Detail: "still open, unacknowledged"})
				return nil
			}
		}
		// Cleared once the step's alert is queued; until then a reclaimed
		// copy of this timer knows the advance is its own and goes on.
		x.Alerting = stepID(w)
		advanced = true
		return nil
	})
	if errors.Is(err, store.ErrUnchanged) {
		return nil
	}
	if err != nil {
		return err
	}
	if !advanced {
		s.log.Error("escalation unacknowledged after the whole policy", "escalation_id", e.ID)
		return nil
	}
	return s.alertStep(ctx, a, c, e)
}

// alertStep alerts the target of the escalation's current step and plans
// the timer of the next one. A step with nobody to alert moves on at once.
func (s *Service) alertStep(ctx context.Context, a *store.Agency, c *store.Client, e *store.Escalation) error {
	return s.alert(ctx, a, c, e, false)
}

// alert is alertStep; inHours skips the working-hours check of a concern
// (its held alert came due).
//
// Every write here can be repeated: the ACK code claim returns the code the
// staff member already holds for the escalation, the next step's timer has
// one id, and the alert's message id is fixed by escalation, round, step
// and staff, so a second copy queued is never sent. A step timer that fails
// on the way leaves its mark on the escalation (Escalation.Alerting) until
// the alert is queued, and its reclaimed copy finishes the alert.
func (s *Service) alert(ctx context.Context, a *store.Agency, c *store.Client, e *store.Escalation, inHours bool) error {
	// The next step's wait starts when this step does, not when the alert
	// left: a slow provider does not stretch the policy.
	began := s.now()
	marker := e.Alerting // the step timer this alert finishes, if any
	for guard := 0; guard < 20; guard++ {
		step := e.Policy.Steps[e.Step]
		next := StepWork{Kind: StepKind, Agency: e.AgencyID, ID: e.ID, Round: e.Round, Step: e.Step + 1}
		nextRaw, _ := json.Marshal(next)
		staff, err := s.target(ctx, a, c, step.Notify)
		if err != nil {
			return err
		}
		if staff == nil {
			_, err := s.store.UpdateEscalation(ctx, e.AgencyID, e.ID, func(x *store.Escalation) error {
				x.Audit = append(x.Audit, store.AuditEntry{At: s.now().UTC(), Actor: "system", Action: "step skipped", Detail: fmt.Sprintf("step %d (%s): nobody to alert", e.Step+1, step.Notify)})
				return nil
			})
			if err != nil {
				return err
			}
			if err := s.HandleStep(ctx, next); err != nil {
				return err
			}
			return nil
		}
		if e.Level == Concern && !inHours {
			// Low urgency waits for the staff member's working hours. It is
			// held as escalation work, not as a message: acknowledged or
			// resolved meanwhile (in the console), nothing goes out.
			if at := NextWorkingTime(staff.WorkingHours, s.now()); at.After(s.now()) {
				held := StepWork{Kind: StepKind, Agency: e.AgencyID, ID: e.ID, Round: e.Round, Step: e.Step, Held: true}
				raw, _ := json.Marshal(held)
				if err := s.store.Schedule(ctx, stepID(held)+":held", at, raw); err != nil {
					return err
				}
				_, err := s.store.UpdateEscalation(ctx, e.AgencyID, e.ID, func(x *store.Escalation) error {
					if x.Alerting == marker {
						x.Alerting = "" // the held work carries the alert now
					}
					x.Audit = append(x.Audit, store.AuditEntry{At: s.now().UTC(), Actor: "system", Action: "alert held",
						Detail: fmt.Sprintf("low urgency: to %s at %s (working hours)", staff.ID, at.UTC().Format(time.RFC3339))})
					return nil
				})
				return err
			}
		}
		code, err := s.store.ClaimAckCode(ctx, a.ID, staff.ID, e.ID)
		if err != nil {
			return err
		}
		msg, fallback := s.alertMessages(a, c, e, staff, code)
		if msg == nil {
			_, err := s.store.UpdateEscalation(ctx, e.AgencyID, e.ID, func(x *store.Escalation) error {
				x.Audit = append(x.Audit, store.AuditEntry{At: s.now().UTC(), Actor: "system", Action: "step skipped", Detail: fmt.Sprintf("step %d: %s has no phone or Telegram", e.Step+1, staff.ID)})
				return nil
			})
			if err != nil {
				return err
			}
			return s.HandleStep(ctx, next)
		}
		detail := fmt.Sprintf("step %d round %d to %s by %s (ACK %s)", e.Step+1, e.Round+1, staff.ID, msg.Channel, code)
		_, err = s.store.UpdateEscalation(ctx, e.AgencyID, e.ID, func(x *store.Escalation) error {
			x.AckCode = code
			if !contains(x.Alerted, staff.ID) {
				x.Alerted = append(x.Alerted, staff.ID)
			}
			if !slices.ContainsFunc(x.Audit, func(en store.AuditEntry) bool { return en.MessageID == msg.ID }) {
				x.Audit = append(x.Audit, store.AuditEntry{At: s.now().UTC(), Actor: "system", Action: "alert sent", Detail: detail, MessageID: msg.ID})
			}
			return nil
		})
		if err != nil {
			return err
		}
		job := &bot.Job{Msg: *msg, Person: bot.Person{Kind: "staff", ID: staff.ID, AgencyID: a.ID}, Fallback: fallback,
			OnFail: &bot.Work{ID: stepID(next) + ":failed", Payload: nextRaw}}
		if e.Level == Concern {
			job.Msg.Urgent = false // and no climbing
		} else if err := s.store.ScheduleOnce(ctx, stepID(next), began.Add(time.Duration(step.Wait)), nextRaw); err != nil {
			// Planned before the alert leaves, so whoever sees the alert
			// sees the policy already running on; planned once, so a
			// resumed alert does not push the next step back.
			return err
		}
		if err := s.outbox.Queue(ctx, job); err != nil {
			return err
		}
		if marker == "" {
			return nil
		}
		_, err = s.store.UpdateEscalation(ctx, e.AgencyID, e.ID, func(x *store.Escalation) error {
			if x.Alerting != marker {
				return store.ErrUnchanged // the next step's timer already moved it on
			}
			x.Alerting = ""
			return nil
		})
		if errors.Is(err, store.ErrUnchanged) {
			return nil
		}
		return err
	}
	return errors.New("escalation: too many skipped steps")
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// target resolves a policy step to a case manager (nil: nobody).
func (s *Service) target(ctx context.Context, a *store.Agency, c *store.Client, notify string) (*store.CaseManager, error) {
	// ValidatePolicy trims; the stored step may not be: " assigned " must not
	// read as a case manager id that does not exist (a skipped step).
	notify = strings.TrimSpace(notify)
	id := notify
	switch notify {
	case NotifyAssigned:
		id = c.CaseManagerID
	case NotifyBackup:
		cm, err := s.store.CaseManager(ctx, a.ID, c.CaseManagerID)
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
	cm, err := s.store.CaseManager(ctx, a.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !cm.Active {
		return nil, nil
	}
	return cm, nil
}

// alertMessages builds the alert on the staff member's own channel (Telegram
// when linked and on, else SMS) and the same alert on the other one.
func (s *Service) alertMessages(a *store.Agency, c *store.Client, e *store.Escalation, staff *store.CaseManager, code string) (*bot.Outbound, *bot.Outbound) {
	shown := *e
	shown.Reasons = alertReasons(a, e.Reasons)
	text := AlertText(Who(a, c), &shown, code)
	id := fmt.Sprintf("alert:%s:%d:%d:%s", e.ID, e.Round, e.Step, staff.ID)
	var tg, sms *bot.Outbound
	if staff.TelegramChat != "" && s.outbox.Has(bot.Telegram) {
		tg = &bot.Outbound{ID: id + ":tg", Channel: bot.Telegram, To: staff.TelegramChat, Text: text, Urgent: true,
			Buttons: []bot.Button{{Label: "ACK " + code, Data: "ack:" + e.ID}}}
	}
	if staff.Phone != "" && s.outbox.Has(bot.SMS) {
		sms = &bot.Outbound{ID: id + ":sms", Channel: bot.SMS, To: staff.Phone, Text: text, Urgent: true}
	}
	if tg != nil {
		return tg, sms
	}
	return sms, nil
}

// Ack acknowledges an open escalation; it reports false when it was not open.
func (s *Service) Ack(ctx context.Context, agency, id, actor, via string) (*store.Escalation, bool, error) {
	now := s.now().UTC()
	changed := false
	e, err := s.store.UpdateEscalation(ctx, agency, id, func(x *store.Escalation) error {
		if x.Status != store.EscOpen {
			return store.ErrUnchanged
		}
		x.Status = store.EscAcknowledged
		x.AckedAt = &now
		x.AckedBy = actor
		x.Audit = append(x.Audit, store.AuditEntry{At: now, Actor: actor, Action: "acknowledged", Detail: "via " + via})
		changed = true
		return nil
	})
	if errors.Is(err, store.ErrUnchanged) {
		e, err = s.store.Escalation(ctx, agency, id)
		if err != nil {
			return e, false, err
		}
		// Released again: a repeated ACK finishes a release that failed.
		return e, false, s.store.ReleaseAckCodes(ctx, agency, id, e.Alerted)
	}
	if err != nil {
		return nil, false, err
	}
	s.log.Info("escalation acknowledged", "escalation_id", id, "actor", actor)
	return e, changed, s.store.ReleaseAckCodes(ctx, agency, id, e.Alerted)
}

// Resolve closes an escalation with a note.
func (s *Service) Resolve(ctx context.Context, agency, id, actor, note string) (*store.Escalation, error) {
	now := s.now().UTC()
	e, err := s.store.UpdateEscalation(ctx, agency, id, func(x *store.Escalation) error {
		if x.Status == store.EscResolved {
			return store.ErrUnchanged
		}
		x.Status = store.EscResolved
		x.ResolvedAt = &now
		x.Audit = append(x.Audit, store.AuditEntry{At: now, Actor: actor, Action: "resolved", Detail: note})
		return nil
	})
	if errors.Is(err, store.ErrUnchanged) {
		return s.store.Escalation(ctx, agency, id)
	}
	if err != nil {
		return nil, err
	}
	return e, s.store.ReleaseAckCodes(ctx, agency, id, e.Alerted)
}

// StaffReply handles a message from a case manager: an ACK code (forgiving:
// "ACK 12", "ack12", "12a", "a 12", a bare "ACK" when one alert is open) or
// a Telegram button "ack:<id>". It returns the reply to send.
func (s *Service) StaffReply(ctx context.Context, staff *store.CaseManager, text string) (string, error) {
	if id, ok := strings.CutPrefix(strings.TrimSpace(text), "ack:"); ok {
		e, changed, err := s.Ack(ctx, staff.AgencyID, id, "staff:"+staff.ID, "telegram button")
		if errors.Is(err, store.ErrNotFound) {
			return StaffHelp, nil
		}
		if err != nil {
			return "", err
		}
		return s.ackAnswer(ctx, e, changed)
	}
	codes, err := s.openCodes(ctx, staff)
	if err != nil {
		return "", err
	}
	code, ok := ParseAck(text)
	if !ok {
		return StaffHelp, nil
	}
	if code == "" && len(codes) == 1 {
		for c := range codes {
			code = c
		}
	}
	id, found := codes[code]
	if !found {
		return StaffHelp, nil
	}
	e, changed, err := s.Ack(ctx, staff.AgencyID, id, "staff:"+staff.ID, "sms")
	if err != nil {
		return "", err
	}
	return s.ackAnswer(ctx, e, changed)
}

// openCodes reads a staff member's ACK codes, keeping those of open
// escalations. A code still bound to a closed one (the process stopped
// between the closing and the release) is released here: left, it would
// make a bare "ACK" ambiguous and push later codes up.
func (s *Service) openCodes(ctx context.Context, staff *store.CaseManager) (map[string]string, error) {
	codes, err := s.store.AckCodes(ctx, staff.AgencyID, staff.ID)
	if err != nil {
		return nil, err
	}
	for code, id := range codes {
		e, err := s.store.Escalation(ctx, staff.AgencyID, id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		if err == nil && e.Status == store.EscOpen {
			continue
		}
		if err := s.store.ReleaseAckCodes(ctx, staff.AgencyID, id, []string{staff.ID}); err != nil {
			return nil, err
		}
		delete(codes, code)
	}
	return codes, nil
}

func (s *Service) ackAnswer(ctx context.Context, e *store.Escalation, changed bool) (string, error) {
	if !changed {
		return fmt.Sprintf("CareCheck: that alert is already %s.", e.Status), nil
	}
	who := e.ClientID
	if c, err := s.store.Client(ctx, e.ClientID); err == nil {
		if a, err := s.store.Agency(ctx, e.AgencyID); err == nil {
			who = Who(a, c)
		}
	}
	return AckReply(who, e.AckCode), nil
}

// ParseAck reads an acknowledgement: it returns the code ("" for a bare
// ACK) and whether the text is an acknowledgement at all. Any space or
// punctuation separates ("ack\n2", "ACK-2", "ack, 2"); two codes are
// ambiguous and not guessed.
func ParseAck(text string) (string, bool) {
	t := strings.ToLower(strings.TrimSpace(text))
	var word, num string
	setNum := func(n string) bool {
		if num != "" {
			return false
		}
		num = n
		return true
	}
	for _, f := range strings.FieldsFunc(t, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		ok := true
		switch {
		case f == "ack" || f == "a" || f == "ok":
			word = f
		case isDigits(f):
			ok = setNum(f)
		case strings.HasPrefix(f, "ack") && isDigits(f[3:]):
			word = "ack"
			ok = setNum(f[3:])
		case strings.HasSuffix(f, "a") && isDigits(f[:len(f)-1]):
			word = "a"
			ok = setNum(f[:len(f)-1])
		case strings.HasPrefix(f, "a") && isDigits(f[1:]):
			word = "a"
			ok = setNum(f[1:])
		default:
			ok = false
		}
		if !ok {
			return "", false
		}
	}
	if word == "" {
		return "", false
	}
	if num != "" {
		n, _ := strconv.Atoi(num)
		num = strconv.Itoa(n)
	}
	return num, true
}

func isDigits(s string) bool {
	if s == "" || len(s) > 6 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// NextWorkingTime is now when now is inside the working hours, else the
// start of the next working period. A period whose end is not after its
// start runs over midnight (a night shift, 22:00–06:00): it belongs to the
// day it starts on.
func NextWorkingTime(wh store.WorkingHours, now time.Time) time.Time {
	loc, err := time.LoadLocation(wh.Timezone)
	if err != nil || wh.Start == "" || wh.End == "" || wh.Timezone == "" {
		return now
	}
	start, err1 := time.Parse("15:04", wh.Start)
	end, err2 := time.Parse("15:04", wh.End)
	if err1 != nil || err2 != nil {
		return now
	}
	days := map[int]bool{}
	for _, d := range wh.Days {
		days[d] = true
	}
	if len(days) == 0 {
		days = map[int]bool{1: true, 2: true, 3: true, 4: true, 5: true}
	}
	local := now.In(loc)
	y, m, d := local.Date()
	for i := -1; i < 8; i++ { // yesterday: a night shift still running
		from := time.Date(y, m, d+i, start.Hour(), start.Minute(), 0, 0, loc)
		wd := int(from.Weekday())
		if wd == 0 {
			wd = 7
		}
		if !days[wd] {
			continue
		}
		to := time.Date(y, m, d+i, end.Hour(), end.Minute(), 0, 0, loc)
		if !to.After(from) {
			to = time.Date(y, m, d+i+1, end.Hour(), end.Minute(), 0, 0, loc)
		}
		if !local.Before(from) && local.Before(to) {
			return now
		}
		if local.Before(from) {
			return from
		}
	}
	return now
}
