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
	"time"

	"github.com/carecheck/carecheck/bot"
	"github.com/carecheck/carecheck/store"
)

// Contact methods of a staff member's contact rules.
const (
	MethodSMS      = "sms"
	MethodTelegram = "telegram"
	MethodVoice    = "voice"
)

// RuleKind marks a delayed contact rule's work on the shared queue.
const RuleKind = "esc-rule"

// RuleWork is the payload of a delayed contact rule: contact Staff by
// their rule number Rule about the alert of (Round, Step), unless the
// escalation was acknowledged or closed meanwhile.
type RuleWork struct {
	Kind   string `json:"k"`
	Agency string `json:"agency"`
	ID     string `json:"esc"`
	Round  int    `json:"round"`
	Step   int    `json:"step"`
	Staff  string `json:"staff"`
	Rule   int    `json:"rule"`
	Code   string `json:"code"`
}

// ValidateContactRules checks a staff member's contact rules (none: the
// default, at once on their own channel): at most 10, the first at once
// ("0s"), each no earlier than the one before and within an hour of the
// alert; SMS and voice need a phone number.
func ValidateContactRules(rules []store.ContactRule, hasPhone bool) error {
	if len(rules) > 10 {
		return errors.New("contact_rules: at most 10")
	}
	for i, r := range rules {
		after := time.Duration(r.After)
		switch {
		case r.Method != MethodSMS && r.Method != MethodTelegram && r.Method != MethodVoice:
			return fmt.Errorf(`contact_rules[%d].method: "sms", "telegram" or "voice"`, i)
		case i == 0 && after != 0:
			return errors.New(`contact_rules[0].after: the first rule is at once ("0s")`)
		case after < 0 || after > time.Hour:
			return fmt.Errorf("contact_rules[%d].after: between 0s and 1h", i)
		case i > 0 && after < time.Duration(rules[i-1].After):
			return fmt.Errorf("contact_rules[%d].after: not before the rule above it", i)
		case (r.Method == MethodSMS || r.Method == MethodVoice) && !hasPhone:
			return fmt.Errorf("contact_rules[%d].method: %s needs a phone number", i, r.Method)
		}
	}
	return nil
}

// plan is how an alert reaches its staff member: jobs now, rules later.
type plan struct {
	now []*bot.Job
	// notes are the jobs' audit notes ("" none), beside now.
	notes []string
	later []store.Work
}

// contactPlan turns the staff member's contact rules (none: the default)
// into the alert's jobs, each handing on to the next step (next) when
// every channel fails, and the delayed rules' work. calling is the call to
// them still ringing or in progress ("" none): a voice rule does not call
// them again, it goes by its fallback.
func (s *Service) contactPlan(a *store.Agency, c *store.Client, e *store.Escalation, staff *store.CaseManager, code string, next []byte, urgent bool, calling string) plan {
	onFail := &bot.Work{ID: string(stepIDOf(next)) + ":failed", Payload: next}
	if len(staff.ContactRules) == 0 {
		msg, fallback := alertMessages(s.outbox, a, c, e, staff, code)
		job := &bot.Job{Msg: *msg, Person: bot.Person{Kind: "staff", ID: staff.ID, AgencyID: a.ID}, Fallback: fallback, OnFail: onFail, About: e.ID}
		job.Msg.Urgent = urgent
		return plan{now: []*bot.Job{job}, notes: []string{""}}
	}
	var p plan
	now := s.now()
	for i, r := range staff.ContactRules {
		if after := time.Duration(r.After); after > 0 {
			raw, _ := json.Marshal(RuleWork{Kind: RuleKind, Agency: a.ID, ID: e.ID, Round: e.Round, Step: e.Step, Staff: staff.ID, Rule: i, Code: code})
			p.later = append(p.later, store.Work{ID: fmt.Sprintf("rule:%s:%d:%d:%s:%d", e.ID, e.Round, e.Step, staff.ID, i), At: now.Add(after), Once: true, Payload: raw})
			continue
		}
		if job := ruleJob(s.outbox, a, c, e, staff, code, i, r.Method, calling, onFail); job != nil {
			job.Msg.Urgent = urgent
			p.now = append(p.now, job)
			p.notes = append(p.notes, notCalledNote(r.Method, calling))
		}
	}
	return p
}

