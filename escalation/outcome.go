package escalation

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/carecheck/carecheck/bot"
	"github.com/carecheck/carecheck/store"
)

var _ bot.OutcomeReporter = (*Service)(nil)

// auditAlertOutcome is the audit action of what became of one send of an
// alert; its detail names the staff member, the channel, the outcome (with
// the provider's error code) and the attempt.
const auditAlertOutcome = "alert outcome"

// Outcome records what became of one send of an alert (bot.Job.About names
// its escalation): Telegram's answer ("sent", "error"), Twilio's delivery
// report ("delivered", "undelivered", "failed"), a call placed ("placed":
// ringing, so no other alert calls them until it ends), or a send the
// provider refused ("error"). It counts it in the alert metrics and adds it to the
// escalation's audit once: the same outcome of the same attempt reported
// again is not recorded again.
func (s *Service) Outcome(ctx context.Context, j *bot.Job, o bot.Outcome) error {
	if j.Msg.Channel == bot.Voice && o.Status == "placed" {
		// Ringing: no other round or alert calls them until it ends.
		if err := s.store.CallPlaced(ctx, j.Person.AgencyID, j.Person.ID, o.ProviderID); err != nil {
			return err
		}
	}
	detail := outcomeDetail(j, o)
	recorded := false
	_, err := s.store.UpdateEscalation(ctx, j.Person.AgencyID, j.About, func(x *store.Escalation) error {
		if slices.ContainsFunc(x.Audit, func(en store.AuditEntry) bool { return en.Action == auditAlertOutcome && en.Detail == detail }) {
			return store.ErrUnchanged
		}
		x.Audit = append(x.Audit, store.AuditEntry{At: s.now().UTC(), Actor: "system", Action: auditAlertOutcome, Detail: detail})
		recorded = true
		return nil
	})
	switch {
	case errors.Is(err, store.ErrUnchanged):
		return nil
	case errors.Is(err, store.ErrNotFound):
		// The escalation is gone (retention): still counted.
	case err != nil:
		return fmt.Errorf("record alert outcome of escalation %s: %w", j.About, err)
	}
	if recorded || errors.Is(err, store.ErrNotFound) {
		s.observe().Alert(string(j.Msg.Channel), o.Status)
	}
	s.log.Info("alert outcome", "escalation_id", j.About, "staff_id", j.Person.ID, "message_id", j.Msg.ID,
		"channel", string(j.Msg.Channel), "outcome", o.Status, "code", o.Code, "attempt", o.Attempt)
	return nil
}

// outcomeDetail is the audit detail of an alert's outcome:
// "cm_1 by sms: undelivered (error 30003; message alert:…:sms, attempt 1)".
func outcomeDetail(j *bot.Job, o bot.Outcome) string {
	code := ""
	if o.Code != "" {
		code = "error " + o.Code + "; "
	}
	if j.Msg.Channel == bot.Voice && o.ProviderID != "" {
		code = "call " + o.ProviderID + "; "
	}
	return fmt.Sprintf("%s by %s: %s (%smessage %s, attempt %d)", j.Person.ID, j.Msg.Channel, o.Status, code, j.Msg.ID, o.Attempt)
}
