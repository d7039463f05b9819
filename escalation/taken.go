package escalation

import (
	"context"
	"strings"

	"github.com/carecheck/carecheck/bot"
	"github.com/carecheck/carecheck/store"
)

// auditAlertSent is the audit action of an alert queued to a staff member;
// its detail names them: "step 1 round 1 to <staff id> by sms (ACK 2)".
const auditAlertSent = "alert sent"

// ShortID is the part of an escalation id a person can read out: its last
// six characters (the random part).
func ShortID(id string) string {
	if len(id) <= 6 {
		return id
	}
	return id[len(id)-6:]
}

// TakenText tells a staff member who was alerted that someone else took
// the alert: who (name or initials, as the agency alerts by) and the
// escalation's short id. Never the client's words or name.
func TakenText(who, shortID string) string {
	return "CareCheck: alert " + shortID + " was taken by " + who + ". Nothing more to do for it."
}

// acknowledger names whoever acknowledged (an audit actor) for the others:
// a staff member by name or initials as the agency's alert_names says,
// anyone else by what they used.
func acknowledger(ctx context.Context, st *store.Store, a *store.Agency, actor string) string {
	id, isStaff := strings.CutPrefix(actor, "staff:")
	if !isStaff {
		return "a colleague (via " + actor + ")"
	}
	cm, err := st.CaseManager(ctx, a.ID, id)
	if err != nil {
		return "a colleague"
	}
	if a.AlertNames {
		return cm.Name
	}
	return initials(cm.Name)
}

// tellOthers tells every other staff member who was alerted on e, and is
// still active, who took it: one short message each, on the channel they
// are alerted on, with the SMS as fallback. A failure is logged: the
// acknowledgement itself is done.
func (s *Service) tellOthers(ctx context.Context, e *store.Escalation, actor string) {
	alerted := AlertedStaff(e)
	if len(alerted) == 0 || s.outbox == nil {
		return
	}
	a, err := s.store.Agency(ctx, e.AgencyID)
	if err != nil {
		s.log.Warn("others not told who took the alert", "escalation_id", e.ID, "err", err)
		return
	}
	text := TakenText(acknowledger(ctx, s.store, a, actor), ShortID(e.ID))
	for _, id := range alerted {
		if "staff:"+id == actor {
			continue
		}
		cm, err := s.store.CaseManager(ctx, a.ID, id)
		if err != nil || !cm.Active {
			continue
		}
		msgID := "taken:" + e.ID + ":" + id
		var tg, sms *bot.Outbound
		if cm.TelegramChat != "" && s.outbox.Has(bot.Telegram) {
			tg = &bot.Outbound{ID: msgID + ":tg", Channel: bot.Telegram, To: cm.TelegramChat, Text: text}
		}
		if cm.Phone != "" && s.outbox.Has(bot.SMS) {
			sms = &bot.Outbound{ID: msgID + ":sms", Channel: bot.SMS, To: cm.Phone, Text: text}
			sms.From, sms.Service = a.SMSFrom(cm.Phone)
		}
		job := &bot.Job{Person: bot.Person{Kind: "staff", ID: cm.ID, AgencyID: a.ID}}
		switch {
		case tg != nil:
			job.Msg, job.Fallback = *tg, sms
		case sms != nil:
			job.Msg = *sms
		default:
			continue
		}
		if err := s.outbox.Queue(ctx, job); err != nil {
			s.log.Warn("staff member not told who took the alert", "escalation_id", e.ID, "staff_id", id, "err", err)
			continue
		}
		s.log.Info("told who took the alert", "escalation_id", e.ID, "staff_id", id)
	}
}