// stepIDOf reads a step timer's id from its payload.
func stepIDOf(raw []byte) string {
	var w StepWork
	_ = json.Unmarshal(raw, &w)
	return stepID(w)
}

// notCalledNote is the audit note of a voice rule that did not call
// because a call to the staff member is still ringing or in progress, or
// another alert's call to them is about to be placed.
func notCalledNote(method, calling string) string {
	switch {
	case method != MethodVoice || calling == "":
		return ""
	case strings.HasPrefix(calling, "alert:") || strings.HasPrefix(calling, "rule:"):
		return "; not called again: another alert's call to them is being placed"
	}
	return "; not called again: call " + calling + " still ringing or in progress"
}

// ruleJob is the alert by one contact rule: the method asked for with SMS
// (or Telegram, for an SMS rule) as its fallback; a method that cannot be
// used (Telegram not linked or off, voice off) is SMS; nil when nothing can.
// While a call to them is ringing or in progress (calling, "" none), a
// voice rule places no second call: it goes by SMS or Telegram.
func ruleJob(ob *bot.Outbox, a *store.Agency, c *store.Client, e *store.Escalation, staff *store.CaseManager, code string, rule int, method, calling string, onFail *bot.Work) *bot.Job {
	shown := *e
	shown.Reasons = alertReasons(a, e.Reasons)
	text := AlertText(Who(a, c), &shown, code)
	id := fmt.Sprintf("alert:%s:%d:%d:%s:r%d", e.ID, e.Round, e.Step, staff.ID, rule)
	var sms, tg, voice *bot.Outbound
	if staff.Phone != "" && ob.Has(bot.SMS) {
		sms = &bot.Outbound{ID: id + ":sms", Channel: bot.SMS, To: staff.Phone, Text: text, Urgent: true}
		sms.From, sms.Service = a.SMSFrom(staff.Phone)
	}
	if staff.TelegramChat != "" && ob.Has(bot.Telegram) {
		tg = &bot.Outbound{ID: id + ":tg", Channel: bot.Telegram, To: staff.TelegramChat, Text: text, Urgent: true,
			Buttons: []bot.Button{{Label: "ACK " + code, Data: "ack:" + e.ID}}}
	}
	if staff.Phone != "" && ob.Has(bot.Voice) && calling == "" {
		voice = &bot.Outbound{ID: id + ":voice", Channel: bot.Voice, To: staff.Phone, Urgent: true, Ref: callRef(e, staff.ID)}
		voice.From, _ = a.SMSFrom(staff.Phone)
	}
	person := bot.Person{Kind: "staff", ID: staff.ID, AgencyID: a.ID}
	order := []*bot.Outbound{sms, tg}
	switch method {
	case MethodTelegram:
		order = []*bot.Outbound{tg, sms}
	case MethodVoice:
		order = []*bot.Outbound{voice, sms, tg}
	}
	order = slices.DeleteFunc(order, func(o *bot.Outbound) bool { return o == nil })
	if len(order) == 0 {
		return nil
	}
	job := &bot.Job{Msg: *order[0], Person: person, OnFail: onFail, About: e.ID}
	if len(order) > 1 {
		job.Fallback = order[1]
	}
	return job
}

// callRef is a call's reference: what its webhooks carry back (signed by
// Twilio with the URL) to say which alert and whom it is about.
func callRef(e *store.Escalation, staff string) string {
	return url.Values{"a": {e.AgencyID}, "e": {e.ID}, "s": {staff}, "r": {strconv.Itoa(e.Round)}, "st": {strconv.Itoa(e.Step)}}.Encode()
}

