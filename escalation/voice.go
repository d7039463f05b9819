package escalation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/carecheck/carecheck/bot"
	"github.com/carecheck/carecheck/store"
)

var _ bot.CallReceiver = (*Service)(nil)

// callOf is what a call's reference names: the alert's escalation, round
// and step, and the staff member called.
type callOf struct {
	agency, esc, staff string
	round, step        int
}

// parseRef reads a call reference (callRef). It comes signed by Twilio
// with our own URL, so a well-formed one is one we made.
func parseRef(ref string) (callOf, error) {
	v, err := url.ParseQuery(ref)
	if err != nil {
		return callOf{}, fmt.Errorf("call reference: %w", bot.ErrUnknownSender)
	}
	c := callOf{agency: v.Get("a"), esc: v.Get("e"), staff: v.Get("s")}
	var e1, e2 error
	c.round, e1 = strconv.Atoi(v.Get("r"))
	c.step, e2 = strconv.Atoi(v.Get("st"))
	if c.agency == "" || c.esc == "" || c.staff == "" || e1 != nil || e2 != nil {
		return callOf{}, fmt.Errorf("call reference: %w", bot.ErrUnknownSender)
	}
	return c, nil
}

// load reads the call's escalation and staff member (ErrUnknownSender: gone).
func (s *Service) load(ctx context.Context, ref string) (callOf, *store.Escalation, *store.CaseManager, error) {
	c, err := parseRef(ref)
	if err != nil {
		return c, nil, nil, err
	}
	e, err := s.store.Escalation(ctx, c.agency, c.esc)
	if errors.Is(err, store.ErrNotFound) {
		return c, nil, nil, fmt.Errorf("call about escalation %s: %w", c.esc, bot.ErrUnknownSender)
	}
	if err != nil {
		return c, nil, nil, err
	}
	staff, err := s.store.CaseManager(ctx, c.agency, c.staff)
	if errors.Is(err, store.ErrNotFound) {
		return c, nil, nil, fmt.Errorf("call to staff %s: %w", c.staff, bot.ErrUnknownSender)
	}
	if err != nil {
		return c, nil, nil, err
	}
	return c, e, staff, nil
}

// CallAnswered reads the alert to whoever picked up, and gathers a digit;
// an answering machine gets nothing (the call hangs up and its status
// says voicemail), and a closed alert says so.
func (s *Service) CallAnswered(ctx context.Context, ev bot.CallEvent) (bot.Speech, error) {
	if ev.Machine() {
		return bot.Speech{}, nil
	}
	c, e, staff, err := s.load(ctx, ev.Ref)
	if err != nil {
		return bot.Speech{}, err
	}
	// Picked up: in progress, no longer only ringing (store.CallRingingFor).
	if err := s.store.CallAnswered(ctx, c.agency, staff.ID, ev.CallID); err != nil {
		return bot.Speech{}, err
	}
	s.log.Info("alert call answered", "escalation_id", e.ID, "staff_id", staff.ID, "call_sid", ev.CallID)
	if e.Status != store.EscOpen || !staff.Active {
		return bot.Speech{Lang: voiceLang(staff.Language), Text: VoiceTaken(staff.Language)}, nil
	}
	return bot.Speech{Lang: voiceLang(staff.Language), Text: VoiceAlertText(staff.Language, e), Gather: true}, nil
}

// CallDigits takes a key press: 1 acknowledges the escalation as the staff
// member called (who must be active and alerted on it), anything else
// reads the alert again.
func (s *Service) CallDigits(ctx context.Context, ev bot.CallEvent) (bot.Speech, error) {
	_, e, staff, err := s.load(ctx, ev.Ref)
	if err != nil {
		return bot.Speech{}, err
	}
	lang := voiceLang(staff.Language)
	if e.Status != store.EscOpen || !staff.Active {
		return bot.Speech{Lang: lang, Text: VoiceTaken(lang)}, nil
	}
	if strings.TrimSpace(ev.Digits) != "1" {
		return bot.Speech{Lang: lang, Text: VoiceAlertText(lang, e), Gather: true}, nil
	}
	if !AlertedTo(e, staff.ID) {
		s.log.Info("ack refused: not alerted on this escalation", "escalation_id", e.ID, "staff_id", staff.ID, "call_sid", ev.CallID)
		return bot.Speech{Lang: lang, Text: VoiceTaken(lang)}, nil
	}
	_, changed, err := s.Ack(ctx, e.AgencyID, e.ID, "staff:"+staff.ID, "voice")
	if err != nil {
		return bot.Speech{}, err
	}
	if !changed {
		return bot.Speech{Lang: lang, Text: VoiceTaken(lang)}, nil
	}
	s.observe().Alert(string(bot.Voice), "acknowledged")
	return bot.Speech{Lang: lang, Text: VoiceAcked(lang)}, nil
}

