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