// RuleJob is the work handler of RuleKind: a delayed contact rule comes
// due. It does nothing once the escalation is acknowledged or closed, or
// the staff member deactivated, or their rules changed so that it is gone.
func (s *Service) RuleJob(ctx context.Context, it *store.Item) error {
	var w RuleWork
	if err := json.Unmarshal(it.Payload, &w); err != nil || w.ID == "" || w.Agency == "" || w.Staff == "" {
		return fmt.Errorf("read contact rule: %w", store.ErrUndecodable)
	}
	e, err := s.store.Escalation(ctx, w.Agency, w.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("contact rule of %s: %w", w.ID, err)
	}
	if e.Status != store.EscOpen {
		return nil // acknowledged or resolved: the rule is cancelled
	}
	staff, err := s.store.CaseManager(ctx, w.Agency, w.Staff)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("contact rule of %s: %w", w.ID, err)
	}
	if !staff.Active || w.Rule >= len(staff.ContactRules) {
		return nil
	}
	a, err := s.store.Agency(ctx, w.Agency)
	if err != nil {
		return fmt.Errorf("contact rule of %s: %w", w.ID, err)
	}
	c, err := s.store.Client(ctx, e.ClientID)
	if err != nil {
		return fmt.Errorf("contact rule of %s: %w", w.ID, err)
	}
	next, _ := json.Marshal(StepWork{Kind: StepKind, Agency: e.AgencyID, ID: e.ID, Round: w.Round, Step: w.Step + 1})
	shown := *e
	shown.Round, shown.Step = w.Round, w.Step // the alert the rule belongs to
	method := staff.ContactRules[w.Rule].Method
	calling := ""
	if method == MethodVoice {
		alert := fmt.Sprintf("rule:%s:%d:%d:%d", e.ID, w.Round, w.Step, w.Rule)
		if calling, err = s.store.ReserveCall(ctx, w.Agency, staff.ID, alert); err != nil {
			return fmt.Errorf("contact rule of %s: %w", w.ID, err)
		}
	}
	job := ruleJob(s.outbox, a, c, &shown, staff, w.Code, w.Rule, method, calling, &bot.Work{ID: stepID(StepWork{ID: e.ID, Round: w.Round, Step: w.Step + 1}) + ":failed", Payload: next})
	if job == nil {
		return nil
	}
	job.Msg.Urgent = e.Level != Concern
	if err := s.outbox.Queue(ctx, job); err != nil {
		return fmt.Errorf("contact rule of %s: %w", w.ID, err)
	}
	s.observe().Alert(string(job.Msg.Channel), "queued")
	detail := fmt.Sprintf("step %d round %d to %s by %s (ACK %s, rule %d%s)", w.Step+1, w.Round+1, staff.ID, job.Msg.Channel, w.Code, w.Rule+1, notCalledNote(method, calling))
	_, err = s.store.ChangeEscalation(ctx, e, func(x *store.Escalation) error {
		if slices.ContainsFunc(x.Audit, func(en store.AuditEntry) bool { return en.MessageID == job.Msg.ID }) {
			return store.ErrUnchanged
		}
		x.Audit = append(x.Audit, store.AuditEntry{At: s.now().UTC(), Actor: "system", Action: auditAlertSent, Detail: detail, MessageID: job.Msg.ID})
		return nil
	})
	if err != nil && !errors.Is(err, store.ErrUnchanged) {
		return fmt.Errorf("record contact rule of %s: %w", w.ID, err)
	}
	return nil
}

// Observer counts alerts and acknowledgements (Prometheus, in cmd/carecheck).
type Observer interface {
	// Alert counts an alert by method ("sms", "telegram", "voice") and
	// outcome: "queued"; what became of a send ("sent" by Telegram, a
	// call "placed",
	// "delivered", "undelivered" or "failed" by Twilio's delivery report,
	// "error" when the provider refused it); a call's end ("completed",
	// "no-answer", "busy", "failed", "canceled", "voicemail");
	// "acknowledged" by a key press.
	Alert(method, outcome string)
	// Acknowledged observes the time from opening to acknowledgement.
	Acknowledged(after time.Duration, via string)
}

type noObserver struct{}

func (noObserver) Alert(string, string)               {}
func (noObserver) Acknowledged(time.Duration, string) {}

func (s *Service) observe() Observer {
	if s.Observe == nil {
		return noObserver{}
	}
	return s.Observe
}