// CallStatus records how a call ended in the escalation's audit. A call
// that left the escalation open (no answer, busy, failed, voicemail, or
// answered without a 1) moves on: the alert goes by SMS at once, or, when
// the staff member cannot get one, the next step starts now. A repeated
// report of the same call is recorded once.
func (s *Service) CallStatus(ctx context.Context, ev bot.CallEvent) error {
	c, e, staff, err := s.load(ctx, ev.Ref)
	if err != nil {
		return err
	}
	// Ended: a new round may call them again.
	if err := s.store.CallEnded(ctx, c.agency, staff.ID, ev.CallID); err != nil {
		return err
	}
	outcome := ev.Status
	if ev.Machine() {
		outcome = "voicemail"
	}
	mark := "(call " + ev.CallID + ")"
	if slices.ContainsFunc(e.Audit, func(en store.AuditEntry) bool {
		return en.Action == auditCallEnded && strings.HasSuffix(en.Detail, mark)
	}) {
		return nil
	}
	s.observe().Alert(string(bot.Voice), outcome)
	then := ""
	if e.Status == store.EscOpen {
		if then, err = s.afterCall(ctx, c, e, staff, ev.CallID); err != nil {
			return err
		}
	}
	detail := fmt.Sprintf("%s: %s%s %s", staff.ID, outcome, then, mark)
	_, err = s.store.UpdateEscalation(ctx, e.AgencyID, e.ID, func(x *store.Escalation) error {
		if slices.ContainsFunc(x.Audit, func(en store.AuditEntry) bool {
			return en.Action == auditCallEnded && strings.HasSuffix(en.Detail, mark)
		}) {
			return store.ErrUnchanged
		}
		x.Audit = append(x.Audit, store.AuditEntry{At: s.now().UTC(), Actor: "system", Action: auditCallEnded, Detail: detail})
		return nil
	})
	if err != nil && !errors.Is(err, store.ErrUnchanged) {
		return fmt.Errorf("record call of escalation %s: %w", e.ID, err)
	}
	s.log.Info("alert call ended", "escalation_id", e.ID, "staff_id", staff.ID, "call_sid", ev.CallID, "outcome", outcome)
	return nil
}

// auditCallEnded is the audit action of a call's end; its detail names the
// staff member, the outcome, what followed and the call.
const auditCallEnded = "call ended"

// afterCall moves on from a call that left the escalation open: the alert
// by SMS (its id fixed by the call, so a repeat sends nothing more) with
// the next step as its on-fail work, else the next step now. It returns
// what it did, for the audit.
func (s *Service) afterCall(ctx context.Context, c callOf, e *store.Escalation, staff *store.CaseManager, callID string) (string, error) {
	next := StepWork{Kind: StepKind, Agency: e.AgencyID, ID: e.ID, Round: c.round, Step: c.step + 1}
	raw := mustJSON(next)
	onFail := &bot.Work{ID: stepID(next) + ":failed", Payload: raw}
	if staff.Active && staff.Phone != "" && s.outbox.Has(bot.SMS) {
		a, err := s.store.Agency(ctx, e.AgencyID)
		if err != nil {
			return "", err
		}
		cl, err := s.store.Client(ctx, e.ClientID)
		if err != nil {
			return "", err
		}
		code, err := s.store.ClaimAckCode(ctx, a.ID, staff.ID, e.ID)
		if err != nil {
			return "", err
		}
		shown := *e
		shown.Reasons = alertReasons(a, e.Reasons)
		msg := bot.Outbound{ID: fmt.Sprintf("alert:%s:call:%s:sms", e.ID, callID), Channel: bot.SMS, To: staff.Phone,
			Text: AlertText(Who(a, cl), &shown, code), Urgent: e.Level != Concern}
		msg.From, msg.Service = a.SMSFrom(staff.Phone)
		if err := s.outbox.Queue(ctx, &bot.Job{Msg: msg, Person: bot.Person{Kind: "staff", ID: staff.ID, AgencyID: a.ID}, OnFail: onFail, About: e.ID}); err != nil {
			return "", err
		}
		s.observe().Alert(string(bot.SMS), "queued")
		return "; SMS fallback (ACK " + code + ")", nil
	}
	if err := s.store.Enqueue(ctx, onFail.ID, true, raw); err != nil {
		return "", err
	}
	return "; next step now", nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
